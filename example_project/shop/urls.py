from django.urls import path

from shop import views

urlpatterns = [
    path("", views.home, name="home"),
    path("products/<slug:sku>/", views.product_detail, name="product"),
]
