"""The catalogue's JSON API: create, read, update, delete and list every kind of record;
RDF of each record by content negotiation or by file extension; ODRL policies."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Query
from starlette.responses import Response

from catalogue.dcat.model import KINDS, Kind
from catalogue.dcat.negotiation import negotiate
from catalogue.dcat.rdf import EXTENSIONS, SYNTAXES
from catalogue.deps import Json, Policy, Records
from mims_shared.errors import NotAcceptable, NotFound

router = APIRouter()

JSON = "application/json"
RDF_TYPES = list(SYNTAXES)
Accept = Annotated[str | None, Header()]


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type=JSON)


def _rdf(body: bytes, media_type: str) -> Response:
    return Response(body, 200, {"Vary": "Accept"}, media_type=media_type)


def _mount(kind: Kind) -> None:
    """The routes of one kind (DCAT-AP 3.0.1 class named in each docstring)."""
    base = f"/catalogue/v1/{kind.plural}"

    async def create(service: Records, body: Json) -> Response:
        created = await service.create(kind, body)
        return _json(created, 201, {"Location": created["uri"]})

    async def listing(
        service: Records,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Response:
        items, total = await service.page(kind, offset, limit)
        return _json({"total": total, "offset": offset, "limit": limit, "items": items})

    async def listing_children(
        service: Records,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        dataset: Annotated[str | None, Query(max_length=128)] = None,
    ) -> Response:
        items, total = await service.page(kind, offset, limit, dataset)
        return _json({"total": total, "offset": offset, "limit": limit, "items": items})

    async def retrieve(service: Records, record_id: str, accept: Accept = None) -> Response:
        media = negotiate(accept, [JSON, *RDF_TYPES])
        if media is None:
            raise NotAcceptable(
                f"{kind.label} records are served as {JSON} or RDF ({', '.join(RDF_TYPES)})"
            )
        if media == JSON:
            return _json(await service.get(kind, record_id))
        return _rdf(await service.rdf(kind, record_id, media), media)

    async def replace(service: Records, record_id: str, body: Json) -> Response:
        return _json(await service.replace(kind, record_id, body))

    async def delete(service: Records, record_id: str) -> Response:
        await service.delete(kind, record_id)
        return Response(status_code=204)

    async def rdf_file(service: Records, file: str) -> Response:
        rid, _, ext = file.rpartition(".")
        media = EXTENSIONS.get(ext)
        if not rid or media is None:
            raise NotFound(f"No RDF document {file}: use {{id}}.ttl, .jsonld, .rdf or .nt")
        return _rdf(await service.rdf(kind, rid, media), media)

    label = kind.label
    for fn, doc in [
        (create, f"Create a {label.lower()} record"),
        (listing, f"List {label.lower()} records, most recently modified first"),
        (listing_children, f"List {label.lower()} records, most recently modified first"),
        (retrieve, f"Read one {label.lower()} record: JSON, or DCAT-AP RDF by Accept"),
        (replace, f"Replace one {label.lower()} record (dct:modified is updated)"),
        (delete, f"Delete one {label.lower()} record"),
        (rdf_file, f"The DCAT-AP 3.0.1 RDF of one {label.lower()} record, by extension"),
    ]:
        fn.__doc__ = f"{doc} (DCAT-AP 3.0.1)."
        fn.__name__ = f"{fn.__name__}_{kind.name.replace('-', '_')}"
    router.add_api_route(base, create, methods=["POST"], status_code=201)
    router.add_api_route(base, listing_children if kind.parent else listing, methods=["GET"])
    router.add_api_route(base + "/{record_id}", retrieve, methods=["GET"])
    router.add_api_route(base + "/{record_id}", replace, methods=["PUT"])
    router.add_api_route(base + "/{record_id}", delete, methods=["DELETE"], status_code=204)
    router.add_api_route(f"/catalogue/{kind.name}/{{file}}", rdf_file, methods=["GET"])


for _kind in KINDS.values():
    _mount(_kind)


@router.put("/catalogue/v1/datasets/{dataset_id}/policies/{policy_id}")
async def put_policy(service: Records, dataset_id: str, policy_id: str, body: Policy) -> Response:
    """Store or replace an ODRL policy of a dataset (ODRL 2.2; shown as odrl:hasPolicy,
    DCAT-AP 3.0.1 Distribution/Dataset 'has policy')."""
    policy, created = await service.put_policy(dataset_id, policy_id, body)
    return _json(policy, 201 if created else 200)


@router.get("/catalogue/v1/datasets/{dataset_id}/policies/{policy_id}")
async def get_policy(service: Records, dataset_id: str, policy_id: str) -> Response:
    """Read an ODRL policy of a dataset (ODRL 2.2)."""
    return _json(await service.get_policy(dataset_id, policy_id))


@router.delete("/catalogue/v1/datasets/{dataset_id}/policies/{policy_id}", status_code=204)
async def delete_policy(service: Records, dataset_id: str, policy_id: str) -> Response:
    """Remove an ODRL policy from a dataset (ODRL 2.2)."""
    await service.delete_policy(dataset_id, policy_id)
    return Response(status_code=204)
