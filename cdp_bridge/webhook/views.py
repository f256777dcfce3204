"""The webhook's HTTP edge: the activation endpoint, its token endpoint and its OpenAPI schema.

Views parse and answer; the work is done by ``body``, ``serializers`` and ``deliveries``. Every
answer is JSON, and no exception escapes as a 500: a database that cannot be reached, or
anything unforeseen, is a 503 with ``Retry-After`` (logged with its traceback, never sent).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from rest_framework import exceptions, parsers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cdp_bridge import conf
from cdp_bridge.exceptions import WebhookRejected
from cdp_bridge.webhook import body as bodies
from cdp_bridge.webhook import deliveries
from cdp_bridge.webhook.authentication import (
    ActivationBasicAuthentication,
    ActivationClient,
    ActivationTokenAuthentication,
    InvalidClient,
    authenticate_client,
    basic_credentials,
    log_failure,
)
from cdp_bridge.webhook.openapi import openapi_schema
from cdp_bridge.webhook.serializers import validate_delivery
from cdp_bridge.webhook.signatures import SignatureError, verify_signature
from cdp_bridge.webhook.tokens import issue_token

logger = logging.getLogger("cdp_bridge.webhook")

RETRY_AFTER = "30"
DELIVERY_ID_HEADER = "HTTP_X_CDP_DELIVERY_ID"
LOGGED_BODY = 64 * 1024
MAX_TOKEN_REQUEST_BYTES = 16 * 1024


class AlwaysJson(DefaultContentNegotiation):
    """Answer JSON whatever the client's Accept header says: the contract has no other form."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class IsActivationClient(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.user, ActivationClient)


class JsonErrorView(APIView):
    """Maps every exception to a JSON error answer (the token endpoint has its own form)."""

    renderer_classes = [JSONRenderer]
    content_negotiation_class = AlwaysJson
    throttle_classes: list[Any] = []

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        # Transactions are managed here, so ATOMIC_REQUESTS must not wrap (and undo) them.
        return transaction.non_atomic_requests(super().as_view(**initkwargs))

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # The method is refused before authentication: a wrong method is 405 for anyone.
        if request.method is None or request.method.lower() not in self.http_method_names:
            raise exceptions.MethodNotAllowed(request.method or "")
        super().initial(request, *args, **kwargs)

    def error_body(self, code: str, message: str, details: list[dict[str, str]]) -> Any:
        """SPEC §3.3: ``{"error": {"code", "message", "details"}}``."""
        error: dict[str, Any] = {"code": code, "message": message}
        if details:
            error["details"] = details
        return {"error": error}

    def handle_exception(self, exc: Exception) -> Response:
        headers: dict[str, str] = {}
        details: list[dict[str, str]] = []
        if isinstance(exc, WebhookRejected):
            status, code, message, details = exc.status, exc.code, exc.message, exc.details
        elif isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            status, code, message = 401, "invalid_credentials", _detail(exc)
            headers["WWW-Authenticate"] = self.challenge()
        elif isinstance(exc, exceptions.MethodNotAllowed):
            status, code, message = 405, "method_not_allowed", _detail(exc)
            headers["Allow"] = ", ".join(m.upper() for m in self.http_method_names)
        elif isinstance(exc, deliveries.UNAVAILABLE):
            logger.warning("Webhook request answered 503: the database is unavailable: %s", exc)
            status, code = 503, "unavailable"
            message = "The site's database is unavailable; send the request again later."
            headers["Retry-After"] = RETRY_AFTER
        else:
            logger.error("Webhook request answered 503 after an error", exc_info=exc)
            status, code = 503, "unavailable"
            message = "The site could not process the request; send it again later."
            headers["Retry-After"] = RETRY_AFTER
        return Response(self.error_body(code, message, details), status=status, headers=headers)

    def challenge(self) -> str:
        challenges = (auth.authenticate_header(self.request) for auth in self.get_authenticators())
        return ", ".join(challenge for challenge in challenges if challenge)


