"""API clients: registering, revoking, and recognising them by key.

A key is shown once and stored only as its SHA-256 digest. A client authenticates either
with its key (``X-API-Key``) or, through the built-in issuer, with the client-credentials
grant (its id and key) for a short-lived bearer token. Its roles, tenants and party scope
what it may do.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.clients import repository
from gateway.identity.model import Identity
from mims_shared.db import Database
from mims_shared.errors import BadRequestData, NotFound
from mims_shared.validation import describe_validation_error

Role = Literal["city-admin", "data-provider", "data-consumer"]
_TENANT = r"^[A-Za-z0-9_.-]{1,64}$"
_CACHE_MAX = 10_000


class ClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    roles: list[Role] = Field(default_factory=list, max_length=3)
    #: NGSI-LD tenants the client may use; none: the default tenant only.
    tenants: list[Annotated[str, Field(pattern=_TENANT)]] = Field(
        default_factory=list, max_length=50
    )
    #: The marketplace party (TMF632 id) the client acts for; entitlements are the party's.
    party: str | None = Field(default=None, min_length=1, max_length=500)


def _view(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "name": row["name"],
        "roles": list(row["roles"]),
        "tenants": list(row["tenants"]),
        "party": row["party"],
        "keyPrefix": row["key_prefix"],
        "createdAt": row["created_at"].isoformat(),
        "revokedAt": row["revoked_at"].isoformat() if row["revoked_at"] else None,
    }


def _identity(row: Mapping[str, Any]) -> Identity:
    cid = str(row["id"])
    return Identity(
        "api-key",
        cid,
        frozenset(row["roles"]),
        frozenset(row["tenants"]),
        row["party"] or cid,
        f"client:{cid}",
    )


class ClientService:
    def __init__(self, db: Database, key_cache_s: float = 5.0) -> None:
        self.db = db
        self.key_cache_s = key_cache_s
        self._keys: dict[bytes, tuple[Mapping[str, Any] | None, float]] = {}

    async def register(self, body: Any) -> dict[str, Any]:
        try:
            data = ClientIn.model_validate(body)
        except ValidationError as exc:
            raise BadRequestData(describe_validation_error("The client", exc)) from None
        cid = uuid.uuid4()
        key = "mims_" + secrets.token_urlsafe(32)
        digest = hashlib.sha256(key.encode()).digest()
        roles: list[str] = list(dict.fromkeys(data.roles))
        tenants = list(dict.fromkeys(data.tenants))
        async with self.db.unit_of_work(transaction=False) as uow:
            created = await repository.insert(
                uow.connection, cid, data.name, roles, tenants, data.party, key[:9], digest
            )
        row = {
            "id": cid,
            "name": data.name,
            "roles": roles,
            "tenants": tenants,
            "party": data.party,
            "key_prefix": key[:9],
            "created_at": created,
            "revoked_at": None,
        }
        return {**_view(row), "apiKey": key}

    @staticmethod
    def _uuid(raw_id: str) -> uuid.UUID:
        try:
            return uuid.UUID(raw_id)
        except ValueError:
            raise NotFound(f"Client {raw_id} does not exist") from None

    async def get(self, raw_id: str) -> dict[str, Any]:
        async with self.db.unit_of_work(transaction=False) as uow:
            row = await repository.get(uow.connection, self._uuid(raw_id))
        if row is None:
            raise NotFound(f"Client {raw_id} does not exist")
        return _view(row)

    async def revoke(self, raw_id: str) -> None:
        """Revoke a client: its key stops working (on every replica within the key cache
        time) and it gets no new tokens; tokens already issued end with their lifetime."""
        async with self.db.unit_of_work(transaction=False) as uow:
            found = await repository.revoke(uow.connection, self._uuid(raw_id))
        if not found:
            raise NotFound(f"Client {raw_id} does not exist")
        self._keys.clear()

    async def _row_by_key(self, key: str) -> Mapping[str, Any] | None:
        digest = hashlib.sha256(key.encode()).digest()
        hit = self._keys.get(digest)
        now = time.monotonic()
        if hit is not None and hit[1] > now:
            return hit[0]
        async with self.db.unit_of_work(transaction=False) as uow:
            row = await repository.by_key(uow.connection, digest)
        found = dict(row) if row is not None and row["revoked_at"] is None else None
        if len(self._keys) >= _CACHE_MAX:
            self._keys.clear()
        self._keys[digest] = (found, now + self.key_cache_s)
        return found

    async def by_key(self, key: str) -> Identity | None:
        """The active client holding ``key``, or None."""
        row = await self._row_by_key(key)
        return _identity(row) if row is not None else None

    async def by_credentials(self, client_id: str, secret: str) -> Mapping[str, Any] | None:
        """The active client with this id and key (client-credentials grant), or None."""
        row = await self._row_by_key(secret)
        if row is None or not secrets.compare_digest(str(row["id"]), client_id):
            return None
        return row
