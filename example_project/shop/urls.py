from django.urls import path

from shop import views

urlpatterns = [
    path("", views.home, name="home"),
    path("products/<slug:sku>/", views.product_detail, name="product"),
    path("products/<slug:sku>/add-to-basket/", views.basket_add, name="basket_add"),
    path("basket/", views.basket, name="basket"),
    path("basket/checkout/", views.checkout, name="checkout"),
    path("order/", views.order, name="order"),
]
