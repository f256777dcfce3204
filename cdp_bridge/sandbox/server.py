"""Running a sandbox: bind, serve on a thread, activate periodically, stop cleanly."""

from __future__ import annotations

import errno
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from django.utils.translation import gettext as _

from cdp_bridge.sandbox.activation import ActivationFailed, activate_all
from cdp_bridge.sandbox.app import SandboxApp
from cdp_bridge.sandbox.audience_file import AudienceFileInvalid, read_audience_file
from cdp_bridge.sandbox.audiences import AudienceSource
from cdp_bridge.sandbox.faults import Faults
from cdp_bridge.sandbox.http import SandboxHTTPServer
from cdp_bridge.sandbox.store import Store

DEFAULT_ADDRESS = ("127.0.0.1", 8765)
DEFAULT_DATA = Path("var/cdp_sandbox")
AUDIENCE_FILE_SETTING = "audience_file"


class SandboxError(Exception):
    """The sandbox cannot start or do what was asked; the message says what to do."""


def parse_addrport(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[IPv6]:PORT``, ``PORT`` or ``:PORT`` (on 127.0.0.1), as ``--addrport``
    takes it; SandboxError says what is wrong with it."""
    host, _colon, port = text.rpartition(":")
    bracketed = len(host) > 2 and host.startswith("[") and host.endswith("]")
    if bracketed:
        host = host[1:-1]
    # An IPv6 address needs its brackets, or its last group would be read as the port.
    plain_host = not any(mark in host for mark in "[]:")
    if not (port.isascii() and port.isdigit() and (bracketed or plain_host)):
        raise SandboxError(
            _("--addrport %(given)s: write HOST:PORT (127.0.0.1:8765, or [::1]:8765 for IPv6).")
            % {"given": repr(text)}
        )
    if int(port) > 65535:
        raise SandboxError(
            _("--addrport %(given)s: a port is a number from 0 to 65535.") % {"given": repr(text)}
        )
    return host or DEFAULT_ADDRESS[0], int(port)


def open_store(data: Path) -> Store:
    """The sandbox's state under ``data``; SandboxError if the directory cannot hold it."""
    try:
        return Store(data)
    except (OSError, sqlite3.Error) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise SandboxError(
            _(
                "The sandbox's state directory %(directory)s cannot be used (%(reason)s): "
                "choose another with --data."
            )
            % {"directory": data, "reason": reason}
        ) from None


class Sandbox:
    """A sandbox bound to an address, its state under ``data``; ``start()`` serves on a thread."""

    def __init__(
        self,
        data: Path = DEFAULT_DATA,
        audiences: Path | None = None,
        *,
        address: tuple[str, int] = DEFAULT_ADDRESS,
        faults: Faults | None = None,
        log: Callable[[str], None] = lambda line: None,
        activate_every: float | None = None,
    ) -> None:
        self.store = open_store(data)
        audiences = audiences or audience_file_of(self.store)
        if audiences is not None:
            audiences = audiences.resolve()
            try:
                read_audience_file(audiences)
            except AudienceFileInvalid as error:
                self.store.close()
                raise SandboxError(_first(error)) from None
            self.store.set_setting(AUDIENCE_FILE_SETTING, str(audiences))
        self.audiences = AudienceSource(audiences, log)
        self.log = log
        self.app = SandboxApp(self.store, self.audiences, faults, log)
        self.activate_every = activate_every
        self.stopping = threading.Event()
        try:
            self.http = SandboxHTTPServer(address, self.app)
        except OSError as error:
            self.store.close()
            host, port = address
            if error.errno == errno.EADDRINUSE:
                raise SandboxError(
                    _(
                        "Port %(port)s on %(host)s is already in use (another cdp_sandbox, or "
                        "the site?): stop that, or choose another port with --addrport."
                    )
                    % {"port": port, "host": host}
                ) from None
            where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            reason = error.strerror or str(error)
            raise SandboxError(
                _("Cannot listen on %(where)s: %(reason)s.") % {"where": where, "reason": reason}
            ) from None
        self.threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        address, port = self.http.server_address[:2]
        host = str(address)
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> Sandbox:
        serving = threading.Thread(
            target=self.http.serve_forever, args=(0.05,), name="cdp-sandbox", daemon=True
        )
        serving.start()
        self.threads.append(serving)
        if self.activate_every:
            timer = threading.Thread(target=self._activate_periodically, daemon=True)
            timer.start()
            self.threads.append(timer)
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.http.shutdown()
        self.http.server_close()
        for thread in self.threads:
            thread.join(10)
        self.store.close()

    def _activate_periodically(self) -> None:
        assert self.activate_every
        while not self.stopping.wait(self.activate_every):
            with self.app.activation_lock:
                try:
                    for report in activate_all(self.store, self.audiences.get()):
                        self.log(f"Activation {report.name}: {', '.join(report.lines)}")
                except ActivationFailed as error:
                    self.log(str(error))


def audience_file_of(store: Store) -> Path | None:
    """The audience file the sandbox with this state was last started with."""
    recorded = store.setting(AUDIENCE_FILE_SETTING)
    return Path(recorded) if recorded else None


def _first(error: AudienceFileInvalid) -> str:
    more = len(error.problems) - 1
    return str(error.problems[0]) + (f" ({more} more problems)" if more > 0 else "")
