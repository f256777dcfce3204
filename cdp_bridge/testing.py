"""Helpers for a site's own tests of its export: the memory outbox, and rows built in isolation.

``outbox`` collects what the ``memory`` transport sends (set ``transport: memory`` in the test
settings); clear it between tests, as you would ``django.core.mail.outbox``::

    from cdp_bridge.testing import outbox

    def test_customers_are_exported(settings):
        outbox.clear()
        call_command("stream_user_data", "--no-draft")
        assert [row["login"] for batch in outbox for row in batch.rows] == ["alice"]

``export_row()`` builds one row exactly as the export does, with only the processors you pass
(and the built-ins), so that one processor can be tested alone.

``cdp_sandbox`` is a pytest fixture (also registered as a pytest plugin by django-cdp-bridge):
a local CDP sandbox on a free port, with the site's configuration pointed at it, whose received
rows a test reads and whose activations it runs against a live server (docs/sandbox.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Model

from cdp_bridge.conf import SourceSettings
from cdp_bridge.conf.kinds import EXPORT_KINDS
from cdp_bridge.export.processors import Row
from cdp_bridge.export.rows import ModelRows, UserRows
from cdp_bridge.export.transports import SentBatch, outbox
from cdp_bridge.identity import PersonIdentifier
from cdp_bridge.sandbox.double import RunningSandbox
from cdp_bridge.sandbox.pytest_plugin import cdp_sandbox

__all__ = ["RunningSandbox", "SentBatch", "cdp_sandbox", "export_row", "outbox"]


def export_row(
    obj: Model,
    *,
    kind: str = "user",
    source: SourceSettings | None = None,
    user_item: Sequence[Any] = (),
    field: Sequence[Any] = (),
    field_value: Sequence[Any] = (),
    person_identifier_field: str | None = None,
) -> Row:
    """The row the export would send for ``obj``, through only the processors given.

    ``kind`` is ``user``, ``content`` or ``product``; ``source`` defaults to one named after
    the model with no options. Processors run in the order given.
    """
    if kind not in EXPORT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(EXPORT_KINDS)}, not {kind!r}")
    model = type(obj)
    if kind == "user":
        person = PersonIdentifier.named(person_identifier_field, model)
        builder = UserRows(model, user_item, person)  # type: ignore[arg-type]
        return builder.processed(obj)
    source = source or SourceSettings(kind, model._meta.model_name or "", model._meta.label)
    return ModelRows(kind, source, model, field, field_value).row(obj)
