"""How the commands write a line they styled themselves."""

from __future__ import annotations


def as_styled(text: str) -> str:
    """The style of a line styled already (``stderr.write(style.WARNING(line), as_styled)``).

    Without it, standard error would colour the line again as an error on a terminal, and a
    style given to ``write()`` ends after the line's newline, at the start of the next line.
    """
    return text
