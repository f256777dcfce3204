"""Models that the tests export, filter and check: a small catalogue and a blog."""

import uuid

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import models


class Category(models.Model):
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Article(models.Model):
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    category = models.ForeignKey(Category, null=True, on_delete=models.SET_NULL)
    published = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.title


class Product(models.Model):
    sku = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    product_type = models.CharField(max_length=40)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    attributes = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return self.name


class FieldShowcase(models.Model):
    """One field of each kind the export's built-in field value processors render."""

    class Size(models.TextChoices):
        SMALL = "s", "Small"
        LARGE = "l", "Large"

    title = models.CharField(max_length=100)
    notes = models.TextField(blank=True)
    uuid = models.UUIDField(null=True)
    email = models.EmailField(blank=True)
    slug = models.SlugField(blank=True)
    url = models.URLField(blank=True)
    count = models.IntegerField(null=True)
    ratio = models.FloatField(null=True)
    price = models.DecimalField(max_digits=20, decimal_places=2, null=True)
    active = models.BooleanField(default=False)
    day = models.DateField(null=True)
    moment = models.DateTimeField(null=True)
    alarm = models.TimeField(null=True)
    size = models.CharField(max_length=1, choices=Size.choices, blank=True)
    level = models.IntegerField(choices=[(1, "Low"), (2, "High")], null=True)
    category = models.ForeignKey(Category, null=True, on_delete=models.SET_NULL)
    article = models.OneToOneField(Article, null=True, on_delete=models.SET_NULL)
    tags = models.ManyToManyField(Category, blank=True, related_name="showcases")
    data = models.JSONField(null=True)
    attachment = models.FileField(blank=True)
    duration = models.DurationField(null=True)
    address = models.GenericIPAddressField(null=True)

    def __str__(self) -> str:
        return self.title


class Member(AbstractBaseUser):
    """A user model that is not AbstractUser: UUID keys, signs in by email, its own naming."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    email = models.EmailField(unique=True)
    display_name = models.CharField(max_length=100, blank=True)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"

    def get_full_name(self) -> str:
        return self.display_name


class CustomerProfile(models.Model):
    """A user's extra facts on a one-to-one profile: what Ibexa keeps in a user content item."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    date_of_birth = models.DateField(null=True)

    def __str__(self) -> str:
        return f"Profile of {self.user}"
