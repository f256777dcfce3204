from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from blog.models import Article


def article_list(request: HttpRequest) -> HttpResponse:
    articles = Article.objects.select_related("category").prefetch_related("tags")[:20]
    return render(request, "blog/article_list.html", {"articles": articles})


def article_detail(request: HttpRequest, slug: str) -> HttpResponse:
    article = get_object_or_404(Article.objects.select_related("category"), slug=slug)
    return render(request, "blog/article.html", {"article": article})
