"""Dependencies the routers use: the parsed body and the services built by the lifespan."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from marketplace.party.service import OrganizationService
from mims_shared.web.body import json_body

Json = Annotated[Any, json_body("application/json", "application/merge-patch+json")]


async def _organizations(request: Request) -> OrganizationService:
    service: OrganizationService = request.app.state.organizations
    return service


organizations = Depends(_organizations)
