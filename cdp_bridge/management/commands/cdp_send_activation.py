"""``manage.py cdp_send_activation FILE --url URL``: post a delivery as the CDP would."""

from __future__ import annotations

import json
import sys
from typing import Any

import requests
from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cdp_bridge import conf
from cdp_bridge.conf import Activation
from cdp_bridge.exceptions import ConfigurationError
from cdp_bridge.management.base import TranslatedCommand
from cdp_bridge.webhook.sender import TokenRefused, answer_start, send_activation


class Command(TranslatedCommand):
    help = gettext_lazy(
        "Post a JSON delivery (a file, or - for standard input) to an activation webhook, "
        "authenticated with the scope's activation credentials."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help=_("The JSON delivery; - reads standard input."))
        parser.add_argument(
            "--url", required=True, help=_("The webhook, e.g. https://site/cdp/webhook")
        )
        parser.add_argument("--scope", "--siteaccess", default="default", dest="scope")
        parser.add_argument(
            "--client-id", help=_("The activation to send as (default: the first).")
        )
        parser.add_argument(
            "--token", action="store_true", help=_("Authenticate with a bearer token, not Basic.")
        )
        parser.add_argument("--gzip", action="store_true", help=_("Send the body gzip-compressed."))
        parser.add_argument("--delivery-id", help=_("Send X-CDP-Delivery-Id."))
        parser.add_argument("--timeout", type=float, default=60.0, help=_("Seconds (default 60)."))

    def handle(self, *args: Any, **options: Any) -> None:
        activation = self.activation(options["scope"], options["client_id"])
        body = self.read(options["file"])
        try:
            response = send_activation(
                options["url"],
                body,
                activation,
                use_token=options["token"],
                compress=options["gzip"],
                delivery_id=options["delivery_id"],
                timeout=options["timeout"],
            )
        except TokenRefused as error:
            raise CommandError(str(error)) from None
        except requests.RequestException as error:
            raise CommandError(
                _("Could not reach %(url)s: %(error)s") % {"url": options["url"], "error": error}
            ) from None
        answer = _json(response)
        if response.status_code >= 400:
            raise CommandError(
                _("The webhook answered %(status)d %(reason)s")
                % {"status": response.status_code, "reason": _reason(response)}
            )
        status = f"{response.status_code} {answer.get('status', '')}".rstrip()
        self.stdout.write(self.style.SUCCESS(status))
        self.stdout.write(json.dumps(answer, indent=2))

    def activation(self, scope_name: str, client_id: str | None) -> Activation:
        try:
            scope = conf.get_scope(scope_name)
        except ConfigurationError as error:
            raise CommandError(str(error)) from None
        for activation in scope.activations:
            if client_id is None or activation.client_id == client_id:
                return activation
        names = {"scope": repr(scope_name), "client_id": repr(client_id)}
        if client_id:
            raise CommandError(
                _("The scope %(scope)s has no activation with client id %(client_id)s to send as.")
                % names
            )
        raise CommandError(_("The scope %(scope)s has no activation to send as.") % names)

    def read(self, path: str) -> bytes:
        try:
            if path == "-":
                return sys.stdin.buffer.read()
            with open(path, "rb") as file:
                return file.read()
        except OSError as error:
            raise CommandError(
                _("Cannot read %(path)s: %(reason)s.") % {"path": path, "reason": error.strerror}
            ) from None


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _reason(response: requests.Response) -> str:
    """``code: message`` from an error body, or the start of a body that is not one."""
    problem = _json(response).get("error")
    if isinstance(problem, dict):
        return f"{problem.get('code')}: {problem.get('message')}"
    return answer_start(response)
