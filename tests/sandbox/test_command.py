"""``manage.py cdp_sandbox`` as a user runs it: serving until SIGTERM, and its one-line errors."""

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.core.management import CommandError, call_command

from ..conftest import command_output

ROOT = Path(__file__).resolve().parents[2]
STARTUP_LIMIT = 30  # seconds; a limit, not a measurement


def sandbox_command(*args, **kwargs):
    return [sys.executable, "-m", "django", "cdp_sandbox", "--settings=tests.settings", *args]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(*args):
    return subprocess.run(
        sandbox_command(*args), cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def serve(*args):
    """``cdp_sandbox`` started in a process of its own, its output kept for the test to read."""
    return subprocess.Popen(
        sandbox_command(*args),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def first_page(server, url):
    """The sandbox's home page, once it serves; fails with its error output if it never does."""
    deadline = time.monotonic() + STARTUP_LIMIT
    while True:
        try:
            return requests.get(f"{url}/", timeout=2)
        except requests.ConnectionError:
            assert time.monotonic() < deadline and server.poll() is None, server.stderr.read()
            time.sleep(0.1)


def test_it_serves_until_sigterm_and_keeps_its_state_across_a_restart(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ("--addrport", f"127.0.0.1:{port}", "--data", str(tmp_path))
    for restart in (False, True):
        server = serve(*args)
        page = first_page(server, url)
        if not restart:
            batch = requests.post(
                f"{url}/stream/12345",
                json=[{"id": 1, "login": "ada"}],
                headers={"x-streamid": "0a1b2c3d-4e5f6a7b-8c9d0e1f-2a3b4c5d"},
                timeout=5,
            )
            assert batch.status_code == 200
        else:
            assert "0a1b…4c5d" in page.text  # the stream of the first run, masked
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=15)
        assert server.returncode == 0, err
        assert f"CDP sandbox at {url}/" in out
        assert out.strip().endswith("CDP sandbox stopped.")
    assert (tmp_path / "sandbox.sqlite3").exists()


def test_a_port_in_use_is_one_clear_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run("--addrport", f"127.0.0.1:{port}", "--data", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"CommandError: Port {port} on 127.0.0.1 is already in use (another cdp_sandbox, or the "
        "site?): stop that, or choose another port with --addrport."
    )


def test_a_broken_audience_file_stops_the_start_naming_file_and_line(tmp_path):
    audiences = tmp_path / "audiences.yaml"
    audiences.write_text("audiences:\n  - id: a\n    all:\n      - did: browse\n")
    done = run(
        "--addrport",
        f"127.0.0.1:{free_port()}",
        "--data",
        str(tmp_path),
        "--audiences",
        str(audiences),
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"CommandError: {audiences}, line 4: audience 'a': unknown event")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["activate"], "No audience file: pass --audiences FILE"),
        (["--fail", "500:0.1"], "unknown failure '500'"),
        (["--addrport", "localhost"], "--addrport 'localhost': write HOST:PORT."),
    ],
)
def test_wrong_arguments_are_one_line(tmp_path, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("cdp_sandbox", *args, "--data", str(tmp_path))


@pytest.mark.parametrize(
    ("addrport", "message"),
    [
        ("abc", "--addrport 'abc': write HOST:PORT"),
        ("127.0.0.1:99999", "--addrport '127.0.0.1:99999': a port is a number from 0 to 65535"),
        ("127.0.0.1:-1", "--addrport '127.0.0.1:-1': write HOST:PORT"),
        ("[::1", "--addrport '[::1': write HOST:PORT"),
        ("no.such.host.invalid:8765", "Cannot listen on no.such.host.invalid:8765"),
    ],
)
def test_a_bad_addrport_is_one_line_and_a_non_zero_exit(tmp_path, addrport, message):
    done = run("--addrport", addrport, "--data", str(tmp_path))
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"CommandError: {message}"), line


def test_an_ipv6_address_in_brackets_works(tmp_path):
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    with socket.socket(socket.AF_INET6) as probe:
        try:
            probe.bind(("::1", 0))
        except OSError:
            pytest.skip("no IPv6 loopback here")
        port = probe.getsockname()[1]
    server = serve("--addrport", f"[::1]:{port}", "--data", str(tmp_path))
    try:
        assert first_page(server, f"http://[::1]:{port}").status_code == 200
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    assert f"CDP sandbox at http://[::1]:{port}/" in output


def test_a_data_directory_that_cannot_be_created_is_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    done = run("--addrport", f"127.0.0.1:{free_port()}", "--data", str(blocker / "state"))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"CommandError: The sandbox's state directory {blocker / 'state'} "), (
        line
    )
    assert "--data" in line


def test_a_missing_audience_file_is_one_line(tmp_path):
    missing = tmp_path / "nowhere.yaml"
    done = run(
        "--addrport",
        f"127.0.0.1:{free_port()}",
        "--data",
        str(tmp_path),
        "--audiences",
        str(missing),
    )
    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert line == f"CommandError: {missing}: cannot be read: No such file or directory"


def test_activate_names_an_activation_the_file_does_not_have(tmp_path):
    audiences = tmp_path / "audiences.yaml"
    audiences.write_text("audiences: []\n")
    with pytest.raises(CommandError, match=r"has no activation 'shop' \(activations: none\)"):
        call_command(
            "cdp_sandbox",
            "activate",
            "shop",
            "--data",
            str(tmp_path),
            "--audiences",
            str(audiences),
        )


def test_while_serving_it_can_activate_every_few_seconds(tmp_path):
    from cdp_bridge.sandbox.server import Sandbox

    audiences = tmp_path / "audiences.yaml"
    audiences.write_text(
        "audiences: [{id: a, all: [{did: buy}]}]\n"
        "activations:\n"
        "  - {name: shop, client_id: c, client_secret: s, base_url: 'http://127.0.0.1:9/cdp/webhook',\n"
        "     segment_group_identifier: g, audiences: [a], attempts: 1}\n"
    )
    lines = []
    sandbox = Sandbox(
        tmp_path / "state",
        audiences,
        address=("127.0.0.1", 0),
        log=lines.append,
        activate_every=0.1,
    ).start()
    try:
        deadline = time.monotonic() + STARTUP_LIMIT
        while len(lines) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sandbox.stop()
    assert (
        lines[:2]
        == [
            "Activation 'shop': the site at http://127.0.0.1:9/cdp/webhook did not accept the "
            "delivery after 1 attempts (last: connection failed (ConnectionError)). Check that the "
            "site is up and activate again."
        ]
        * 2
    )


def test_in_colour_what_an_activation_did_is_a_success(tmp_path, palette):
    audiences = tmp_path / "audiences.yaml"
    audiences.write_text(
        "audiences: [{id: a, all: [{did: buy}]}]\n"
        "activations:\n"
        "  - {name: shop, client_id: c, client_secret: s, base_url: 'http://127.0.0.1:9/cdp/webhook',\n"
        "     segment_group_identifier: g, audiences: []}\n"
    )
    args = ("activate", "--data", str(tmp_path), "--audiences", str(audiences))
    plain, _ = command_output("cdp_sandbox", *args)
    assert plain == "Activation shop: nothing changed since the last sync: nothing sent\n"
    coloured, _ = command_output("cdp_sandbox", *args, force_color=True)
    assert coloured == palette.SUCCESS(plain.rstrip("\n")) + "\n"
