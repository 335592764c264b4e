"""Batch entity operations over HTTP (ETSI GS CIM 009 V1.8.1, 5.6.7-5.6.10, 5.6.20)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson
import pytest

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
OPS = "/ngsi-ld/v1/entityOperations"
LD = {"Content-Type": "application/ld+json"}
SDM = "https://smartdatamodels.org/dataModel.Parking/"


def new_id() -> str:
    return f"urn:ngsi-ld:ParkingSpot:{uuid.uuid4().hex}"


def spot(eid: str, status: str = "free", **attrs: Any) -> dict[str, Any]:
    return {
        "id": eid,
        "type": "ParkingSpot",
        "status": {"type": "Property", "value": status},
        "width": {"type": "Property", "value": 2.4, "unitCode": "MTR"},
        **attrs,
    }


def problem(kind: str, title: str, status: int, detail: str) -> dict[str, Any]:
    return {"type": ERR + kind, "title": title, "status": status, "detail": detail}


def failed(eid: str, kind: str, title: str, status: int, detail: str) -> dict[str, Any]:
    return {"entityId": eid, "error": problem(kind, title, status, detail)}


def not_found(eid: str, detail: str | None = None) -> dict[str, Any]:
    detail = detail or f"Entity {eid} does not exist"
    return failed(eid, "ResourceNotFound", "Resource not found", 404, detail)


async def get(client: httpx.AsyncClient, eid: str, **params: str) -> dict[str, Any]:
    resp = await client.get(f"/ngsi-ld/v1/entities/{eid}", params=params)
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


async def absent(client: httpx.AsyncClient, eid: str) -> bool:
    return (await client.get(f"/ngsi-ld/v1/entities/{eid}")).status_code == 404


# --- create (5.6.7) ---------------------------------------------------------------------------
async def test_create_answers_201_with_the_ids_and_stores_each_entity(
    client: httpx.AsyncClient,
) -> None:
    a, b = new_id(), new_id()
    resp = await client.post(f"{OPS}/create", json=[spot(a), spot(b, "occupied")])
    assert resp.status_code == 201, resp.text
    assert resp.headers["content-type"] == "application/json"
    assert resp.json() == [a, b]
    assert await get(client, a) == spot(a)
    assert await get(client, b) == spot(b, "occupied")


async def test_create_reports_each_failure_and_writes_the_valid_entities(
    client: httpx.AsyncClient,
) -> None:
    existing, good, bad, twice = new_id(), new_id(), new_id(), new_id()
    assert (await client.post("/ngsi-ld/v1/entities", json=spot(existing))).status_code == 201
    bad_rel = {"type": "Relationship", "object": "not a uri"}
    resp = await client.post(
        f"{OPS}/create",
        json=[
            spot(existing),
            spot(good),
            spot(bad, refParkingSite=bad_rel),
            {"id": "not-a-uri", "type": "ParkingSpot"},
            spot(twice),
            spot(twice, "occupied"),
        ],
    )
    assert resp.status_code == 207, resp.text
    assert resp.json() == {
        "success": [good, twice],
        "errors": [
            failed(
                existing,
                "AlreadyExists",
                "Already exists",
                409,
                f"Entity {existing} already exists",
            ),
            failed(
                bad,
                "BadRequestData",
                "Bad request data",
                400,
                f"Attribute refParkingSite of entity {bad} is a Relationship whose object "
                "is not a URI",
            ),
            failed(
                "not-a-uri",
                "BadRequestData",
                "Bad request data",
                400,
                "The entity id 'not-a-uri' is not a URI",
            ),
            failed(
                twice,
                "AlreadyExists",
                "Already exists",
                409,
                f"Entity {twice} already exists (earlier in the batch)",
            ),
        ],
    }
    assert await absent(client, bad)
    assert await get(client, good) == spot(good)
    assert await get(client, twice) == spot(twice)  # the first occurrence (5.5.11.1)


async def test_create_with_nothing_created_is_a_207(client: httpx.AsyncClient) -> None:
    eid = new_id()
    resp = await client.post(f"{OPS}/create", json=[{"id": eid, "type": "ParkingSpot", "a": None}])
    assert resp.status_code == 207
    assert resp.json() == {
        "success": [],
        "errors": [
            failed(
                eid,
                "BadRequestData",
                "Bad request data",
                400,
                f"Attribute a of entity {eid} has a null value",
            )
        ],
    }


# --- whole-request errors ---------------------------------------------------------------------
TOO_MANY = [{"id": f"urn:ngsi-ld:T:{n}", "type": "T"} for n in range(1001)]


@pytest.mark.parametrize(
    ("op", "body", "kind", "detail"),
    [
        ("create", {"id": "urn:ngsi-ld:T:1", "type": "T"}, "BadRequestData",
         "The request body must be a JSON array of entities"),
        ("upsert", [], "BadRequestData",
         "The request body is an empty array; it must hold entities"),
        ("update", [None], "BadRequestData",
         "Item 0 of the batch is not an entity (a JSON object)"),
        ("merge", [{"id": "urn:ngsi-ld:T:1"}, {"type": "T"}], "BadRequestData",
         "Item 1 of the batch has no id (a string)"),
        ("upsert", TOO_MANY, "BadRequestData",
         "The batch holds 1001 items; at most 1000 are allowed per request"),
        ("delete", ["urn:ngsi-ld:T:1", 7], "BadRequestData",
         "Item 1 of the batch is not an entity id (a string)"),
        ("delete", "urn:ngsi-ld:T:1", "BadRequestData",
         "The request body must be a JSON array of entity ids"),
    ],
)  # fmt: skip
async def test_a_body_that_is_not_a_batch_is_a_400(
    client: httpx.AsyncClient, op: str, body: Any, kind: str, detail: str
) -> None:
    resp = await client.post(f"{OPS}/{op}", json=body)
    assert resp.status_code == 400
    assert resp.json() == {
        **problem(kind, "Bad request data", 400, detail),
        "instance": f"{OPS}/{op}",
    }


async def test_nothing_is_written_when_the_request_is_refused(client: httpx.AsyncClient) -> None:
    eid = new_id()
    resp = await client.post(f"{OPS}/create", json=[spot(eid), None])
    assert resp.status_code == 400
    assert await absent(client, eid)


@pytest.mark.parametrize(
    ("content", "headers", "status", "kind", "title", "detail"),
    [
        (b'[{"id": "urn:x:1", "type": "T"}]', {"Content-Type": "text/plain"}, 415,
         "InvalidRequest", "Unsupported media type",
         "The request body must be sent as application/json or application/ld+json, "
         "not text/plain"),
        (b'[{"id": "urn:x:1",', {"Content-Type": "application/json"}, 400,
         "InvalidRequest", "Invalid request", None),
    ],
)  # fmt: skip
async def test_wrong_media_type_and_malformed_json(
    client: httpx.AsyncClient,
    content: bytes,
    headers: dict[str, str],
    status: int,
    kind: str,
    title: str,
    detail: str | None,
) -> None:
    resp = await client.post(f"{OPS}/upsert", content=content, headers=headers)
    assert resp.status_code == status
    body = resp.json()
    assert body["type"] == ERR + kind and body["title"] == title and body["status"] == status
    if detail is not None:
        assert body["detail"] == detail


async def test_options_and_query_parameters_are_checked(client: httpx.AsyncClient) -> None:
    body = [spot(new_id())]
    cases = [
        ("upsert", {"options": "updat"}, "BadRequestData", "Bad request data",
         "Unknown options updat; this operation takes replace, update"),
        ("upsert", {"options": "update,replace"}, "BadRequestData", "Bad request data",
         "options may be replace or update, not both"),
        ("update", {"options": "replace"}, "BadRequestData", "Bad request data",
         "Unknown options replace; this operation takes noOverwrite"),
        ("create", {"limit": "3"}, "InvalidRequest", "Invalid request",
         f"Unknown query parameter 'limit' for POST {OPS}/create"),
    ]  # fmt: skip
    for op, params, kind, title, detail in cases:
        resp = await client.post(f"{OPS}/{op}", json=body, params=params)
        assert resp.status_code == 400, (op, params)
        assert resp.json() == {**problem(kind, title, 400, detail), "instance": f"{OPS}/{op}"}
    assert await absent(client, body[0]["id"])


# --- @context: Link header or one per entity ---------------------------------------------------
async def test_ld_json_takes_the_context_of_each_entity(client: httpx.AsyncClient) -> None:
    a, b, c = new_id(), new_id(), new_id()
    context = {"occupancy": SDM + "occupancy"}
    items = [
        {**spot(a), "occupancy": {"type": "Property", "value": 1}, "@context": context},
        {**spot(b), "occupancy": {"type": "Property", "value": 2}},  # no @context
        {**spot(c), "@context": "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"},
    ]
    resp = await client.post(f"{OPS}/create", content=orjson.dumps(items), headers=LD)
    assert resp.status_code == 207, resp.text
    assert resp.json() == {
        "success": [a, c],
        "errors": [
            failed(
                b,
                "BadRequestData",
                "Bad request data",
                400,
                "A body sent as application/ld+json must carry its @context",
            )
        ],
    }
    stored = await get(client, a)
    assert stored[SDM + "occupancy"] == {"type": "Property", "value": 1}  # stored expanded
    assert await get(client, c) == spot(c)


async def test_json_takes_the_link_context_and_refuses_one_in_an_entity(
    client: httpx.AsyncClient,
) -> None:
    a, b = new_id(), new_id()
    resp = await client.post(
        f"{OPS}/upsert",
        json=[
            {**spot(a), "occupancy": {"type": "Property", "value": 1}},
            {**spot(b), "@context": {"occupancy": SDM + "occupancy"}},
        ],
        headers={
            "Link": "<https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld>; "
            'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
        },
    )
    assert resp.status_code == 207, resp.text
    assert resp.json() == {
        "success": [a],
        "errors": [
            failed(
                b,
                "BadRequestData",
                "Bad request data",
                400,
                "A body sent as application/json must not carry @context; "
                "send it in a Link header or use application/ld+json",
            )
        ],
    }
    assert await absent(client, b)


async def test_ld_json_with_a_link_header_is_a_400(client: httpx.AsyncClient) -> None:
    item = {
        **spot(new_id()),
        "@context": "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
    }
    resp = await client.post(
        f"{OPS}/create",
        content=orjson.dumps([item]),
        headers={
            **LD,
            "Link": '<https://example.org/c.jsonld>; rel="http://www.w3.org/ns/json-ld#context"',
        },
    )
    assert resp.status_code == 400
    assert resp.json()["detail"] == (
        "A body sent as application/ld+json carries its @context in each entity; a "
        "JSON-LD Link header must not be sent with it (6.3.5)"
    )


# --- upsert (5.6.8) ---------------------------------------------------------------------------
async def test_upsert_answers_201_with_created_ids_only_and_204_when_all_existed(
    client: httpx.AsyncClient,
) -> None:
    a, b = new_id(), new_id()
    first = await client.post(f"{OPS}/upsert", json=[spot(a)])
    assert first.status_code == 201 and first.json() == [a]
    created_at = (await get(client, a, options="sysAttrs"))["createdAt"]
    # a exists, b is new: only b is listed
    replaced = {"id": a, "type": "ParkingSpot", "status": {"type": "Property", "value": "busy"}}
    second = await client.post(f"{OPS}/upsert", json=[replaced, spot(b)])
    assert second.status_code == 201 and second.json() == [b]
    assert await get(client, a) == replaced  # replaced whole: width is gone
    third = await client.post(
        f"{OPS}/upsert", json=[spot(a), spot(b)], params={"options": "replace"}
    )
    assert third.status_code == 204 and third.content == b""
    after = await get(client, a, options="sysAttrs")
    assert after["createdAt"] == created_at and after["modifiedAt"] >= created_at
    assert after["status"]["value"] == "free" and "width" in after


async def test_upsert_update_appends_to_existing_entities(client: httpx.AsyncClient) -> None:
    eid = new_id()
    await client.post(f"{OPS}/create", json=[spot(eid)])
    resp = await client.post(
        f"{OPS}/upsert",
        params={"options": "update"},
        json=[
            {
                "id": eid,
                "type": "Spot",
                "status": {"type": "Property", "value": "occupied"},
                "name": {"type": "Property", "value": "Spot 7"},
            }
        ],
    )
    assert resp.status_code == 204, resp.text
    assert await get(client, eid) == {
        **spot(eid, "occupied"),
        "type": ["ParkingSpot", "Spot"],
        "name": {"type": "Property", "value": "Spot 7"},
    }


async def test_upsert_applies_repeated_ids_in_order(client: httpx.AsyncClient) -> None:
    eid = new_id()
    resp = await client.post(f"{OPS}/upsert", json=[spot(eid), spot(eid, "occupied")])
    assert resp.status_code == 201 and resp.json() == [eid]
    assert await get(client, eid) == spot(eid, "occupied")  # replace: the last one wins

    other = new_id()
    extra = {"id": other, "type": "ParkingSpot", "name": {"type": "Property", "value": "B"}}
    resp = await client.post(
        f"{OPS}/upsert", params={"options": "update"}, json=[spot(other), extra, spot(other, "x")]
    )
    assert resp.status_code == 201 and resp.json() == [other]
    assert await get(client, other) == {**spot(other, "x"), "name": extra["name"]}


async def test_upsert_reports_invalid_entities_and_writes_the_others(
    client: httpx.AsyncClient,
) -> None:
    good, bad = new_id(), new_id()
    resp = await client.post(
        f"{OPS}/upsert", json=[spot(good), {"id": bad, "type": "ParkingSpot", "bad name": 1}]
    )
    assert resp.status_code == 207
    assert resp.json() == {
        "success": [good],
        "errors": [
            failed(
                bad,
                "BadRequestData",
                "Bad request data",
                400,
                f"Entity {bad} has an attribute with a forbidden name: 'bad name'",
            )
        ],
    }
    assert await get(client, good) == spot(good)
    assert await absent(client, bad)


# --- update (5.6.9) ---------------------------------------------------------------------------
async def test_update_appends_and_reports_missing_entities(client: httpx.AsyncClient) -> None:
    a, b, missing = new_id(), new_id(), new_id()
    await client.post(f"{OPS}/create", json=[spot(a), spot(b)])
    name = {"type": "Property", "value": "Spot 7"}
    resp = await client.post(
        f"{OPS}/update",
        json=[
            {"id": a, "status": {"type": "Property", "value": "occupied"}, "name": name},
            {"id": missing, "type": "ParkingSpot", "name": name},
            {"id": b, "type": "ParkingSpot"},
            {"id": b},
        ],
    )
    assert resp.status_code == 207, resp.text
    assert resp.json() == {
        "success": [a, b],
        "errors": [
            not_found(missing),
            failed(
                b,
                "BadRequestData",
                "Bad request data",
                400,
                f"Entity {b} holds no attribute to update",
            ),
        ],
    }
    assert await get(client, a) == {**spot(a, "occupied"), "name": name}
    all_ok = await client.post(f"{OPS}/update", json=[{"id": a, "name": name}])
    assert all_ok.status_code == 204 and all_ok.content == b""


async def test_update_no_overwrite_keeps_what_exists(client: httpx.AsyncClient) -> None:
    eid = new_id()
    await client.post(f"{OPS}/create", json=[spot(eid)])
    resp = await client.post(
        f"{OPS}/update",
        params={"options": "noOverwrite"},
        json=[
            {
                "id": eid,
                "status": {"type": "Property", "value": "occupied"},
                "name": {"type": "Property", "value": "Spot 7"},
            }
        ],
    )
    assert resp.status_code == 204, resp.text
    assert await get(client, eid) == {**spot(eid), "name": {"type": "Property", "value": "Spot 7"}}


# --- merge (5.6.20) ---------------------------------------------------------------------------
async def test_merge_adds_replaces_and_deletes_attributes(client: httpx.AsyncClient) -> None:
    a, b, missing = new_id(), new_id(), new_id()
    await client.post(f"{OPS}/create", json=[spot(a), spot(b)])
    resp = await client.post(
        f"{OPS}/merge",
        json=[
            {"id": a, "width": "urn:ngsi-ld:null", "name": {"type": "Property", "value": "A"}},
            {"id": missing, "name": {"type": "Property", "value": "M"}},
            {"id": b, "status": {"type": "Property", "value": "occupied"}},
            {"id": b, "status": {"type": "Property", "value": "closed"}},
        ],
    )
    assert resp.status_code == 207, resp.text
    assert resp.json() == {"success": [a, b], "errors": [not_found(missing)]}
    assert await get(client, a) == {
        "id": a,
        "type": "ParkingSpot",
        "status": {"type": "Property", "value": "free"},
        "name": {"type": "Property", "value": "A"},
    }
    assert await get(client, b) == spot(b, "closed")  # merged in array order (5.5.11.5)
    again = await client.post(f"{OPS}/merge", json=[{"id": a, "type": "ParkingSpot"}])
    assert again.status_code == 204


# --- delete (5.6.10) --------------------------------------------------------------------------
async def test_delete_answers_204_then_reports_what_was_not_deleted(
    client: httpx.AsyncClient,
) -> None:
    a, b, missing = new_id(), new_id(), new_id()
    await client.post(f"{OPS}/create", json=[spot(a), spot(b)])
    assert (await client.post(f"{OPS}/delete", json=[a])).status_code == 204
    resp = await client.post(f"{OPS}/delete", json=[b, b, missing, "not a uri"])
    assert resp.status_code == 207
    assert resp.json() == {
        "success": [b],
        "errors": [
            not_found(b, f"Entity {b} does not exist (deleted earlier in the batch)"),
            not_found(missing),
            failed(
                "not a uri",
                "BadRequestData",
                "Bad request data",
                400,
                "The entity id 'not a uri' is not a URI",
            ),
        ],
    }
    assert await absent(client, a) and await absent(client, b)


# --- tenants ----------------------------------------------------------------------------------
async def test_batches_stay_in_their_tenant(client: httpx.AsyncClient) -> None:
    eid = new_id()
    tenant = {"NGSILD-Tenant": "batch-city"}
    resp = await client.post(f"{OPS}/upsert", json=[spot(eid)], headers=tenant)
    assert resp.status_code == 201
    assert await absent(client, eid)
    gone = await client.post(f"{OPS}/delete", json=[eid])
    assert gone.status_code == 207 and gone.json()["errors"] == [not_found(eid)]
    assert (await client.post(f"{OPS}/delete", json=[eid], headers=tenant)).status_code == 204


# --- statistics after loads (batch/service.py Staleness) ----------------------------------
async def test_a_load_has_the_entity_statistics_refreshed(
    client: httpx.AsyncClient, pg: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once enough entities of a type were created by batches, the broker ANALYZEs the table
    (with a smaller sample, in a transaction of its own): the count of analyses grows."""
    import asyncio

    from context_broker.batch import service

    monkeypatch.setattr(service, "ANALYZE_AFTER", 3)
    sql = "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'entity'"
    before = await pg.fetchval(sql)
    kind = f"Loaded{uuid.uuid4().hex[:8]}"
    body = [{**spot(new_id()), "type": kind} for _ in range(4)]
    resp = await client.post(f"{OPS}/upsert", json=body)
    assert resp.status_code == 201, resp.text
    for _ in range(100):
        if await pg.fetchval(sql) > before:
            break
        await asyncio.sleep(0.05)
    assert await pg.fetchval(sql) > before
