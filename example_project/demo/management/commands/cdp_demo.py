from typing import Any

from django.core.management.base import BaseCommand, CommandError

from demo.loop import LoopFailed, run_loop


class Command(BaseCommand):
    help = (
        "Run the whole CDP loop on this site against a local CDP sandbox: export, audiences, "
        "activation, and the home page a member then sees (README)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            run_loop(self.stdout.write)
        except LoopFailed as error:
            raise CommandError(str(error)) from None
