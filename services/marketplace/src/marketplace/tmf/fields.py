"""Attribute selection with ``fields`` (TMF630 REST API Design Guidelines, part 1, 3.4)."""

from __future__ import annotations

from typing import Any

#: Always returned, whatever ``fields`` asks for.
ALWAYS = ("id", "href", "@type")


def select_fields(resource: dict[str, Any], fields: str | None) -> dict[str, Any]:
    """The resource reduced to the comma-separated first-level ``fields`` (plus id, href, @type).

    ``fields=none`` keeps only the mandatory members; no ``fields`` keeps everything.
    """
    if fields is None or not fields.strip():
        return resource
    wanted = {f.strip() for f in fields.split(",") if f.strip()}
    if wanted == {"none"}:
        wanted = set()
    return {k: v for k, v in resource.items() if k in wanted or k in ALWAYS}
