"""An update that tells the history trigger what it changes (ngsild/history.py, the
``mims.history_changes`` setting of migrations/0012_history_snapshots.sql) records exactly
what the trigger finds by comparing the rows itself.

Each case updates two copies of an entity from the same state to the same state, one told
and one not, on a real PostgreSQL, and compares what the history recorded for each.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
import pytest

from context_broker.entities import repository
from context_broker.entities.repository import StoredEntity
from context_broker.ngsild.history import SCOPE, changes, told
from context_broker.ngsild.temporal import iso
from mims_shared.db import libpq_url

E = "https://example.org/"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
#: The time of the updates: with microseconds, which the told rows must keep.
LATER = datetime(2026, 1, 1, 1, 0, 0, 123456, tzinfo=UTC)


def prop(value: Any, **more: Any) -> dict[str, Any]:
    return {
        "type": "Property",
        "value": value,
        "createdAt": "2026-01-01T00:00:00Z",
        "modifiedAt": "2026-01-01T00:00:00Z",
        **more,
    }


BASE = {
    E + "status": prop("free"),
    E + "speed": prop(10, observedAt="2026-01-01T00:00:00Z"),
    E + "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:1"},
    E + "name": {"type": "LanguageProperty", "languageMap": {"en": "Spot", "fr": "Place"}},
    E + "lanes": [
        prop(1, datasetId="urn:ngsi-ld:Dataset:a"),
        prop(2, datasetId="urn:ngsi-ld:Dataset:b"),
    ],
}


def edit(**changes: Any) -> dict[str, Any]:
    out = dict(BASE)
    for key, value in changes.items():
        if value is None:
            out.pop(E + key, None)
        else:
            out[E + key] = value
    return out


# (name, attrs before, attrs after, scopes before, scopes after, types after)
CASES: list[tuple[str, dict[str, Any], dict[str, Any], Any, Any, list[str]]] = [
    ("nothing", BASE, dict(BASE), None, None, ["T"]),
    ("a value", BASE, edit(status=prop("occupied")), None, None, ["T"]),
    (
        "only modifiedAt",
        BASE,
        edit(status={**prop("free"), "modifiedAt": "2026-02-01T00:00:00Z"}),
        None,
        None,
        ["T"],
    ),
    ("observed", BASE, edit(speed=prop(12, observedAt="2026-01-01T00:01:00Z")), None, None, ["T"]),
    ("added", BASE, edit(width=prop(2.5, unitCode="MTR")), None, None, ["T"]),
    ("gone", BASE, edit(owner=None, name=None), None, None, ["T"]),
    ("gone multi", BASE, edit(lanes=None), None, None, ["T"]),
    (
        "datasets",
        BASE,
        edit(
            lanes=[
                prop(1, datasetId="urn:ngsi-ld:Dataset:a"),
                prop(3),
                prop(4, datasetId="urn:ngsi-ld:Dataset:c"),
            ]
        ),
        None,
        None,
        ["T"],
    ),
    (
        "one to many",
        BASE,
        edit(status=[prop("free"), prop("x", datasetId="urn:ngsi-ld:Dataset:z")]),
        None,
        None,
        ["T"],
    ),
    (
        "many to one",
        BASE,
        edit(lanes=prop(1, datasetId="urn:ngsi-ld:Dataset:a")),
        None,
        None,
        ["T"],
    ),
    ("scope added", BASE, BASE, None, ["/a"], ["T"]),
    ("scope changed", BASE, edit(status=prop(0)), ["/a"], ["/a", "/b"], ["T"]),
    ("scope removed", BASE, BASE, ["/a"], None, ["T"]),
    ("types", BASE, edit(status=prop("closed")), None, None, ["T", "U"]),
    ("emptied", BASE, {}, ["/a"], None, ["T"]),
]


@pytest.fixture
async def db(databases: dict[str, str]) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(libpq_url(databases["context-broker"]))
    await conn.set_type_codec(  # JSON text both ways, as the broker's pool does
        "jsonb",
        encoder=lambda v: v if isinstance(v, str) else orjson.dumps(v).decode(),
        decoder=orjson.loads,
        schema="pg_catalog",
    )
    yield conn
    await conn.close()


async def recorded(db: asyncpg.Connection, eid: str) -> tuple[list[tuple[Any, ...]], Any]:
    """The history of the entity besides its creation, and its temporal entity row."""
    rows = await db.fetch(
        "SELECT a.attr, a.dataset_id, a.at, a.observed_at, a.created_at, a.modified_at, "
        "a.deleted_at, a.num, a.inst::text AS inst FROM attr_instance a "
        "JOIN temporal_entity t ON t.key = a.entity_key "
        "WHERE t.tenant = 'h' AND t.id = $1 AND a.attr <> '' "
        "ORDER BY a.attr, a.dataset_id NULLS FIRST, a.inst::text",
        eid,
    )
    entity = await db.fetchrow(
        "SELECT types, scopes, modified_at, deleted_at FROM temporal_entity "
        "WHERE tenant = 'h' AND id = $1",
        eid,
    )
    return [tuple(r) for r in rows], tuple(entity) if entity else None


async def update_both(
    db: asyncpg.Connection,
    before: dict[str, Any],
    after: dict[str, Any],
    scopes_before: Any,
    scopes_after: Any,
    types: list[str],
) -> tuple[str, str]:
    """Two entities with ``before``, each updated to ``after``: told, and not."""
    tag = uuid.uuid4().hex[:8]
    ids = (f"urn:ngsi-ld:T:told-{tag}", f"urn:ngsi-ld:T:found-{tag}")
    later = LATER
    for eid in ids:
        e = StoredEntity(eid, ["T"], orjson.loads(orjson.dumps(before)), scopes_before, T0, T0)
        assert await repository.insert(db, "h", e)
        version = await db.fetchval("SELECT xmin FROM entity WHERE tenant = 'h' AND id = $1", eid)
        new = StoredEntity(eid, types, orjson.loads(orjson.dumps(after)), scopes_after, T0, later)
        hint = None
        if eid == ids[0]:
            moved = types != ["T"] or scopes_before != scopes_after
            hint = told("h", eid, iso(later), before, after, moved, scopes_before, scopes_after)
        assert await repository.save_if(db, "h", new, int(version), hint)
    return ids


@pytest.mark.parametrize(
    ("name", "before", "after", "sb", "sa", "types"), CASES, ids=[c[0] for c in CASES]
)
async def test_told_and_found_changes_are_the_same(
    db: asyncpg.Connection,
    name: str,
    before: dict[str, Any],
    after: dict[str, Any],
    sb: Any,
    sa: Any,
    types: list[str],
) -> None:
    told_id, found_id = await update_both(db, before, after, sb, sa, types)
    told_rows, told_entity = await recorded(db, told_id)
    found_rows, found_entity = await recorded(db, found_id)
    assert told_rows == found_rows
    assert told_entity == found_entity
    # The cases change something (but "nothing"), and the rows say what.
    assert len(told_rows) == len(changes(before, after, sb, sa))
    assert (len(told_rows) == 0) == (name == "nothing")


async def test_the_told_changes_serve_one_statement(db: asyncpg.Connection) -> None:
    """The trigger takes what it was told: a later update in the same transaction that
    tells nothing is compared in SQL, not recorded with the earlier rows."""
    eid = f"urn:ngsi-ld:T:twice-{uuid.uuid4().hex[:8]}"
    e = StoredEntity(eid, ["T"], dict(BASE), None, T0, T0)
    async with db.transaction():
        assert await repository.insert(db, "h", e)
        version = await db.fetchval("SELECT xmin FROM entity WHERE tenant = 'h' AND id = $1", eid)
        after = edit(status=prop("occupied"))
        new = StoredEntity(eid, ["T"], after, None, T0, T0 + timedelta(hours=1))
        hint = told("h", eid, iso(T0 + timedelta(hours=1)), BASE, after, False, None, None)
        assert await repository.save_if(db, "h", new, int(version), hint)
        assert await db.fetchval("SELECT current_setting('mims.history_changes', true)") == ""
        await db.execute(
            "UPDATE entity SET attrs = attrs || $2::jsonb, modified_at = $3 "
            "WHERE tenant = 'h' AND id = $1",
            eid,
            {E + "width": prop(3)},
            T0 + timedelta(hours=2),
        )
    rows, _ = await recorded(db, eid)
    assert [(r[0], r[7]) for r in rows] == [(E + "status", None), (E + "width", 3.0)]


def test_changes_name_the_scope_by_its_iri() -> None:
    rows = changes({}, {}, ["/a"], None)
    assert rows == [{"attr": SCOPE, "inst": {"type": "Property", "value": []}, "gone": True}]


async def test_the_trigger_records_what_it_is_told(db: asyncpg.Connection) -> None:
    """Told, the trigger compares nothing itself: what it records is what it was told
    (here, on purpose, less than what changed)."""
    eid = f"urn:ngsi-ld:T:trusted-{uuid.uuid4().hex[:8]}"
    assert await repository.insert(db, "h", StoredEntity(eid, ["T"], dict(BASE), None, T0, T0))
    version = await db.fetchval("SELECT xmin FROM entity WHERE tenant = 'h' AND id = $1", eid)
    after = edit(status=prop("occupied"), width=prop(3))
    new = StoredEntity(eid, ["T"], after, None, T0, T0 + timedelta(hours=1))
    written = iso(T0 + timedelta(hours=1))
    partial = told("h", eid, written, BASE, edit(width=prop(3)), False, None, None)
    assert await repository.save_if(db, "h", new, int(version), partial)
    rows, _ = await recorded(db, eid)
    assert [r[0] for r in rows] == [E + "width"]


async def test_a_lost_write_records_nothing(db: asyncpg.Connection) -> None:
    """An optimistic write that lost its race changes no row: what it told is not recorded
    (whether or not the statement got to set it: here it is set beforehand)."""
    eid = f"urn:ngsi-ld:T:lost-{uuid.uuid4().hex[:8]}"
    assert await repository.insert(db, "h", StoredEntity(eid, ["T"], dict(BASE), None, T0, T0))
    version = await db.fetchval("SELECT xmin FROM entity WHERE tenant = 'h' AND id = $1", eid)
    after = edit(status=prop("occupied"))
    new = StoredEntity(eid, ["T"], after, None, T0, LATER)
    hint = told("h", eid, iso(LATER), BASE, after, False, None, None)
    async with db.transaction():
        await db.execute("SELECT set_config('mims.history_changes', $1, true)", hint)
        assert not await repository.save_if(db, "h", new, int(version) + 1)
        assert await db.fetchval("SELECT current_setting('mims.history_changes')") == ""
    assert not await repository.save_if(db, "h", new, int(version) + 1, hint)
    assert await recorded(db, eid) == ([], (["T"], None, T0, None))
