"""The typed, frozen objects the configuration is read into. Defaults live here."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from cdp_bridge.exceptions import UnknownScope

EXPORT_KINDS = ("user", "content", "product")
PROCESSOR_KINDS = ("user_item", "field", "field_value")
TRANSPORTS = ("stream_file", "file", "memory")
USER_ID_MODES = ("pk", "hashed", "none")
WEBHOOK_QUEUES = ("command", "celery")
DEFAULT_STREAM_BASE_URL = "https://in.raptorsmartadvisor.com"
MiB = 1024 * 1024

# Raptor's main tracking script, as Ibexa's connector loads it (doc.ibexa.co, "Raptor tracking
# functions": ``script_url``), and its tracking endpoint for server-side requests
# (content.raptorservices.com, "Server-side Tracking": ``https://t.raptorsmartadvisor.com/...``).
DEFAULT_TRACKING_SCRIPT_URL = "https://deliver.raptorstatic.com/script/raptor-3.0.min.js"
DEFAULT_TRACKING_SERVER_URL = "https://t.raptorsmartadvisor.com"
# Raptor's script keeps the visitor's cookie id in a cookie named "rsa" (Raptor, "Testing of
# Tracking Implementation"); the membership API and server-side tracking read it from there.
DEFAULT_VISITOR_COOKIE = "rsa"
# Which Raptor parameter (p1..p999) carries which value. Raptor documents p1, p2, p3, p4, p7, p8,
# p12, p15, p18 ("Tracking Events for Recommendations"), p21 for an order id ("Offline Event
# Tracking") and p10 for the basket content (its basket example); it says the positions can differ
# per account. The other positions are cdp_bridge's choice: check your account's tracking
# documentation in the Raptor control panel and override them in ``tracking.parameters``.
DEFAULT_TRACKING_PARAMETERS: Mapping[str, str] = MappingProxyType(
    {
        "event_type": "p1",
        "product_id": "p2",
        "product_name": "p3",
        "category_path": "p4",
        "quantity": "p5",
        "currency": "p6",
        "user_id": "p7",
        "brand": "p8",
        "subtotal": "p9",
        "basket_content": "p10",
        "basket_id": "p11",
        "price": "p12",
        "module_name": "p13",
        "redirect_url": "p14",
        "stock_status": "p15",
        "master_id": "p18",
        "order_id": "p21",
        "content_id": "p2",
        "content_name": "p3",
    }
)

ExportKind = Literal["user", "content", "product"]
UserIdMode = Literal["pk", "hashed", "none"]


def frozen_mapping(mapping: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """A read-only copy of ``mapping``."""
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class StreamSettings:
    """Where and how one kind of data (``data_export.<kind>_data``) is exported."""

    transport: str = "stream_file"
    stream_id: str | None = None
    directory: Path | None = None
    batch_size: int = 1000
    max_batch_bytes: int = 4 * MiB
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    # How long one batch may keep failing transiently before the export gives up: ten
    # minutes rides out a CDP restart, and at a third of requests failing a batch runs out
    # of it about once in 10^12; a dead CDP still ends the run, with one line, in that time.
    retry_budget: float = 600.0
    # The longest Retry-After honoured: a rate limit's window is seconds to a minute, and a
    # larger answer (a day) must not park the export; it waits this long and tries again.
    max_retry_after: float = 120.0


@dataclass(frozen=True)
class Activation:
    """One CDP activation: the client that may call the webhook, and its segment group."""

    client_id: str
    client_secrets: tuple[str, ...]
    segment_group_identifier: str
    person_identifier_field: str | None = None  # None: the user model's primary key
    signing_secret: str | None = None
    require_signature: bool = False


@dataclass(frozen=True)
class TrackingSettings:
    """How the tracking tags behave in a scope."""

    enabled: bool = True
    consent_required: bool = True
    user_id: UserIdMode = "pk"
    script_url: str = DEFAULT_TRACKING_SCRIPT_URL
    server_url: str = DEFAULT_TRACKING_SERVER_URL
    cookie_name: str = DEFAULT_VISITOR_COOKIE
    parameters: Mapping[str, str] = field(default_factory=frozen_mapping)  # overrides only

    def parameter(self, name: str) -> str:
        """The Raptor parameter (``p12``) that carries the value ``name`` (``price``)."""
        return self.parameters.get(name) or DEFAULT_TRACKING_PARAMETERS[name]


@dataclass(frozen=True)
class MembershipSettings:
    """The CDP's membership API, which gives anonymous visitors their segments."""

    base_url: str | None = None
    timeout: float = 5.0
    activation_id: str | None = None
    api_key: str | None = None
    cache_ttl: int = 300


