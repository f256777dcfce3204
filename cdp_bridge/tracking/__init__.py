"""Tracking: what visitors do on the site, sent to Raptor for the CDP's audiences.

* ``events``: the five event types and the Raptor parameters (p1..p999) each carries;
* ``user_id``: how a logged-in user is known to the CDP (``tracking.user_id``);
* ``template_tags``: ``{% cdp_tracking_script %}`` and ``{% cdp_track_event %}``, loaded by
  ``{% load cdp %}``;
* ``server_side``: ``track()``, an event sent from the server, and ``event_sender``, which
  sends those requests in the background.

What a site uses is importable from here: ``from cdp_bridge.tracking import track``.
"""

from cdp_bridge.tracking.server_side import flush, track

__all__ = ["flush", "track"]
