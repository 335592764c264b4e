"""The index of reference terms (migration 0003) on real PostgreSQL: its triggers serve
exactly the kinds that declare ``reference_terms``, and the terms of a resource are the
string ids its members reference."""

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
    assert sorted(terms) == ["category.id=a", "channel.id=b", "ids.id=c", "ids.id=d"]
