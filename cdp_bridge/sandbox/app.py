"""The sandbox's HTTP interface: the CDP's APIs a site calls, and the web UI for people.

| path | what |
| --- | --- |
| ``POST /stream/{account}`` | the Streaming API (``streaming``) |
| ``GET /{account}.rsa`` | tracking requests (``tracking``) |
| ``GET /tracking/raptor.js`` | the browser script that sends them |
| ``GET /api/v3/memberships/{coid,userid}`` | the membership API for anonymous visitors |
| ``/``, ``/streams/N``, ``/events``, ``/attempts/N`` | the web UI; ``POST /activate`` runs one |
"""

from __future__ import annotations

import math
import re
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.template import Context, Engine
from django.utils.crypto import constant_time_compare

from cdp_bridge.redaction import mask_secret
from cdp_bridge.sandbox.activation import ActivationFailed, activate_all
from cdp_bridge.sandbox.audiences import AudienceSource, matches, members, profiles
from cdp_bridge.sandbox.faults import Faults
from cdp_bridge.sandbox.http import DROP, Drop, Request, Response
from cdp_bridge.sandbox.store import Store
from cdp_bridge.sandbox.streaming import BatchRefused, parse_batch
from cdp_bridge.sandbox.tracking import BROWSER_SCRIPT, PIXEL, TRACKING_PATH, parse_tracking

PAGE_SIZE = 50
STREAM_PATH = re.compile(r"/stream/(?P<account>[^/]+)")
MEMBERSHIP_PATH = re.compile(r"/api/v3/memberships/(?P<type>[A-Za-z]+)")
NUMBERED_PAGE = re.compile(r"/(?P<page>streams|attempts)/(?P<number>\d+)")
ACCOUNT_DIGITS = (4, 5)  # Raptor: the account id has four or five digits
TEMPLATES = Engine(dirs=[str(Path(__file__).with_name("templates"))], autoescape=True)


