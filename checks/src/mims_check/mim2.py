"""MIM2: the entities of a tenant conform to their data models (Smart Data Models, JSON
Schema 2020-12 of the key-values form).

A type's schema is the one given with ``--schema TYPE=FILE_OR_URL``, else the one registered
in the catalogue (``--catalogue``: its data model records at ``/catalogue/v1/data-models``,
each with ``schema``, ``context`` and ``entityTypes``, when it serves them), else the Smart
Data Model of that name in the starter set the stack ships (the broker's vendored copy, read as a
package resource: one copy in the distribution, see README "Checking a deployment").
Types are matched by their local name; entities are read in key-values form with the
subject's @context, as the schemas expect them.
"""

from __future__ import annotations

import asyncio
import json
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs

from mims_check.runner import Context, Failed, Skipped, check, expect, show

GITHUB = "https://smart-data-models.github.io/"
RAW = "https://raw.githubusercontent.com/smart-data-models/"
DEFAULT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
MAX_ENTITIES = 5000  # per type; enough to judge a tenant, bounded in time


def _sdm_root() -> Traversable | None:
    try:
        root = resources.files("context_broker.datamodels").joinpath("sdm")
    except ModuleNotFoundError:
        return None
    return root if root.is_dir() else None


def _walk(node: Traversable, rel: str = "") -> list[tuple[str, Traversable]]:
    out = []
    for child in node.iterdir():
        path = f"{rel}{child.name}"
        if child.is_dir():
            out.extend(_walk(child, path + "/"))
        else:
            out.append((path, child))
    return out


@cache
def bundled() -> tuple[dict[str, Any], dict[str, tuple[Any, str]]]:
    """(every bundled schema by the URLs it is known under, {model name: (schema, context)})."""
    root = _sdm_root()
    by_url: dict[str, Any] = {}
    models: dict[str, tuple[Any, str]] = {}
    if root is None:
        return by_url, models
    for rel, node in _walk(root):
        if not rel.endswith(".json") or "/examples/" in rel:
            continue
        doc = json.loads(node.read_text("utf-8"))
        repo, _, inner = rel.partition("/")
        for url in (f"{GITHUB}{rel}", f"{RAW}{repo}/master/{inner}", doc.get("$id")):
            if isinstance(url, str):
                by_url[url] = doc
        parts = rel.split("/")
        if len(parts) == 3 and parts[2] == "schema.json":
            models[parts[1]] = (doc, f"{RAW}{repo}/master/context.jsonld")
    return by_url, models


def validator(schema: Any) -> jsonschema_rs.Validator:
    known = bundled()[0]

    def retrieve(uri: str) -> Any:
        uri = uri.split("#", 1)[0]
        if uri in known:
            return known[uri]
        r = httpx.get(uri, timeout=10, follow_redirects=True)
        r.raise_for_status()
        return r.json()

    return jsonschema_rs.validator_for(schema, retriever=retrieve, validate_formats=True)


async def _given(ctx: Context, where: str) -> Any:
    if where.startswith(("http://", "https://")):
        r = await ctx.client.get(where, follow_redirects=True)
        expect(r.status_code == 200, f"the schema {where} could not be read: {show(r)}")
        return r.json()
    text = await asyncio.to_thread(Path(where).read_text, encoding="utf-8")
    return json.loads(text)


async def registered(ctx: Context) -> dict[str, tuple[str, str | None]]:
    """{type local name: (schema URL, @context URL)} of the catalogue's data model records."""
    base = ctx.urls.get("catalogue")
    if not base:
        return {}
    r = await ctx.client.get(
        f"{base.rstrip('/')}/catalogue/v1/data-models",
        params={"limit": "1000"},
        headers=ctx.headers(),
    )
    if r.status_code != 200:
        return {}
    page = r.json()
    items = page.get("items", []) if isinstance(page, dict) else []
    out: dict[str, tuple[str, str | None]] = {}
    for item in items:
        url = item.get("schema") if isinstance(item, dict) else None
        if isinstance(url, str):
            for name in item.get("entityTypes") or []:
                out.setdefault(local_name(str(name)), (url, item.get("context")))
    return out


async def _schema_at(ctx: Context, url: str) -> Any:
    """A registered schema: the bundled copy when the URL names one, else fetched."""
    known = bundled()[0].get(url)
    if known is not None:
        return known
    got = await ctx.client.get(url, follow_redirects=True)
    expect(got.status_code == 200, f"the registered schema {url}: {show(got)}")
    return got.json()


def local_name(name: str) -> str:
    return name.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]


@check(
    "mim2.entities-conform", "Entities conform to their Smart Data Model (JSON Schema)", "MIM2, SDM"
)
async def entities_conform(ctx: Context) -> str | None:
    base = ctx.url("broker") + "/ngsi-ld/v1"
    r = await ctx.client.get(f"{base}/types", headers=ctx.headers({"Accept": "application/json"}))
    expect(r.status_code == 200, f"Retrieve Available Entity Types (5.7.5): {show(r)}")
    body = r.json()
    names = body.get("typeList", []) if isinstance(body, dict) else []
    expect(isinstance(names, list), f"typeList must be a list: {r.text[:300]}")
    models: dict[str, tuple[Any, str | None]] = dict(bundled()[1])
    listed = await registered(ctx)
    judged, problems, counted = [], [], 0
    for name in names:
        short = local_name(name)
        if short in ctx.schemas:
            schema, link = await _given(ctx, ctx.schemas[short]), None
        elif short in listed:
            schema, link = await _schema_at(ctx, listed[short][0]), listed[short][1]
        elif short in models:
            schema, link = models[short]
        else:
            continue
        judged.append(short)
        iri = name if ":" in name else DEFAULT_VOCAB + name
        try:
            check_schema = validator(schema)
        except (ValueError, httpx.HTTPError) as exc:
            raise Failed(f"the schema of {short} does not compile: {exc}") from None
        headers = {"Accept": "application/json"}
        # A type in the default vocabulary was written without the model's @context: its
        # attributes are there too, and read back by their short names with none.
        if link and not iri.startswith(DEFAULT_VOCAB):
            headers["Link"] = (
                f'<{link}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
            )
        offset = 0
        while offset < MAX_ENTITIES:
            page = await ctx.client.get(
                f"{base}/entities",
                params={"type": iri, "options": "keyValues", "limit": "1000", "offset": offset},
                headers=ctx.headers(headers),
            )
            expect(page.status_code == 200, f"Query Entities of {short}: {show(page)}")
            items = page.json()
            for entity in items:
                counted += 1
                errors = [e.message for e in check_schema.iter_errors(entity)][:3]
                if errors:
                    problems.append(f"{entity.get('id')} ({short}): {'; '.join(errors)}")
            if len(items) < 1000:
                break
            offset += 1000
    if not judged:
        raise Skipped(
            f"no entity type of the tenant has a known schema (types: {names[:10]}); "
            "give --schema TYPE=FILE_OR_URL"
        )
    if problems:
        raise Failed(
            f"{len(problems)} of {counted} entities break their model:\n" + "\n".join(problems[:10])
        )
    return f"{counted} entities of {', '.join(sorted(set(judged)))} conform"
