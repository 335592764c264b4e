"""List queries: paging, ``fields`` and attribute filters (TMF630 REST API Design Guidelines
part 1, 3.3 "Filtering", 3.4 "Attribute selection", 3.5 "Pagination").

A filter is every query parameter that is not one of the reserved names:
``name=Parking`` (equality), ``lifecycleStatus=Launched,Active`` (any of the values),
``category.id=42`` (a member of a member; arrays on the way match any element) and the
operators ``.gt .gte .lt .lte .ne`` appended to the name (``lastUpdate.gt=2026-01-01``).
An equality filter on the kind's status member (``lifecycleStatus``, ``state``,
``status``) becomes a bound list for an indexed column; one equality on the id of a
referenced entity (``category.id=cat-4``) a bound term of the index of reference terms;
all other filters together compile to one SQL/JSON path predicate that the database
evaluates with ``resource @@ predicate`` (GIN-indexed for equality); values are JSON
literals in it, never SQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

RESERVED = frozenset({"fields", "offset", "limit"})
UNSUPPORTED = frozenset({"sort", "depth", "expand", "filter"})
_SEGMENT = re.compile(r"^[A-Za-z@_][A-Za-z0-9@_\-]{0,99}$")
_OPERATORS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "ne": "!="}
_NUMBER = re.compile(r"^-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,15})?$")
MAX_FILTERS = 20
MAX_VALUES = 50


class QueryError(ValueError):
    """The query string cannot be understood; the message says why."""


@dataclass(frozen=True)
class Condition:
    path: tuple[str, ...]
    operator: str  # one of == > >= < <= !=
    values: tuple[str, ...]


def parse_filters(params: Iterable[tuple[str, str]]) -> list[Condition]:
    """The filter conditions among the query parameters (reserved names are skipped)."""
    conditions: list[Condition] = []
    for name, raw in params:
        if name in RESERVED:
            continue
        if name in UNSUPPORTED:
            raise QueryError(f"The query parameter {name} is not supported")
        parts = name.split(".")
        operator = "=="
        if len(parts) > 1 and parts[-1] in _OPERATORS:
            operator = _OPERATORS[parts.pop()]
        if not parts or not all(_SEGMENT.match(p) for p in parts) or len(parts) > 8:
            raise QueryError(f"The query parameter {name!r} is not an attribute name")
        values = tuple(v for v in raw.split(",")) if operator == "==" else (raw,)
        if len(values) > MAX_VALUES:
            raise QueryError(f"The filter on {name} lists more than {MAX_VALUES} values")
        if any("\x00" in v for v in values):
            raise QueryError(f"The filter on {name} contains a NUL character")
        conditions.append(Condition(tuple(parts), operator, values))
    if len(conditions) > MAX_FILTERS:
        raise QueryError(f"At most {MAX_FILTERS} attribute filters are allowed")
    return conditions


def _literals(value: str) -> list[str]:
    """The JSON literals a query value may stand for: always the string; also the number
    or boolean it spells (query strings carry no types)."""
    found = [json.dumps(value)]
    if _NUMBER.match(value) or value in ("true", "false"):
        found.append(value)
    return found


def split_status(
    conditions: list[Condition], status_member: str | None
) -> tuple[list[str] | None, list[Condition]]:
    """The values an equality filter on the kind's status member asks for (``None``: no
    such filter), and the other conditions. The status is a column of its own."""
    statuses: list[str] | None = None
    rest: list[Condition] = []
    for cond in conditions:
        if status_member and cond.path == (status_member,) and cond.operator == "==":
            values = list(cond.values)
            statuses = values if statuses is None else [v for v in statuses if v in values]
        else:
            rest.append(cond)
    return statuses, rest


def split_reference(conditions: list[Condition]) -> tuple[str | None, list[Condition]]:
    """The first equality on one string id of a referenced entity (``category.id=cat-4``)
    as a reference term (``"category.id=cat-4"``, kept in an index of its own), and the
    other conditions (``None``: no such filter).

    A value that also spells a number or a boolean stays in the path predicate, which
    matches those too; terms hold string ids only.
    """
    for i, cond in enumerate(conditions):
        if (
            len(cond.path) == 2
            and cond.path[1] == "id"
            and cond.operator == "=="
            and len(cond.values) == 1
            and len(_literals(cond.values[0])) == 1
        ):
            return f"{cond.path[0]}.id={cond.values[0]}", conditions[:i] + conditions[i + 1 :]
    return None, conditions


def to_jsonpath(conditions: list[Condition]) -> str | None:
    """One SQL/JSON path predicate for all ``conditions`` (``None`` when there are none).

    Paths are lax, so ``$."category"."id"`` looks into every element of ``category``.
    """
    if not conditions:
        return None
    clauses = []
    for cond in conditions:
        path = "$" + "".join("." + json.dumps(p) for p in cond.path)
        alternatives = [
            f"{path} {cond.operator} {literal}"
            for value in cond.values
            for literal in _literals(value)
        ]
        clauses.append("(" + " || ".join(alternatives) + ")")
    return " && ".join(clauses)
