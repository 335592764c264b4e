"""An update whose writer records its history (ngsild/history.py ``told``, entities/
repository.py ``save_if``; the trigger of migrations/0012_history_snapshots.sql then records
nothing more) records exactly what the trigger finds by comparing the rows itself.

Each case updates two copies of an entity from the same state to the same state, one with
its history rows and one without, on a real PostgreSQL, and compares what each recorded.
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
from context_broker.ngsild.history import changes, told
from mims_shared.db import libpq_url

E = "https://example.org/"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
#: The time of the updates: with microseconds, which the recorded rows must keep.
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


# (name, attrs before, attrs after); types and scopes stay (else the trigger records)
CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("nothing", BASE, dict(BASE)),
    ("a value", BASE, edit(status=prop("occupied"))),
    ("only modifiedAt", BASE, edit(status={**prop("free"), "modifiedAt": "2026-02-01T00:00:00Z"})),
    ("observed", BASE, edit(speed=prop(12, observedAt="2026-01-01T00:01:00Z"))),
    ("a boolean is no number", BASE, edit(status=prop(True))),
    ("added", BASE, edit(width=prop(2.5, unitCode="MTR"))),
    ("gone", BASE, edit(owner=None, name=None)),
    ("gone multi", BASE, edit(lanes=None)),
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
    ),
    (
        "one to many",
        BASE,
        edit(status=[prop("free"), prop("x", datasetId="urn:ngsi-ld:Dataset:z")]),
    ),
    ("many to one", BASE, edit(lanes=prop(1, datasetId="urn:ngsi-ld:Dataset:a"))),
    ("emptied", BASE, {}),
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


async def created(db: asyncpg.Connection, attrs: dict[str, Any], tag: str) -> tuple[str, int]:
    """A new entity with ``attrs`` (its history: a snapshot), and its row version."""
    eid = f"urn:ngsi-ld:T:{tag}-{uuid.uuid4().hex[:8]}"
    e = StoredEntity(eid, ["T"], orjson.loads(orjson.dumps(attrs)), None, T0, T0)
    assert await repository.insert(db, "h", e)
    version = await db.fetchval("SELECT xmin FROM entity WHERE tenant = 'h' AND id = $1", eid)
    return eid, int(version)


def updated(eid: str, after: dict[str, Any]) -> StoredEntity:
    return StoredEntity(eid, ["T"], orjson.loads(orjson.dumps(after)), None, T0, LATER)


@pytest.mark.parametrize(("name", "before", "after"), CASES, ids=[c[0] for c in CASES])
async def test_written_and_found_changes_are_the_same(
    db: asyncpg.Connection, name: str, before: dict[str, Any], after: dict[str, Any]
) -> None:
    written, v1 = await created(db, before, "written")
    found, v2 = await created(db, before, "found")
    assert await repository.save_if(db, "h", updated(written, after), v1, told(before, after))
    assert await repository.save_if(db, "h", updated(found, after), v2)
    written_rows, written_entity = await recorded(db, written)
    found_rows, found_entity = await recorded(db, found)
    assert written_rows == found_rows
    assert written_entity == found_entity
    # The cases change something (but "nothing"), and the rows say what.
    assert len(written_rows) == len(changes(before, after))
    assert (len(written_rows) == 0) == (name == "nothing")


async def test_the_trigger_records_nothing_more(db: asyncpg.Connection) -> None:
    """With the writer's rows, the trigger compares nothing itself: what is recorded is
    what the writer gave (here, on purpose, less than what changed)."""
    eid, version = await created(db, BASE, "trusted")
    after = edit(status=prop("occupied"), width=prop(3))
    partial = told(BASE, edit(width=prop(3)))
    assert await repository.save_if(db, "h", updated(eid, after), version, partial)
    rows, _ = await recorded(db, eid)
    assert [r[0] for r in rows] == [E + "width"]


async def test_the_trigger_skips_one_statement_only(db: asyncpg.Connection) -> None:
    """The trigger takes the writer's word for its statement alone: a later update in the
    same transaction is compared in SQL."""
    eid, version = await created(db, BASE, "twice")
    after = edit(status=prop("occupied"))
    async with db.transaction():
        assert await repository.save_if(db, "h", updated(eid, after), version, told(BASE, after))
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


async def test_a_lost_write_records_nothing(db: asyncpg.Connection) -> None:
    """An optimistic write that lost its race changes no row, and records no history."""
    eid, version = await created(db, BASE, "lost")
    after = edit(status=prop("occupied"))
    assert not await repository.save_if(
        db, "h", updated(eid, after), version + 1, told(BASE, after)
    )
    assert await recorded(db, eid) == ([], (["T"], None, T0, None))


async def test_an_entity_without_history_gets_its_key(db: asyncpg.Connection) -> None:
    """An entity written while the history was off has no history key yet: the update
    makes it, from the entity's row."""
    eid = f"urn:ngsi-ld:T:nokey-{uuid.uuid4().hex[:8]}"
    async with db.transaction():
        await db.execute("SELECT set_config('mims.history', 'off', true)")
        e = StoredEntity(eid, ["T"], orjson.loads(orjson.dumps(BASE)), None, T0, T0)
        assert await repository.insert(db, "h", e)
    assert await recorded(db, eid) == ([], None)
    version = await db.fetchval("SELECT xmin FROM entity WHERE tenant = 'h' AND id = $1", eid)
    after = edit(status=prop("occupied"))
    assert await repository.save_if(db, "h", updated(eid, after), int(version), told(BASE, after))
    rows, entity = await recorded(db, eid)
    assert [r[0] for r in rows] == [E + "status"]
    assert entity is not None and entity[0] == ["T"]


