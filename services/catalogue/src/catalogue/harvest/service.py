"""Harvest use cases: sources, runs with a report, and the scheduler.

A run reads everything first (HTTP, then parsing and validation), and writes only then,
in one transaction: records seen are created or updated, records of the source no longer
seen are deleted. A source that times out, answers an error or sends a document that does
not parse leaves a report entry and changes nothing, so the catalogue already stored is
never damaged by a failed harvest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rdflib import Graph

from catalogue.dcat import harvest as mapping
from catalogue.dcat import shacl
from catalogue.dcat.harvest import HarvestedDataset
from catalogue.dcat.model import ID_PATTERN, KINDS, URL_PATTERN, index_columns, ref_keys
from catalogue.dcat.rdf import Bundle, Mapper, Stored
from catalogue.harvest import repository
from catalogue.records import repository as records
from catalogue.settings import CatalogueSettings
from mims_shared.db import Database
from mims_shared.errors import AlreadyExists, BadRequestData, NotFound
from mims_shared.validation import describe_validation_error

log = logging.getLogger("catalogue.harvest")

RDF_ACCEPT = (
    "text/turtle, application/rdf+xml;q=0.9, application/ld+json;q=0.8, application/n-triples;q=0.7"
)
RDF_FORMATS = {
    "text/turtle": "turtle",
    "application/x-turtle": "turtle",
    "application/rdf+xml": "xml",
    "application/xml": "xml",
    "text/xml": "xml",
    "application/ld+json": "json-ld",
    "application/json": "json-ld",
    "application/n-triples": "nt",
    "text/plain": "nt",
}
MAX_PAGES = 1000


class SourceIn(BaseModel):
    """A harvest source: a DCAT-AP RDF endpoint, a CKAN site, or a context broker."""

    model_config = ConfigDict(extra="forbid")

    identifier: str | None = Field(default=None, pattern=ID_PATTERN.replace("127", "40"))
    type: Literal["dcat", "ckan", "ngsi-ld"]
    url: str = Field(pattern=URL_PATTERN, max_length=2000)
    title: str | None = Field(default=None, max_length=500)
    tenant: str = Field(default="", max_length=100, pattern=r"^[A-Za-z0-9_-]*$")
    intervalSeconds: int | None = Field(default=None, ge=60, le=7 * 24 * 3600)


class HarvestFailed(Exception):
    """The source could not be read; nothing was written."""


class HarvestService:
    def __init__(self, db: Database, settings: CatalogueSettings) -> None:
        self.db = db
        self.settings = settings
        self.mapper = Mapper(settings.public_base_url)
        self.base = settings.public_base_url.rstrip("/")
        self._locks: dict[str, asyncio.Lock] = {}

    def view(self, row: Any) -> dict[str, Any]:
        return {
            "id": row["id"],
            "uri": f"{self.base}/catalogue/v1/harvest-sources/{row['id']}",
            **row["record"],
            "intervalSeconds": row["interval_s"],
            "created": row["created"].isoformat(),
            "modified": row["modified"].isoformat(),
        }

    # --- sources ---------------------------------------------------------------------------
    async def create(self, body: Any) -> dict[str, Any]:
        try:
            data = SourceIn.model_validate(body)
        except ValidationError as exc:
            raise BadRequestData(describe_validation_error("The harvest source", exc)) from None
        sid = data.identifier or uuid.uuid4().hex[:12]
        record = data.model_dump(exclude={"identifier", "intervalSeconds"}, exclude_none=True)
        async with self.db.unit_of_work(transaction=False) as uow:
            stamps = await repository.insert(uow.connection, sid, record, data.intervalSeconds)
        if stamps is None:
            raise AlreadyExists(f"Harvest source {sid} already exists")
        return self.view(
            {"id": sid, "record": record, "interval_s": data.intervalSeconds, **stamps}
        )

    async def ensure_broker_source(self) -> None:
        """The context broker as a source harvested on the configured schedule."""
        s = self.settings
        async with self.db.unit_of_work(transaction=False) as uow:
            for tenant in s.broker_tenants:
                sid = "broker" + (f"-{tenant}" if tenant else "")
                record = {
                    "type": "ngsi-ld",
                    "url": s.broker_url,
                    "tenant": tenant,
                    "title": "Context broker",
                }
                await repository.ensure(uow.connection, sid, record, s.broker_harvest_interval_s)

    async def get(self, sid: str) -> dict[str, Any]:
        async with self.db.unit_of_work(transaction=False) as uow:
            row = await repository.get(uow.connection, sid)
        if row is None:
            raise NotFound(f"Harvest source {sid} does not exist")
        return self.view(row)

    async def list_sources(self) -> list[dict[str, Any]]:
        async with self.db.unit_of_work(transaction=False) as uow:
            return [self.view(r) for r in await repository.all_sources(uow.connection)]

    async def delete(self, sid: str) -> None:
        """Remove the source and every record harvested from it."""
        async with self.db.unit_of_work() as uow:
            conn = uow.connection
            if await repository.get(conn, sid) is None:
                raise NotFound(f"Harvest source {sid} does not exist")
            await self._delete_missing(conn, sid, set())
            await repository.delete(conn, sid)
            await uow.commit()

    async def reports(self, sid: str, limit: int) -> list[dict[str, Any]]:
        await self.get(sid)
        async with self.db.unit_of_work(transaction=False) as uow:
            rows = await repository.jobs(uow.connection, sid, limit)
        return [
            {
                "job": r["id"],
                "started": r["started"].isoformat(),
                "finished": r["finished"].isoformat(),
                **r["report"],
            }
            for r in rows
        ]

    # --- reading a source ---------------------------------------------------------------
    async def _get(
        self, client: httpx.AsyncClient, url: str, headers: dict[str, str]
    ) -> httpx.Response:
        try:
            async with client.stream("GET", url, headers=headers) as resp:
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.aiter_bytes():
                    size += len(chunk)
                    if size > self.settings.harvest_max_bytes:
                        raise HarvestFailed(
                            f"{url} sent more than {self.settings.harvest_max_bytes} bytes"
                        )
                    chunks.append(chunk)
                body = b"".join(chunks)
        except httpx.TimeoutException:
            raise HarvestFailed(
                f"{url} did not answer within {self.settings.harvest_timeout_s} s"
            ) from None
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            raise HarvestFailed(
                f"{url[:300]} could not be read: {type(exc).__name__}: {exc}"
            ) from None
        if resp.status_code >= 400:
            raise HarvestFailed(
                f"{url} answered {resp.status_code}: {body[:200].decode(errors='replace')}"
            )
        return httpx.Response(resp.status_code, headers=resp.headers, content=body)

    @staticmethod
    def _json(resp: httpx.Response, url: str) -> Any:
        try:
            return orjson.loads(resp.content)
        except orjson.JSONDecodeError as exc:
            raise HarvestFailed(f"{url} did not send JSON: {exc}") from None

    async def _read_broker(
        self, client: httpx.AsyncClient, sid: str, src: dict[str, Any]
    ) -> list[HarvestedDataset]:
        url = src["url"].rstrip("/") + "/ngsi-ld/v1/types?details=true"
        headers = {"Accept": "application/json"}
        if src.get("tenant"):
            headers["NGSILD-Tenant"] = src["tenant"]
        details = self._json(await self._get(client, url, headers), url)
        if not isinstance(details, list):
            raise HarvestFailed(f"{url} did not answer a list of EntityType objects")
        names = [
            d["typeName"]
            for d in details
            if isinstance(d, dict) and isinstance(d.get("typeName"), str)
        ]
        async with self.db.unit_of_work(transaction=False) as uow:
            models = await repository.models_for(uow.connection, names)
        return mapping.from_entity_types(
            sid,
            [d for d in details if isinstance(d, dict)],
            broker_public_url=self.settings.broker_public_url,
            tenant=src.get("tenant", ""),
            models=models,
        )

    async def _read_dcat(
        self, client: httpx.AsyncClient, sid: str, src: dict[str, Any]
    ) -> list[HarvestedDataset]:
        graph = Graph()
        url: str | None = src["url"]
        seen: set[str] = set()
        while url and url not in seen and len(seen) < MAX_PAGES:
            seen.add(url)
            resp = await self._get(client, url, {"Accept": RDF_ACCEPT})
            media = resp.headers.get("content-type", "text/turtle").split(";")[0].strip().lower()
            syntax = RDF_FORMATS.get(media, "turtle")
            page = Graph()
            try:
                await asyncio.to_thread(page.parse, data=resp.content, format=syntax, publicID=url)
            except Exception as exc:  # rdflib raises many kinds of errors on bad input
                raise HarvestFailed(
                    f"{url} is not parseable {syntax}: {type(exc).__name__}: {str(exc)[:300]}"
                ) from None
            graph += page
            url = mapping.next_page(page)
        return mapping.from_dcat(sid, graph)

    async def _read_ckan(
        self, client: httpx.AsyncClient, sid: str, src: dict[str, Any]
    ) -> list[HarvestedDataset]:
        base = src["url"].rstrip("/")
        packages: list[dict[str, Any]] = []
        start, rows = 0, 1000
        for _ in range(MAX_PAGES):
            url = (
                f"{base}/api/3/action/package_search"
                f"?rows={rows}&start={start}&sort=id%20asc&facet=false"
            )
            body = self._json(await self._get(client, url, {"Accept": "application/json"}), url)
            if (
                not isinstance(body, dict)
                or body.get("success") is not True
                or not isinstance(body.get("result"), dict)
            ):
                raise HarvestFailed(f"{url} did not answer a CKAN package_search result")
            results = body["result"].get("results") or []
            packages += results
            start += rows
            if len(results) < rows or start >= int(body["result"].get("count") or 0):
                break
        return mapping.from_ckan(sid, packages)

    # --- a run -----------------------------------------------------------------------------
    async def _validate(self, item: HarvestedDataset) -> list[str]:
        """Why ``item`` cannot be kept (empty when it can)."""
        problems: list[str] = []
        for h in [
            item.dataset,
            *item.distributions,
            *([item.agent] if item.agent else []),
            *item.related,
        ]:
            kind = KINDS[h.kind]
            try:
                kind.model.model_validate(h.record)
            except ValidationError as exc:
                problems.append(describe_validation_error(f"{kind.label} {h.id}", exc))
        if problems:
            return problems
        now = datetime.now(UTC)
        ds = Stored("dataset", item.dataset.id, item.dataset.record, now, now)
        bundle = Bundle(
            [ds],
            children={
                ds.id: [
                    Stored("distribution", d.id, d.record, now, now) for d in item.distributions
                ]
            },
        )
        if item.agent:
            bundle.related[("agent", item.agent.id)] = Stored(
                "agent", item.agent.id, item.agent.record, now, now
            )
        for h in item.related:
            bundle.related[(h.kind, h.id)] = Stored(h.kind, h.id, h.record, now, now)
        found = await asyncio.to_thread(shacl.violations, self.mapper.graph_of(bundle))
        return [f"{v['focusNode']} {v['path']}: {v['message']}" for v in found]

    async def _delete_missing(self, conn: Any, sid: str, keep: set[tuple[str, str]]) -> int:
        """Delete what ``sid`` owns outside ``keep``; the number of datasets deleted."""
        deleted = 0
        order = {"distribution": 0, "data-service": 1, "dataset": 2, "agent": 3}
        for kind, rid in sorted(
            await repository.owned(conn, sid) - keep, key=lambda k: (order.get(k[0], 3), k[1])
        ):
            if await repository.delete_owned(conn, kind, rid, sid) and kind == "dataset":
                deleted += 1
        return deleted

    async def run(self, sid: str) -> dict[str, Any]:
        """Harvest ``sid`` now; the report says what was created, updated, deleted, skipped."""
        lock = self._locks.setdefault(sid, asyncio.Lock())
        async with lock:
            return await self._run(sid)

    async def _run(self, sid: str) -> dict[str, Any]:
        async with self.db.unit_of_work(transaction=False) as uow:
            row = await repository.get(uow.connection, sid)
        if row is None:
            raise NotFound(f"Harvest source {sid} does not exist")
        src = row["record"]
        started = datetime.now(UTC)
        report: dict[str, Any] = {
            "source": sid,
            "status": "ok",
            "created": 0,
            "updated": 0,
            "unchanged": 0,
            "deleted": 0,
            "skipped": [],
            "notes": [],
            "errors": [],
        }
        timeout = httpx.Timeout(self.settings.harvest_timeout_s)
        try:
            async with httpx.AsyncClient(timeout=timeout, follow_redirects=True) as client:
                reader = {
                    "ngsi-ld": self._read_broker,
                    "dcat": self._read_dcat,
                    "ckan": self._read_ckan,
                }[src["type"]]
                items = await reader(client, sid, src)
        except HarvestFailed as exc:
            report["status"] = "failed"
            report["errors"].append(str(exc))
            items = None
        if items is not None:
            kept: list[HarvestedDataset] = []
            for item in items:
                problems = await self._validate(item)
                if problems:
                    report["skipped"].append({"id": item.dataset.id, "reasons": problems[:10]})
                else:
                    kept.append(item)
                report["notes"] += [f"{item.dataset.id}: {n}" for n in item.notes[:20]]
            await self._write(sid, kept, report)
        finished = datetime.now(UTC)
        async with self.db.unit_of_work(transaction=False) as uow:
            report["job"] = await repository.add_job(uow.connection, sid, started, finished, report)
        report["started"], report["finished"] = started.isoformat(), finished.isoformat()
        log.info(
            "harvest %s: %s",
            sid,
            {k: report[k] for k in ("status", "created", "updated", "deleted")},
        )
        return report

    async def _write(self, sid: str, items: list[HarvestedDataset], report: dict[str, Any]) -> None:
        keep: set[tuple[str, str]] = set()
        async with self.db.unit_of_work() as uow:
            conn = uow.connection
            for item in items:
                kids = [d.record for d in item.distributions]
                batch = [
                    *(h for h in item.related if (h.kind, h.id) not in keep),
                    *([item.agent] if item.agent else []),
                    item.dataset,
                    *item.distributions,
                ]
                for h in batch:
                    kind = KINDS[h.kind]
                    cols = index_columns(kind, h.record, kids if h.kind == "dataset" else [])
                    parent = h.record.get("dataset") if h.kind == "distribution" else None
                    outcome = await records.upsert(
                        conn, h.kind, h.id, parent, sid, h.record, ref_keys(kind, h.record), cols
                    )
                    keep.add((h.kind, h.id))
                    if h.kind != "dataset":
                        continue
                    key = "unchanged" if outcome is None else "created" if outcome else "updated"
                    report[key] += 1
            report["deleted"] = await self._delete_missing(conn, sid, keep)
            await uow.commit()

    # --- the scheduler ---------------------------------------------------------------------
    async def scheduler(self, poll_s: float) -> None:
        """Run due sources, one at a time; replicas share the work (SKIP LOCKED)."""
        while True:
            try:
                async with self.db.unit_of_work(transaction=False) as uow:
                    sid = await repository.claim_due(uow.connection)
                if sid is not None:
                    await self.run(sid)
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("harvest scheduler")
            await asyncio.sleep(poll_s)


@contextlib.asynccontextmanager
async def scheduled(service: HarvestService, poll_s: float) -> Any:
    task = asyncio.create_task(service.scheduler(poll_s)) if poll_s > 0 else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
