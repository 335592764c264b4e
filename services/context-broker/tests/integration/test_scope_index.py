"""scopeQ on a real PostgreSQL: an exact scope is answered through the GIN index on
``scopes`` (migration 0002), whose operators are containment, not ``= ANY``."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest

from context_broker.entities.repository import _scope_sql


def _compiled(pattern: str) -> tuple[str, list[Any]]:
    args: list[Any] = ["scope-index-test"]

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    return _scope_sql(pattern, arg), args


async def test_an_exact_scope_is_looked_up_in_the_scopes_index(pg: asyncpg.Connection) -> None:
    where, args = _compiled("/Madrid/Centro")
    async with pg.transaction():
        await pg.execute("SET LOCAL enable_seqscan = off")
        plan = await pg.fetchval(
            # The scope alone (the tenant's btree would otherwise be the cheaper way in).
            f"EXPLAIN (FORMAT JSON) SELECT id FROM entity WHERE $1::text <> '' AND {where}",  # noqa: S608 - bound values only
            *args,
        )
    assert "entity_scopes_idx" in json.dumps(plan), plan


@pytest.mark.parametrize(
    ("scopes", "matches"),
    [
        (["/Madrid/Centro"], True),
        (["/Madrid", "/Madrid/Centro"], True),
        (["/Madrid"], False),
        (["/Madrid/Centro/Sol"], False),
        (None, False),
    ],
)
async def test_an_exact_scope_matches_only_that_scope(
    pg: asyncpg.Connection, scopes: list[str] | None, matches: bool
) -> None:
    where, args = _compiled("/Madrid/Centro")
    found = await pg.fetchval(
        f"SELECT {where} IS TRUE FROM (SELECT $1::text AS tenant, $3::text[] AS scopes) AS entity",  # noqa: S608 - bound values only
        args[0],
        args[1],
        scopes,
    )
    assert found is matches