class SandboxApp:
    """Answers every request to the sandbox; ``log`` receives a line per API request."""

    def __init__(
        self,
        store: Store,
        audiences: AudienceSource,
        faults: Faults | None = None,
        log: Callable[[str], None] = lambda line: None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.audiences = audiences
        self.faults = faults or Faults()
        self.log = log
        self.sleep = sleep
        self.csrf_token = secrets.token_urlsafe(16)
        self.message = ""
        self.activation_lock = threading.Lock()

    def __call__(self, request: Request) -> Response | Drop:
        path = request.path
        if match := STREAM_PATH.fullmatch(path):
            return self.stream(request, match["account"])
        if match := TRACKING_PATH.fullmatch(path):
            return self.track(request, match["account"])
        if match := MEMBERSHIP_PATH.fullmatch(path):
            return self.membership(request, match["type"])
        if path == "/tracking/raptor.js":
            return Response(200, BROWSER_SCRIPT.read_bytes(), "application/javascript")
        if request.method not in ("GET", "HEAD", "POST"):
            return Response(405, b"Method not allowed", "text/plain", {"Allow": "GET, POST"})
        if path == "/activate" and request.method == "POST":
            return self.activate(request)
        if request.method == "POST":
            return Response(405, b"Method not allowed", "text/plain", {"Allow": "GET"})
        if path == "/":
            return self.page("index.html", self.overview())
        if path == "/events":
            return self.page("events.html", self.events_page(request))
        if match := NUMBERED_PAGE.fullmatch(path):
            found = (self.stream_page if match["page"] == "streams" else self.attempt_page)(
                int(match["number"]), request
            )
            return self.page(f"{match['page'][:-1]}.html", found) if found else self.not_found()
        return self.not_found()

    # -- the Streaming API ------------------------------------------------------------------------

    def stream(self, request: Request, account: str) -> Response | Drop:
        if request.method != "POST":
            return Response.json({"error": "The Streaming API takes POST."}, 405, Allow="POST")
        draft = "x-isdraft" in request.headers
        stream_id = request.headers.get("x-streamid")
        fault = self.faults.draw()
        if fault in ("drop", "503", "429"):
            status = 0 if fault == "drop" else int(fault)
            what = "dropped the connection" if fault == "drop" else f"answered {fault}"
            self.store.add_refusal(account, stream_id, draft, status, f"Injected failure: {what}.")
            self.log(f"POST {request.path}: {what} (failure injection)")
            if fault == "drop":
                return DROP
            return Response.json(
                {"error": "Injected failure: send the batch again."},
                status,
                **{"Retry-After": str(self.faults.retry_after)},
            )
        if fault == "slow":
            self.sleep(self.faults.slow_seconds)
        try:
            batch = parse_batch(account, request.headers, request.body)
        except BatchRefused as refusal:
            self.store.add_refusal(account, stream_id, draft, refusal.status, refusal.message)
            self.log(f"POST {request.path}: {refusal.status} {refusal.message}")
            return Response.json({"error": refusal.message}, refusal.status)
        number = self.store.add_batch(batch)
        self.log(
            f"POST {request.path} stream {mask_secret(batch.stream_id)}: "
            f"{len(batch.rows)} {batch.schema} rows{' (draft)' if batch.draft else ''}"
        )
        return Response.json({"status": "accepted", "batch": number, "rows": len(batch.rows)})

    # -- tracking and the membership API -------------------------------------------------------

    def track(self, request: Request, account: str) -> Response:
        event = parse_tracking(account, request.query)
        self.store.add_event(
            account,
            event.event_type,
            event.params,
            cookie_id=event.cookie_id,
            user_id=event.user_id,
            source=event.source,
        )
        return Response(200, PIXEL, "image/gif", {"Access-Control-Allow-Origin": "*"})

    def membership(self, request: Request, identifier_type: str) -> Response:
        definition = self.audiences.get().membership
        if definition is None:
            return Response.json(
                {"error": "The audience file has no 'membership' (the CDP API activation)."}, 401
            )
        if not (
            constant_time_compare(
                request.headers.get("x-activation-id", ""), definition.activation_id
            )
            and constant_time_compare(request.headers.get("x-api-key", ""), definition.api_key)
        ):
            return Response.json({"error": "Wrong or missing X-ACTIVATION-ID or X-API-KEY."}, 401)
        value = request.query.get("identifierValue", "")
        if identifier_type not in ("coid", "userid") or not value:
            return Response.json(
                {"error": "Ask /api/v3/memberships/coid or /userid with ?identifierValue=."}, 400
            )
        persons, visitors = profiles(self.store)
        person = value if identifier_type == "userid" else self.store.person_of_cookie(value)
        profile = persons.get(person) if person else visitors.get(value)
        if profile is None:
            return Response.json({"error": "No profile has this identifier."}, 404)
        audience_file = self.audiences.get()
        now = datetime.now(UTC)
        found = [
            {"id": audience.id, "name": audience.name}
            for identifier in definition.audiences
            if (audience := audience_file.audience(identifier))
            and matches(audience.condition, profile, now)
        ]
        return Response.json({"memberships": found})

    # -- the web UI -------------------------------------------------------------------------------

    def activate(self, request: Request) -> Response:
        form = request.form()
        if not constant_time_compare(form.get("csrf", ""), self.csrf_token):
            return Response(403, b"Reload the page and try again.", "text/plain")
        name = form.get("activation") or None
        with self.activation_lock:
            try:
                reports = activate_all(self.store, self.audiences.get(), name, sleep=self.sleep)
            except ActivationFailed as error:
                self.message = str(error)
            else:
                self.message = "; ".join(
                    f"{report.name}: {', '.join(report.lines)}" for report in reports
                )
        return Response.redirect("/")

    def overview(self) -> dict[str, Any]:
        audience_file = self.audiences.get()
        persons, visitors = profiles(self.store)
        audiences = [
            {
                "definition": audience,
                "members": len(members(audience, persons)),
                "visitors": sum(
                    matches(audience.condition, v, datetime.now(UTC)) for v in visitors.values()
                ),
            }
            for audience in audience_file.audiences
        ]
        problems = [
            *self.audiences.problems,
            *audience_file.column_problems(self.store.person_columns()),
        ]
        message, self.message = self.message, ""
        return {
            "streams": [self.describe_stream(stream) for stream in self.store.streams()],
            "batches": self.store.batches(20),
            "audience_file": audience_file,
            "audiences": audiences,
            "problems": problems,
            "activations": audience_file.activations,
            "attempts": self.store.attempts(20),
            "events": self.store.events(10),
            "event_count": self.store.event_count(),
            "faults": self.faults.describe(),
            "message": message,
            "csrf": self.csrf_token,
        }

    def describe_stream(self, stream: dict[str, Any]) -> dict[str, Any]:
        digits = len(stream["account"])
        return stream | {
            "masked": mask_secret(stream["stream_id"]),
            "account_warning": None
            if digits in ACCOUNT_DIGITS
            else f"{stream['account']} has {digits} digits; Raptor's account ids have 4 or 5.",
        }

    def stream_page(self, number: int, request: Request) -> dict[str, Any] | None:
        streams = self.store.streams()
        if not 1 <= number <= len(streams):
            return None
        stream = self.describe_stream(streams[number - 1])
        draft = request.query.get("draft") == "1"
        total = stream["draft_rows"] if draft else stream["full_rows"]
        page, pages = _page(request, total)
        rows = self.store.rows(
            stream["stream_id"], draft=draft, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
        )
        columns = list(dict.fromkeys(key for row in rows for key in row))
        return {
            "number": number,
            "stream": stream,
            "draft": draft,
            "draft_columns": self.store.columns(stream["stream_id"], True),
            "full_columns": self.store.columns(stream["stream_id"], False),
            "flags": self.store.flags(stream["stream_id"]),
            "columns": columns,
            "rows": [[row.get(column, "") for column in columns] for row in rows],
            "page": page,
            "pages": pages,
            "total": total,
        }

    def events_page(self, request: Request) -> dict[str, Any]:
        total = self.store.event_count()
        page, pages = _page(request, total)
        persons = self.store.persons()
        events = self.store.events(PAGE_SIZE, (page - 1) * PAGE_SIZE)
        for event in events:
            event["known"] = event["person"] in persons
        return {"events": events, "page": page, "pages": pages, "total": total}

    def attempt_page(self, number: int, request: Request) -> dict[str, Any] | None:
        attempt = self.store.attempt(number)
        return {"attempt": attempt} if attempt else None

    def page(self, name: str, context: dict[str, Any]) -> Response:
        template = TEMPLATES.get_template(f"cdp_sandbox/{name}")
        return Response(200, template.render(Context(context)).encode())

    def not_found(self) -> Response:
        return Response(404, b"Not found", "text/plain")


def _page(request: Request, total: int) -> tuple[int, int]:
    pages = max(1, math.ceil(total / PAGE_SIZE))
    wanted = request.query.get("page", "1")
    page = int(wanted) if wanted.isdigit() else 1
    return min(max(page, 1), pages), pages
