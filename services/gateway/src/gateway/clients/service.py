"""Registering API clients; a key is shown once and stored only as its SHA-256 digest."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.clients import repository
from mims_shared.db import Database
from mims_shared.errors import BadRequestData, NotFound
from mims_shared.validation import describe_validation_error

Role = Literal["city-admin", "data-provider", "data-consumer"]


class ClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    roles: list[Role] = Field(default_factory=list, max_length=3)


def _view(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "name": row["name"],
        "roles": list(row["roles"]),
        "keyPrefix": row["key_prefix"],
        "createdAt": row["created_at"].isoformat(),
        "revokedAt": row["revoked_at"].isoformat() if row["revoked_at"] else None,
    }


class ClientService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def register(self, body: Any) -> dict[str, Any]:
        try:
            data = ClientIn.model_validate(body)
        except ValidationError as exc:
            raise BadRequestData(describe_validation_error("The client", exc)) from None
        cid = uuid.uuid4()
        key = "mims_" + secrets.token_urlsafe(32)
        digest = hashlib.sha256(key.encode()).digest()
        roles: list[str] = list(dict.fromkeys(data.roles))
        async with self.db.unit_of_work(transaction=False) as uow:
            created = await repository.insert(
                uow.connection, cid, data.name, roles, key[:9], digest
            )
        row = {
            "id": cid,
            "name": data.name,
            "roles": roles,
            "key_prefix": key[:9],
            "created_at": created,
            "revoked_at": None,
        }
        return {**_view(row), "apiKey": key}

    async def get(self, raw_id: str) -> dict[str, Any]:
        try:
            cid = uuid.UUID(raw_id)
        except ValueError:
            raise NotFound(f"Client {raw_id} does not exist") from None
        async with self.db.unit_of_work(transaction=False) as uow:
            row = await repository.get(uow.connection, cid)
        if row is None:
            raise NotFound(f"Client {raw_id} does not exist")
        return _view(row)
