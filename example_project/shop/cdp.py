"""The shop's additions to the CDP export, registered in config/cdp.yaml.

* ``DateOfBirth``: each customer's date of birth, from their profile (Ibexa's documentation
  adds it with a user item processor; this is that processor, ported).
* ``PriceWithCurrency``: a product's price with its currency, two keys of one field, the way
  Ibexa's processors send a value with its unit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Field

from cdp_bridge.export import BaseUserItemProcessor
from cdp_bridge.export.processors import Row, Scalar

from .models import Product

# The shop sells in euros; its tracking tags send the same currency.
CURRENCY = "EUR"


class DateOfBirth(BaseUserItemProcessor):
    """A user item processor: adds ``date_of_birth`` from the customer's profile.

    The CDP stores dates as ISO 8601 text; a customer without a profile, or without a date,
    gets null. The profiles are read with the users, in one join.
    """

    profile_field = "profile"

    def do_process(self, row: Row, user: Any) -> Row:
        profile = self.get_profile(user)
        born = profile.date_of_birth if profile else None
        return {**row, "date_of_birth": born.isoformat() if born else None}


class PriceWithCurrency:
    """A field value processor for ``Product.price``: ``field_price_value`` (the amount, with its
    exact digits) and ``field_price_value_currency``."""

    def supports(self, field: Field[Any, Any], obj: Any) -> bool:
        return isinstance(obj, Product) and field.name == "price"

    def process(self, field: Field[Any, Any], obj: Product) -> Mapping[str, Scalar]:
        return {"value": obj.price, "currency": CURRENCY}
