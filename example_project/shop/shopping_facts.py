"""What the shop tells the CDP about each customer's shopping, for its audiences."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from cdp_bridge.export.processors import Row


class ShoppingFacts:
    """A user item processor (registered in config/cdp.yaml): the customer's favourite product
    type and the date of their last order, both null when the shop knows none.

    The example's audiences (config/cdp_sandbox.yaml) are built on these columns.
    """

    def prepare_queryset(self, users: QuerySet[Any]) -> QuerySet[Any]:
        return users.select_related("profile")

    def process(self, row: Row, user: Any) -> Row:
        profile = getattr(user, "profile", None)
        favourite = profile.favourite_product_type if profile else ""
        last_order = profile.last_order_on if profile else None
        return {
            **row,
            "favourite_product_type": favourite or None,
            "last_order_on": last_order.isoformat() if last_order else None,
        }
