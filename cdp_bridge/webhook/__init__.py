"""The activation webhook: the CDP pushes audiences, the site writes them as segments.

The data flows through these modules in order: ``authentication`` (with ``tokens`` and
``signatures``) → ``body`` (size limits, gzip, JSON) → ``payload`` (validated by
``serializers``) → ``deliveries`` (history, idempotency, the queue) → ``sync`` (segments, with
``snapshots`` and ``identifiers``) → ``writers`` (set-based membership writes).
"""
