from django.contrib import admin

from blog.models import Article, Category, Tag


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["title", "language", "category", "published_at", "featured"]
    list_filter = ["language", "category", "featured"]
    search_fields = ["title"]


admin.site.register(Category)
admin.site.register(Tag)
