"""The visitor's basket, kept in the session: SKUs and quantities, and the last change to it.

The last change and the last order are kept until the next page shows them, so that the page
after a POST (Post/Redirect/Get) sends the basket or buy events exactly once.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import uuid4

from django.contrib.sessions.backends.base import SessionBase

from shop.models import Product

LINES = "basket"
LAST_CHANGE = "basket_change"
LAST_ORDER = "order"


class SessionBasket:
    def __init__(self, session: SessionBase) -> None:
        self.session = session

    @property
    def lines(self) -> dict[str, int]:
        """Quantity by SKU."""
        lines: dict[str, int] = self.session.get(LINES, {})
        return lines

    def add(self, product: Product, quantity: int = 1) -> None:
        lines = self.lines | {product.sku: self.lines.get(product.sku, 0) + quantity}
        self.session[LINES] = lines
        self.session[LAST_CHANGE] = {"sku": product.sku, "quantity": quantity}

    def products(self) -> list[tuple[Product, int]]:
        found = Product.objects.select_related("category").in_bulk(self.lines, field_name="sku")
        return [(found[sku], quantity) for sku, quantity in self.lines.items() if sku in found]

    def pop_last_change(self) -> dict[str, Any] | None:
        change: dict[str, Any] | None = self.session.pop(LAST_CHANGE, None)
        if change:
            change["product"] = Product.objects.select_related("category").get(sku=change["sku"])
        return change

    def check_out(self) -> None:
        """Turn the basket into an order (a demo: nobody pays) and empty it."""
        lines = [
            {"sku": product.sku, "quantity": quantity, "price": str(product.price)}
            for product, quantity in self.products()
        ]
        self.session[LAST_ORDER] = {"id": uuid4().hex[:12], "lines": lines}
        self.session[LINES] = {}

    def pop_last_order(self) -> dict[str, Any] | None:
        order: dict[str, Any] | None = self.session.pop(LAST_ORDER, None)
        if order:
            products = Product.objects.select_related("category").in_bulk(
                [line["sku"] for line in order["lines"]], field_name="sku"
            )
            for line in order["lines"]:
                line["product"] = products[line["sku"]]
                line["price"] = Decimal(line["price"])
        return order