async def test_a_transaction_without_history_records_nothing(db: asyncpg.Connection) -> None:
    """mims.history off (the temporal API's own transactions): the writer's rows are not
    recorded either."""
    eid, version = await created(db, BASE, "off")
    after = edit(status=prop("occupied"))
    async with db.transaction():
        await db.execute("SELECT set_config('mims.history', 'off', true)")
        assert await repository.save_if(db, "h", updated(eid, after), version, told(BASE, after))
    assert (await recorded(db, eid))[0] == []


async def test_an_out_of_date_history_entity_is_put_right(db: asyncpg.Connection) -> None:
    """A history entity left deleted or with other types (the entity re-created while the
    history was off) is put right by the recorded update, as the trigger does."""
    ids = []
    for record in (True, False):
        eid, version = await created(db, BASE, f"stale-{record}")
        await db.execute(
            "UPDATE temporal_entity SET types = ARRAY['Old'], deleted_at = $2 "
            "WHERE tenant = 'h' AND id = $1",
            eid,
            T0,
        )
        after = edit(status=prop("occupied"))
        rows = told(BASE, after) if record else None
        assert await repository.save_if(db, "h", updated(eid, after), version, rows)
        ids.append(eid)
    (written_rows, written_entity), (found_rows, found_entity) = [
        await recorded(db, eid) for eid in ids
    ]
    assert written_rows == found_rows and len(written_rows) == 1
    assert written_entity == found_entity
    assert written_entity is not None and written_entity[0] == ["T"] and written_entity[3] is None


async def test_the_trigger_compares_implicit_stamps(db: asyncpg.Connection) -> None:
    """Rows whose instances leave their stamps to ``stamped`` (migration 0014): the trigger
    compares the instances with them. The same values written again at a later stamp are
    recorded as the explicit rows would be; the same row written again is not."""
    bare = {k: v for k, v in BASE.items() if k != E + "lanes"}
    plain = {
        k: {m: x for m, x in v.items() if m not in ("createdAt", "modifiedAt")}
        for k, v in bare.items()
    }
    results = []
    for later in ("2026-01-01T00:00:00Z", "2026-01-01T01:00:00.123Z"):
        eid = f"urn:ngsi-ld:T:implicit-{uuid.uuid4().hex[:8]}"
        first = StoredEntity(
            eid, ["T"], orjson.loads(orjson.dumps(plain)), None, T0, T0, "2026-01-01T00:00:00Z"
        )
        assert await repository.insert(db, "h", first)
        version = await db.fetchval("SELECT xmin FROM entity WHERE tenant = 'h' AND id = $1", eid)
        again = StoredEntity(eid, ["T"], orjson.loads(orjson.dumps(plain)), None, T0, LATER, later)
        assert await repository.save_if(db, "h", again, int(version))
        rows, _ = await recorded(db, eid)
        results.append(sorted(r[0] for r in rows))
    assert results[0] == []
    assert results[1] == sorted(bare)
