"""Masking of secrets (stream ids, client secrets, API keys) before they reach a log or an error."""


def mask_secret(value: str | None) -> str:
    """Show only the first and last four characters: ``0000…0000``.

    Short values are masked whole, so that a masked secret never reveals most of itself.
    """
    if not value:
        return ""
    if len(value) < 12:
        return "…"
    return f"{value[:4]}…{value[-4:]}"
