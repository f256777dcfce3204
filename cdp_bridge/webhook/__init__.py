"""The activation webhook: the CDP pushes audiences, the site writes them as segments.

The HTTP edge is ``views`` (with ``authentication``, ``tokens`` and ``signatures`` for the
credentials, ``body`` for size limits, chunked bodies, gzip and JSON, and ``answers`` for the
JSON it answers with); it alone knows statuses. Behind it, the core knows no HTTP: it returns
results and raises the domain errors of ``cdp_bridge.exceptions``. A delivery flows from
``serializers`` (validated into ``payload``'s objects) to ``receiving`` (idempotency, and applied
at once or handed to ``queue``), then ``sync`` (segments, with ``snapshots``; members matched
by the scope's ``cdp_bridge.identity.PersonIdentifier``) and ``writers`` (set-based membership
writes). ``clients`` names the calling
activation and its segment group, ``history`` keeps each delivery's record, ``reapplying`` is the
admin's "re-apply", and ``openapi`` generates the OpenAPI document (a development tool).
"""
