"""Attribute selection with ``fields`` (TMF630 REST API Design Guidelines, part 1, 3.4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: Always returned, whatever ``fields`` asks for.
ALWAYS = ("id", "href", "@type")

Selector = Callable[[dict[str, Any]], dict[str, Any]]


def selector(fields: str | None) -> Selector:
    """What ``fields`` selects, parsed once for a whole page: a function reducing a resource
    to the comma-separated first-level ``fields`` (plus id, href, @type).

    ``fields=none`` keeps only the mandatory members; no ``fields`` keeps everything.
    """
    if fields is None or not fields.strip():
        return _everything
    wanted = {f.strip() for f in fields.split(",") if f.strip()}
    if wanted == {"none"}:
        wanted = set()
    wanted.update(ALWAYS)
    return lambda resource: {k: v for k, v in resource.items() if k in wanted}


def _everything(resource: dict[str, Any]) -> dict[str, Any]:
    return resource


def select_fields(resource: dict[str, Any], fields: str | None) -> dict[str, Any]:
    """One resource reduced as :func:`selector` says."""
    return selector(fields)(resource)
