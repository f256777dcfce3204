"""Activations: calling the site's webhook as a good CDP does, and remembering what it accepted.

An audience's first sync is ``full`` (in ``snapshot`` parts above ``snapshot_size`` members),
later syncs are ``delta`` against what the site acknowledged; an audience taken out of the
activation is sent in ``removed_audiences``. Each request carries a rising ``sequence``, an
``X-CDP-Delivery-Id`` (the same on every retry, so the site can tell a resend), gzip above a
size, Basic or OAuth2 bearer authentication, and ``X-CDP-Signature`` when the activation has a
signing secret. 429, 5xx and connection errors are retried with backoff (honouring
``Retry-After``); any other 4xx stops the activation with the site's message.
"""

from __future__ import annotations

import gzip
import json
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cdp_bridge import USER_AGENT
from cdp_bridge.http_sessions import body_excerpt
from cdp_bridge.sandbox.audience_file import ActivationDefinition, AudienceFile
from cdp_bridge.sandbox.audiences import members, profiles
from cdp_bridge.sandbox.store import Acknowledged, Store
from cdp_bridge.webhook.signatures import HEADER as SIGNATURE_HEADER
from cdp_bridge.webhook.signatures import signature_header

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
FIRST_DELAY, MAX_DELAY, MAX_RETRY_AFTER = 0.5, 30.0, 120.0  # seconds
TIMEOUT = (5.0, 60.0)  # connect, read
KEPT_BODY = 64 * 1024  # characters of a request or response body kept for the UI
Sleep = Callable[[float], None]


class ActivationFailed(Exception):
    """The activation stopped: the site refused a request, or could not be reached."""


@dataclass
class Delivery:
    """One request to send: its body and, once the site accepts it, what the site then holds."""

    body: dict[str, Any]
    acknowledges: dict[str, Acknowledged | None]  # audience id -> state; None: removed
    describes: str

    @property
    def delivery_id(self) -> str:
        return str(self._id)

    def __post_init__(self) -> None:
        self._id = uuid.uuid4()


@dataclass
class ActivationReport:
    """What one activation sent, for people: a line per delivery."""

    name: str
    lines: list[str] = field(default_factory=list)


def activate_all(
    store: Store,
    audience_file: AudienceFile,
    name: str | None = None,
    *,
    base_url: str | None = None,
    sleep: Sleep = time.sleep,
) -> list[ActivationReport]:
    """Run the activation ``name`` (every activation when None); ActivationFailed if one fails."""
    chosen = [a for a in audience_file.activations if name is None or a.name == name]
    if not chosen:
        known = ", ".join(a.name for a in audience_file.activations) or _("none")
        names = {"path": audience_file.path, "name": repr(name), "known": known}
        raise ActivationFailed(
            _("%(path)s has no activation %(name)s (activations: %(known)s).") % names
            if name
            else _("%(path)s defines no activations.") % names
        )
    problems = audience_file.column_problems(store.person_columns())
    if problems:
        raise ActivationFailed(
            _("%(problem)s Fix the audience file; nothing was sent.") % {"problem": problems[0]}
        )
    return [
        Activation(store, audience_file, activation, base_url, sleep).run() for activation in chosen
    ]


