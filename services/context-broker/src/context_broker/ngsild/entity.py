"""The shape of an entity as written (ETSI GS CIM 009 V1.8.1, clauses 4.5 and 5.6.1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from context_broker.ngsild.ids import is_uri, is_valid_name
from mims_shared.errors import BadRequestData

#: Members of an entity that are not attributes.
CORE_MEMBERS = frozenset(
    {"id", "type", "@context", "scope", "createdAt", "modifiedAt", "deletedAt", "@id", "@type"}
)


@dataclass(frozen=True, slots=True)
class EntityInput:
    id: str
    types: list[str]
    attrs: dict[str, Any]
    context: Any


def parse_entity(body: Any, *, context_in_body: bool) -> EntityInput:
    """Check id, type and attribute names of an entity body; the parts, or BadRequestData.

    ``context_in_body`` is True for ``application/ld+json``, where ``@context`` is required
    in the body (6.3.5); for ``application/json`` it must not be there.
    """
    if not isinstance(body, dict):
        raise BadRequestData("An entity must be a JSON object")
    eid = body.get("id", body.get("@id"))
    if eid is None:
        raise BadRequestData("The entity has no id")
    if not is_uri(eid):
        raise BadRequestData(f"The entity id {str(eid)[:200]!r} is not a URI")
    raw_type = body.get("type", body.get("@type"))
    types = [raw_type] if isinstance(raw_type, str) else raw_type
    if not types or not isinstance(types, list) or not all(is_valid_name(t) for t in types):
        raise BadRequestData(f"Entity {eid} has no valid type")
    if context_in_body and "@context" not in body:
        raise BadRequestData("A body sent as application/ld+json must carry its @context")
    if not context_in_body and "@context" in body:
        raise BadRequestData(
            "A body sent as application/json must not carry @context; "
            "send it in a Link header or use application/ld+json"
        )
    attrs = {k: v for k, v in body.items() if k not in CORE_MEMBERS}
    for name in attrs:
        if not is_valid_name(name):
            raise BadRequestData(f"Entity {eid} has an attribute with a forbidden name: {name!r}")
    return EntityInput(eid, list(dict.fromkeys(types)), attrs, body.get("@context"))
