"""The index of reference terms and the counts (migration 0003) on real PostgreSQL: its
triggers serve exactly the kinds that declare ``reference_terms``, the terms of a resource
are the string ids its members reference, and the counts follow every write."""

from __future__ import annotations

import re
from collections.abc import Callable

from marketplace.settings import MarketSettings
from marketplace.tmf.kinds import KINDS
from mims_shared.settings import open_database


async def test_triggers_cover_the_declared_kinds(settings_for: Callable[..., object]) -> None:
    settings = settings_for("marketplace")
    assert isinstance(settings, MarketSettings)
    db = open_database(settings)
    try:
        async with db.unit_of_work(transaction=False) as uow:
            conn = uow.connection
            defs = await conn.fetch(
                "SELECT tgname, pg_get_triggerdef(oid) AS def FROM pg_trigger "
                "WHERE tgrelid = 'tmf_resource'::regclass AND NOT tgisinternal"
            )
            counted = await conn.fetch(
                "SELECT k FROM unnest($1::text[]) AS k WHERE tmf_counted(k)",
                [k.name for k in KINDS],
            )
            terms = await conn.fetchval(
                "SELECT tmf_terms($1::jsonb)",
                '{"category": [{"id": "a"}, {"id": 7}, {"name": "n"}], "channel": {"id": "b"},'
                ' "ids": {"id": ["c", "d"]}, "a.b": {"id": "e"}, "id": "self", "x": "y"}',
            )
    finally:
        await db.dispose()
    declared = {k.name for k in KINDS if k.reference_terms}
    assert declared
    by_name = {r["tgname"]: r["def"] for r in defs}
    for name in ("tmf_term_sync", "tmf_term_drop"):
        listed = set(re.findall(r"'([A-Za-z]+)'::text", by_name[name]))
        assert listed == declared, name
    assert {r["k"] for r in counted} == declared
    assert sorted(terms) == ["category.id=a", "channel.id=b", "ids.id=c", "ids.id=d"]


_RECOUNT = """
SELECT kind, term, status, count(*) AS n FROM tmf_term GROUP BY 1, 2, 3
UNION ALL
SELECT kind, NULL, status, count(*) FROM tmf_resource
WHERE kind = ANY($1::text[]) GROUP BY 1, 2, 3
"""


async def test_counts_follow_every_write(settings_for: Callable[..., object]) -> None:
    """tmf_count equals a recount after inserts (several rows a statement), updates of
    status and references, and deletes, whoever writes."""
    settings = settings_for("marketplace")
    assert isinstance(settings, MarketSettings)
    db = open_database(settings)
    declared = [k.name for k in KINDS if k.reference_terms]
    try:
        async with db.unit_of_work() as uow:
            conn = uow.connection
            ids = await conn.fetch(
                "INSERT INTO tmf_resource (kind, id, resource) "
                "SELECT 'productOffering', gen_random_uuid(), jsonb_build_object("
                "'lifecycleStatus', (ARRAY['Launched', 'Active'])[1 + n % 2], "
                "'category', jsonb_build_array(jsonb_build_object('id', 'k' || n % 3))) "
                "FROM generate_series(1, 12) AS n RETURNING id"
            )
            await conn.execute(
                "UPDATE tmf_resource SET resource = resource || "
                """'{"lifecycleStatus": "Retired", "category": [{"id": "k9"}, {"id": "k1"}]}' """
                "WHERE id = ANY($1::uuid[])",
                [r["id"] for r in ids[:5]],
            )
            await conn.execute(
                "DELETE FROM tmf_resource WHERE id = ANY($1::uuid[])", [r["id"] for r in ids[3:7]]
            )
            await conn.execute(
                "INSERT INTO tmf_resource (kind, id, resource) VALUES "
                "('productOrder', gen_random_uuid(), '{\"state\": \"acknowledged\"}')"
            )
            kept = await conn.fetch("SELECT kind, term, status, n FROM tmf_count WHERE n <> 0")
            recount = await conn.fetch(_RECOUNT, declared)
    finally:
        await db.dispose()
    as_set = {(r["kind"], r["term"], r["status"], r["n"]) for r in kept}
    assert as_set == {(r["kind"], r["term"], r["status"], r["n"]) for r in recount}
    assert ("productOffering", "category.id=k9", "Retired", 3) in as_set
    assert not any(k == "productOrder" for k, *_ in as_set)