class Activation:
    """One run of one activation."""

    def __init__(
        self,
        store: Store,
        audience_file: AudienceFile,
        definition: ActivationDefinition,
        base_url: str | None,
        sleep: Sleep,
    ) -> None:
        self.store = store
        self.file = audience_file
        self.definition = definition
        self.url = (base_url or definition.base_url).rstrip("/")
        self.sleep = sleep
        self.session = requests.Session()
        self.token: str | None = None

    def run(self) -> ActivationReport:
        report = ActivationReport(self.definition.name)
        deliveries = self.plan()
        if not deliveries:
            report.lines.append("nothing changed since the last sync: nothing sent")
        try:
            for delivery in deliveries:
                answer = self.send(delivery)
                for audience, state in delivery.acknowledges.items():
                    self.store.acknowledge(self.definition.name, audience, state)
                report.lines.append(f"{delivery.describes}: {answer}")
        finally:
            self.session.close()
        return report

    # -- what to send -----------------------------------------------------------------------------

    def plan(self) -> list[Delivery]:
        """The deliveries that bring the site from what it acknowledged to the audiences now."""
        definition = self.definition
        acknowledged = self.store.acknowledged(definition.name)
        persons, _visitors = profiles(self.store)
        now = datetime.now(UTC)
        updated_at = now.isoformat().replace("+00:00", "Z")
        combined: list[dict[str, Any]] = []
        combined_states: dict[str, Acknowledged | None] = {}
        parts: list[Delivery] = []
        described: list[str] = []
        for identifier in definition.audiences:
            audience = self.file.audience(identifier)
            assert audience is not None  # the file was checked
            current = members(audience, persons, now)
            metadata = {
                "name": audience.name,
                "description": audience.description,
                "tags": list(audience.tags),
            }
            previous = acknowledged.get(identifier)
            sequence = max((previous.sequence + 1) if previous else 0, int(time.time() * 1000))
            state = Acknowledged(frozenset(current), sequence, metadata)
            head = {
                "id": identifier,
                **metadata,
                "profile_count": len(current),
                "updated_at": updated_at,
                "sequence": sequence,
            }
            if previous is None:
                if len(current) > definition.snapshot_size:
                    parts.extend(self.snapshot_parts(head, current, state))
                    continue
                combined.append({**head, "sync": "full", "members": current})
                described.append(f"{identifier} full ({_members(len(current))})")
            else:
                added = sorted(state.members - previous.members, key=_id_order)
                removed = sorted(previous.members - state.members, key=_id_order)
                if not added and not removed and metadata == previous.metadata:
                    continue
                combined.append({**head, "sync": "delta", "added": added, "removed": removed})
                described.append(f"{identifier} delta (+{len(added)} -{len(removed)})")
            combined_states[identifier] = state
        removed_audiences = sorted(set(acknowledged) - set(definition.audiences))
        for identifier in removed_audiences:
            combined_states[identifier] = None
            described.append(f"{identifier} removed")
        deliveries = []
        if combined or removed_audiences:
            body: dict[str, Any] = {
                "segment_group_identifier": definition.segment_group_identifier,
                "audiences": combined,
            }
            if removed_audiences:
                body["removed_audiences"] = removed_audiences
            deliveries.append(Delivery(body, combined_states, ", ".join(described)))
        return deliveries + parts

    def snapshot_parts(
        self, head: dict[str, Any], current: list[str], state: Acknowledged
    ) -> list[Delivery]:
        size = self.definition.snapshot_size
        count = math.ceil(len(current) / size)
        snapshot = uuid.uuid4().hex[:16]
        parts = []
        for number in range(1, count + 1):
            chunk = current[(number - 1) * size : number * size]
            audience = {
                **head,
                "sync": "full",
                "members": chunk,
                "snapshot": {"id": snapshot, "part": number, "parts": count},
            }
            body = {
                "segment_group_identifier": self.definition.segment_group_identifier,
                "audiences": [audience],
            }
            # The site applies the snapshot when its last part arrives: only then is it held.
            acknowledges: dict[str, Acknowledged | None] = (
                {head["id"]: state} if number == count else {}
            )
            describes = (
                f"{head['id']} full, snapshot part {number} of {count} ({_members(len(chunk))})"
            )
            parts.append(Delivery(body, acknowledges, describes))
        return parts

    # -- how to send ------------------------------------------------------------------------------

    def send(self, delivery: Delivery) -> str:
        """POST one delivery, retrying what may pass later; the site's answer, in words."""
        raw = json.dumps(delivery.body, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-CDP-Delivery-Id": delivery.delivery_id,
        }
        body = raw
        if len(raw) > self.definition.gzip_above:
            body = gzip.compress(raw)
            headers["Content-Encoding"] = "gzip"
        attempts = self.definition.attempts
        last = ""
        renewed = False
        for attempt in range(1, attempts + 1):
            if self.definition.signing_secret:  # signed as sent, fresh on every attempt
                headers[SIGNATURE_HEADER] = signature_header(self.definition.signing_secret, body)
            started = time.time()
            record = self.request_record(headers, raw, len(body))
            try:
                response = self.post(body, headers)
            except requests.RequestException as error:
                last = f"connection failed ({type(error).__name__})"
                self.record(delivery, started, record, None, None, f"{last}; attempt {attempt}")
                retry_after = None
            else:
                answer = _answer(response)
                status = response.status_code
                if 200 <= status < 300:
                    words = _accepted(status, answer)
                    self.record(delivery, started, record, response, answer, words)
                    return words
                reason = _reason(status, answer, response)
                if status == 401 and self.definition.authentication == "oauth2" and not renewed:
                    # The bearer token expired or its secret was rotated: get a new one, once.
                    renewed = True
                    self.record(
                        delivery,
                        started,
                        record,
                        response,
                        answer,
                        f"{status} {reason}; getting a new token",
                    )
                    continue
                if status not in RETRY_STATUSES:
                    self.record(delivery, started, record, response, answer, f"refused: {reason}")
                    raise ActivationFailed(
                        _(
                            "Activation %(name)s: the site at %(url)s refused the delivery with "
                            "%(status)s %(reason)s"
                        )
                        % {
                            "name": repr(self.definition.name),
                            "url": self.url,
                            "status": status,
                            "reason": reason,
                        }
                    )
                last = f"{status} {reason}"
                self.record(
                    delivery, started, record, response, answer, f"{last}; attempt {attempt}"
                )
                retry_after = _seconds(response.headers.get("Retry-After"))
            if attempt < attempts:
                delay = FIRST_DELAY * 2 ** (attempt - 1)
                self.sleep(
                    min(retry_after, MAX_RETRY_AFTER)
                    if retry_after is not None
                    else min(delay, MAX_DELAY)
                )
        raise ActivationFailed(
            _(
                "Activation %(name)s: the site at %(url)s did not accept the delivery after "
                "%(attempts)d attempts (last: %(last)s). Check that the site is up and activate "
                "again."
            )
            % {
                "name": repr(self.definition.name),
                "url": self.url,
                "attempts": attempts,
                "last": last,
            }
        )

    def post(self, body: bytes, headers: dict[str, str]) -> requests.Response:
        auth: tuple[str, str] | None = (self.definition.client_id, self.definition.client_secret)
        if self.definition.authentication == "oauth2":
            auth = None
            headers["Authorization"] = f"Bearer {self.bearer_token()}"
        response = self.session.post(
            self.url, data=body, headers=headers, auth=auth, timeout=TIMEOUT, allow_redirects=False
        )
        if response.status_code == 401 and self.definition.authentication == "oauth2":
            self.token = None  # expired, or issued under a secret the site has since removed
        return response

    def bearer_token(self) -> str:
        """An OAuth 2.0 client-credentials token from the token endpoint beside the webhook."""
        if self.token:
            return self.token
        token_url = f"{self.url}/token"
        response = self.session.post(
            token_url,
            data={"grant_type": "client_credentials"},
            auth=(self.definition.client_id, self.definition.client_secret),
            headers={"User-Agent": USER_AGENT},
            timeout=TIMEOUT,
        )
        answer = _answer(response)
        token = answer.get("access_token") if response.status_code == 200 else None
        if not isinstance(token, str):
            error = answer.get("error") or body_excerpt(response)
            description = answer.get("error_description")
            answered = f"{error}: {description}" if description else str(error)
            raise ActivationFailed(
                _("Activation %(name)s: the token endpoint %(url)s answered %(status)d %(error)s")
                % {
                    "name": repr(self.definition.name),
                    "url": token_url,
                    "status": response.status_code,
                    "error": answered,
                }
            )
        self.token = token
        return token

    def request_record(self, headers: dict[str, str], raw: bytes, sent: int) -> dict[str, Any]:
        shown = dict(headers)
        if SIGNATURE_HEADER in shown:
            shown[SIGNATURE_HEADER] = shown[SIGNATURE_HEADER].split(",v1=")[0] + ",v1=…"
        if self.definition.authentication == "oauth2":
            shown["Authorization"] = "Bearer …"
        else:
            shown["Authorization"] = f"Basic ({self.definition.client_id}:…)"
        text = raw.decode()
        return {
            "method": "POST",
            "url": self.url,
            "headers": shown,
            "bytes": sent,
            "body": text[:KEPT_BODY],
            "truncated": len(text) > KEPT_BODY,
        }

    def record(
        self,
        delivery: Delivery,
        started: float,
        request: dict[str, Any],
        response: requests.Response | None,
        answer: dict[str, Any] | None,
        outcome: str,
    ) -> None:
        kept = None
        if response is not None:
            kept = {
                "status": response.status_code,
                "headers": {
                    name: value
                    for name, value in response.headers.items()
                    if name.lower() in ("content-type", "retry-after", "www-authenticate")
                },
                "body": response.text[:KEPT_BODY],
            }
        self.store.add_attempt(
            self.definition.name,
            started=started,
            delivery_id=delivery.delivery_id,
            request=request,
            status=response.status_code if response is not None else None,
            response=kept,
            outcome=outcome,
        )


