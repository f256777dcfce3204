"""A small catalogue: categories, products of a few types, and customer profiles."""

from django.conf import settings
from django.db import models


class Category(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )

    class Meta:
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    class ProductType(models.TextChoices):
        LAPTOP = "laptop", "Laptop"
        PHONE = "phone", "Phone"
        ACCESSORY = "accessory", "Accessory"

    sku = models.SlugField("SKU", max_length=40, unique=True)
    name = models.CharField(max_length=200)
    product_type = models.CharField(max_length=20, choices=ProductType.choices)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    in_stock = models.BooleanField(default=True)
    released_on = models.DateField(null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    manual = models.FileField(upload_to="manuals/", blank=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["sku"]

    def __str__(self) -> str:
        return self.name


class CustomerProfile(models.Model):
    """Extra facts about a customer; the export docs add date_of_birth to the user rows."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    date_of_birth = models.DateField(null=True, blank=True)
    country = models.CharField(max_length=2, blank=True)
    newsletter = models.BooleanField(default=False)
    # What the shop knows of the customer's shopping; exported for the CDP's audiences.
    favourite_product_type = models.CharField(
        max_length=20, choices=Product.ProductType.choices, blank=True
    )
    last_order_on = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Profile of {self.user}"
