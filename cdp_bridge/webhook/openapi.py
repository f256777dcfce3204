"""Generates the webhook's OpenAPI 3 document from its URLconf, views and serializers.

The document is drf-spectacular's output, which is a development dependency (the ``dev``
extra): the package ships the generated document (``cdp_bridge/webhook/openapi.json``, served
at ``cdp/webhook/schema``) and ``docs/webhook-openapi.json`` is the same file; a test keeps both
equal to a fresh generation. Regenerate them, in a checkout, with::

    python -m django shell --settings=tests.settings \\
        -c "from cdp_bridge.webhook import openapi; openapi.main()"

Paths come from ``cdp_bridge.urls``, request bodies from ``serializers``, answers from
``answers``, and the error statuses from the views' own table, so the document cannot say
anything else than the code does. The views are described here, through drf-spectacular's
extensions, and not where they are defined: they set ``schema = None`` so that they stay out of
the host site's own API schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.urls import URLPattern
from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
    OpenApiViewExtension,
)
from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import serializers

import cdp_bridge
from cdp_bridge import urls
from cdp_bridge.webhook import answers, views
from cdp_bridge.webhook.serializers import (
    MAX_IDENTIFIER_LENGTH,
    DeliverySerializer,
    TokenRequest,
)

SHIPPED = Path(__file__).with_name("openapi.json")
DOCS_COPY = Path(__file__).resolve().parents[2] / "docs" / "webhook-openapi.json"
SETTINGS = {
    "TITLE": "cdp_bridge activation webhook",
    "DESCRIPTION": "The endpoint a CDP activation calls to write audiences as segments of one "
    "segment group, and its OAuth 2.0 token endpoint. See docs/webhook.md.",
    "VERSION": cdp_bridge.__version__,
    "OAS_VERSION": "3.0.3",
    # Enums stay where they are used: several fields named ``status`` have different values.
    "POSTPROCESSING_HOOKS": [],
    "PREPROCESSING_HOOKS": [],
    "SCHEMA_PATH_PREFIX": "",
    "ENUM_ADD_EXPLICIT_BLANK_NULL_CHOICE": False,
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
    # Identifiers and messages are never empty: say so (minLength: 1).
    "ENFORCE_NON_BLANK_FIELDS": True,
}
TAGS = ["webhook"]


def generate() -> dict[str, Any]:
    """The OpenAPI document, as a JSON-ready dict."""
    with _patched(SETTINGS):
        generator = WebhookSchemaGenerator(patterns=urls.urlpatterns)
        document = generator.get_schema(request=None, public=True)
    plain: dict[str, Any] = _without_enum_ids(json.loads(as_text(document)))
    return plain  # plain dicts, lists and strings


def _without_enum_ids(value: Any) -> Any:
    """The document without drf-spectacular's enum hashes, kept for a hook that is not run."""
    if isinstance(value, dict):
        return {k: _without_enum_ids(v) for k, v in value.items() if k != "x-spec-enum-id"}
    if isinstance(value, list):
        return [_without_enum_ids(item) for item in value]
    return value


def as_text(document: dict[str, Any]) -> str:
    """The document as it is written to its files."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    """Write the document to the package and, in a checkout, to docs/."""
    text = as_text(generate())
    for path in (SHIPPED, DOCS_COPY):
        if path.parent.is_dir():
            path.write_text(text)
            print(f"Wrote {path}")


@contextmanager
def _patched(settings: dict[str, Any]) -> Iterator[None]:
    """drf-spectacular's settings for this document, whatever the site's own say."""
    spectacular_settings.apply_patches(settings)
    try:
        yield
    finally:
        spectacular_settings.clear_patches()


def url_path(name: str) -> str:
    """The path of the URL named ``name`` in ``cdp_bridge.urls``, as the document writes it."""
    for pattern in urls.urlpatterns:
        if isinstance(pattern, URLPattern) and pattern.name == name:
            return f"/{pattern.pattern}"
    raise LookupError(name)


class WebhookEndpoints(EndpointEnumerator):
    """The webhook's endpoints, although their views keep out of schemas (``schema = None``)."""

    described = (views.WebhookView, views.TokenView)

    def should_include_endpoint(self, path: str, callback: Any) -> bool:
        return getattr(callback, "cls", None) in self.described

    def get_allowed_methods(self, callback: Any) -> list[str]:
        methods: list[str] = super().get_allowed_methods(callback)
        if "head" in callback.cls.http_method_names:  # a check of its own, worth describing
            methods.append("HEAD")
        return methods


class WebhookSchemaGenerator(SchemaGenerator):
    endpoint_inspector_cls = WebhookEndpoints


# -- answers -------------------------------------------------------------------------------


