"""Record use cases: validated writes (vocabularies, references, DCAT-AP shapes), reads,
the RDF of one record, and the ODRL policies the marketplace publishes on datasets."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from catalogue.dcat import shacl
from catalogue.dcat.model import KINDS, Kind, index_columns, ref_keys, references
from catalogue.dcat.rdf import Bundle, Mapper, Stored, serialize
from catalogue.records import repository
from catalogue.records.bundles import load_bundle, stored
from mims_shared.db import Database
from mims_shared.errors import AlreadyExists, BadRequestData, Conflict, NotFound
from mims_shared.validation import describe_validation_error


class PolicyIn(BaseModel):
    """An ODRL policy in JSON-LD (ODRL Information Model 2.2, 2.1; the ODRL JSON-LD
    context): an Offer, Agreement or Set with its rules."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    context: Any = Field(default=None, alias="@context")
    type_: Literal["Offer", "Agreement", "Set", "Policy"] = Field(alias="@type")
    uid: str | None = Field(
        default=None, pattern=r"^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s<>\"{}|\\^`]+$", max_length=2000
    )
    permission: list[dict[str, Any]] = Field(default_factory=list, max_length=100)
    prohibition: list[dict[str, Any]] = Field(default_factory=list, max_length=100)
    obligation: list[dict[str, Any]] = Field(default_factory=list, max_length=100)


def _what(kind: str) -> str:
    return KINDS[kind].label


