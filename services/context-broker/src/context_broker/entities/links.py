"""Linked Entity Retrieval (ETSI GS CIM 009 V1.8.1, 4.5.23; ``join`` and ``joinLevel`` of
Retrieve Entity 5.7.1 and Query Entities 5.7.2).

``join=inline`` adds the target of each Relationship as an ``entity`` member (an
``entityList`` member for a ListRelationship; in the simplified representation the target
replaces the relationship's value); ``join=flat`` returns the targets as further top-level
entities, each once. Targets are followed ``joinLevel`` times; a target that does not exist in
the tenant is left as it is. A ``pick``/``omit`` projection with braces (4.21) projects the
linked entities. The targets of one level are fetched together (``fetch``); the entities are
rendered by the caller (``render``), so this module holds no SQL and no representation rules.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from context_broker.entities.repository import StoredEntity
from context_broker.ngsild.attributes import as_list
from context_broker.ngsild.representation import Format, ProjectionTree, dataset_map
from mims_shared.errors import BadRequestData

JoinMode = Literal["inline", "flat"]
MAX_JOIN_LEVEL = 10
_RELATIONSHIPS = ("Relationship", "ListRelationship")

Fetch = Callable[[list[str]], Awaitable[dict[str, StoredEntity]]]
#: The entity rendered as the reader asked, with this pick or omit projection (or neither).
Render = Callable[[StoredEntity, ProjectionTree | None, ProjectionTree | None], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Join:
    """A join asked for: how, how deep, and the projections of the linked entities."""

    mode: JoinMode
    level: int = 1
    pick: ProjectionTree | None = None
    omit: ProjectionTree | None = None


def parse_join(
    join: Any,
    join_level: Any,
    pick: ProjectionTree | None = None,
    omit: ProjectionTree | None = None,
) -> Join | None:
    """The join of the ``join`` and ``joinLevel`` parameters (None: no join, ``@none``)."""
    level = 1
    if join_level is not None:
        text = str(join_level) if isinstance(join_level, str | int) else ""
        if (
            isinstance(join_level, bool)
            or not text.isdigit()
            or not 1 <= int(text) <= MAX_JOIN_LEVEL
        ):
            raise BadRequestData(
                f"joinLevel must be an integer from 1 to {MAX_JOIN_LEVEL}, "
                f"not {str(join_level)[:40]!r}"
            )
        level = int(text)
    if join is None or join == "@none":
        return None
    if join not in ("inline", "flat"):
        raise BadRequestData(f"join must be inline, flat or @none, not {str(join)[:40]!r}")
    return Join(join, level, pick, omit)


def omitted(tree: ProjectionTree) -> frozenset[str]:
    """The names an ``omit`` projection drops: a name with braces is kept, only its linked
    entity is projected (4.21)."""
    return frozenset(name for name, nested in tree.items() if not nested)


@dataclass(slots=True)
class _Node:
    stored: StoredEntity
    out: dict[str, Any]
    pick: ProjectionTree | None
    omit: ProjectionTree | None


def _ids(value: Any) -> Iterator[str]:
    """The entity ids in a relationship value as rendered (any representation)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _ids(item)
    elif isinstance(value, dict):
        datasets = dataset_map(value)
        if datasets is not None:
            for item in datasets.values():
                yield from _ids(item)
        for member in ("object", "objectList"):
            if member in value:
                yield from _ids(value[member])


def _relationship_names(e: StoredEntity, compact: Callable[[str], str]) -> set[str]:
    return {
        compact(iri)
        for iri, value in e.attrs.items()
        if any(isinstance(i, dict) and i.get("type") in _RELATIONSHIPS for i in as_list(value))
    }


def _links(node: _Node, compact: Callable[[str], str]) -> Iterator[tuple[str, list[str]]]:
    """(name, target ids) of each relationship left in the rendered entity."""
    for name in _relationship_names(node.stored, compact):
        if name in node.out:
            yield name, list(dict.fromkeys(_ids(node.out[name])))


def _embed(out: dict[str, Any], name: str, linked: dict[str, dict[str, Any]], fmt: Format) -> None:
    """The linked entities put inline into the relationship ``name`` of ``out``."""
    if fmt == "simplified":

        def swap(value: Any) -> Any:
            if isinstance(value, str):
                return linked.get(value, value)
            if isinstance(value, list):
                return [swap(v) for v in value]
            datasets = dataset_map(value)
            if datasets is not None:
                return {"dataset": {k: swap(v) for k, v in datasets.items()}}
            return value

        out[name] = swap(out[name])
        return
    for inst in as_list(out[name]):
        if not isinstance(inst, dict):
            continue
        obj = inst.get("object")
        if isinstance(obj, str) and obj in linked:
            inst["entity"] = linked[obj]
        elif isinstance(obj, list):
            found = [linked[o] for o in obj if isinstance(o, str) and o in linked]
            if found:
                inst["entity"] = found
        items = inst.get("objectList")
        if isinstance(items, list):
            found = [linked[i] for i in _ids(items) if i in linked]
            if found:
                inst["entityList"] = found


def _sub(tree: ProjectionTree | None, name: str) -> ProjectionTree | None:
    return (tree.get(name) or None) if tree is not None else None


async def join_entities(
    roots: list[tuple[StoredEntity, dict[str, Any]]],
    join: Join,
    fmt: Format,
    fetch: Fetch,
    render: Render,
    compact: Callable[[str], str],
) -> list[dict[str, Any]]:
    """Follow the relationships of the rendered ``roots`` (changed in place for inline);
    the linked entities to add at top level (flat; none for inline), in level order."""
    frontier = [_Node(e, out, join.pick, join.omit) for e, out in roots]
    seen = {node.stored.id for node in frontier}
    known: dict[str, StoredEntity] = {}
    missing: set[str] = set()
    extra: list[dict[str, Any]] = []
    for _ in range(join.level):
        links = [
            (node, name, targets) for node in frontier for name, targets in _links(node, compact)
        ]
        wanted = list(
            dict.fromkeys(
                t for _, _, ts in links for t in ts if t not in known and t not in missing
            )
        )
        if wanted:
            found = await fetch(wanted)
            known.update(found)
            missing.update(t for t in wanted if t not in found)
        frontier = []
        for node, name, targets in links:
            pick, omit = _sub(node.pick, name), _sub(node.omit, name)
            linked: dict[str, dict[str, Any]] = {}
            for target in targets:
                if target not in known or (join.mode == "flat" and target in seen):
                    continue
                seen.add(target)
                out = render(known[target], pick, omit)
                if not out:
                    continue
                linked[target] = out
                frontier.append(_Node(known[target], out, pick, omit))
                if join.mode == "flat":
                    extra.append(out)
            if join.mode == "inline" and linked:
                _embed(node.out, name, linked, fmt)
        if not frontier:
            break
    return extra
