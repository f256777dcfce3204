from blog.models import Article
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from shop.models import Product


def home(request: HttpRequest) -> HttpResponse:
    context = {
        "products": Product.objects.select_related("category").filter(in_stock=True)[:8],
        "articles": Article.objects.order_by("-published_at")[:4],
    }
    return render(request, "shop/home.html", context)


def product_detail(request: HttpRequest, sku: str) -> HttpResponse:
    product = get_object_or_404(Product.objects.select_related("category"), sku=sku)
    return render(request, "shop/product.html", {"product": product})
