"""The OpenAPI 3 schema: valid, served at cdp/webhook/schema, and the copy in docs/ up to date."""

import json
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from cdp_bridge.webhook.openapi import openapi_schema

DOCS_COPY = Path(__file__).resolve().parents[2] / "docs" / "webhook-openapi.json"


def test_the_schema_is_valid_openapi_3():
    validate(openapi_schema())


def test_the_copy_in_docs_is_up_to_date():
    assert json.loads(DOCS_COPY.read_text()) == openapi_schema(), (
        "Regenerate it: python -m cdp_bridge.webhook.openapi > docs/webhook-openapi.json"
    )


@pytest.mark.django_db
def test_the_schema_is_served_without_credentials(client):
    response = client.get("/cdp/webhook/schema")
    assert response.status_code == 200
    assert response.json() == openapi_schema()
    assert client.post("/cdp/webhook/schema").status_code == 405


def test_every_status_of_the_contract_is_described():
    responses = openapi_schema()["paths"]["/cdp/webhook"]["post"]["responses"]
    assert set(responses) == {"200", "202", "400", "401", "403", "405", "409", "413", "415", "503"}
