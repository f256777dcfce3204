"""CommandLoop: the --loop of cdp_run_schedule and cdp_process_deliveries."""

import io
import signal

import pytest
from django.core.management.base import OutputWrapper
from django.core.management.color import no_style
from django.db import OperationalError, ProgrammingError

from cdp_bridge.management.loop import CommandLoop

from .conftest import unstyled


@pytest.fixture
def loop(monkeypatch):
    out, err = io.StringIO(), io.StringIO()
    command_loop = CommandLoop(OutputWrapper(out), OutputWrapper(err), no_style())
    command_loop.waits = []
    monkeypatch.setattr(command_loop, "pause", command_loop.waits.append)
    monkeypatch.setattr("django.db.connection.close", lambda: None)  # the test's own
    return command_loop, out, err


def test_a_refusing_database_is_waited_out_and_a_signal_stops_between_passes(loop):
    command_loop, out, err = loop
    passes = []

    def one_pass():
        passes.append(len(passes) + 1)
        if len(passes) == 1:
            raise OperationalError("could not connect to server")
        if len(passes) == 2:
            raise ProgrammingError('relation "cdp_bridge_webhookdelivery" does not exist\nLINE 1')
        command_loop.request_stop(signal.SIGTERM, None)
        return 5.0

    command_loop.run(one_pass, idle=lambda: 60.0)
    assert passes == [1, 2, 3]
    assert command_loop.waits == [60.0, 60.0, 5.0]
    assert err.getvalue().splitlines() == [
        "The database refused: could not connect to server. Check that it is reachable, and "
        "run manage.py migrate if the cdp_bridge tables are missing. Trying again in 60 s.",
        'The database refused: relation "cdp_bridge_webhookdelivery" does not exist. Check '
        "that it is reachable, and run manage.py migrate if the cdp_bridge tables are "
        "missing. Trying again in 60 s.",
    ]
    assert out.getvalue().splitlines() == [
        "Stopping after the current pass (send the signal again to stop now).",
        "Stopped.",
    ]


def test_a_second_signal_stops_the_pass_under_way(loop):
    command_loop, out, _ = loop

    def one_pass():
        command_loop.request_stop(signal.SIGTERM, None)
        command_loop.request_stop(signal.SIGTERM, None)  # raises: the export is interrupted
        pytest.fail("the second signal did not stop the pass")

    command_loop.run(one_pass, idle=lambda: 60.0)
    assert out.getvalue().splitlines()[-1] == (
        "Stopped in the middle of a pass; a full export continues with --resume."
    )


def test_the_signal_handlers_are_given_back(loop):
    command_loop, _, _ = loop
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)

    def one_pass():
        assert signal.getsignal(signal.SIGTERM) == command_loop.request_stop
        command_loop.request_stop(signal.SIGINT, None)
        return 0.0

    command_loop.run(one_pass, idle=lambda: 0.0)
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_in_colour_a_refusal_and_a_stop_request_are_warnings(loop, palette):
    command_loop, out, err = loop
    command_loop.style = palette
    passes = []

    def one_pass():
        passes.append(1)
        if len(passes) == 1:
            raise OperationalError("could not connect to server")
        command_loop.request_stop(signal.SIGTERM, None)
        return 5.0

    command_loop.run(one_pass, idle=lambda: 60.0)
    (refusal,) = err.getvalue().splitlines()
    assert refusal == palette.WARNING(unstyled(refusal))
    assert out.getvalue().splitlines() == [
        palette.WARNING("Stopping after the current pass (send the signal again to stop now)."),
        palette.SUCCESS("Stopped."),
    ]
