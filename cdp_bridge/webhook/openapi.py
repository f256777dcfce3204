"""The OpenAPI 3 description of the webhook, served at ``cdp/webhook/schema``.

``docs/webhook-openapi.json`` is this schema as printed by
``python -m cdp_bridge.webhook.openapi``; a test keeps the two equal.
"""

from __future__ import annotations

import json
from typing import Any

import cdp_bridge


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error_response(description: str, codes: list[str]) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {
                    "allOf": [_ref("Error")],
                    "properties": {
                        "error": {"properties": {"code": {"type": "string", "enum": codes}}}
                    },
                }
            }
        },
    }


PERSON_IDENTIFIERS = {
    "type": "array",
    "items": {"oneOf": [{"type": "string", "maxLength": 255}, {"type": "integer"}]},
    "description": "Person identifiers (the CDP's userid), matched against the activation's "
    "person_identifier_field (the primary key by default). Unknown ones are counted, "
    "never an error.",
}

SCHEMAS: dict[str, Any] = {
    "Delivery": {
        "type": "object",
        "required": ["segment_group_identifier"],
        "properties": {
            "segment_group_identifier": {
                "type": "string",
                "maxLength": 255,
                "description": "Must be the segment group of the authenticated activation.",
            },
            "audiences": {"type": "array", "items": _ref("Audience")},
            "removed_audiences": {
                "type": "array",
                "items": {"type": "string", "maxLength": 255},
                "description": "Audiences whose segments (and memberships) are deleted.",
            },
        },
    },
    "Audience": {
        "type": "object",
        "required": ["id", "sync"],
        "properties": {
            "id": {"type": "string", "maxLength": 255, "description": "The segment identifier."},
            "sync": {
                "type": "string",
                "enum": ["full", "delta"],
                "description": "full: members is the whole membership; delta: added and removed "
                "change it.",
            },
            "name": {"type": "string", "maxLength": 255},
            "description": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 255}},
            "profile_count": {"type": "integer", "minimum": 0, "nullable": True},
            "updated_at": {"type": "string", "format": "date-time", "nullable": True},
            "sequence": {
                "type": "integer",
                "minimum": 0,
                "nullable": True,
                "description": "An audience whose sequence is not greater than the one applied "
                "is ignored (stale).",
            },
            "members": PERSON_IDENTIFIERS,
            "added": PERSON_IDENTIFIERS,
            "removed": PERSON_IDENTIFIERS,
            "snapshot": _ref("Snapshot"),
        },
    },
    "Snapshot": {
        "type": "object",
        "required": ["id", "part", "parts"],
        "description": "A full membership sent in several requests; applied when every part "
        "has arrived. Incomplete parts are dropped after 24 hours.",
        "properties": {
            "id": {"type": "string", "maxLength": 255},
            "part": {"type": "integer", "minimum": 1},
            "parts": {"type": "integer", "minimum": 1},
        },
    },
    "AudienceResult": {
        "type": "object",
        "required": ["id", "segment", "status", "added", "removed", "unknown_members"],
        "properties": {
            "id": {"type": "string"},
            "segment": {
                "type": "integer",
                "nullable": True,
                "description": "The segment's primary key on the site.",
            },
            "status": {"type": "string", "enum": ["applied", "stale", "pending"]},
            "added": {"type": "integer"},
            "removed": {"type": "integer"},
            "unknown_members": {"type": "integer"},
        },
    },
    "Applied": {
        "type": "object",
        "required": ["status", "delivery_id", "audiences", "removed_audiences"],
        "properties": {
            "status": {"type": "string", "enum": ["applied"]},
            "delivery_id": {"type": "string"},
            "audiences": {"type": "array", "items": _ref("AudienceResult")},
            "removed_audiences": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "status": {"type": "string", "enum": ["removed", "not_found"]},
                    },
                },
            },
        },
    },
    "Duplicate": {
        "type": "object",
        "required": ["status", "delivery_id", "original_status"],
        "properties": {
            "status": {"type": "string", "enum": ["duplicate"]},
            "delivery_id": {"type": "string"},
            "original_status": {"type": "string", "enum": ["queued", "applied"]},
            "received_at": {"type": "string", "format": "date-time"},
        },
    },
    "Accepted": {
        "type": "object",
        "required": ["status", "delivery_id"],
        "properties": {
            "status": {"type": "string", "enum": ["accepted"]},
            "delivery_id": {"type": "string"},
        },
    },
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "details": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "path": {
                                    "type": "string",
                                    "description": "A JSON pointer into the body.",
                                },
                                "message": {"type": "string"},
                            },
                        },
                    },
                },
            }
        },
    },
    "Token": {
        "type": "object",
        "required": ["access_token", "token_type", "expires_in"],
        "properties": {
            "access_token": {"type": "string"},
            "token_type": {"type": "string", "enum": ["Bearer"]},
            "expires_in": {"type": "integer"},
        },
    },
    "TokenError": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "string",
                "enum": [
                    "invalid_request",
                    "invalid_client",
                    "unsupported_grant_type",
                    "temporarily_unavailable",
                ],
            },
            "error_description": {"type": "string"},
        },
    },
}


