"""The catalogue as an RDF document: ``/catalogue/catalog`` by content negotiation,
``/catalogue/catalog.ttl`` (``.jsonld``, ``.rdf``, ``.nt``) by extension."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query
from starlette.responses import StreamingResponse

from catalogue.dcat.negotiation import negotiate
from catalogue.dcat.rdf import EXTENSIONS, SYNTAXES
from catalogue.deps import Documents
from mims_shared.errors import NotAcceptable, NotFound

router = APIRouter()

Page = Annotated[int, Query(ge=1, le=1_000_000)]
PageSize = Annotated[int, Query(ge=1, le=1000)]
Since = Annotated[datetime | None, Query()]


async def _respond(
    service: Documents, path: str, media: str, page: int, size: int, since: datetime | None
) -> StreamingResponse:
    body = await service.document(path, media, page, size, since)
    return StreamingResponse(body, media_type=media, headers={"Vary": "Accept"})


@router.get("/catalogue/catalog")
async def catalogue_document(
    service: Documents,
    page: Page = 1,
    page_size: PageSize = 100,
    modified_since: Since = None,
    accept: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """The catalogue (DCAT-AP 3.0.1 dcat:Catalog) in the RDF syntax asked for by Accept,
    one Hydra page (hydra:PagedCollection) at a time."""
    media = negotiate(accept, list(SYNTAXES))
    if media is None:
        raise NotAcceptable(f"The catalogue is served as {', '.join(SYNTAXES)}")
    return await _respond(service, "/catalogue/catalog", media, page, page_size, modified_since)


@router.get("/catalogue/catalog.{extension}")
async def catalogue_file(
    service: Documents,
    extension: str,
    page: Page = 1,
    page_size: PageSize = 100,
    modified_since: Since = None,
) -> StreamingResponse:
    """The catalogue (DCAT-AP 3.0.1 dcat:Catalog) as Turtle, JSON-LD, RDF/XML or N-Triples,
    one Hydra page (hydra:PagedCollection) at a time."""
    media = EXTENSIONS.get(extension)
    if media is None:
        raise NotFound(
            f"No catalogue document catalog.{extension[:20]}: use .ttl, .jsonld, .rdf or .nt"
        )
    path = f"/catalogue/catalog.{extension}"
    return await _respond(service, path, media, page, page_size, modified_since)
