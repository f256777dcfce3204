"""``manage.py cdp_send_activation FILE --url URL``: post a delivery as the CDP would."""

from __future__ import annotations

import json
import sys
from typing import Any

import requests
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cdp_bridge import conf
from cdp_bridge.conf import Activation
from cdp_bridge.exceptions import ConfigurationError
from cdp_bridge.webhook.sender import TokenRefused, answer_start, send_activation


class Command(BaseCommand):
    help = (
        "Post a JSON delivery (a file, or - for standard input) to an activation webhook, "
        "authenticated with the scope's activation credentials."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The JSON delivery; - reads standard input.")
        parser.add_argument(
            "--url", required=True, help="The webhook, e.g. https://site/cdp/webhook"
        )
        parser.add_argument("--scope", "--siteaccess", default="default", dest="scope")
        parser.add_argument("--client-id", help="The activation to send as (default: the first).")
        parser.add_argument(
            "--token", action="store_true", help="Authenticate with a bearer token, not Basic."
        )
        parser.add_argument("--gzip", action="store_true", help="Send the body gzip-compressed.")
        parser.add_argument("--delivery-id", help="Send X-CDP-Delivery-Id.")
        parser.add_argument("--timeout", type=float, default=60.0, help="Seconds (default 60).")

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
            raise CommandError(f"Could not reach {options['url']}: {error}") from None
        answer = _json(response)
        if response.status_code >= 400:
            raise CommandError(f"The webhook answered {response.status_code} {_reason(response)}")
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
        which = f"with client id {client_id!r} " if client_id else ""
        raise CommandError(f"The scope {scope_name!r} has no activation {which}to send as.")

    def read(self, path: str) -> bytes:
        try:
            if path == "-":
                return sys.stdin.buffer.read()
            with open(path, "rb") as file:
                return file.read()
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}.") from None


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
