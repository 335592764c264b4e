"""Organization use cases (TMF632 v5.0.0, clause "organization")."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError

from marketplace.party import repository
from marketplace.party.schemas import OrganizationCreate
from mims_shared.db import Database
from mims_shared.errors import BadRequestData, NotFound
from mims_shared.validation import describe_validation_error


class OrganizationService:
    def __init__(self, db: Database, base_url: str) -> None:
        self.db = db
        self.base = base_url.rstrip("/") + "/tmf-api/partyManagement/v5/organization"

    def _parse_id(self, raw: str) -> uuid.UUID:
        try:
            return uuid.UUID(raw)
        except ValueError:
            raise NotFound(f"Organization {raw} does not exist") from None

    async def create(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise BadRequestData("An Organization must be a JSON object")
        try:
            org = OrganizationCreate.model_validate(body)
        except ValidationError as exc:
            raise BadRequestData(describe_validation_error("Organization", exc)) from None
        oid = uuid.uuid4()
        resource = {k: v for k, v in body.items() if k not in ("id", "href")}
        resource["id"] = str(oid)
        resource["href"] = f"{self.base}/{oid}"
        async with self.db.unit_of_work(transaction=False) as uow:
            await repository.insert(uow.connection, oid, org.name, org.status, resource)
        return resource

    async def get(self, raw_id: str) -> dict[str, Any]:
        oid = self._parse_id(raw_id)
        async with self.db.unit_of_work(transaction=False) as uow:
            found = await repository.get(uow.connection, oid)
        if found is None:
            raise NotFound(f"Organization {raw_id} does not exist")
        return found

    async def page(self, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        async with self.db.unit_of_work(transaction=False) as uow:
            return await repository.page(uow.connection, offset, limit)

    async def delete(self, raw_id: str) -> None:
        oid = self._parse_id(raw_id)
        async with self.db.unit_of_work(transaction=False) as uow:
            if not await repository.delete(uow.connection, oid):
                raise NotFound(f"Organization {raw_id} does not exist")