class RecordService:
    def __init__(self, db: Database, base_url: str) -> None:
        self.db = db
        self.base = base_url.rstrip("/")
        self.mapper = Mapper(self.base)

    def uri(self, kind: str, rid: str) -> str:
        return f"{self.base}/catalogue/v1/{KINDS[kind].plural}/{rid}"

    def view(self, row: Mapping[str, Any]) -> dict[str, Any]:
        out = {
            "id": row["id"],
            "uri": self.uri(row["kind"], row["id"]),
            **row["record"],
            "issued": row["issued"].isoformat(),
            "modified": row["modified"].isoformat(),
        }
        if row.get("source"):
            out["harvestSource"] = row["source"]
        return out

    # --- validation ----------------------------------------------------------------------
    @staticmethod
    def parse(kind: Kind, body: Any) -> tuple[str | None, dict[str, Any]]:
        """The identifier asked for and the normalised record, or BadRequestData."""
        try:
            data = kind.model.model_validate(body)
        except ValidationError as exc:
            raise BadRequestData(
                describe_validation_error(f"The {kind.label.lower()}", exc)
            ) from None
        record = data.model_dump(by_alias=True, exclude_none=True, exclude={"identifier"})
        return getattr(data, "identifier", None), record

    async def check(
        self, conn: asyncpg.Connection, kind: Kind, rid: str, record: dict[str, Any]
    ) -> None:
        """Every record named exists, and the record's RDF conforms to DCAT-AP 3.0.1."""
        named = references(kind, record)
        found = {(r["kind"], r["id"]) for r in await repository.get_many(conn, named)}
        missing = [f"{_what(k).lower()} {i}" for k, i in named if (k, i) not in found]
        if missing:
            raise BadRequestData(
                f"The {kind.label.lower()} {rid} names records that do not exist: "
                + ", ".join(sorted(set(missing)))
            )
        if not kind.dcat:
            return
        now = datetime.now(UTC)
        bundle = await load_bundle(conn, [Stored(kind.name, rid, record, now, now)])
        await self.check_shapes(kind, rid, bundle)

    async def check_shapes(self, kind: Kind, rid: str, bundle: Bundle) -> None:
        graph = self.mapper.graph_of(bundle)
        found = await asyncio.to_thread(shacl.violations, graph)
        if found:
            raise BadRequestData(
                f"The {kind.label.lower()} {rid} is not valid DCAT-AP 3.0.1: "
                + "; ".join(f"{v['path']}: {v['message']}" for v in found[:5]),
                extra={"violations": found},
            )

    async def _reindex(self, conn: asyncpg.Connection, dataset: str) -> None:
        row = await repository.get(conn, "dataset", dataset)
        if row is None:
            return
        kids = [r["record"] for r in await repository.children(conn, [dataset])]
        await repository.set_index(
            conn, dataset, index_columns(KINDS["dataset"], row["record"], kids)
        )

    # --- use cases -----------------------------------------------------------------------
    async def create(self, kind: Kind, body: Any) -> dict[str, Any]:
        ident, record = self.parse(kind, body)
        rid = ident or str(uuid.uuid4())
        async with self.db.unit_of_work() as uow:
            conn = uow.connection
            if await repository.get(conn, kind.name, rid) is not None:
                raise AlreadyExists(f"{kind.label} {rid} already exists")
            await self.check(conn, kind, rid, record)
            parent = record.get(kind.parent) if kind.parent else None
            stamps = await repository.insert(
                conn,
                kind.name,
                rid,
                parent,
                None,
                record,
                ref_keys(kind, record),
                index_columns(kind, record, []),
            )
            if stamps is None:
                raise AlreadyExists(f"{kind.label} {rid} already exists")
            if parent:
                await self._reindex(conn, parent)
            await uow.commit()
        return self.view({"kind": kind.name, "id": rid, "record": record, **stamps})

    async def replace(self, kind: Kind, rid: str, body: Any) -> dict[str, Any]:
        ident, record = self.parse(kind, body)
        if ident is not None and ident != rid:
            raise BadRequestData(f"The identifier {ident} in the body is not {rid} of the URL")
        async with self.db.unit_of_work() as uow:
            conn = uow.connection
            old = await repository.get(conn, kind.name, rid)
            if old is None:
                raise NotFound(f"{kind.label} {rid} does not exist")
            await self.check(conn, kind, rid, record)
            parent = record.get(kind.parent) if kind.parent else None
            kids = (
                [r["record"] for r in await repository.children(conn, [rid])]
                if kind.name == "dataset"
                else []
            )
            stamps = await repository.replace(
                conn,
                kind.name,
                rid,
                parent,
                record,
                ref_keys(kind, record),
                index_columns(kind, record, kids),
            )
            assert stamps is not None
            for p in {parent, old["parent"]} - {None}:
                await self._reindex(conn, str(p))
            await uow.commit()
        return self.view({"kind": kind.name, "id": rid, "record": record, **stamps})

    async def get(self, kind: Kind, rid: str) -> dict[str, Any]:
        async with self.db.unit_of_work(transaction=False) as uow:
            row = await repository.get(uow.connection, kind.name, rid)
        if row is None:
            raise NotFound(f"{kind.label} {rid} does not exist")
        return self.view(row)

    async def page(
        self, kind: Kind, offset: int, limit: int, parent: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        async with self.db.unit_of_work(transaction=False) as uow:
            rows, total = await repository.page(uow.connection, kind.name, offset, limit, parent)
        return [self.view(r) for r in rows], total

    async def delete(self, kind: Kind, rid: str) -> None:
        async with self.db.unit_of_work() as uow:
            conn = uow.connection
            row = await repository.get(conn, kind.name, rid)
            if row is None:
                raise NotFound(f"{kind.label} {rid} does not exist")
            users = await repository.referrers(conn, kind.name, rid)
            if users:
                names = ", ".join(f"{_what(u['kind']).lower()} {u['id']}" for u in users)
                raise Conflict(f"{kind.label} {rid} cannot be deleted: {names} name it")
            await repository.delete(conn, kind.name, rid)
            if row["parent"]:
                await self._reindex(conn, row["parent"])
            await uow.commit()

    async def rdf(self, kind: Kind, rid: str, media_type: str) -> bytes:
        """The record's own DCAT-AP graph in ``media_type``."""
        async with self.db.unit_of_work(transaction=False) as uow:
            row = await repository.get(uow.connection, kind.name, rid)
            if row is None:
                raise NotFound(f"{kind.label} {rid} does not exist")
            bundle = await load_bundle(uow.connection, [stored(row)])
        return serialize(self.mapper.graph_of(bundle), media_type)

    # --- ODRL policies -------------------------------------------------------------------
    async def put_policy(self, dataset: str, pid: str, body: Any) -> tuple[dict[str, Any], bool]:
        """Store or replace the policy ``pid`` of ``dataset``; True when it is new."""
        if not isinstance(body, dict):
            raise BadRequestData("An ODRL policy must be a JSON object")
        try:
            PolicyIn.model_validate(body)
        except ValidationError as exc:
            raise BadRequestData(describe_validation_error("The ODRL policy", exc)) from None
        policy = dict(body)
        policy.setdefault("uid", f"{self.uri('dataset', dataset)}/policies/{pid}")
        async with self.db.unit_of_work() as uow:
            if await repository.get(uow.connection, "dataset", dataset) is None:
                raise NotFound(f"Dataset {dataset} does not exist")
            created = await repository.put_policy(uow.connection, dataset, pid, policy)
            await uow.commit()
        return policy, created

    async def get_policy(self, dataset: str, pid: str) -> dict[str, Any]:
        async with self.db.unit_of_work(transaction=False) as uow:
            body = await repository.get_policy(uow.connection, dataset, pid)
        if body is None:
            raise NotFound(f"Policy {pid} of dataset {dataset} does not exist")
        return dict(body)

    async def delete_policy(self, dataset: str, pid: str) -> None:
        async with self.db.unit_of_work() as uow:
            if not await repository.delete_policy(uow.connection, dataset, pid):
                raise NotFound(f"Policy {pid} of dataset {dataset} does not exist")
            await uow.commit()
