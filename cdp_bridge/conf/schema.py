"""The typed, frozen objects the configuration is read into. Defaults live here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from cdp_bridge.exceptions import UnknownScope

EXPORT_KINDS = ("user", "content", "product")
TRANSPORTS = ("stream_file", "file", "memory")
USER_ID_MODES = ("pk", "hashed", "none")
WEBHOOK_QUEUES = ("command", "celery")
DEFAULT_STREAM_BASE_URL = "https://in.raptorsmartadvisor.com"
MiB = 1024 * 1024

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
    def key(self) -> str:
        """A stable name for the entry, used for its run state and lock."""
        return f"{self.kind}[{self.index}]"


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
