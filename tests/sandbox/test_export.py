"""The real export commands against the sandbox: every kind, draft then full, over a flaky CDP."""

import copy
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from cdp_bridge import conf
from cdp_bridge.exceptions import BatchRejected
from cdp_bridge.export.batches import Batch
from cdp_bridge.export.transports import StreamFileTransport
from tests.testapp.models import Article, Product

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(db):
    users = [User.objects.create_user(f"user{n}", f"user{n}@example.com") for n in range(12)]
    articles = [Article.objects.create(title=f"Article {n}") for n in range(3)]
    products = [
        Product.objects.create(
            sku=f"SKU-{n}", name=f"Product {n}", product_type="laptop", price=Decimal("9.90")
        )
        for n in range(4)
    ]
    return users, articles, products


@pytest.mark.parametrize(("kind", "count"), [("user", 12), ("content", 3), ("product", 4)])
def test_every_kind_arrives_as_a_draft_then_in_full(site, catalogue, kind, count):
    call_command(f"stream_{kind}_data", "--draft-limit", "2", "-v", "0")
    assert len(site.rows(kind, draft=True)) == 2
    assert site.rows(kind) == []

    call_command(f"stream_{kind}_data", "--no-draft", "--batch-size", "5", "-v", "0")
    rows = site.rows(kind)
    assert len(rows) == count
    assert all(row["id"] for row in rows)
    accepted = [b for b in site.batches() if b["status"] == 200 and not b["draft"]]
    assert len(accepted) == -(-count // 5)


def test_the_user_stream_is_person_data_and_the_catalogue_is_not(site, catalogue):
    for kind in ("user", "content", "product"):
        call_command(f"stream_{kind}_data", "--no-draft", "-v", "0")
    schemas = {stream["schema"] for stream in site.store.streams()}
    assert schemas == {"person", "catalogue"}
    assert set(site.store.persons()) == {str(user.pk) for user in catalogue[0]}
    assert site.store.persons()[str(catalogue[0][0].pk)]["login"] == "user0"


def test_a_full_export_finishes_over_a_flaky_cdp_and_loses_no_row(site, catalogue):
    site.fail("503:0.2,429:0.15,drop:0.05", seed=3, retry_after=0)
    call_command("stream_user_data", "--no-draft", "--batch-size", "1", "-v", "0")
    statuses = [batch["status"] for batch in site.batches()]
    assert statuses.count(200) == 12
    assert {503, 429, 0} <= set(statuses)  # 0: a dropped connection
    assert len(site.rows("user")) == 12


def test_a_batch_the_cdp_refuses_stops_the_export_with_the_cdps_message(site, catalogue):
    scope = conf.get_scope()
    transport = StreamFileTransport(
        base_url=scope.stream_base_url,
        account_number=scope.account_number,
        stream_id=scope.stream("user").stream_id,
        draft=False,
        connect_timeout=5,
        read_timeout=5,
    )
    with pytest.raises(BatchRejected, match=r"HTTP 400 .*row 0 column 'tags' is an array"):
        transport.send(Batch(1, b'[{"id": 1, "tags": ["a", "b"]}]', 1, 1))
    transport.close()


def test_a_cdp_that_keeps_failing_ends_the_export_in_one_line(site, catalogue, settings):
    config = copy.deepcopy(settings.CDP_BRIDGE)
    user_stream = config["system"]["default"]["cdp"]["data_export"]["user_data"]["stream_file"]
    user_stream["retry_budget"] = 1  # a dead CDP ends the run once a batch's budget is spent
    settings.CDP_BRIDGE = config
    site.fail("503:1", retry_after=0)
    with pytest.raises(CommandError, match="did not accept batch 1 within the retry budget of 1 s"):
        call_command("stream_user_data", "--no-draft", "-v", "0")
