"""Dependencies the routers use: the parsed body and the services built by the lifespan."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from catalogue.datasets.service import DatasetService
from mims_shared.web.body import json_body

Json = Annotated[Any, json_body("application/json")]


async def _datasets(request: Request) -> DatasetService:
    service: DatasetService = request.app.state.datasets
    return service


datasets = Depends(_datasets)