def error_statuses() -> dict[int, list[str]]:
    """Every error status of the activation endpoint, with the codes it comes with."""
    codes: dict[int, list[str]] = {
        401: ["invalid_credentials"],
        405: ["method_not_allowed"],
        500: ["internal_error"],
        503: ["unavailable"],
    }
    for refusal, status in views.REFUSAL_STATUS.items():
        codes.setdefault(status, []).append(refusal.code)
    return dict(sorted(codes.items()))


ERROR_DESCRIPTIONS = {
    400: "The body is not JSON (not UTF-8, corrupt gzip, NaN), could not be read whole "
    "(malformed chunks, a connection closed before the body was sent), or the delivery is "
    "invalid: every problem is listed with its path.",
    401: "Missing or wrong credentials, bearer token or signature.",
    403: "The delivery names another segment group than the activation's.",
    405: "Any method but POST and HEAD.",
    409: "The segment group has not been created on the site yet.",
    411: "A chunked body that this web server cannot read: send a Content-Length.",
    413: "The body, compressed or decompressed, is over webhook.max_body_bytes.",
    415: "Not application/json, or encoded with anything but gzip.",
    500: "A bug or a broken configuration on the site, reported to its administrators; never "
    "caused by the request.",
    503: "The site's database cannot be reached: send the delivery again after Retry-After.",
}
TOKEN_ERROR_DESCRIPTIONS = {
    400: "invalid_request (no grant_type, Basic and form credentials together, not a form) or "
    "unsupported_grant_type.",
    401: "invalid_client: unknown client id, wrong secret, or no client authentication.",
    405: "Any method but POST.",
    500: "A bug or a broken configuration on the site.",
    503: "The site's database cannot be reached.",
}
TOKEN_ERRORS = {
    400: ["invalid_request", "unsupported_grant_type"],
    401: ["invalid_client"],
    405: ["invalid_request"],
    500: [views.TOKEN_ERROR_CODES["internal_error"]],
    503: [views.TOKEN_ERROR_CODES["unavailable"]],
}


def error_answer(status: int, codes: Sequence[str]) -> type[serializers.Serializer[Any]]:
    """``answers.ErrorAnswer`` with the codes that come with ``status``."""
    name = f"Error{status}"
    detail = type(
        f"{name}Detail",
        (answers.ErrorDetailAnswer,),
        {"code": serializers.ChoiceField(choices=list(codes))},
    )
    return type(name, (answers.ErrorAnswer,), {"error": detail(), "__doc__": None})


def token_error_answer(status: int, codes: Sequence[str]) -> type[serializers.Serializer[Any]]:
    """``answers.TokenErrorAnswer`` with the codes that come with ``status``."""
    fields = {"error": serializers.ChoiceField(choices=list(codes)), "__doc__": None}
    return type(f"TokenError{status}", (answers.TokenErrorAnswer,), fields)


def response_header(
    name: str, statuses: list[int], description: str, kind: type = str
) -> OpenApiParameter:
    """A header every answer with one of ``statuses`` carries."""
    return OpenApiParameter(
        name,
        type=kind,
        location=OpenApiParameter.HEADER,
        response=statuses,
        required=True,
        description=description,
    )


RETRY_AFTER = response_header(
    "Retry-After", [503], "Seconds to wait before sending the request again.", int
)


class OperationIds(AutoSchema):
    """Operations named by method, not by drf-spectacular's guess from the path."""

    operation_ids: dict[str, str] = {}

    def get_operation_id(self) -> str:
        return self.operation_ids[self.method]


# -- the views ----------------------------------------------------------------------------------


