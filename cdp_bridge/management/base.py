"""The base of cdp_bridge's commands: their help, translated in the command's language."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.management.base import BaseCommand, CommandParser

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise as StrPromise


class TranslatedCommand(BaseCommand):
    """A command whose ``help`` is a ``gettext_lazy`` text.

    argparse reads the description with ``re``, which needs text: it is translated when the
    parser is made, in the language the command runs in (``LANGUAGE_CODE``).
    """

    help: str | StrPromise = ""  # type: ignore[assignment]  # Django declares it str

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        if parser.description is not None:
            parser.description = str(parser.description)
        return parser
