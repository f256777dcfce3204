import pytest

from cdp_bridge import conf

GOOD_SECRET = "k3Vq9-rT2wXy7Zp4LmN8bC6dF0gH1jS5"
OTHER_SECRET = "Pz8wQ2eR5tY7uI9oA1sD3fG6hJ4kL0xC"
STREAM_ID = "0a1b2c3d-4e5f6a7b-8c9d0e1f-2a3b4c5d"


@pytest.fixture
def cdp_config(settings):
    """Set CDP_BRIDGE for one test; returns a function taking the dict."""

    def configure(value):
        settings.CDP_BRIDGE = value
        return conf.inspect_settings()

    yield configure
    conf.reload()


def problems_by_id(report):
    return {problem.check_id: problem for problem in report.problems}