class WebhookViewDescription(OpenApiViewExtension):
    target_class = "cdp_bridge.webhook.views.WebhookView"

    def view_replacement(self) -> type[views.WebhookView]:
        errors = {
            status: OpenApiResponse(error_answer(status, codes), ERROR_DESCRIPTIONS[status])
            for status, codes in error_statuses().items()
        }
        challenge = response_header(
            "WWW-Authenticate",
            [401],
            'The schemes to authenticate with: Basic realm="cdp-webhook", charset="UTF-8", '
            'Bearer realm="cdp-webhook".',
        )
        allow = response_header("Allow", [405], "The methods the endpoint answers: POST, HEAD.")

        class Schema(OperationIds):
            operation_ids = {"POST": "deliver", "HEAD": "check"}

        class Described(views.WebhookView):
            schema = Schema()  # type: ignore[assignment]  # the view itself has None

        post = extend_schema(
            methods=["POST"],
            tags=TAGS,
            summary="Deliver audiences",
            description="Each audience becomes (or updates) the segment with its id in the "
            "activation's segment group; the delivery is applied all or nothing. A delivery "
            "touching at least bulk_async_threshold members is stored and queued (202).",
            request={"application/json": DeliverySerializer},
            parameters=[
                OpenApiParameter(
                    "X-CDP-Delivery-Id",
                    type=str,
                    location=OpenApiParameter.HEADER,
                    description="A unique id of the delivery, at most 255 characters: a "
                    "resend with the same id changes nothing (without it, the same body).",
                ),
                OpenApiParameter(
                    "X-CDP-Signature",
                    type=str,
                    location=OpenApiParameter.HEADER,
                    description='t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">; '
                    "required when the activation sets require_signature.",
                ),
                OpenApiParameter(
                    "Content-Encoding",
                    type=str,
                    location=OpenApiParameter.HEADER,
                    enum=["gzip", "identity"],
                    description="gzip: the body is gzip-compressed (one or several members).",
                ),
                challenge,
                allow,
                RETRY_AFTER,
            ],
            responses={
                200: OpenApiResponse(
                    PolymorphicProxySerializer(
                        component_name="AppliedOrDuplicate",
                        serializers={
                            "applied": answers.AppliedAnswer,
                            "duplicate": answers.DuplicateAnswer,
                        },
                        resource_type_field_name="status",
                    ),
                    "Applied, or a duplicate of a delivery already received.",
                ),
                202: OpenApiResponse(
                    answers.AcceptedAnswer,
                    "Stored and queued: the delivery touches at least bulk_async_threshold "
                    "members.",
                ),
                **errors,
            },
        )
        head = extend_schema(
            methods=["HEAD"],
            tags=TAGS,
            summary="Check the endpoint and the credentials",
            description="Answers with no body.",
            parameters=[challenge, allow, RETRY_AFTER],
            responses={
                200: OpenApiResponse(description="The credentials are valid."),
                401: OpenApiResponse(description="They are not."),
                500: OpenApiResponse(description=ERROR_DESCRIPTIONS[500]),
                503: OpenApiResponse(description=ERROR_DESCRIPTIONS[503]),
            },
        )
        described: type[views.WebhookView] = head(post(Described))
        return described


class TokenViewDescription(OpenApiViewExtension):
    target_class = "cdp_bridge.webhook.views.TokenView"

    def view_replacement(self) -> type[views.TokenView]:
        class Schema(OperationIds):
            operation_ids = {"POST": "token"}

        class Described(views.TokenView):
            schema = Schema()  # type: ignore[assignment]  # the view itself has None

        errors = {
            status: OpenApiResponse(
                token_error_answer(status, codes), TOKEN_ERROR_DESCRIPTIONS[status]
            )
            for status, codes in TOKEN_ERRORS.items()
        }
        post = extend_schema(
            tags=TAGS,
            summary="Get a bearer token (OAuth 2.0 client credentials)",
            description="The client authenticates with HTTP Basic, or with client_id and "
            "client_secret form fields. A token is valid for expires_in seconds, and only "
            "while the client secret it was issued under is configured.",
            # Security requirements: Basic, or none (the form's fields); typed as names only.
            auth=[{"basic": []}, {}],  # type: ignore[list-item]
            request={"application/x-www-form-urlencoded": TokenRequest},
            parameters=[
                response_header(
                    "WWW-Authenticate",
                    [401],
                    'The scheme to authenticate with: Basic realm="cdp-webhook", charset="UTF-8".',
                ),
                response_header("Allow", [405], "The methods the endpoint answers: POST."),
                RETRY_AFTER,
            ],
            responses={200: OpenApiResponse(answers.TokenAnswer, "A bearer token."), **errors},
        )
        described: type[views.TokenView] = post(Described)
        return described


# -- authentication, fields -------------------------------------------------------------------


class BasicScheme(OpenApiAuthenticationExtension):
    target_class = "cdp_bridge.webhook.authentication.ActivationBasicAuthentication"
    name = "basic"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "basic",
            "description": "The activation's Client Id and one of its Client Secrets.",
        }


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = "cdp_bridge.webhook.authentication.ActivationTokenAuthentication"
    name = "clientCredentials"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "oauth2",
            "description": "A bearer token from the token endpoint.",
            "flows": {"clientCredentials": {"tokenUrl": url_path("webhook-token"), "scopes": {}}},
        }


class PersonIdentifiers(OpenApiSerializerFieldExtension):
    target_class = "cdp_bridge.webhook.serializers.PersonIdentifierList"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        return {
            "type": "array",
            "items": {
                "oneOf": [
                    {"type": "string", "maxLength": MAX_IDENTIFIER_LENGTH},
                    {"type": "integer"},
                ]
            },
            "description": "Person identifiers (the CDP's userid), strings or integers, matched "
            "against the activation's person_identifier_field (the primary key by default). "
            "Unknown ones are counted, never an error.",
        }
