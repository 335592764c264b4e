"""Loading records with what their RDF needs: referenced records, distributions, policies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from catalogue.dcat.model import KINDS, references
from catalogue.dcat.rdf import Bundle, Stored
from catalogue.records import repository


def stored(row: Mapping[str, Any]) -> Stored:
    return Stored(row["kind"], row["id"], row["record"], row["issued"], row["modified"])


async def load_bundle(
    conn: asyncpg.Connection, items: list[Stored], *, children: bool = True
) -> Bundle:
    """``items`` with their datasets' distributions and policies and every record named."""
    b = Bundle(items)
    datasets = [s.id for s in items if s.kind == "dataset"]
    if children and datasets:
        for row in await repository.children(conn, datasets):
            b.children.setdefault(row["parent"], []).append(stored(row))
        for row in await repository.policies(conn, datasets):
            b.policies.setdefault(row["dataset_id"], []).append(row["body"])
    keys: set[tuple[str, str]] = set()
    for st in [*items, *(c for cs in b.children.values() for c in cs)]:
        keys.update(references(KINDS[st.kind], st.record))
    for row in await repository.get_many(conn, sorted(keys)):
        b.related[(row["kind"], row["id"])] = stored(row)
    return b
