from django.contrib import admin

from shop.models import Category, CustomerProfile, Product


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["sku", "name", "product_type", "price", "in_stock"]
    list_filter = ["product_type", "in_stock"]
    search_fields = ["sku", "name"]


admin.site.register(Category)
admin.site.register(CustomerProfile)