@dataclass(frozen=True)
class ScopeSettings:
    """Everything one scope (a site, or a language edition of it) uses: Ibexa's SiteAccess."""

    name: str
    hosts: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    account_number: int | None = None
    stream_base_url: str = DEFAULT_STREAM_BASE_URL
    data_export: Mapping[str, StreamSettings] = field(default_factory=frozen_mapping)
    activations: tuple[Activation, ...] = ()
    tracking: TrackingSettings = TrackingSettings()
    membership: MembershipSettings = MembershipSettings()

    def stream(self, kind: str) -> StreamSettings:
        """The export settings of one kind (``user``, ``content``, ``product``)."""
        return self.data_export.get(kind) or StreamSettings()


@dataclass(frozen=True)
class ScheduleEntry:
    """One entry of ``data_export.schedule.<kind>``: run an export command on a cron interval."""

    kind: str
    index: int
    interval: str
    options: str = ""
    scope: str = "default"

    @property
    def name(self) -> str:
        """The entry as people find it in the configuration: ``user[0]``."""
        return f"{self.kind}[{self.index}]"

    @property
    def key(self) -> str:
        """The key of the entry's run state and lock: a hash of what it does, not where it is.

        Moving an entry in the list keeps its state; editing what it does starts it afresh.
        """
        text = "\0".join((self.kind, self.scope, self.interval, self.options))
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class SourceSettings:
    """One exportable source: ``sources.<kind>.<name>``."""

    kind: str
    name: str
    model: str | None = None
    queryset: str | None = None
    filter: Mapping[str, Any] = field(default_factory=frozen_mapping)
    fields: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    name_field: str | None = None
    code_field: str | None = None
    language_field: str | None = None
    modified_field: str | None = None


@dataclass(frozen=True)
class ProcessorReference:
    """A processor registered by dotted path in settings, with its priority (higher runs first)."""

    path: str
    priority: int = 0


@dataclass(frozen=True)
class WebhookSettings:
    """Limits of the activation webhook."""

    max_body_bytes: int = 32 * MiB
    token_ttl: int = 3600
    signature_tolerance: int = 300
    # Who processes queued deliveries: ``manage.py cdp_process_deliveries``, or a Celery worker.
    queue: str = "command"


@dataclass(frozen=True)
class CdpBridgeSettings:
    """The whole configuration: every scope, and the global keys."""

    scopes: Mapping[str, ScopeSettings]
    bulk_async_threshold: int = 100
    schedule: tuple[ScheduleEntry, ...] = ()
    sources: Mapping[str, Mapping[str, SourceSettings]] = field(default_factory=frozen_mapping)
    processors: Mapping[str, tuple[ProcessorReference, ...]] = field(default_factory=frozen_mapping)
    webhook: WebhookSettings = WebhookSettings()

    def scope(self, name: str) -> ScopeSettings:
        """The scope called ``name``; UnknownScope names the scopes there are."""
        try:
            return self.scopes[name]
        except KeyError:
            known = ", ".join(sorted(self.scopes))
            raise UnknownScope(
                f"Unknown scope {name!r}. The configured scopes are: {known}."
            ) from None

    def sources_of(self, kind: str) -> Mapping[str, SourceSettings]:
        """The sources of one export kind, by name."""
        return self.sources.get(kind) or frozen_mapping()
