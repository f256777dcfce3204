"""The webhook's HTTP edge: the activation endpoint, its token endpoint and its OpenAPI document.

Views parse and answer; the work is done by ``body``, ``serializers`` and ``receiving``, which
know no HTTP: they return what became of a delivery and raise domain errors, and only this
module maps them to statuses and bodies. Every answer is JSON; its ``message`` is in the
request's language (``LANGUAGE_CODE``, or ``Accept-Language`` with ``LocaleMiddleware``), its
``code`` fixed English. A database that cannot be
reached is a 503 with ``Retry-After``; anything unforeseen (a bug, a broken configuration) is a
500 without a traceback, reported through Django's ``got_request_exception`` and logged by
Django's ``django.request`` logger like any other server error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from django.core.exceptions import SuspiciousOperation, TooManyFieldsSent
from django.core.signals import got_request_exception
from django.db import transaction
from django.http import HttpRequest
from django.utils.log import log_response
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, parsers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from cdp_bridge import conf
from cdp_bridge.exceptions import (
    DATABASE_UNAVAILABLE,
    InvalidJson,
    InvalidPayload,
    LengthRequired,
    PayloadTooLarge,
    SegmentGroupMismatch,
    SegmentGroupNotFound,
    UnreadableBody,
    UnsupportedMediaType,
    WebhookRejected,
)
from cdp_bridge.models.webhook import MAX_DELIVERY_ID_LENGTH
from cdp_bridge.translation import interpolate_lazy
from cdp_bridge.webhook import answers, history, receiving
from cdp_bridge.webhook import body as bodies
from cdp_bridge.webhook.authentication import (
    ActivationBasicAuthentication,
    ActivationTokenAuthentication,
    basic_credentials,
    log_failure,
)
from cdp_bridge.webhook.clients import ActivationClient, InvalidClient, authenticate_client
from cdp_bridge.webhook.serializers import TokenRequest, validate_delivery
from cdp_bridge.webhook.signatures import SignatureError, Signed, verify_signature
from cdp_bridge.webhook.tokens import issue_token

logger = logging.getLogger("cdp_bridge.webhook")

RETRY_AFTER = "30"
DELIVERY_ID_HEADER = "HTTP_X_CDP_DELIVERY_ID"
LOGGED_BODY = 64 * 1024
MAX_TOKEN_REQUEST_BYTES = 16 * 1024
# The status answering each refusal of the delivery core and the body reader.
REFUSAL_STATUS: dict[type[WebhookRejected], int] = {
    InvalidJson: 400,
    InvalidPayload: 400,
    UnreadableBody: 400,
    SegmentGroupMismatch: 403,
    SegmentGroupNotFound: 409,
    LengthRequired: 411,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
}


@dataclass(frozen=True)
class HttpError:
    """One error answer, before it is put in the view's own form."""

    status: int
    code: str
    message: object  # text, or a lazy translation turned into text in the answer
    details: list[dict[str, Any]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


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
    # Out of the host site's own API schema: docs/webhook-openapi.json describes these views.
    schema = None

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        # Transactions are managed here, so ATOMIC_REQUESTS must not wrap (and undo) them.
        return transaction.non_atomic_requests(super().as_view(**initkwargs))

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # The method is refused before authentication: a wrong method is 405 for anyone.
        if request.method is None or request.method.lower() not in self.http_method_names:
            raise exceptions.MethodNotAllowed(request.method or "")
        super().initial(request, *args, **kwargs)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method == "HEAD" and isinstance(response, Response):
            response.data = None  # rendered as no body at all (RFC 9110 §9.3.2)
        return response

    def render(self, serializer: type[Serializer[Any]], data: Mapping[str, Any]) -> Any:
        """``data`` in the form ``serializer`` documents."""
        return serializer(data).data

    def error_body(self, error: HttpError) -> Any:
        """``{"error": {"code", "message", "details"}}``."""
        body: dict[str, Any] = {"code": error.code, "message": str(error.message)}
        if error.details:
            body["details"] = [
                {key: str(value) for key, value in detail.items()} for detail in error.details
            ]
        return self.render(answers.ErrorAnswer, {"error": body})

    def handle_exception(self, exc: Exception) -> Response:
        error = self.describe_error(exc)
        if error is None:
            return self.internal_error(exc)
        response = Response(self.error_body(error), status=error.status, headers=error.headers)
        if error.status == 503:
            # An outage, not a bug: a warning, where Django would log any 5xx as an ERROR (and
            # mail it to the ADMINS) once per request the CDP retries. Logged here, it is not
            # logged again (``_has_been_logged``).
            request: HttpRequest = getattr(self.request, "_request", self.request)
            log_response(
                "Service Unavailable: %s",
                request.path,
                response=response,
                request=request,
                level="warning",
            )
        return response

    def describe_error(self, exc: Exception) -> HttpError | None:
        """The answer to an expected error; None for an unexpected one (a 500)."""
        if isinstance(exc, WebhookRejected):
            status = next(
                REFUSAL_STATUS[kind] for kind in type(exc).__mro__ if kind in REFUSAL_STATUS
            )
            return HttpError(status, exc.code, exc.message, exc.details)
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            challenge = {"WWW-Authenticate": self.challenge()}
            return HttpError(401, "invalid_credentials", _detail(exc), headers=challenge)
        if isinstance(exc, exceptions.MethodNotAllowed):
            allow = {"Allow": ", ".join(m.upper() for m in self.http_method_names)}
            return HttpError(405, "method_not_allowed", _detail(exc), headers=allow)
        if isinstance(exc, DATABASE_UNAVAILABLE):
            logger.warning("Webhook request answered 503: the database is unavailable: %s", exc)
            return HttpError(
                503,
                "unavailable",
                _("The site's database is unavailable; send the request again later."),
                headers={"Retry-After": RETRY_AFTER},
            )
        return None

    def internal_error(self, exc: Exception) -> Response:
        """A JSON 500, reported as Django reports any exception a view raises.

        Called while ``exc`` is being handled, so that receivers of ``got_request_exception``
        (Sentry's, for one) find it in ``sys.exc_info()``.
        """
        request: HttpRequest = getattr(self.request, "_request", self.request)
        got_request_exception.send(sender=type(self), request=request)
        error = HttpError(
            500,
            "internal_error",
            _("The site failed to process the request; its administrators have the error."),
        )
        response = Response(self.error_body(error), status=500)
        log_response(
            "Internal Server Error: %s",
            request.path,
            response=response,
            request=request,
            exception=exc,
        )
        return response

    def challenge(self) -> str:
        challenges = (auth.authenticate_header(self.request) for auth in self.get_authenticators())
        return ", ".join(challenge for challenge in challenges if challenge)


class WebhookView(JsonErrorView):
    """``POST cdp/webhook``: a delivery of audiences. ``HEAD`` checks the credentials."""

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
            signed = self.check_signature(client, http, raw, config.signature_tolerance)
            body = bodies.decompress(raw, bodies.content_encoding(http), config.max_body_bytes)
            _log_request(client, http, body)
            if len(delivery_id) > MAX_DELIVERY_ID_LENGTH:
                limit = {"limit": MAX_DELIVERY_ID_LENGTH}
                raise InvalidPayload(
                    interpolate_lazy(
                        gettext_lazy(
                            "The X-CDP-Delivery-Id header is longer than %(limit)d characters."
                        ),
                        limit,
                    ),
                    [
                        {
                            "path": "X-CDP-Delivery-Id",
                            "message": interpolate_lazy(
                                gettext_lazy("At most %(limit)d characters."), limit
                            ),
                        }
                    ],
                )
            delivery = validate_delivery(bodies.parse_json(body))
        except WebhookRejected as error:
            history.record_rejection(client, error, body or raw, delivery_id)
            raise
        return self.answer(receiving.receive(client, delivery, body.decode(), delivery_id, signed))

    def answer(self, received: receiving.Received) -> Response:
        """The answer to a delivery that was applied, accepted for the queue, or a duplicate."""
        record = received.record
        if received.outcome == "accepted":
            accepted = {"status": "accepted", "delivery_id": record.reference}
            return Response(self.render(answers.AcceptedAnswer, accepted), status=202)
        if received.outcome == "duplicate":
            holder = record.duplicate_of
            assert holder is not None
            duplicate = {
                "status": "duplicate",
                "delivery_id": holder.reference,
                "original_status": holder.status,
                "received_at": holder.received_at,
            }
            return Response(self.render(answers.DuplicateAnswer, duplicate))
        assert received.result is not None
        applied = {"status": "applied", "delivery_id": record.reference}
        return Response(self.render(answers.AppliedAnswer, applied | received.result.as_json()))

    def check_signature(
        self, client: ActivationClient, http: HttpRequest, raw: bytes, tolerance: int
    ) -> Signed | None:
        """Check ``X-CDP-Signature`` when it is required, or sent and a signing secret is set;
        what it signs, or None when it is not checked."""
        activation = client.activation
        header = http.META.get("HTTP_X_CDP_SIGNATURE")
        if not activation.signing_secret or not (header or activation.require_signature):
            return None
        try:
            return verify_signature(header, activation.signing_secret, raw, tolerance)
        except SignatureError as error:
            log_failure(http, error, client.client_id)
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
            raise TokenError(400, "invalid_request", _("The token request is too large."))
        try:
            credentials = basic_credentials(http)
        except ValueError as error:
            log_failure(http, error)
            raise TokenError(401, "invalid_client", str(error)) from None
        form: Mapping[str, Any] = request.data if isinstance(request.data, Mapping) else {}
        if credentials is None:
            client_id, secret = form.get("client_id"), form.get("client_secret")
            if not client_id or secret is None:
                raise TokenError(
                    401,
                    "invalid_client",
                    _(
                        "Authenticate the client with HTTP Basic, or with client_id and "
                        "client_secret form fields."
                    ),
                )
        elif "client_secret" in form:
            raise TokenError(
                400,
                "invalid_request",
                _("Authenticate the client one way: Basic or form fields."),
            )
        else:
            client_id, secret = credentials
        try:
            client = authenticate_client(client_id, secret)
        except InvalidClient as error:
            log_failure(http, error, client_id)
            raise TokenError(401, "invalid_client", str(error)) from None
        grant = TokenRequest(data=form)
        if not grant.is_valid():
            [problem] = grant.errors["grant_type"]
            if problem.code == "invalid_choice":
                raise TokenError(
                    400,
                    "unsupported_grant_type",
                    _("Only grant_type=client_credentials is supported."),
                )
            raise TokenError(400, "invalid_request", _("grant_type is required."))
        token = {
            "access_token": issue_token(client.activation, secret),
            "token_type": "Bearer",
            "expires_in": conf.cdp_settings().webhook.token_ttl,
        }
        return Response(
            self.render(answers.TokenAnswer, token),
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    def describe_error(self, exc: Exception) -> HttpError | None:
        if isinstance(exc, TokenError):
            return exc.answer
        if isinstance(exc, exceptions.ParseError | exceptions.UnsupportedMediaType):
            return HttpError(400, "invalid_request", _detail(exc))
        if isinstance(exc, SuspiciousOperation):  # Django refused to read the form
            logger.warning("Token request refused: %s", exc)
            if isinstance(exc, TooManyFieldsSent):
                return HttpError(
                    400, "invalid_request", _("The token request has too many fields.")
                )
            return HttpError(400, "invalid_request", _("The token request is malformed."))
        return super().describe_error(exc)

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if response.status_code == 401:
            response["WWW-Authenticate"] = ActivationBasicAuthentication().authenticate_header(
                self.request
            )
        response["Cache-Control"] = "no-store"
        return response

    def error_body(self, error: HttpError) -> Any:
        """RFC 6749 §5.2: ``error`` and ``error_description``."""
        code = TOKEN_ERROR_CODES.get(error.code, error.code)
        return self.render(
            answers.TokenErrorAnswer, {"error": code, "error_description": str(error.message)}
        )


# The token endpoint's names (RFC 6749 §4.1.2.1) for the errors every endpoint answers.
TOKEN_ERROR_CODES = {
    "unavailable": "temporarily_unavailable",
    "internal_error": "server_error",
    "method_not_allowed": "invalid_request",
}


class TokenError(Exception):
    """An error of the token endpoint, with its status and RFC 6749 §5.2 code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.answer = HttpError(status, code, message)


class SchemaView(JsonErrorView):
    """``GET cdp/webhook/schema``: the OpenAPI 3 document describing the webhook."""

    http_method_names = ["get", "head"]
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response(openapi_document())


@cache
def openapi_document() -> Any:
    """``docs/webhook-openapi.json``, as shipped with the package."""
    text = resources.files("cdp_bridge.webhook").joinpath("openapi.json").read_text()
    return json.loads(text)


def _detail(exc: exceptions.APIException) -> str:
    return str(exc.detail)


def _log_request(client: ActivationClient, http: HttpRequest, body: bytes) -> None:
    """Everything the CDP sends, at DEBUG; credentials and signatures left out."""
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
