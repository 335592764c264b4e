"""Readable messages from pydantic validation errors, for any error format."""

from __future__ import annotations

from pydantic import ValidationError


def describe_validation_error(subject: str, exc: ValidationError, limit: int = 5) -> str:
    """``Organization is not valid: name: Field required; @type: ...``."""
    parts = []
    for err in exc.errors()[:limit]:
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg']}" if where else err["msg"])
    more = len(exc.errors()) - limit
    if more > 0:
        parts.append(f"and {more} more")
    return f"{subject} is not valid: " + "; ".join(parts)
