"""The configuration's schema: typed, frozen settings objects whose fields declare each key once.

Each field's type, default and ``setting()`` metadata (see ``conf.spec``) are all there is to
know about its key: ``conf.reader`` reads and validates the configuration by walking these
classes, and ``conf.json_schema`` publishes them for editors. To add a key, add a field.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Literal

from django.utils.translation import gettext as _

from cdp_bridge.conf.kinds import EXPORT_KINDS, PROCESSOR_KINDS
from cdp_bridge.conf.problems import KeyPath
from cdp_bridge.conf.rules import (
    ACCOUNT_NUMBER_HINT,
    CLIENT_SECRET_RULES,
    CRON_RULES,
    HTTP_URL_RULE,
    MEMBERSHIP_NEEDS_BASE_URL,
    MODEL_LABEL_RULE,
    MODEL_OR_QUERYSET,
    PATH_AND_SKIP,
    PROCESSOR_NEEDS_PATH,
    SKIP_NAMES_SOMETHING,
    STREAM_ID_RULE,
    TRACKING_PARAMETER_RULE,
)
from cdp_bridge.conf.spec import ClassRule, setting
from cdp_bridge.exceptions import UnknownScope

DEFAULT_STREAM_BASE_URL = "https://in.raptorsmartadvisor.com"
SCHEDULE_KEY = ("data_export", "schedule")
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

Transport = Literal["stream_file", "file", "memory"]
UserIdMode = Literal["pk", "hashed", "none"]
TrackingType = Literal["client", "server"]
WebhookQueue = Literal["command", "celery"]


def stream_file_seconds(name: str, default: float, doc: str) -> Any:
    """A field of seconds above 0, written as ``stream_file.<name>``."""
    return field(
        default=default,
        metadata=setting(doc, key=("stream_file", name), minimum=0, exclusive_minimum=True),
    )


def frozen_mapping(mapping: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """A read-only copy of ``mapping``."""
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class StreamSettings:
    """Where and how one kind of data (``data_export.<kind>_data``) is exported."""

    transport: Transport = field(
        default="stream_file",
        metadata=setting(
            "stream_file posts to the CDP's Streaming API; file writes each batch as a JSON file "
            "under file.directory; memory keeps batches in an in-process outbox, for tests."
        ),
    )
    stream_id: str | None = field(
        default=None,
        metadata=setting(
            "The stream id from the CDP's Data Manager (Stream file). A secret.",
            key=("stream_file", "stream_id"),
            rules=(STREAM_ID_RULE,),
            secret=True,
        ),
    )
    directory: Path | None = field(
        default=None,
        metadata=setting(
            "Where the file transport writes (a directory per run inside it).",
            key=("file", "directory"),
            required_when=("transport", "file"),
        ),
    )
    batch_size: int = field(default=1000, metadata=setting("Rows per request at most.", minimum=1))
    max_batch_bytes: int = field(
        default=4 * MiB, metadata=setting("Bytes per request at most.", minimum=1024)
    )
    connect_timeout: float = stream_file_seconds(
        "connect_timeout", 5.0, "Seconds to connect to the Streaming API."
    )
    read_timeout: float = stream_file_seconds(
        "read_timeout", 30.0, "Seconds to wait for the Streaming API's answer."
    )
    # Ten minutes rides out a CDP restart, and at a third of requests failing a batch runs out
    # of it about once in 10^12; a dead CDP still ends the run, with one line, in that time.
    retry_budget: float = stream_file_seconds(
        "retry_budget",
        600.0,
        "Seconds one batch may keep failing transiently before the export gives up.",
    )
    # A rate limit's window is seconds to a minute: a larger answer (a day) must not park the
    # export; it waits this long and tries again, within the retry budget.
    max_retry_after: float = stream_file_seconds(
        "max_retry_after",
        120.0,
        "The longest Retry-After honoured, in seconds; a longer one is cut to this.",
    )


@dataclass(frozen=True)
class Activation:
    """One CDP activation: the client that may call the webhook, and its segment group."""

    client_id: str = field(
        metadata=setting("The Client Id entered in the CDP's activation form; unique.")
    )
    client_secrets: tuple[str, ...] = field(
        metadata=setting(
            "The Client Secret, or a list of them: every listed secret is accepted (rotation).",
            key="client_secret",
            rules=CLIENT_SECRET_RULES,
            secret=True,
        )
    )
    segment_group_identifier: str = field(
        metadata=setting("The segment group the activation writes its audiences into.")
    )
    person_identifier_field: str | None = field(
        default=None,
        metadata=setting(
            "The unique user field holding the CDP's userid (default: the primary key)."
        ),
    )
    signing_secret: str | None = field(
        default=None,
        metadata=setting(
            "The secret the CDP signs requests with.",
            required_when=("require_signature", True),
            secret=True,
        ),
    )
    require_signature: bool = field(
        default=False, metadata=setting("Require an X-CDP-Signature HMAC on every request.")
    )
    key_path: KeyPath = field(
        default=(),
        compare=False,
        repr=False,
        metadata=setting("Where the activation is written.", read=False, whole_path=True),
    )


@dataclass(frozen=True)
class TrackingSettings:
    """How the tracking tags behave in a scope."""

    enabled: bool = field(default=True, metadata=setting("Render the tracking tags at all."))
    consent_required: bool = field(
        default=True,
        metadata=setting("Start tracking only on the enableTracking event (cookie consent)."),
    )
    user_id: UserIdMode = field(
        default="pk", metadata=setting("How a logged-in user is identified to the CDP.")
    )
    tracking_type: TrackingType = field(
        default="client",
        metadata=setting(
            "client: events are sent by the browser (JavaScript); server: by the site, "
            "as Ibexa's connector_raptor.tracking_type."
        ),
    )
    script_url: str = field(
        default=DEFAULT_TRACKING_SCRIPT_URL, metadata=setting("Raptor's main tracking script.")
    )
    server_url: str = field(
        default=DEFAULT_TRACKING_SERVER_URL,
        metadata=setting("Where server-side tracking sends events.", rules=(HTTP_URL_RULE,)),
    )
    cookie_name: str = field(
        default=DEFAULT_VISITOR_COOKIE,
        metadata=setting("The cookie holding the visitor's Raptor cookie id."),
    )
    parameters: Mapping[str, str] = field(  # overrides only
        default_factory=frozen_mapping,
        metadata=setting(
            "Which Raptor parameter (p1 to p999) carries which event value.",
            keys=tuple(DEFAULT_TRACKING_PARAMETERS),
            rules=(TRACKING_PARAMETER_RULE,),
        ),
    )

    def parameter(self, name: str) -> str:
        """The Raptor parameter (``p12``) that carries the value ``name`` (``price``)."""
        return self.parameters.get(name) or DEFAULT_TRACKING_PARAMETERS[name]


@dataclass(frozen=True)
class MembershipSettings:
    """The CDP's membership API, which gives anonymous visitors their segments."""

    RULES: ClassVar[tuple[ClassRule, ...]] = (MEMBERSHIP_NEEDS_BASE_URL,)

    base_url: str | None = field(
        default=None,
        metadata=setting("The CDP API's base URL.", rules=(HTTP_URL_RULE,)),
    )
    timeout: float = field(
        default=5.0,
        metadata=setting("Seconds per request.", minimum=0, exclusive_minimum=True),
    )
    activation_id: str | None = field(default=None, metadata=setting("Sent as X-ACTIVATION-ID."))
    api_key: str | None = field(
        default=None, metadata=setting("Sent as X-API-KEY; a secret.", secret=True)
    )
    cache_ttl: int = field(
        default=300, metadata=setting("Seconds a visitor's segments are cached.", minimum=0)
    )


