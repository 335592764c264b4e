"""The JSON-LD context ``Link`` header (ETSI GS CIM 009 V1.8.1, 6.3.5; JSON-LD 1.1, 6.1)."""

from __future__ import annotations

import re

from mims_shared.errors import BadRequestData

JSONLD_CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
_LINK = re.compile(r"^\s*<([^>]*)>\s*(;.*)?$")


def context_from_link(header: str | None) -> str | None:
    """The @context URL of a ``Link`` header, or None when the header names none."""
    if not header:
        return None
    found: list[str] = []
    for part in _split_links(header):
        match = _LINK.match(part)
        if match is None:
            raise BadRequestData(f"The Link header is not valid: {part[:200]}")
        params = (match[2] or "").lower()
        if "rel" in params and JSONLD_CONTEXT_REL in params:
            found.append(match[1].strip())
    if len(found) > 1:
        raise BadRequestData("The Link header names more than one JSON-LD @context")
    if found and not found[0]:
        raise BadRequestData("The Link header names an empty @context URL")
    return found[0] if found else None


def _split_links(header: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in header:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth = max(0, depth - 1)
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def link_header(url: str) -> str:
    return f'<{url}>; rel="{JSONLD_CONTEXT_REL}"; type="application/ld+json"'


def page_links(path: str, offset: int, limit: int, total: int) -> list[str]:
    """The ``prev`` and ``next`` links of a page of a paginated result (6.3.10)."""
    links = []
    if offset > 0 and limit > 0:
        before = max(0, offset - limit)
        links.append(
            f'<{path}?limit={limit}&offset={before}>; rel="prev"; type="application/ld+json"'
        )
    if limit > 0 and offset + limit < total:
        links.append(
            f'<{path}?limit={limit}&offset={offset + limit}>; rel="next"; '
            'type="application/ld+json"'
        )
    return links