def openapi_schema() -> dict[str, Any]:
    """The schema, as a JSON-ready dict."""
    unavailable = _error_response(
        "The database is unavailable (or the site failed); sent with Retry-After.",
        ["unavailable"],
    )
    unavailable["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "cdp_bridge activation webhook",
            "version": cdp_bridge.__version__,
            "description": "The endpoint a CDP activation calls to write audiences as segments "
            "of one segment group. See docs/webhook.md.",
        },
        "paths": {
            "/cdp/webhook": {
                "post": {
                    "summary": "Deliver audiences",
                    "operationId": "deliver",
                    "security": [{"basic": []}, {"clientCredentials": []}],
                    "parameters": [
                        {
                            "name": "X-CDP-Delivery-Id",
                            "in": "header",
                            "schema": {"type": "string", "maxLength": 255},
                            "description": "A unique id; a resend with the same id changes "
                            "nothing (without it, the body's hash is used).",
                        },
                        {
                            "name": "X-CDP-Signature",
                            "in": "header",
                            "schema": {"type": "string"},
                            "description": "t=<unix seconds>,v1=<hex HMAC-SHA256 of "
                            '"<t>.<raw body>">; required when the activation sets '
                            "require_signature.",
                        },
                        {
                            "name": "Content-Encoding",
                            "in": "header",
                            "schema": {"type": "string", "enum": ["gzip", "identity"]},
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("Delivery")}},
                    },
                    "responses": {
                        "200": {
                            "description": "Applied, or a duplicate of a delivery already "
                            "received.",
                            "content": {
                                "application/json": {
                                    "schema": {"oneOf": [_ref("Applied"), _ref("Duplicate")]}
                                }
                            },
                        },
                        "202": {
                            "description": "Stored and queued: the delivery touches at least "
                            "bulk_async_threshold members.",
                            "content": {"application/json": {"schema": _ref("Accepted")}},
                        },
                        "400": _error_response(
                            "The body is not JSON, or the delivery is invalid (every problem "
                            "listed with its path).",
                            ["invalid_json", "invalid_payload"],
                        ),
                        "401": _error_response(
                            "Missing or wrong credentials, token or signature; sent with "
                            "WWW-Authenticate.",
                            ["invalid_credentials"],
                        ),
                        "403": _error_response(
                            "The delivery names another segment group than the activation's.",
                            ["segment_group_mismatch"],
                        ),
                        "405": _error_response("Only POST and HEAD.", ["method_not_allowed"]),
                        "409": _error_response(
                            "The segment group has not been created on the site yet.",
                            ["segment_group_not_found"],
                        ),
                        "413": _error_response(
                            "The body, compressed or decompressed, is over webhook.max_body_bytes.",
                            ["payload_too_large"],
                        ),
                        "415": _error_response(
                            "Not application/json, or an encoding other than gzip.",
                            ["unsupported_media_type"],
                        ),
                        "503": unavailable,
                    },
                },
                "head": {
                    "summary": "Check the endpoint and the credentials",
                    "operationId": "check",
                    "security": [{"basic": []}, {"clientCredentials": []}],
                    "responses": {
                        "200": {"description": "The credentials are valid."},
                        "401": {"description": "They are not."},
                    },
                },
            },
            "/cdp/webhook/token": {
                "post": {
                    "summary": "Get a bearer token (OAuth 2.0 client credentials)",
                    "operationId": "token",
                    "security": [{"basic": []}, {}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/x-www-form-urlencoded": {
                                "schema": {
                                    "type": "object",
                                    "required": ["grant_type"],
                                    "properties": {
                                        "grant_type": {
                                            "type": "string",
                                            "enum": ["client_credentials"],
                                        },
                                        "client_id": {"type": "string"},
                                        "client_secret": {"type": "string"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "A token, valid for expires_in seconds.",
                            "content": {"application/json": {"schema": _ref("Token")}},
                        },
                        "400": {
                            "description": "invalid_request or unsupported_grant_type.",
                            "content": {"application/json": {"schema": _ref("TokenError")}},
                        },
                        "401": {
                            "description": "invalid_client.",
                            "content": {"application/json": {"schema": _ref("TokenError")}},
                        },
                    },
                }
            },
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "basic": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "The activation's Client Id and Client Secret.",
                },
                "clientCredentials": {
                    "type": "oauth2",
                    "flows": {
                        "clientCredentials": {"tokenUrl": "/cdp/webhook/token", "scopes": {}}
                    },
                },
            },
        },
    }


if __name__ == "__main__":
    print(json.dumps(openapi_schema(), indent=2))
