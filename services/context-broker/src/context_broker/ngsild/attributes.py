"""Attributes as written: normalized or concise, checked and turned into stored instances.

ETSI GS CIM 009 V1.8.1: 4.5 (the attribute kinds and their members), 4.5.5 (multi-attributes
by ``datasetId``), 4.7 (GeoJSON geometries), 5.2.4 and 4.5.1 (concise representation: the
kind is inferred from the members present). The functions here are pure: names are expanded
elsewhere, time stamps are given by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from context_broker.ngsild.ids import is_uri, is_valid_name
from mims_shared.errors import BadRequestData

#: Attribute kind -> the member holding its value.
VALUE_MEMBER = {
    "Property": "value",
    "GeoProperty": "value",
    "Relationship": "object",
    "LanguageProperty": "languageMap",
    "VocabProperty": "vocab",
    "JsonProperty": "json",
    "ListProperty": "valueList",
    "ListRelationship": "objectList",
}
#: In concise form the value member tells the kind (the first match wins).
_KIND_BY_MEMBER = [
    ("object", "Relationship"),
    ("objectList", "ListRelationship"),
    ("languageMap", "LanguageProperty"),
    ("vocab", "VocabProperty"),
    ("json", "JsonProperty"),
    ("valueList", "ListProperty"),
    ("value", "Property"),
]
#: Members of an attribute instance that are not sub-attributes.
INSTANCE_MEMBERS = frozenset(
    {
        "type",
        "value",
        "object",
        "objectList",
        "languageMap",
        "vocab",
        "json",
        "valueList",
        "observedAt",
        "unitCode",
        "datasetId",
        "createdAt",
        "modifiedAt",
        "deletedAt",
        "objectType",
        "lang",
        "instanceId",
        "previousValue",
        "previousObject",
        "previousLanguageMap",
        "previousVocab",
        "previousJson",
        "previousValueList",
        "previousObjectList",
        "@context",
    }
)
#: Members the broker sets itself; a client's are ignored.
SYSTEM_MEMBERS = ("createdAt", "modifiedAt", "deletedAt", "instanceId")
_SYSTEM = frozenset(SYSTEM_MEMBERS)
#: The stamps of an instance: history keeps them in columns, and a document written whole
#: leaves them to its row's ``stamped`` (:func:`fill_stamps`).
STAMP_MEMBERS = frozenset({"createdAt", "modifiedAt"})

GEOMETRY_TYPES = frozenset(
    {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"}
)
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$")


def _bad(entity_id: str, name: str, why: str) -> BadRequestData:
    return BadRequestData(f"Attribute {name} of entity {entity_id} {why}")


def is_position(value: Any) -> bool:
    """A GeoJSON position: [longitude, latitude] or with an altitude, numbers (not bools)."""
    if not isinstance(value, list) or not 2 <= len(value) <= 3:
        return False
    for c in value:  # noqa: SIM110 (a loop, not all(<generator>): runs for every position)
        if not isinstance(c, _NUMBER) or c.__class__ is bool:
            return False
    return True


_NUMBER = (int, float)


def _ring(value: Any, closed: bool) -> bool:
    if not isinstance(value, list) or not all(is_position(p) for p in value):
        return False
    if closed:
        return len(value) >= 4 and value[0] == value[-1]
    return len(value) >= 2


def geometry_problem(value: Any) -> str | None:
    """Why ``value`` is not a GeoJSON geometry NGSI-LD accepts (RFC 7946), or None."""
    if not isinstance(value, dict):
        return "is not a GeoJSON geometry object"
    kind, coords = value.get("type"), value.get("coordinates")
    if kind not in GEOMETRY_TYPES:
        return f"has an unsupported geometry type {str(kind)[:40]!r}"
    if not _COORDINATES_OK[kind](coords):
        return f"has invalid coordinates for a {kind}"
    positions: list[Any] = [coords] if kind == "Point" else _positions(coords)
    for pos in positions:
        lon, lat = pos[0], pos[1]
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            return "has coordinates outside longitude -180..180 / latitude -90..90"
    return None


#: Geometry type -> whether its ``coordinates`` have the shape RFC 7946 gives it.
_COORDINATES_OK: dict[str, Callable[[Any], bool]] = {
    "Point": is_position,
    "MultiPoint": lambda c: isinstance(c, list) and all(is_position(p) for p in c),
    "LineString": lambda c: _ring(c, closed=False),
    "MultiLineString": lambda c: isinstance(c, list) and all(_ring(r, False) for r in c),
    "Polygon": lambda c: isinstance(c, list) and len(c) >= 1 and all(_ring(r, True) for r in c),
    "MultiPolygon": lambda c: (
        isinstance(c, list)
        and all(isinstance(p, list) and len(p) >= 1 and all(_ring(r, True) for r in p) for p in c)
    ),
}


def _positions(coords: Any) -> list[list[float]]:
    if is_position(coords):
        return [coords]
    out: list[list[float]] = []
    for c in coords:
        out.extend(_positions(c))
    return out


def is_datetime(value: Any) -> bool:
    """An ISO 8601 date and time with a zone offset that exists (no 30 February)."""
    if not isinstance(value, str) or not _DATETIME.match(value):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _relationship_problem(value: Any) -> str | None:
    if is_uri(value) or (isinstance(value, list) and value and all(is_uri(v) for v in value)):
        return None
    return "is a Relationship whose object is not a URI"


def _list_relationship_problem(value: Any) -> str | None:
    if isinstance(value, list) and all(
        is_uri(v) or (isinstance(v, dict) and is_uri(v.get("object"))) for v in value
    ):
        return None
    return "is a ListRelationship whose objectList is not a list of URIs"


def _language_problem(value: Any) -> str | None:
    if (
        isinstance(value, dict)
        and value
        and all(isinstance(k, str) and isinstance(v, str | list) for k, v in value.items())
    ):
        return None
    return "is a LanguageProperty whose languageMap is not a map of language tags to strings"


def _vocab_problem(value: Any) -> str | None:
    if isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(v, str) for v in value)
    ):
        return None
    return "is a VocabProperty whose vocab is not a term"


def _list_problem(value: Any) -> str | None:
    return None if isinstance(value, list) else "is a ListProperty whose valueList is not a list"


#: Attribute type -> why its value member is not what the kind needs (None: it is); a
#: Property's and a JsonProperty's value may be anything.
_KIND_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "Relationship": _relationship_problem,
    "ListRelationship": _list_relationship_problem,
    "GeoProperty": geometry_problem,
    "LanguageProperty": _language_problem,
    "VocabProperty": _vocab_problem,
    "ListProperty": _list_problem,
}
#: Members of an instance that need no check of their own (the value member is checked by
#: its kind): an instance with only these has nothing more to check, drop or walk.
_UNCHECKED_MEMBERS = INSTANCE_MEMBERS - {"observedAt", "unitCode", "datasetId"} - _SYSTEM


def instance_from(
    entity_id: str,
    name: str,
    raw: Any,
    *,
    depth: int = 0,
    now: str | None = None,
    implicit: bool = False,
    finish: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One attribute instance in normalized form, from normalized or concise input.

    Sub-attributes are checked the same way (their names are not expanded here). With
    ``now``, the instance and its sub-attributes are stamped as :func:`stamp` does, but
    with ``implicit`` an instance without sub-attributes is left without its stamps, whose
    value is then ``now`` (:func:`fill_stamps`; the whole writes of entities/service.py);
    with ``finish``, an instance that holds sub-attributes or has a ``vocab`` (the ones with
    names or terms to expand) is passed through it: one walk of the instance, where a
    check, a stamp and an expansion each looked at its members again.
    """
    if depth > 4:
        raise _bad(entity_id, name, "nests sub-attributes deeper than 4 levels")
    if isinstance(raw, dict):
        kind = raw.get("type")
        if kind.__class__ is str and kind in VALUE_MEMBER:
            inst = dict(raw)
        elif "type" not in raw:
            found = next((k for m, k in _KIND_BY_MEMBER if m in raw), None)
            # A JSON object without any value member is a Property whose value is the object.
            inst = {"type": "Property", "value": raw} if found is None else {"type": found, **raw}
        elif not isinstance(kind, str):
            raise _bad(entity_id, name, "has a type that is not a string")
        elif kind in GEOMETRY_TYPES and "coordinates" in raw:
            inst = {"type": "GeoProperty", "value": raw}  # concise GeoProperty
        else:
            raise _bad(entity_id, name, f"has an unknown attribute type {kind[:40]!r}")
    else:
        if raw is None:
            raise _bad(entity_id, name, "has a null value")
        inst = {"type": "Property", "value": raw}

    kind = inst["type"]
    member = VALUE_MEMBER[kind]
    value = inst.get(member)
    if value is None:
        raise _bad(entity_id, name, f"is a {kind} without its {member!r}")
    check = _KIND_CHECKS.get(kind)
    if check is not None:
        problem = check(value)
        if problem:
            raise _bad(entity_id, name, problem)
    if not inst.keys() <= _UNCHECKED_MEMBERS:  # most instances have nothing more to check
        if "observedAt" in inst and not is_datetime(inst["observedAt"]):
            raise _bad(entity_id, name, "has an observedAt that is not a DateTime")
        if "unitCode" in inst and not isinstance(inst["unitCode"], str):
            raise _bad(entity_id, name, "has a unitCode that is not a string")
        if "datasetId" in inst and not is_uri(inst["datasetId"]):
            raise _bad(entity_id, name, "has a datasetId that is not a URI")
        if not _SYSTEM.isdisjoint(inst):
            for system in SYSTEM_MEMBERS:
                inst.pop(system, None)
    plain = inst.keys() <= INSTANCE_MEMBERS  # no sub-attribute: nothing to walk
    if now is not None and not (plain and implicit):
        inst["createdAt"] = now
        inst["modifiedAt"] = now
    if plain:
        return inst if finish is None or "vocab" not in inst else finish(inst)
    for key in list(inst):
        if key in INSTANCE_MEMBERS:
            continue
        if not is_valid_name(key):
            raise _bad(entity_id, name, f"has a sub-attribute with a forbidden name: {key!r}")
        inst[key] = instance_from(entity_id, f"{name}.{key}", inst[key], depth=depth + 1, now=now)
    return inst if finish is None else finish(inst)


