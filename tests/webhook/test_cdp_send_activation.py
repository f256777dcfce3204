"""``manage.py cdp_send_activation FILE --url URL`` against a live server."""

import dataclasses
import io
import json
import re

import pytest
from django.core.management import CommandError, call_command

from cdp_bridge.management.commands.cdp_send_activation import Command
from cdp_bridge.models import WebhookDelivery

from .conftest import SIGNING_SECRET, audience, delivery, ids, members

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def webhook(live_server):
    return f"{live_server.url}/cdp/webhook"


@pytest.fixture
def delivery_file(tmp_path, users):
    path = tmp_path / "activation.json"
    path.write_text(json.dumps(delivery(audience(members=ids(users[:3])))))
    return path


def send(*args):
    out = io.StringIO()
    call_command("cdp_send_activation", *map(str, args), stdout=out)
    return out.getvalue()


def test_it_posts_the_file_with_the_scopes_credentials(webhook, group, delivery_file):
    output = send(delivery_file, "--url", webhook)
    assert output.startswith("200 applied\n")
    assert json.loads(output.split("\n", 1)[1])["audiences"][0]["added"] == 3
    assert members("5d822e81") == {"user0", "user1", "user2"}


def test_it_can_use_a_token_gzip_a_delivery_id_and_sign(webhook, group, delivery_file, configure):
    configure({"signing_secret": SIGNING_SECRET, "require_signature": True})
    output = send(delivery_file, "--url", webhook, "--token", "--gzip", "--delivery-id", "d-1")
    assert output.startswith("200 applied")
    assert WebhookDelivery.objects.get().delivery_id == "d-1"


def test_standard_input_is_read_for_a_dash(webhook, group, users, monkeypatch):
    body = json.dumps(delivery(audience(members=ids(users[:1])))).encode()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(body)))
    assert send("-", "--url", webhook).startswith("200 applied")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--client-id", "nobody"],
            "The scope 'default' has no activation with client id 'nobody'",
        ),
        (["--scope", "nowhere"], "Unknown scope 'nowhere'"),
    ],
)
def test_a_wrong_activation_is_one_clear_line(webhook, group, delivery_file, args, message):
    with pytest.raises(CommandError, match=message):
        send(delivery_file, "--url", webhook, *args)


def test_a_refused_delivery_is_one_clear_line(webhook, db, configure, delivery_file):
    with pytest.raises(
        CommandError, match="The webhook answered 409 segment_group_not_found: The segment group"
    ):
        send(delivery_file, "--url", webhook)


@pytest.mark.parametrize("token", [[], ["--token"]], ids=["basic", "token"])
def test_a_wrong_url_is_one_line_with_the_status_and_the_start_of_the_page(
    live_server, group, delivery_file, token
):
    with pytest.raises(CommandError) as refused:
        send(delivery_file, "--url", f"{live_server.url}/cdp/webhok", *token)
    message = str(refused.value)
    endpoint = "token endpoint" if token else "webhook"
    # Django's 404 page, as its text: no markup.
    assert message.startswith(
        f"The {endpoint} answered 404 Not Found: Not Found The requested resource was not found"
    ), message
    assert "\n" not in message and "<" not in message
    assert len(message) < 200


def test_an_unreachable_webhook_and_a_missing_file_are_one_clear_line(group, delivery_file):
    with pytest.raises(
        CommandError, match=re.escape("Could not reach http://127.0.0.1:9/cdp/webhook")
    ):
        send(delivery_file, "--url", "http://127.0.0.1:9/cdp/webhook", "--timeout", "2")
    with pytest.raises(
        CommandError, match=re.escape("Cannot read /nonexistent.json: No such file")
    ):
        send("/nonexistent.json", "--url", "http://127.0.0.1:9/cdp/webhook")


def test_a_token_refused_by_the_site_is_its_oauth_error_not_an_unreachable_site(
    webhook, group, delivery_file, monkeypatch
):
    find_activation = Command.activation

    def with_a_secret_the_site_never_had(self, scope, client_id):
        activation = find_activation(self, scope, client_id)
        return dataclasses.replace(activation, client_secrets=("not-the-sites-secret-0123",))

    monkeypatch.setattr(Command, "activation", with_a_secret_the_site_never_had)
    with pytest.raises(CommandError) as refused:
        send(delivery_file, "--url", webhook, "--token")
    assert str(refused.value) == (
        "The token endpoint answered 401 invalid_client: unknown client id or wrong client secret."
    )


def test_in_colour_the_answer_is_a_success_and_the_body_stays_plain(
    webhook, group, delivery_file, palette
):
    out = io.StringIO()
    call_command(
        "cdp_send_activation", str(delivery_file), "--url", webhook, stdout=out, force_color=True
    )
    status, body = out.getvalue().split("\n", 1)
    assert status == palette.SUCCESS("200 applied")
    assert json.loads(body)["status"] == "applied"
