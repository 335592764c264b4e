"""Dataset use cases."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from catalogue.datasets import repository
from catalogue.datasets.schemas import DatasetIn
from mims_shared.db import Database
from mims_shared.errors import AlreadyExists, BadRequestData, NotFound
from mims_shared.validation import describe_validation_error


class DatasetService:
    def __init__(self, db: Database, base_url: str) -> None:
        self.db = db
        self.base = base_url.rstrip("/") + "/catalogue/v1/datasets"

    def _view(self, row: Mapping[str, Any]) -> dict[str, Any]:
        did = row["id"]
        return {
            "id": did,
            "uri": f"{self.base}/{did}",
            **row["record"],
            "issued": row["issued"].isoformat(),
            "modified": row["modified"].isoformat(),
        }

    async def create(self, body: Any) -> dict[str, Any]:
        try:
            data = DatasetIn.model_validate(body)
        except ValidationError as exc:
            raise BadRequestData(describe_validation_error("The dataset", exc)) from None
        did = data.identifier or str(uuid.uuid4())
        record = data.model_dump(exclude={"identifier"})
        async with self.db.unit_of_work(transaction=False) as uow:
            stamps = await repository.insert(uow.connection, did, record)
        if stamps is None:
            raise AlreadyExists(f"Dataset {did} already exists")
        return self._view({"id": did, "record": record, **stamps})

    async def get(self, did: str) -> dict[str, Any]:
        async with self.db.unit_of_work(transaction=False) as uow:
            row = await repository.get(uow.connection, did)
        if row is None:
            raise NotFound(f"Dataset {did} does not exist")
        return self._view(row)

    async def page(self, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        async with self.db.unit_of_work(transaction=False) as uow:
            rows, total = await repository.page(uow.connection, offset, limit)
        return [self._view(r) for r in rows], total

    async def delete(self, did: str) -> None:
        async with self.db.unit_of_work(transaction=False) as uow:
            if not await repository.delete(uow.connection, did):
                raise NotFound(f"Dataset {did} does not exist")
