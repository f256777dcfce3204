"""``manage.py cdp_sandbox``: a local CDP to develop against; ``cdp_sandbox activate [NAME]``."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cdp_bridge.management.base import TranslatedCommand
from cdp_bridge.sandbox.activation import ActivationFailed, activate_all
from cdp_bridge.sandbox.audience_file import AudienceFileInvalid, read_audience_file
from cdp_bridge.sandbox.faults import Faults, FaultSpecInvalid
from cdp_bridge.sandbox.server import (
    DEFAULT_DATA,
    Sandbox,
    SandboxError,
    audience_file_of,
    open_store,
    parse_addrport,
)


class Command(TranslatedCommand):
    help = gettext_lazy(
        "Serve a local stand-in for Raptor's CDP (Streaming API, tracking, audiences, "
        "activations, membership API, web UI) until Ctrl-C; or, with 'activate [NAME]', run "
        "the activations of the audience file once."
    )
    requires_system_checks: list[str] = []  # the sandbox is not the site: its checks are its own

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", nargs="?", choices=["serve", "activate"], default="serve")
        parser.add_argument("name", nargs="?", help=_("activate: the activation (default: all)."))
        parser.add_argument("--addrport", default="127.0.0.1:8765", help=_("Where to listen."))
        parser.add_argument(
            "--data",
            type=Path,
            default=DEFAULT_DATA,
            help=_("State directory (%(directory)s).") % {"directory": DEFAULT_DATA},
        )
        parser.add_argument("--audiences", type=Path, help=_("The audience file (YAML)."))
        parser.add_argument(
            "--fail",
            default="",
            metavar="SHARES",
            help=_(
                "Failure injection on the Streaming API, e.g. 503:0.2,429:0.1,drop:0.05,slow:0.1"
            ),
        )
        parser.add_argument(
            "--retry-after", type=int, default=1, help=_("Seconds sent with 429/503.")
        )
        parser.add_argument("--slow-seconds", type=float, default=2.0, help=_("Delay of 'slow'."))
        parser.add_argument("--seed", type=int, help=_("Seed of the failure injection's draws."))
        parser.add_argument(
            "--activate-every", type=float, metavar="SECONDS", help=_("Activate periodically.")
        )
        parser.add_argument(
            "--base-url", help=_("activate: send to this webhook URL instead of the activation's.")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "activate":
            self.activate(options)
        else:
            if options["name"]:
                raise CommandError(
                    _("Unexpected argument %(argument)s.") % {"argument": repr(options["name"])}
                )
            self.serve(options)

    def serve(self, options: dict[str, Any]) -> None:
        try:
            address = parse_addrport(options["addrport"])
            faults = Faults.parse(
                options["fail"],
                retry_after=options["retry_after"],
                slow_seconds=options["slow_seconds"],
                seed=options["seed"],
            )
            sandbox = Sandbox(
                options["data"],
                options["audiences"],
                address=address,
                faults=faults,
                log=self.stdout.write,
                activate_every=options["activate_every"],
            ).start()
        except (SandboxError, FaultSpecInvalid) as error:
            raise CommandError(str(error)) from None
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        url = sandbox.url
        banner = _(
            "CDP sandbox at %(url)s/ (state in %(data)s, audiences from %(audiences)s; "
            "failures: %(failures)s).\nPoint the site at it: stream_base_url %(url)s, "
            "tracking.script_url %(url)s/tracking/raptor.js, tracking.server_url %(url)s, "
            "membership.base_url %(url)s.\nQuit with CONTROL-C."
        ) % {
            "url": url,
            "data": options["data"],
            "audiences": sandbox.audiences.path or _("no file"),
            "failures": faults.describe(),
        }
        self.stdout.write(self.style.SUCCESS(banner))
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        sandbox.stop()
        self.stdout.write(self.style.SUCCESS(_("CDP sandbox stopped.")))

    def activate(self, options: dict[str, Any]) -> None:
        try:
            store = open_store(options["data"])
        except SandboxError as error:
            raise CommandError(str(error)) from None
        try:
            path = options["audiences"] or audience_file_of(store)
            if path is None:
                raise CommandError(
                    _(
                        "No audience file: pass --audiences FILE (no sandbox was started with "
                        "--data %(data)s)."
                    )
                    % {"data": options["data"]}
                )
            try:
                audience_file = read_audience_file(path)
            except AudienceFileInvalid as error:
                raise CommandError(str(error.problems[0])) from None
            try:
                reports = activate_all(
                    store, audience_file, options["name"], base_url=options["base_url"]
                )
            except ActivationFailed as error:
                raise CommandError(str(error)) from None
        finally:
            store.close()
        for report in reports:
            for line in report.lines:
                self.stdout.write(
                    self.style.SUCCESS(
                        _("Activation %(name)s: %(line)s") % {"name": report.name, "line": line}
                    )
                )
