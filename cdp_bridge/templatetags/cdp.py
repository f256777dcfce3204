"""``{% load cdp %}``: segment-aware templates and Raptor's tracking tags, in one library.

The tags live with what they serve: ``cdp_bridge.personalisation.template_tags`` (the
``in_segment`` filter, ``{% cdp_targeting %}``) and ``cdp_bridge.tracking.template_tags``
(``{% cdp_tracking_script %}``, ``{% cdp_track_event %}``).
"""

from django import template

from cdp_bridge.personalisation import template_tags as personalisation_tags
from cdp_bridge.tracking import template_tags as tracking_tags

register = template.Library()
for library in (personalisation_tags.register, tracking_tags.register):
    register.tags.update(library.tags)
    register.filters.update(library.filters)
