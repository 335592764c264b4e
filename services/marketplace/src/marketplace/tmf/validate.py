"""Checking a TMF resource body against its kind (TMF630 part 1: ``@type``, polymorphism)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marketplace.tmf.kinds import (
    ARRAY,
    BOOLEAN,
    DATETIME,
    INTEGER,
    NUMBER,
    OBJECT,
    STRING,
    Kind,
)

MAX_STRING = 10_000


def _type_ok(value: Any, expected: str) -> bool:
    if expected == STRING:
        return isinstance(value, str) and len(value) <= MAX_STRING
    if expected == DATETIME:
        if not isinstance(value, str):
            return False
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
        return True
    if expected == BOOLEAN:
        return isinstance(value, bool)
    if expected == INTEGER:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected == OBJECT:
        return isinstance(value, dict)
    if expected == ARRAY:
        return isinstance(value, list)
    return True


def problems(kind: Kind, body: dict[str, Any], *, partial: bool) -> list[str]:
    """What is wrong with ``body`` as a create form (``partial=False``) or a merge patch.

    ``@type`` is required on create and names the kind or a subclass of it (then
    ``@baseType`` names the kind); members the server owns are refused; known members
    must have their JSON type; a status must be one of the kind's values. In a merge
    patch ``null`` removes a member, so it is allowed there except on required members.
    """
    found: list[str] = []
    if not partial:
        typ = body.get("@type")
        if typ is None:
            found.append("@type is required")
        elif typ != kind.type_name and body.get("@baseType") != kind.type_name:
            found.append(
                f"@type {typ!r} is not {kind.type_name} (a subclass must name it in @baseType)"
            )
        for name in kind.required:
            if body.get(name) is None:
                found.append(f"{name} is required")
    elif (
        "@type" in body
        and body["@type"] != kind.type_name
        and (body.get("@baseType") != kind.type_name)
    ):
        found.append(f"@type cannot change to {body['@type']!r}")
    for name in kind.read_only:
        if name in body:
            found.append(f"{name} is set by the server")
    for name, value in body.items():
        if value is None:
            if not partial or name in kind.required or name == "@type":
                found.append(f"null is not a value for {name}")
            continue
        expected = kind.members.get(name)
        if name in ("@type", "@baseType", "@schemaLocation"):
            expected = STRING
        if expected is not None and not _type_ok(value, expected):
            found.append(f"{name} must be a {expected}")
    status = body.get(kind.status_member) if kind.status_member else None
    if kind.statuses is not None and isinstance(status, str) and status not in kind.statuses:
        found.append(f"{kind.status_member} {status!r} is not one of {', '.join(kind.statuses)}")
    return found
