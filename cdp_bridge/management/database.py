"""What a command says when the database refuses: one line, the same in every command."""

from __future__ import annotations

from django.utils.translation import gettext as _


def database_refused(error: BaseException) -> str:
    """The line for a database error: what it said, and the two things to check.

    Only the error's first line is kept: PostgreSQL adds the statement and a caret below it.
    """
    reason = (str(error).strip().splitlines() or [""])[0].rstrip(".")
    if reason:
        return _(
            "The database refused: %(reason)s. Check that it is reachable, and run manage.py "
            "migrate if the cdp_bridge tables are missing."
        ) % {"reason": reason}
    return _(
        "The database refused. Check that it is reachable, and run manage.py migrate if the "
        "cdp_bridge tables are missing."
    )
