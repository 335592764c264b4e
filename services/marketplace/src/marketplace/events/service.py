"""Hub use cases (TMF630 part 2: ``POST /hub`` registers a listener, ``DELETE /hub/{id}``)."""

from __future__ import annotations

import uuid
from typing import Any

from marketplace.events import repository
from marketplace.tmf.events import HubError, check_callback, parse_hub_query
from marketplace.tmf.kinds import Api
from mims_shared.db import Database
from mims_shared.errors import BadRequestData, NotFound


class HubService:
    def __init__(self, db: Database, api: Api, base_url: str) -> None:
        self.db = db
        self.api = api
        self.base = base_url.rstrip("/") + api.prefix + "/hub"

    async def create(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise BadRequestData("A Hub must be a JSON object")
        if body.get("@type", "Hub") != "Hub":
            raise BadRequestData(f"@type {body['@type']!r} is not Hub")
        try:
            callback = check_callback(body.get("callback"))
            types = parse_hub_query(self.api, body.get("query"))
        except HubError as exc:
            raise BadRequestData(f"Hub is not valid: {exc}") from None
        hid = uuid.uuid4()
        query = body.get("query") or None
        async with self.db.unit_of_work(transaction=False) as uow:
            await repository.insert_hub(uow.connection, hid, self.api.path, callback, query, types)
        hub = {"@type": "Hub", "id": str(hid), "href": f"{self.base}/{hid}", "callback": callback}
        if query:
            hub["query"] = query
        return hub

    async def delete(self, raw_id: str) -> None:
        try:
            hid = uuid.UUID(raw_id)
        except ValueError:
            raise NotFound(f"Hub {raw_id} does not exist") from None
        async with self.db.unit_of_work(transaction=False) as uow:
            if not await repository.delete_hub(uow.connection, self.api.path, hid):
                raise NotFound(f"Hub {raw_id} does not exist")
