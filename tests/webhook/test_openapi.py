"""The OpenAPI document: generated from the code, shipped, served, and in step with the docs."""

import json
import re
from pathlib import Path

import pytest
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from openapi_spec_validator import validate

from cdp_bridge.webhook import openapi

from .contract import OffContract, check_answer

DOCS = Path(__file__).resolve().parents[2] / "docs"
REGENERATE = (
    "Regenerate it: python -m django shell --settings=tests.settings "
    '-c "from cdp_bridge.webhook import openapi; openapi.main()"'
)


@pytest.fixture(scope="module")
def generated():
    return openapi.generate()


def test_the_generated_document_is_valid_openapi_3(generated):
    validate(generated)


@pytest.mark.parametrize(
    "committed", [openapi.SHIPPED, DOCS / "webhook-openapi.json"], ids=["package", "docs"]
)
def test_the_committed_document_is_the_generated_one(generated, committed):
    assert json.loads(committed.read_text()) == generated, f"{committed} is stale. {REGENERATE}"


@pytest.mark.django_db
def test_the_document_is_served_without_credentials(client):
    response = client.get("/cdp/webhook/schema")
    assert response.status_code == 200
    assert response.json() == json.loads(openapi.SHIPPED.read_text())
    assert client.post("/cdp/webhook/schema").status_code == 405


def test_its_paths_are_where_the_urlconf_puts_the_endpoints(generated):
    assert set(generated["paths"]) == {
        reverse("cdp_bridge:webhook"),
        reverse("cdp_bridge:webhook-token"),
    }
    token_url = generated["components"]["securitySchemes"]["clientCredentials"]["flows"]
    assert token_url["clientCredentials"]["tokenUrl"] == reverse("cdp_bridge:webhook-token")


def documented_statuses(page, heading):
    """The statuses of the first table after ``heading`` in a docs page."""
    section = (DOCS / page).read_text().split(heading, 1)[1]
    table = next(block for block in section.split("\n\n") if block.startswith("| status |"))
    return {int(status) for status in re.findall(r"^\| (\d{3}) \|", table, re.MULTILINE)}


def test_every_status_in_the_docs_is_in_the_document_and_no_other(generated):
    webhook = generated["paths"]["/cdp/webhook"]["post"]["responses"]
    assert {int(status) for status in webhook} == documented_statuses(
        "webhook.md", "## The response"
    )


def test_each_error_status_names_the_codes_it_comes_with(generated):
    schemas = generated["components"]["schemas"]
    codes = {
        status: schemas[f"Error{status}Detail"]["properties"]["code"]["enum"]
        for status in (400, 403, 409, 411, 413, 415, 500, 503)
    }
    assert codes == {
        400: ["invalid_json", "invalid_payload", "invalid_body"],
        403: ["segment_group_mismatch"],
        409: ["segment_group_not_found"],
        411: ["length_required"],
        413: ["payload_too_large"],
        415: ["unsupported_media_type"],
        500: ["internal_error"],
        503: ["unavailable"],
    }


def test_identifiers_are_strings_and_members_strings_or_integers(generated):
    audience = generated["components"]["schemas"]["Audience"]["properties"]
    assert audience["id"] == {"type": "string", "minLength": 1, "maxLength": 255} | {
        "description": audience["id"]["description"]
    }
    assert audience["tags"]["items"]["type"] == "string"
    assert [kind["type"] for kind in audience["members"]["items"]["oneOf"]] == [
        "string",
        "integer",
    ]
    assert audience["sequence"]["maximum"] == 2**63 - 1


def test_the_webhook_stays_out_of_the_host_sites_own_api_schema(settings):
    settings.REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
    host = SchemaGenerator(urlconf="tests.webhook.host_urls").get_schema(public=True)
    assert set(host["paths"]) == {"/api/products"}


# -- the check every webhook test's answers go through -----------------------------------------


def test_the_contract_check_refuses_what_the_document_does_not_describe():
    headers = {"Content-Type": "application/json"}
    accepted = {"status": "accepted", "delivery_id": "d-1"}
    check_answer("POST", "/cdp/webhook", 202, headers, json.dumps(accepted).encode())
    refusals = [
        (202, headers, {**accepted, "surprise": 1}, "surprise"),
        (202, headers, {"status": "accepted"}, "'delivery_id' is a required property"),
        (418, headers, accepted, "does not describe"),
        (401, headers, {"error": {"code": "invalid_credentials", "message": "no"}}, "WWW-Auth"),
        (403, headers, {"error": {"code": "invalid_json", "message": "no"}}, "is not one of"),
        (202, {"Content-Type": "text/html"}, accepted, "Content-Type 'text/html'"),
    ]
    for status, sent_headers, body, reason in refusals:
        with pytest.raises(OffContract, match=reason):
            check_answer("POST", "/cdp/webhook", status, sent_headers, json.dumps(body).encode())
    with pytest.raises(OffContract, match="with a body"):
        check_answer("HEAD", "/cdp/webhook", 401, {"WWW-Authenticate": "Basic"}, b"{}")
    check_answer("GET", "/somewhere/else", 500, {}, b"not checked")
