"""Articles in two languages, with categories and tags."""

from django.conf import settings
from django.db import models


class Category(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)

    class Meta:
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.CharField(max_length=50)
    slug = models.SlugField(unique=True)

    def __str__(self) -> str:
        return self.name


class Article(models.Model):
    class Language(models.TextChoices):
        ENGLISH = "en", "English"
        GERMAN = "de", "German"

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220, unique=True)
    language = models.CharField(max_length=5, choices=Language.choices, default=Language.ENGLISH)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="articles")
    tags = models.ManyToManyField(Tag, blank=True, related_name="articles")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    summary = models.CharField(max_length=300, blank=True)
    body = models.TextField()
    reading_minutes = models.PositiveSmallIntegerField(default=3)
    featured = models.BooleanField(default=False)
    published_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-published_at"]

    def __str__(self) -> str:
        return self.title