def instances_from(
    entity_id: str,
    name: str,
    raw: Any,
    *,
    now: str | None = None,
    implicit: bool = False,
    finish: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """All instances of an attribute (an array is a multi-attribute, 4.5.5); at most one
    instance per ``datasetId`` (the default instance has none). ``now``, ``implicit`` and
    ``finish``: as :func:`instance_from`."""
    items = (
        raw
        if isinstance(raw, list)
        and raw
        and all(isinstance(i, dict) for i in raw)
        and any("type" in i or "value" in i or "object" in i for i in raw)
        else [raw]
    )
    if items is not raw:  # one instance: no datasetId can repeat
        return [instance_from(entity_id, name, raw, now=now, implicit=implicit, finish=finish)]
    out: list[dict[str, Any]] = []
    seen: set[str | None] = set()
    for item in items:
        inst = instance_from(entity_id, name, item, now=now, implicit=implicit, finish=finish)
        ds = inst.get("datasetId")
        if ds in seen:
            which = f"datasetId {ds}" if ds else "the default instance (no datasetId)"
            raise _bad(entity_id, name, f"has two instances with {which}")
        seen.add(ds)
        out.append(inst)
    return out


def stamp(inst: dict[str, Any], now: str, created: str | None = None) -> dict[str, Any]:
    """Set the system members of an instance (and of its sub-attributes)."""
    inst["createdAt"] = created or now
    inst["modifiedAt"] = now
    if inst.keys() <= INSTANCE_MEMBERS:
        return inst
    for key, value in inst.items():
        if key not in INSTANCE_MEMBERS and isinstance(value, dict):
            stamp(value, now, created)
    return inst


def fill_stamps(attrs: dict[str, Any], stamped: str | None) -> dict[str, Any]:
    """Give every instance of ``attrs`` that has no stamps of its own ``stamped`` as its
    createdAt and modifiedAt, in place (as read from a row whose ``stamped`` is set:
    migrations/0014_implicit_stamps.sql; None: every instance has its own). Only instances
    without sub-attributes are ever stored without them, so their sub-attributes need no
    walk."""
    if stamped is not None:
        for value in attrs.values():
            for inst in value if value.__class__ is list else (value,):
                if "modifiedAt" not in inst:
                    inst["createdAt"] = stamped
                    inst["modifiedAt"] = stamped
    return attrs


def stored(instances: list[dict[str, Any]]) -> dict[str, Any] | list[dict[str, Any]]:
    """How an attribute is stored: one object when it has one instance, else the array."""
    return instances[0] if len(instances) == 1 else instances


def as_list(stored_value: Any) -> list[dict[str, Any]]:
    return stored_value if isinstance(stored_value, list) else [stored_value]