def _id_order(pid: str) -> tuple[bool, int, str]:
    return (not pid.isdigit(), int(pid) if pid.isdigit() else 0, pid)


def _answer(response: requests.Response) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _reason(status: int, answer: dict[str, Any], response: requests.Response) -> str:
    error = answer.get("error")
    if isinstance(error, dict):
        return f"{error.get('code')}: {error.get('message')}"
    return body_excerpt(response) or response.reason or str(status)


def _accepted(status: int, answer: dict[str, Any]) -> str:
    if status == 202 or answer.get("status") == "accepted":
        return f"{status} accepted (queued on the site)"
    words = f"{status} {answer.get('status', 'ok')}"
    audiences = answer.get("audiences")
    if isinstance(audiences, list):
        stale = [
            a.get("id") for a in audiences if isinstance(a, dict) and a.get("status") == "stale"
        ]
        unknown = sum(a.get("unknown_members", 0) for a in audiences if isinstance(a, dict))
        if stale:
            words += (
                f"; stale on the site (it holds a later sequence): {', '.join(map(str, stale))}"
            )
        if unknown:
            words += f"; {_members(unknown)} unknown to the site"
    return words


def _members(count: int) -> str:
    return ngettext("%(count)d member", "%(count)d members", count) % {"count": count}


def _seconds(value: str | None) -> float | None:
    if value and value.strip().isdigit():
        return float(value)
    return None