@dataclass(frozen=True)
class RaptorConnectorSettings:
    """Ibexa's ``connector_raptor`` block, accepted so that an Ibexa file loads as it is.

    ``customer_id``, ``tracking_type`` and ``enabled`` are other spellings of cdp_bridge keys;
    the recommendation keys are read and kept, and not used yet.
    """

    enabled: bool = field(
        default=True,
        metadata=setting(
            "Whether tracking runs in the scope (cdp.tracking.enabled).",
            same_as=("cdp", "tracking", "enabled"),
        ),
    )
    customer_id: int | None = field(
        default=None,
        metadata=setting(
            "The account number (cdp.account_number).",
            wrong_type="cdp_bridge.E003",
            hint=ACCOUNT_NUMBER_HINT,
            same_as=("cdp", "account_number"),
        ),
    )
    tracking_type: TrackingType | None = field(
        default=None,
        metadata=setting(
            "client or server (cdp.tracking.tracking_type).",
            same_as=("cdp", "tracking", "tracking_type"),
        ),
    )
    recommendations_api_key: str | None = field(
        default=None,
        metadata=setting("Raptor's Recommendations API key; not used yet.", secret=True),
    )
    recommendations_api_url: str | None = field(
        default=None,
        metadata=setting("Raptor's Recommendations API URL; not used yet.", rules=(HTTP_URL_RULE,)),
    )


