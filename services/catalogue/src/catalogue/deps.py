"""Dependencies the routers use: parsed bodies and the services built by the lifespan."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from catalogue.documents.service import DocumentService
from catalogue.harvest.service import HarvestService
from catalogue.records.service import RecordService
from mims_shared.web.body import json_body

Json = Annotated[Any, json_body("application/json")]
#: An ODRL policy: JSON-LD or plain JSON.
Policy = Annotated[Any, json_body("application/ld+json", "application/json")]


async def _records(request: Request) -> RecordService:
    return request.app.state.records  # type: ignore[no-any-return]


Records = Annotated[RecordService, Depends(_records)]


async def _documents(request: Request) -> DocumentService:
    service: DocumentService = request.app.state.documents
    return service


Documents = Annotated[DocumentService, Depends(_documents)]


async def _harvest(request: Request) -> HarvestService:
    service: HarvestService = request.app.state.harvest
    return service


Harvest = Annotated[HarvestService, Depends(_harvest)]
