"""Every answer of the webhook checked against its OpenAPI document, as the tests receive it.

The view tests' Django test client and every ``requests`` call of the webhook tests go through
``check_answer``: an answer whose status, headers or body the document does not describe fails
the test that received it, so the document cannot drift from what the site sends.
"""

import json
from collections.abc import Mapping
from functools import cache
from urllib.parse import urlsplit

from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker

from cdp_bridge.webhook.views import openapi_document


class OffContract(AssertionError):
    """An answer the OpenAPI document does not describe."""


def check_answer(method, url, status, headers, body):
    """Raise OffContract unless the document describes this answer; ignore other URLs."""
    path = urlsplit(url).path
    operations = openapi_document()["paths"].get(path)
    if operations is None:
        return
    where = f"{method} {path} answered {status}"
    operation = operations.get(method.lower())
    if operation is None:  # a method the endpoint does not answer: its 405 is described
        if status != 405:
            raise OffContract(f"{where}: the document has no {method} operation")
        operation = next(op for op in operations.values() if "405" in op["responses"])
    response = operation["responses"].get(str(status))
    if response is None:
        raise OffContract(f"{where}, which the document does not describe")
    for name, header in response.get("headers", {}).items():
        if header.get("required") and name.lower() not in {key.lower() for key in headers}:
            raise OffContract(f"{where} without its {name} header")
    content = response.get("content")
    if method == "HEAD" or content is None:
        if body:
            raise OffContract(f"{where} with a body, where the document describes none")
        return
    media_type = headers.get("Content-Type", "").partition(";")[0]
    if media_type not in content:
        raise OffContract(f"{where} with Content-Type {media_type!r}, not one of {list(content)}")
    errors = sorted(
        validator(json.dumps(content[media_type]["schema"])).iter_errors(json.loads(body)),
        key=str,
    )
    if errors:
        problems = "; ".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)
        raise OffContract(f"{where} with a body the document does not describe: {problems}")


@cache
def validator(schema_text):
    """A validator of ``schema`` that resolves the document's components, and refuses keys the
    document does not name (the document itself lets a sender add keys; the site adds none)."""
    schema = json.loads(schema_text)
    components = _closed(openapi_document()["components"])
    return OAS30ReadValidator(
        {**_closed(schema), "components": components}, format_checker=oas30_format_checker
    )


def _closed(value):
    if isinstance(value, Mapping):
        closed = {key: _closed(item) for key, item in value.items()}
        if closed.get("type") == "object" and "properties" in closed:
            closed.setdefault("additionalProperties", False)
        return closed
    if isinstance(value, list):
        return [_closed(item) for item in value]
    return value