@dataclass(frozen=True)
class ScopeSettings:
    """Everything one scope (a site, or a language edition of it) uses: Ibexa's SiteAccess.

    Read from the blocks ``system.<name>`` (``default``, the scope's groups, its own, ``global``),
    merged in that order; ``name`` and ``hosts`` come from ``scopes.<name>``.
    """

    name: str = field(metadata=setting("The scope's name.", read=False))
    hosts: tuple[str, ...] = field(
        default=(), metadata=setting("The hosts whose requests belong to it.", read=False)
    )
    account_number: int | None = field(
        default=None,
        metadata=setting(
            "The CDP account number (the account list at the top right of the CDP dashboard).",
            key=("cdp", "account_number"),
            wrong_type="cdp_bridge.E003",
            hint=ACCOUNT_NUMBER_HINT,
        ),
    )
    stream_base_url: str = field(
        default=DEFAULT_STREAM_BASE_URL,
        metadata=setting(
            "The Streaming API's base URL.",
            key=("cdp", "stream_base_url"),
            rules=(HTTP_URL_RULE,),
        ),
    )
    data_export: Mapping[str, StreamSettings] = field(
        default_factory=frozen_mapping,
        metadata=setting(
            "How each kind (user, content, product) is exported.",
            key=("cdp", "data_export"),
            keys={f"{kind}_data": kind for kind in EXPORT_KINDS},
        ),
    )
    activations: tuple[Activation, ...] = field(
        default=(),
        metadata=setting(
            "The CDP activations allowed to call the webhook.", key=("cdp", "activations")
        ),
    )
    tracking: TrackingSettings = field(
        default=TrackingSettings(),
        metadata=setting("The tracking tags.", key=("cdp", "tracking")),
    )
    membership: MembershipSettings = field(
        default=MembershipSettings(),
        metadata=setting(
            "The CDP API that gives anonymous visitors their segments.",
            key=("cdp", "membership"),
        ),
    )
    connector_raptor: RaptorConnectorSettings = field(
        default=RaptorConnectorSettings(),
        metadata=setting("Ibexa's Raptor connector settings."),
    )

    def stream(self, kind: str) -> StreamSettings:
        """The export settings of one kind (``user``, ``content``, ``product``)."""
        return self.data_export.get(kind) or StreamSettings()

    @property
    def tracks_visitors(self) -> bool:
        """Whether the scope tracks at all: ``tracking.enabled``, and an account to track for."""
        return self.tracking.enabled and self.account_number is not None


@dataclass(frozen=True)
class ScopeDeclaration:
    """``scopes.<name>``: which requests belong to a scope, and the groups it takes settings of."""

    hosts: tuple[str, ...] = field(
        default=(),
        metadata=setting("Host names of the scope; .shop.example matches every subdomain."),
    )
    groups: tuple[str, ...] = field(
        default=(), metadata=setting("Scope groups whose settings this scope takes, in order.")
    )


