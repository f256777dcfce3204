from blog.models import Article
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from shop.basket import SessionBasket
from shop.models import Product


def home(request: HttpRequest) -> HttpResponse:
    context = {
        "products": Product.objects.select_related("category").filter(in_stock=True)[:8],
        "articles": Article.objects.order_by("-published_at")[:4],
    }
    return render(request, "shop/home.html", context)


def product_detail(request: HttpRequest, sku: str) -> HttpResponse:
    product = get_object_or_404(Product.objects.select_related("category__parent"), sku=sku)
    return render(request, "shop/product.html", {"product": product})


@require_POST
def basket_add(request: HttpRequest, sku: str) -> HttpResponse:
    product = get_object_or_404(Product, sku=sku)
    quantity = request.POST.get("quantity", "1")
    SessionBasket(request.session).add(product, max(1, int(quantity)) if quantity.isdigit() else 1)
    return redirect("basket")


def basket(request: HttpRequest) -> HttpResponse:
    basket = SessionBasket(request.session)
    context = {
        "lines": basket.products(),
        "skus": list(basket.lines),
        "change": basket.pop_last_change(),
    }
    return render(request, "shop/basket.html", context)


@require_POST
def checkout(request: HttpRequest) -> HttpResponse:
    SessionBasket(request.session).check_out()
    return redirect("order")


def order(request: HttpRequest) -> HttpResponse:
    placed = SessionBasket(request.session).pop_last_order()
    if placed is None:
        return redirect("basket")
    return render(request, "shop/order.html", {"order": placed})