class WebhookView(JsonErrorView):
    """``POST cdp/webhook``: a delivery of audiences (SPEC §3). ``HEAD`` checks the credentials."""

    http_method_names = ["post", "head"]
    authentication_classes = [ActivationBasicAuthentication, ActivationTokenAuthentication]
    permission_classes = [IsActivationClient]
    parser_classes: list[Any] = []  # the body is read by ``body``, with its limits

    def head(self, request: Request) -> Response:
        return Response(status=200)

    def post(self, request: Request) -> Response:
        client: ActivationClient = request.user  # type: ignore[assignment]
        http = request._request
        config = conf.cdp_settings().webhook
        delivery_id = http.META.get(DELIVERY_ID_HEADER, "").strip()
        raw = body = b""
        try:
            bodies.check_media_type(http)
            raw = bodies.read_body(http, config.max_body_bytes)
            self.check_signature(client, http, raw, config.signature_tolerance)
            body = bodies.decompress(raw, bodies.content_encoding(http), config.max_body_bytes)
            _log_request(client, http, body)
            if len(delivery_id) > 255:
                raise WebhookRejected(
                    400,
                    "invalid_payload",
                    "The X-CDP-Delivery-Id header is longer than 255 characters.",
                    [{"path": "X-CDP-Delivery-Id", "message": "At most 255 characters."}],
                )
            delivery = validate_delivery(bodies.parse_json(body))
        except WebhookRejected as error:
            deliveries.record_rejection(client, error, body or raw, delivery_id)
            raise
        answer = deliveries.receive(client, delivery, body.decode(), delivery_id)
        return Response(answer.body, status=answer.status)

    def check_signature(
        self, client: ActivationClient, http: HttpRequest, raw: bytes, tolerance: int
    ) -> None:
        """Check ``X-CDP-Signature`` when it is required, or sent and a signing secret is set."""
        activation = client.activation
        header = http.META.get("HTTP_X_CDP_SIGNATURE")
        if not activation.signing_secret or not (header or activation.require_signature):
            return
        try:
            verify_signature(header, activation.signing_secret, raw, tolerance)
        except SignatureError as error:
            log_failure(http, str(error), client.client_id)
            raise exceptions.AuthenticationFailed(str(error)) from None


class TokenView(JsonErrorView):
    """``POST cdp/webhook/token``: the OAuth 2.0 client-credentials grant (RFC 6749 §4.4)."""

    http_method_names = ["post"]
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes = [parsers.FormParser]

    def post(self, request: Request) -> Response:
        http = request._request
        if bodies.declared_length(http) > MAX_TOKEN_REQUEST_BYTES:
            raise TokenError(400, "invalid_request", "The token request is too large.")
        try:
            credentials = basic_credentials(http)
        except ValueError as error:
            log_failure(http, str(error))
            raise TokenError(401, "invalid_client", str(error)) from None
        form: Mapping[str, Any] = request.data if isinstance(request.data, Mapping) else {}
        if credentials is None:
            client_id, secret = form.get("client_id"), form.get("client_secret")
            if not client_id or secret is None:
                raise TokenError(
                    401,
                    "invalid_client",
                    "Authenticate the client with HTTP Basic, or with client_id and "
                    "client_secret form fields.",
                )
        elif "client_secret" in form:
            raise TokenError(
                400,
                "invalid_request",
                "Authenticate the client one way: Basic or form fields.",
            )
        else:
            client_id, secret = credentials
        try:
            client = authenticate_client(client_id, secret)
        except InvalidClient as error:
            log_failure(http, str(error), client_id)
            raise TokenError(401, "invalid_client", str(error)) from None
        grant_type = form.get("grant_type")
        if not grant_type:
            raise TokenError(400, "invalid_request", "grant_type is required.")
        if grant_type != "client_credentials":
            raise TokenError(
                400, "unsupported_grant_type", "Only grant_type=client_credentials is supported."
            )
        body = {
            "access_token": issue_token(client.activation, secret),
            "token_type": "Bearer",
            "expires_in": conf.cdp_settings().webhook.token_ttl,
        }
        return Response(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, exceptions.ParseError | exceptions.UnsupportedMediaType):
            exc = TokenError(400, "invalid_request", _detail(exc))
        response = super().handle_exception(exc)
        if response.status_code == 401:
            response["WWW-Authenticate"] = ActivationBasicAuthentication().authenticate_header(
                self.request
            )
        response["Cache-Control"] = "no-store"
        return response

    def error_body(self, code: str, message: str, details: list[dict[str, str]]) -> Any:
        """RFC 6749 §5.2: ``error`` and ``error_description``."""
        error = {"unavailable": "temporarily_unavailable", "method_not_allowed": "invalid_request"}
        return {"error": error.get(code, code), "error_description": message}


class TokenError(WebhookRejected):
    """An error of the token endpoint, with its RFC 6749 §5.2 code."""


class SchemaView(JsonErrorView):
    """``GET cdp/webhook/schema``: the OpenAPI 3 description of the webhook."""

    http_method_names = ["get", "head"]
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response(openapi_schema())


def _detail(exc: exceptions.APIException) -> str:
    return str(exc.detail)


def _log_request(client: ActivationClient, http: HttpRequest, body: bytes) -> None:
    """Everything the CDP sends, at DEBUG (SPEC §3.4); credentials and signatures left out."""
    if not logger.isEnabledFor(logging.DEBUG):
        return
    headers = {
        name: value
        for name, value in http.headers.items()
        if name.lower() not in ("authorization", "x-cdp-signature", "cookie")
    }
    shown = body[:LOGGED_BODY].decode("utf-8", "replace")
    more = f" (… {len(body) - LOGGED_BODY} more bytes)" if len(body) > LOGGED_BODY else ""
    logger.debug(
        "Webhook delivery from client id %r (scope %s): %s %s %s\n%s%s",
        client.client_id,
        client.scope.name,
        http.method,
        http.get_full_path(),
        headers,
        shown,
        more,
    )
