"""``manage.py stream_product_data``: Ibexa's ``ibexa:cdp:stream-product-data``."""

from django.utils.translation import gettext_lazy

from cdp_bridge.management.stream_data import StreamDataCommand


class Command(StreamDataCommand):
    help = gettext_lazy(
        "Stream the site's products to the CDP: a draft sample by default, everything with "
        "--no-draft. Choose the source with --product-type."
    )
    kind = "product"
