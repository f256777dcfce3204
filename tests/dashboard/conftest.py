"""Fixtures for the dashboard: the webhook's activation, users and sender, on days gone by."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine

from cdp_bridge.conf.document import deep_merge

from ..webhook.conftest import (  # noqa: F401 - fixtures, used by name
    client,
    configure,
    group,
    users,
)
from ..webhook.conftest import configuration as webhook_configuration

# The dashboard tests' "today": every figure is known, whatever the day the suite runs on.
TODAY = date(2026, 3, 30)


def on(day, hour=12, minute=0):
    """Travel to ``day`` at ``hour``:``minute`` UTC (the tests' TIME_ZONE), the clock stopped."""
    return time_machine.travel(datetime.combine(day, time(hour, minute), tzinfo=UTC), tick=False)


def days_ago(count):
    return TODAY - timedelta(days=count)


def configuration(**overrides):
    """The webhook tests' activation, a queue from six members, two kinds to export; and
    ``overrides``, merged key by key."""
    base = webhook_configuration(bulk_async_threshold=6)
    base["system"]["default"]["cdp"]["data_export"] = {
        "user_data": {"transport": "memory"},
        "product_data": {"transport": "memory"},
    }
    return deep_merge(base, overrides)


# A second scope, with no activation and nothing exported: it has no history.
QUIET_SCOPE = {
    "scopes": {"default": {}, "quiet": {"hosts": ["quiet.example"]}},
    "system": {"quiet": {"cdp": {"activations": []}}},
}


@pytest.fixture
def dashboard_config(group, cdp_config):  # noqa: F811 - the group fixture, imported above
    """Configure the dashboard's scope; returns the function, for other global keys."""

    def apply(**overrides):
        report = cdp_config(configuration(**overrides))
        assert not report.errors, report.errors

    apply()
    return apply
