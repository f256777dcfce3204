"""Raptor tracking events: the parameters (p1..p999) an event carries.

Used by the ``{% cdp_track_event %}`` tag (in the browser) and by ``track()`` (from the server),
so an event carries the same parameters whichever way it is sent. Raptor's parameters are
numbered; which number carries which value is ``tracking.parameters`` (see
``DEFAULT_TRACKING_PARAMETERS`` for the defaults and where they come from).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import Model

from cdp_bridge import conf
from cdp_bridge.conf import ScopeSettings
from cdp_bridge.exceptions import TrackingEventError
from cdp_bridge.tracking.user_id import tracked_user_id

if TYPE_CHECKING:
    from cdp_bridge.segmentation import AnyUser

# The events Ibexa's connector tracks (``ibexa_tracking_track_event``), and the values each
# carries besides the event type and the user id.
PRODUCT_VALUES = (
    "product_id",
    "product_name",
    "category_path",
    "price",
    "currency",
    "brand",
    "master_id",
)
EVENT_VALUES: Mapping[str, tuple[str, ...]] = {
    "visit": (*PRODUCT_VALUES, "stock_status"),
    "contentvisit": ("content_id", "content_name", "category_path"),
    "basket": (*PRODUCT_VALUES, "quantity", "basket_content", "basket_id"),
    "buy": (*PRODUCT_VALUES, "quantity", "order_id", "subtotal"),
    "itemclick": ("product_id", "module_name", "redirect_url"),
}
EVENT_TYPES = tuple(EVENT_VALUES)
MAX_CATEGORY_DEPTH = 10


def check_event(event_type: object, names: Iterable[str] = ()) -> str:
    """The event type, if Raptor knows it and it carries every value named; else an error."""
    if not isinstance(event_type, str) or event_type not in EVENT_VALUES:
        raise TrackingEventError(
            f"Unknown tracking event {event_type!r}: use one of {', '.join(EVENT_TYPES)}."
        )
    unknown = [name for name in names if name not in EVENT_VALUES[event_type]]
    if unknown:
        raise TrackingEventError(
            f"A {event_type!r} event does not carry {', '.join(unknown)}; it takes "
            f"{', '.join(EVENT_VALUES[event_type])}."
        )
    return event_type


def event_parameters(
    scope: ScopeSettings,
    event_type: object,
    item: object = None,
    *,
    user: AnyUser | None = None,
    **values: Any,
) -> dict[str, str]:
    """Raptor's parameters for one event: ``{"p1": "visit", "p2": "sku-1", ...}``.

    ``item`` is the product (or, for ``contentvisit``, the content) the event is about: a model
    instance, described by its export source (``code_field``, ``name_field``) and its
    ``category`` (followed up through ``parent``) and ``price`` attributes, or an id as text.
    Keyword ``values`` add to that description or replace parts of it; a None is ignored, so a
    missing template variable does not erase what the item gives.
    """
    event = check_event(event_type, values)
    described = describe_item(event, item).items()
    named: dict[str, Any] = {"event_type": event}
    named.update((name, value) for name, value in described if name in EVENT_VALUES[event])
    named.update((name, value) for name, value in values.items() if value is not None)
    user_id = tracked_user_id(user, scope)
    if user_id:
        named["user_id"] = user_id
    texts = {scope.tracking.parameter(name): parameter_text(value) for name, value in named.items()}
    return dict(sorted(((key, text) for key, text in texts.items() if text), key=_parameter_number))


def describe_item(event_type: str, item: object) -> dict[str, Any]:
    """The values an event's product or content gives by itself."""
    if item is None or item == "":
        return {}
    is_content = event_type == "contentvisit"
    if not isinstance(item, Model):
        return {"content_id" if is_content else "product_id": item}
    source = _export_source("content" if is_content else "product", item)
    name = getattr(item, source.name_field) if source and source.name_field else str(item)
    described: dict[str, Any] = {"category_path": category_path(item)}
    if is_content:
        described |= {"content_id": item.pk, "content_name": name}
    else:
        code = getattr(item, source.code_field) if source and source.code_field else item.pk
        price = getattr(item, "price", None)
        described |= {"product_id": code, "product_name": name, "price": price}
    return described


def category_path(item: Model) -> str | None:
    """Raptor's category path of ``item.category``: ``Id#Name;Id#Name``, the top category first.

    Raptor: a category name must not contain ``,`` or ``;`` ("Tracking Events for
    Recommendations"), so they are dropped from names.
    """
    chain: list[Model] = []
    category = getattr(item, "category", None)
    while isinstance(category, Model) and category not in chain and len(chain) < MAX_CATEGORY_DEPTH:
        chain.append(category)
        category = getattr(category, "parent", None)
    if not chain:
        return None
    return ";".join(
        f"{category.pk}#{str(category).replace(',', '').replace(';', '')}"
        for category in reversed(chain)
    )


def parameter_text(value: Any) -> str:
    """A value as Raptor's parameters carry it: text; lists comma-separated (basket content)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Iterable) and not isinstance(value, str | bytes | Mapping):
        return ",".join(parameter_text(part) for part in value)
    return str(value)


def _export_source(kind: str, item: Model) -> conf.SourceSettings | None:
    label = item._meta.label_lower
    for source in conf.cdp_settings().sources_of(kind).values():
        if source.model and source.model.lower() == label:
            return source
    return None


def _parameter_number(item: tuple[str, str]) -> int:
    return int(item[0][1:])