@dataclass(frozen=True)
class ScheduleEntry:
    """One entry of ``data_export.schedule.<kind>``: run an export command on a cron interval."""

    kind: str = field(metadata=setting("The kind exported.", read=False, from_path=-2))
    index: int = field(metadata=setting("The entry's position.", read=False, from_path=-1))
    interval: str = field(
        metadata=setting(
            "A five-field crontab (minute hour day-of-month month day-of-week) or a macro such "
            "as @daily, in TIME_ZONE.",
            rules=CRON_RULES,
        )
    )
    options: str = field(
        default="",
        metadata=setting(
            "Options passed to stream_<kind>_data, as Ibexa does: '--no-draft "
            "--content-type=article'.",
            allow_empty=True,
        ),
    )
    scope: str = field(
        default="default",
        metadata=setting("The scope the export runs for.", refers_to=("scopes", "cdp_bridge.E014")),
    )

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

    @property
    def key_path(self) -> KeyPath:
        """Where the entry is written: ``("data_export", "schedule", "user", 0)``."""
        return (*SCHEDULE_KEY, self.kind, self.index)


@dataclass(frozen=True)
class SourceSettings:
    """One exportable source: ``sources.<kind>.<name>``."""

    RULES: ClassVar[tuple[ClassRule, ...]] = (MODEL_OR_QUERYSET,)

    kind: str = field(metadata=setting("The kind exported.", read=False, from_path=-2))
    name: str = field(metadata=setting("The source's name.", read=False, from_path=-1))
    model: str | None = field(
        default=None,
        metadata=setting("The model exported: app_label.ModelName.", rules=(MODEL_LABEL_RULE,)),
    )
    queryset: str | None = field(
        default=None,
        metadata=setting("The dotted path of a callable taking the scope, returning a QuerySet."),
    )
    filter: Mapping[str, Any] = field(
        default_factory=frozen_mapping,
        metadata=setting("QuerySet.filter() keyword arguments."),
    )
    fields: tuple[str, ...] | None = field(
        default=None, metadata=setting("Export only these fields.")
    )
    exclude: tuple[str, ...] = field(default=(), metadata=setting("Never export these fields."))
    name_field: str | None = field(
        default=None, metadata=setting("The field giving the row's name (default: str()).")
    )
    code_field: str | None = field(
        default=None,
        metadata=setting(
            "The field giving the product's code, its SKU (default: the primary key).",
            only_for_kinds=("product",),
        ),
    )
    language_field: str | None = field(
        default=None, metadata=setting("The field giving the row's language code.")
    )
    modified_field: str | None = field(
        default=None, metadata=setting("A modification time, for --since.")
    )


@dataclass(frozen=True)
class SkipRule:
    """The built-in ``skip`` field processor written in settings: fields by name, and by type."""

    RULES: ClassVar[tuple[ClassRule, ...]] = (SKIP_NAMES_SOMETHING,)

    fields: tuple[str, ...] = field(
        default=(),
        metadata=setting("Fields dropped: a name (every model), or app_label.Model.name."),
    )
    types: tuple[str, ...] = field(
        default=(),
        metadata=setting(
            "Field types dropped: an internal type (JSONField), a field class name, or the "
            "dotted path of a field class."
        ),
    )


@dataclass(frozen=True)
class ProcessorReference:
    """A processor registered in settings, with its priority (higher runs first).

    Written as ``{path: ..., priority: N}``, or as the dotted path alone; a field processor
    may instead be the built-in skip rule, ``{skip: {fields: [...], types: [...]}, priority: N}``.
    """

    SHORTHAND: ClassVar[str] = "path"
    RULES: ClassVar[tuple[ClassRule, ...]] = (PROCESSOR_NEEDS_PATH, PATH_AND_SKIP)

    path: str | None = field(
        default=None, metadata=setting("The dotted path of the processor class or object.")
    )
    priority: int = field(
        default=0,
        metadata=setting("Higher runs first; the built-ins are at -100.", minimum=-(2**31)),
    )
    skip: SkipRule | None = field(
        default=None,
        metadata=setting(
            "The built-in skip field processor: drop fields by name or by type.",
            only_for_kinds=("field",),
        ),
    )
    kind: str = field(default="", metadata=setting("The processor kind.", read=False, from_path=-2))


