"""The event sender: bounded, never waiting on a failing endpoint, one warning per trouble."""

import logging
import threading
import time

from werkzeug import Response

from cdp_bridge.tracking.event_sender import EventSender


def test_when_too_many_events_wait_new_ones_are_dropped_with_one_warning(httpserver, caplog):
    answer = threading.Event()
    httpserver.expect_request("/slow").respond_with_handler(
        lambda request: answer.wait(10) and Response("")
    )
    sender = EventSender(workers=1, max_pending=1)
    url = httpserver.url_for("/slow")
    try:
        with caplog.at_level(logging.WARNING, logger="cdp_bridge.tracking"):
            assert sender.submit(url, {"p1": "visit"}, "visit") is True
            assert sender.submit(url, {"p1": "visit"}, "visit") is False
            assert sender.submit(url, {"p1": "visit"}, "visit") is False
    finally:
        answer.set()
    assert sender.flush(timeout=10)
    [warning] = [record for record in caplog.records if record.name == "cdp_bridge.tracking"]
    assert "new events are dropped" in warning.getMessage()
    assert sender.submit(url, {"p1": "visit"}, "visit") is True  # room again
    assert sender.flush(timeout=10)


def test_a_slow_endpoint_costs_one_timeout_then_events_are_dropped_for_a_while(httpserver, caplog):
    release, arrivals = threading.Event(), []

    def slow(request):
        arrivals.append(request.args["p1"])
        release.wait(10)
        return Response("")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    sender = EventSender(workers=1, timeout=0.2, pause_after_failure=60)
    url = httpserver.url_for("/slow")
    try:
        with caplog.at_level(logging.WARNING, logger="cdp_bridge.tracking"):
            queued = [sender.submit(url, {"p1": f"event-{n}"}, "visit") for n in range(5)]
            assert sender.flush(timeout=10)
            assert sender.submit(url, {"p1": "later"}, "visit") is False  # still paused
    finally:
        release.set()
        for _ in range(100):  # let the server finish its answer before the next test
            if httpserver.log:
                break
            time.sleep(0.05)
    assert queued == [True] * 5
    assert arrivals == ["event-0"]  # it waited out its timeout; the others never went
    [warning] = [record for record in caplog.records if record.name == "cdp_bridge.tracking"]
    assert "did not reach" in warning.getMessage()
    assert "ReadTimeout" in warning.getMessage()
    assert "dropped for 60 s" in warning.getMessage()


def test_sending_resumes_after_the_pause(httpserver):
    httpserver.expect_request("/t").respond_with_data("")
    sender = EventSender(workers=1, pause_after_failure=0.2)
    assert sender.submit("http://127.0.0.1:9/t", {"p1": "visit"}, "visit") is True  # refused
    assert sender.flush(timeout=10)
    assert sender.submit(httpserver.url_for("/t"), {"p1": "visit"}, "visit") is False  # paused
    for _ in range(100):  # the pause is 0.2 s: a few tries
        if sender.submit(httpserver.url_for("/t"), {"p1": "visit"}, "visit"):
            break
        time.sleep(0.05)
    assert sender.flush(timeout=10)
    assert [request.path for request, _ in httpserver.log if request.path == "/t"] == ["/t"]