@dataclass(frozen=True)
class WebhookSettings:
    """Limits of the activation webhook."""

    max_body_bytes: int = field(
        default=32 * MiB,
        metadata=setting("The largest body accepted, compressed or decompressed.", minimum=1024),
    )
    token_ttl: int = field(
        default=3600, metadata=setting("Seconds a bearer token lives.", minimum=60)
    )
    signature_tolerance: int = field(
        default=300, metadata=setting("Seconds an X-CDP-Signature may be old.", minimum=1)
    )
    queue: WebhookQueue = field(
        default="command",
        metadata=setting(
            "Who applies queued deliveries: manage.py cdp_process_deliveries, or Celery."
        ),
    )


@dataclass(frozen=True)
class CdpBridgeSettings:
    """The whole configuration: every scope, and the global keys.

    In the YAML file the global keys go under ``ibexa_cdp`` (Ibexa's own) or ``cdp_bridge``
    (cdp_bridge's additions); ``scopes`` and ``system`` make the scopes (see ``SCOPE_KEYS``).
    """

    scopes: Mapping[str, ScopeSettings] = field(
        metadata=setting("Every scope, by name.", read=False)
    )
    bulk_async_threshold: int = field(
        default=100,
        metadata=setting(
            "A delivery touching at least this many members is processed in the background.",
            minimum=1,
            section="ibexa_cdp",
        ),
    )
    schedule_by_kind: Mapping[str, tuple[ScheduleEntry, ...]] = field(
        default_factory=frozen_mapping,
        metadata=setting(
            "Scheduled exports, per kind.",
            key=SCHEDULE_KEY,
            keys=EXPORT_KINDS,
            section="ibexa_cdp",
        ),
    )
    sources: Mapping[str, Mapping[str, SourceSettings]] = field(
        default_factory=frozen_mapping,
        metadata=setting(
            "What can be exported, per kind and name.", keys=EXPORT_KINDS, section="cdp_bridge"
        ),
    )
    processors: Mapping[str, tuple[ProcessorReference, ...]] = field(
        default_factory=frozen_mapping,
        metadata=setting(
            "Export processors registered by dotted path (and skip rules, for fields).",
            keys=PROCESSOR_KINDS,
            section="cdp_bridge",
        ),
    )
    webhook: WebhookSettings = field(
        default=WebhookSettings(),
        metadata=setting("Limits of the webhook.", section="cdp_bridge"),
    )

    @property
    def schedule(self) -> tuple[ScheduleEntry, ...]:
        """Every schedule entry, in the order written."""
        return tuple(chain.from_iterable(self.schedule_by_kind.values()))

    def scope(self, name: str) -> ScopeSettings:
        """The scope called ``name``; UnknownScope names the scopes there are."""
        try:
            return self.scopes[name]
        except KeyError:
            known = ", ".join(sorted(self.scopes))
            raise UnknownScope(
                _("Unknown scope %(name)s. The configured scopes are: %(known)s.")
                % {"name": repr(name), "known": known}
            ) from None

    def sources_of(self, kind: str) -> Mapping[str, SourceSettings]:
        """The sources of one export kind, by name."""
        return self.sources.get(kind) or frozen_mapping()


# The two top-level keys that make the scopes: ``scopes.<name>`` declares a scope, and each
# ``system.<name>`` block holds settings of a scope, of a group of scopes, of every scope
# (``default``) or over every scope (``global``). Each has its YAML section, as the global keys.
SCOPE_KEYS: Mapping[str, tuple[str, type[Any], str]] = MappingProxyType(
    {
        "scopes": (
            "cdp_bridge",
            ScopeDeclaration,
            "Which requests belong to which scope (Ibexa's SiteAccess matching).",
        ),
        "system": (
            "ibexa",
            ScopeSettings,
            "Settings per scope, scope group, default (every scope) and global (over every scope).",
        ),
    }
)
RESERVED_SYSTEM_NAMES = ("default", "global")
