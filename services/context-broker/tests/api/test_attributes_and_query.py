"""Attribute operations, Merge/Replace and Query Entities over HTTP (ETSI GS CIM 009 V1.8.1)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
DEFAULT = "https://uri.etsi.org/ngsi-ld/default-context/"
CORE = "https://uri.etsi.org/ngsi-ld/"
CTX = {
    "@context": {
        "sdm": "https://smartdatamodels.org/dataModel.Parking/",
        "width": "sdm:width",
        "ParkingSpot": "sdm:ParkingSpot",
    }
}
LD = {"Content-Type": "application/ld+json"}


def new_id() -> str:
    return f"urn:ngsi-ld:ParkingSpot:{uuid.uuid4().hex}"


def spot(eid: str, status: str = "free", width: float = 2.4) -> dict[str, Any]:
    return {
        "id": eid,
        "type": "ParkingSpot",
        "status": {"type": "Property", "value": status, "observedAt": "2026-11-26T10:00:00Z"},
        "width": {"type": "Property", "value": width, "unitCode": "MTR"},
        "refParkingSite": {"type": "Relationship", "object": "urn:ngsi-ld:ParkingSite:1"},
    }


async def create(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    resp = await client.post("/ngsi-ld/v1/entities", json=body)
    assert resp.status_code == 201, resp.text


async def get(client: httpx.AsyncClient, eid: str, **params: str) -> dict[str, Any]:
    resp = await client.get(f"/ngsi-ld/v1/entities/{eid}", params=params)
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


async def test_append_with_and_without_no_overwrite(client: httpx.AsyncClient) -> None:
    eid = new_id()
    await create(client, spot(eid))
    attrs = {
        "status": {"type": "Property", "value": "occupied"},
        "name": {"type": "Property", "value": "Spot 7"},
    }
    kept = await client.post(
        f"/ngsi-ld/v1/entities/{eid}/attrs", json=attrs, params={"options": "noOverwrite"}
    )
    assert kept.status_code == 207
    # Attribute names in an UpdateResult are expanded IRIs (as the ETSI suite expects).
    assert kept.json() == {
        "updated": [f"{DEFAULT}name"],
        "notUpdated": [
            {"attributeName": f"{CORE}status", "reason": "the attribute exists (noOverwrite)"}
        ],
    }
    assert (await get(client, eid))["status"]["value"] == "free"
    done = await client.post(f"/ngsi-ld/v1/entities/{eid}/attrs", json=attrs)
    assert done.status_code == 204
    assert (await get(client, eid))["status"] == {"type": "Property", "value": "occupied"}


async def test_update_touches_only_existing_attributes(client: httpx.AsyncClient) -> None:
    eid = new_id()
    await create(client, spot(eid))
    resp = await client.patch(
        f"/ngsi-ld/v1/entities/{eid}/attrs",
        json={
            "status": {"type": "Property", "value": "occupied"},
            "colour": {"type": "Property", "value": "blue"},
        },
    )
    assert resp.status_code == 207
    assert resp.json()["updated"] == [f"{CORE}status"]
    entity = await get(client, eid)
    assert entity["status"]["value"] == "occupied"
    assert "colour" not in entity


async def test_partial_update_keeps_other_members(client: httpx.AsyncClient) -> None:
    eid = new_id()
    await create(client, spot(eid))
    resp = await client.patch(f"/ngsi-ld/v1/entities/{eid}/attrs/width", json={"value": 2.6})
    assert resp.status_code == 204, resp.text
    assert (await get(client, eid))["width"] == {
        "type": "Property",
        "value": 2.6,
        "unitCode": "MTR",
    }
    missing = await client.patch(f"/ngsi-ld/v1/entities/{eid}/attrs/nope", json={"value": 1})
    assert missing.status_code == 404
    assert missing.json()["type"] == ERR + "ResourceNotFound"


async def test_multi_attributes_by_dataset_id(client: httpx.AsyncClient) -> None:
    eid = new_id()
    body = spot(eid)
    body["temperature"] = [
        {"type": "Property", "value": 20},
        {"type": "Property", "value": 21, "datasetId": "urn:ngsi-ld:Dataset:sensor-b"},
    ]
    await create(client, body)
    assert len((await get(client, eid))["temperature"]) == 2
    one = await client.delete(
        f"/ngsi-ld/v1/entities/{eid}/attrs/temperature",
        params={"datasetId": "urn:ngsi-ld:Dataset:sensor-b"},
    )
    assert one.status_code == 204
    assert (await get(client, eid))["temperature"] == {"type": "Property", "value": 20}
    again = await client.delete(
        f"/ngsi-ld/v1/entities/{eid}/attrs/temperature",
        params={"datasetId": "urn:ngsi-ld:Dataset:sensor-b"},
    )
    assert again.status_code == 404
    twice = spot(new_id())
    twice["t"] = [{"type": "Property", "value": 1}, {"type": "Property", "value": 2}]
    dup = await client.post("/ngsi-ld/v1/entities", json=twice)
    assert dup.status_code == 400
    assert "two instances" in dup.json()["detail"]


async def test_delete_attribute_and_delete_all(client: httpx.AsyncClient) -> None:
    eid = new_id()
    await create(client, spot(eid))
    assert (await client.delete(f"/ngsi-ld/v1/entities/{eid}/attrs/width")).status_code == 204
    assert "width" not in await get(client, eid)
    resp = await client.delete(
        f"/ngsi-ld/v1/entities/{eid}/attrs/status", params={"deleteAll": "true"}
    )
    assert resp.status_code == 204
    assert "status" not in await get(client, eid)


async def test_merge_adds_replaces_and_deletes_with_null(client: httpx.AsyncClient) -> None:
    eid = new_id()
    await create(client, spot(eid))
    resp = await client.patch(
        f"/ngsi-ld/v1/entities/{eid}",
        json={
            "status": {"type": "Property", "value": "occupied"},
            "name": "Spot 9",
            "width": "urn:ngsi-ld:null",
        },
    )
    assert resp.status_code == 204, resp.text
    entity = await get(client, eid)
    # Merged member by member: the value changes, observedAt stays.
    assert entity["status"] == {
        "type": "Property",
        "value": "occupied",
        "observedAt": "2026-11-26T10:00:00Z",
    }
    assert entity["name"] == {"type": "Property", "value": "Spot 9"}
    assert "width" not in entity
    assert entity["refParkingSite"]["object"] == "urn:ngsi-ld:ParkingSite:1"


async def test_replace_entity_and_attribute(client: httpx.AsyncClient) -> None:
    eid = new_id()
    await create(client, spot(eid))
    resp = await client.put(
        f"/ngsi-ld/v1/entities/{eid}",
        json={"type": "ParkingSpot", "status": {"type": "Property", "value": "closed"}},
    )
    assert resp.status_code == 204, resp.text
    assert await get(client, eid) == {
        "id": eid,
        "type": "ParkingSpot",
        "status": {"type": "Property", "value": "closed"},
    }
    put = await client.put(
        f"/ngsi-ld/v1/entities/{eid}/attrs/status", json={"type": "Property", "value": "free"}
    )
    assert put.status_code == 204
    assert (await get(client, eid))["status"] == {"type": "Property", "value": "free"}
    gone = await client.put(f"/ngsi-ld/v1/entities/{eid}/attrs/nope", json={"value": 1})
    assert gone.status_code == 404


async def test_representations(client: httpx.AsyncClient) -> None:
    eid = new_id()
    await create(client, spot(eid))
    kv = await get(client, eid, options="keyValues")
    assert kv == {
        "id": eid,
        "type": "ParkingSpot",
        "status": "free",
        "width": 2.4,
        "refParkingSite": "urn:ngsi-ld:ParkingSite:1",
    }
    concise = await get(client, eid, format="concise")
    assert concise["status"] == {"value": "free", "observedAt": "2026-11-26T10:00:00Z"}
    assert concise["refParkingSite"] == {"object": "urn:ngsi-ld:ParkingSite:1"}
    sys = await get(client, eid, options="sysAttrs")
    assert sys["createdAt"].endswith("Z") and sys["status"]["createdAt"].endswith("Z")
    picked = await get(client, eid, pick="id,status")
    assert picked == {"id": eid, "status": spot(eid)["status"]}
    only = await get(client, eid, attrs="width")
    assert set(only) == {"id", "type", "width"}
    bad = await client.get(f"/ngsi-ld/v1/entities/{eid}", params={"options": "bogus"})
    assert bad.status_code == 400


async def test_concise_input_is_normalized(client: httpx.AsyncClient) -> None:
    eid = new_id()
    await create(
        client,
        {
            "id": eid,
            "type": "ParkingSpot",
            "name": "Spot 1",
            "category": ["onStreet"],
            "location": {"type": "Point", "coordinates": [4.35, 50.85]},
            "refDevice": {"object": "urn:ngsi-ld:Device:1"},
        },
    )
    entity = await get(client, eid)
    assert entity["name"] == {"type": "Property", "value": "Spot 1"}
    assert entity["category"] == {"type": "Property", "value": ["onStreet"]}
    assert entity["location"]["type"] == "GeoProperty"
    assert entity["refDevice"] == {"type": "Relationship", "object": "urn:ngsi-ld:Device:1"}


async def test_user_context_expands_and_compacts(client: httpx.AsyncClient) -> None:
    eid = new_id()
    body = {**spot(eid), **CTX}
    resp = await client.post("/ngsi-ld/v1/entities", content=orjson.dumps(body), headers=LD)
    assert resp.status_code == 201, resp.text
    plain = await get(client, eid)  # core context only: full IRIs for the user's terms
    assert plain["type"] == "https://smartdatamodels.org/dataModel.Parking/ParkingSpot"
    assert "https://smartdatamodels.org/dataModel.Parking/width" in plain
    assert plain["status"]["value"] == "free"  # a core term (protected): same everywhere
    ld = await client.post(
        "/ngsi-ld/v1/entityOperations/query",
        content=orjson.dumps(
            {"type": "Query", "entities": [{"id": eid, "type": "ParkingSpot"}], **CTX}
        ),
        headers={**LD, "Accept": "application/ld+json"},
    )
    assert ld.status_code == 200, ld.text
    [entity] = ld.json()
    assert entity["type"] == "ParkingSpot"
    assert entity["width"]["value"] == 2.4
    assert entity["@context"] == CTX["@context"]


async def test_query_by_type_q_and_paging(client: httpx.AsyncClient) -> None:
    kind = f"Kind{uuid.uuid4().hex[:8]}"
    ids = [f"urn:ngsi-ld:{kind}:{i:03d}" for i in range(7)]
    for i, eid in enumerate(ids):
        await create(
            client, {**spot(eid, "free" if i % 2 else "occupied", 2.0 + i / 10), "type": kind}
        )
    resp = await client.get(
        "/ngsi-ld/v1/entities", params={"type": kind, "count": "true", "limit": 3}
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["ngsild-results-count"] == "7"
    assert [e["id"] for e in resp.json()] == ids[:3]
    page2 = await client.get("/ngsi-ld/v1/entities", params={"type": kind, "limit": 3, "offset": 3})
    assert [e["id"] for e in page2.json()] == ids[3:6]
    free = await client.get("/ngsi-ld/v1/entities", params={"type": kind, "q": 'status=="free"'})
    assert [e["id"] for e in free.json()] == ids[1::2]
    wide = await client.get("/ngsi-ld/v1/entities", params={"type": kind, "q": "width>2.45"})
    assert [e["id"] for e in wide.json()] == ids[5:]
    both = await client.get(
        "/ngsi-ld/v1/entities", params={"type": kind, "q": 'status=="free";width<2.35'}
    )
    assert [e["id"] for e in both.json()] == [ids[1], ids[3]]
    alone = await client.get("/ngsi-ld/v1/entities", params={"id": f"{ids[0]},{ids[6]}"})
    assert alone.status_code == 400  # an id list alone is not a query (5.7.2)
    by_id = await client.get(
        "/ngsi-ld/v1/entities", params={"id": f"{ids[0]},{ids[6]}", "type": kind}
    )
    assert [e["id"] for e in by_id.json()] == [ids[0], ids[6]]
    pattern = await client.get(
        "/ngsi-ld/v1/entities",
        params={"idPattern": f"^urn:ngsi-ld:{kind}:00[12]$", "type": kind},
    )
    assert [e["id"] for e in pattern.json()] == ids[1:3]
    kv = await client.get(
        "/ngsi-ld/v1/entities", params={"type": kind, "limit": 1, "options": "keyValues"}
    )
    assert kv.json()[0]["status"] == "occupied"
    zero = await client.get(
        "/ngsi-ld/v1/entities", params={"type": kind, "limit": 0, "count": "true"}
    )
    assert zero.json() == [] and zero.headers["ngsild-results-count"] == "7"


async def test_query_errors(client: httpx.AsyncClient) -> None:
    none = await client.get("/ngsi-ld/v1/entities")
    assert none.status_code == 400
    assert none.json()["type"] == ERR + "BadRequestData"
    unbalanced = await client.get("/ngsi-ld/v1/entities", params={"type": "T", "q": "(a==1"})
    assert unbalanced.status_code == 400
    regex = await client.get("/ngsi-ld/v1/entities", params={"idPattern": "([", "type": "T"})
    assert regex.status_code == 400
    too_many = await client.get("/ngsi-ld/v1/entities", params={"type": "T", "limit": 5000})
    assert too_many.status_code == 400
    injection = await client.get(
        "/ngsi-ld/v1/entities", params={"type": "T", "q": 'a=="x\\" || true || \\""'}
    )
    assert injection.status_code in (200, 400)
    if injection.status_code == 200:
        assert injection.json() == []


async def test_unknown_context_url_is_ld_context_not_available(
    client: httpx.AsyncClient,
) -> None:
    link = (
        '<http://127.0.0.1:9/none.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; '
        'type="application/ld+json"'
    )
    resp = await client.get(f"/ngsi-ld/v1/entities/{new_id()}", headers={"Link": link})
    assert resp.status_code in (503, 504)
    assert resp.json()["type"] == ERR + "LdContextNotAvailable"


async def test_purge_entities_whole_or_some_attributes(client: httpx.AsyncClient) -> None:
    kind = f"Purge{uuid.uuid4().hex[:8]}"
    ids = [f"urn:ngsi-ld:{kind}:{i}" for i in range(4)]
    for i, eid in enumerate(ids):
        await create(client, {**spot(eid, "free" if i < 2 else "occupied"), "type": kind})
    assert (await client.delete("/ngsi-ld/v1/entities")).status_code == 400
    both = await client.delete(
        "/ngsi-ld/v1/entities", params={"type": kind, "keep": "a", "drop": "b"}
    )
    assert both.status_code == 400
    dropped = await client.delete("/ngsi-ld/v1/entities", params={"id": ids[0], "drop": "width"})
    assert dropped.status_code == 204
    assert set(await get(client, ids[0])) == {"id", "type", "status", "refParkingSite"}
    kept = await client.delete("/ngsi-ld/v1/entities", params={"id": ids[1], "keep": "width"})
    assert kept.status_code == 204
    assert set(await get(client, ids[1])) == {"id", "type", "width"}
    gone = await client.delete(
        "/ngsi-ld/v1/entities", params={"type": kind, "q": 'status=="occupied"'}
    )
    assert gone.status_code == 204
    left = await client.get("/ngsi-ld/v1/entities", params={"type": kind})
    assert [e["id"] for e in left.json()] == ids[:2]


async def test_type_selectors_and_scope_queries(client: httpx.AsyncClient) -> None:
    tag = uuid.uuid4().hex[:8]
    a, b, c = f"A{tag}", f"B{tag}", f"C{tag}"
    ents = {
        "ab": ([a, b], ["/Madrid/Gardens/ParqueNorte"]),
        "a": ([a], ["/Madrid/Districts"]),
        "bc": ([b, c], ["/Madrid"]),
        "c": ([c], None),
    }
    for key, (types, scope) in ents.items():
        body: dict[str, Any] = {
            "id": f"urn:ngsi-ld:X:{tag}:{key}",
            "type": types,
            "n": {"type": "Property", "value": 1},
        }
        if scope:
            body["scope"] = scope
        await create(client, body)

    async def ids(**params: str) -> list[str]:
        resp = await client.get("/ngsi-ld/v1/entities", params={"limit": "100", **params})
        assert resp.status_code == 200, resp.text
        return sorted(e["id"].rsplit(":", 1)[1] for e in resp.json() if f":{tag}:" in e["id"])

    assert await ids(type=f"{a},{c}") == ["a", "ab", "bc", "c"]
    assert await ids(type=f"{a};{b}") == ["ab"]
    assert await ids(type=f"({a};{b})|{c}") == ["ab", "bc", "c"]
    assert await ids(type=f"{b}", scopeQ="/Madrid/#") == ["ab", "bc"]
    assert await ids(type=f"{a}|{c}", scopeQ="/Madrid/+") == ["a"]
    assert await ids(type=f"{a}|{c}", scopeQ="/#") == ["a", "ab", "bc"]
    assert await ids(scopeQ="/Madrid/Gardens/ParqueNorte") == ["ab"]
    assert await ids(scopeQ="/Madrid/+/ParqueNorte") == ["ab"]
    assert await ids(scopeQ="/+/Gardens/#") == ["ab"]
    for bad in [
        {"type": f"({a}"},
        {"type": f"{a};;"},
        {"type": "a b"},
        {"type": "T", "scopeQ": "Madrid"},
        {"type": "T", "scopeQ": "/a/#/b"},
    ]:
        resp = await client.get("/ngsi-ld/v1/entities", params=bad)
        assert resp.status_code == 400, bad


async def test_dataset_id_selects_instances(client: httpx.AsyncClient) -> None:
    eid = new_id()
    body = spot(eid)
    body["name"] = [
        {"type": "Property", "value": "Spot"},
        {"type": "Property", "value": "Place", "datasetId": "urn:ngsi-ld:Dataset:fr"},
    ]
    await create(client, body)
    fr = await get(client, eid, datasetId="urn:ngsi-ld:Dataset:fr")
    assert fr == {
        "id": eid,
        "type": "ParkingSpot",
        "name": {"type": "Property", "value": "Place", "datasetId": "urn:ngsi-ld:Dataset:fr"},
    }
    default = await get(client, eid, datasetId="@none", attrs="name")
    assert default["name"] == {"type": "Property", "value": "Spot"}
    bad = await client.get(f"/ngsi-ld/v1/entities/{eid}", params={"datasetId": "not a uri"})
    assert bad.status_code == 400
    local = await client.get(f"/ngsi-ld/v1/entities/{eid}", params={"local": "true"})
    assert local.status_code == 200


async def test_local_alone_lists_everything(client: httpx.AsyncClient) -> None:
    resp = await client.get(
        "/ngsi-ld/v1/entities", params={"local": "true", "count": "true", "limit": "1"}
    )
    assert resp.status_code == 200
    assert int(resp.headers["ngsild-results-count"]) >= 1
    assert len(resp.json()) == 1


async def test_scope_in_attribute_operations(client: httpx.AsyncClient) -> None:
    eid = new_id()
    await create(client, {**spot(eid), "scope": "/Madrid/Gardens"})
    url = f"/ngsi-ld/v1/entities/{eid}/attrs"
    kept = await client.post(
        url, json={"scope": "/Madrid/North"}, params={"options": "noOverwrite"}
    )
    assert kept.status_code == 204
    assert (await get(client, eid))["scope"] == ["/Madrid/Gardens", "/Madrid/North"]
    over = await client.post(url, json={"scope": "/Lyon"})
    assert over.status_code == 204
    assert (await get(client, eid))["scope"] == "/Lyon"
    assert (await client.delete(f"{url}/scope")).status_code == 204
    assert "scope" not in await get(client, eid)
    assert (await client.delete(f"{url}/scope")).status_code == 404
    missing = await client.patch(url, json={"scope": "/Paris"})
    assert missing.status_code == 207
    assert missing.json()["notUpdated"] == [
        {"attributeName": "scope", "reason": "the entity has no scope"}
    ]


async def test_purge_in_local_mode_purges_the_tenant(client: httpx.AsyncClient) -> None:
    tenant = {"NGSILD-Tenant": f"purge{uuid.uuid4().hex[:8]}"}
    for _ in range(3):
        created = await client.post("/ngsi-ld/v1/entities", json=spot(new_id()), headers=tenant)
        assert created.status_code == 201
    resp = await client.delete("/ngsi-ld/v1/entities", params={"local": "true"}, headers=tenant)
    assert resp.status_code == 204
    left = await client.get("/ngsi-ld/v1/entities", params={"local": "true"}, headers=tenant)
    assert left.json() == []


async def test_q_pages_are_exact_whether_the_ordered_scan_decides_or_not(
    client: httpx.AsyncClient,
) -> None:
    """Query with q takes the first matches in id order from a bounded ordered scan when it
    can (entities/repository.py _ordered_scan), else the full plan: same answers."""
    kind = f"Scan{uuid.uuid4().hex[:6]}"
    statuses = ["free", "taken", "taken", "taken"]
    docs = [
        {
            "id": f"urn:ngsi-ld:{kind}:{n:05d}",
            "type": kind,
            "status": {"type": "Property", "value": statuses[n % 4] if n < 2500 else "rare"},
        }
        for n in range(2501)
    ]
    for i in range(0, len(docs), 1000):
        r = await client.post("/ngsi-ld/v1/entityOperations/create", json=docs[i : i + 1000])
        assert r.status_code == 201
    free = [d["id"] for d in docs if d["status"]["value"] == "free"]

    async def page(q: str, offset: int, limit: int) -> tuple[list[str], str | None]:
        r = await client.get(
            "/ngsi-ld/v1/entities",
            params={"type": kind, "q": q, "offset": offset, "limit": limit, "count": "true"},
        )
        assert r.status_code == 200
        return [e["id"] for e in r.json()], r.headers.get("ngsild-results-count")

    assert await page('status=="free"', 0, 20) == (free[:20], "625")
    assert await page('status=="free"', 100, 20) == (free[100:120], "625")
    others = [d["id"] for d in docs if d["status"]["value"] != "free"]
    # Beyond the budget of the ordered scan: the plain plan answers.
    assert await page('status!="free"', 1860, 20) == (others[1860:1880], "1876")
    assert await page('status=="rare"', 0, 20) == ([docs[-1]["id"]], "1")
    assert await page('status=="none"', 0, 20) == ([], "0")
    assert (await page('status=="free"', 620, 20))[0] == free[620:]


def _status(value: str) -> dict[str, Any]:
    return {"type": "Property", "value": value}


async def test_pages_of_one_type_with_q_are_exact_beside_other_and_multiple_types(
    client: httpx.AsyncClient,
) -> None:
    """The page of a type + q query is found by walking the type's entities in id order
    (repository._ordered_scan): alone when every entity of the type has that one type
    (index of migration 0011), along the whole tenant once one has several types. Entities
    of another type whose ids sort first are not in the way, and every page is exact."""
    tenant = f"walk{uuid.uuid4().hex[:8]}"
    h = {"NGSILD-Tenant": tenant}
    kind = "Walk"
    first = [  # ids that sort before the Walk ones, another type
        {
            "id": f"urn:ngsi-ld:Aaa:{n:03d}",
            "type": "Aaa",
            "status": {"type": "Property", "value": "free"},
        }
        for n in range(40)
    ]
    walk = [
        {
            "id": f"urn:ngsi-ld:Walk:{n:03d}",
            "type": kind,
            "status": {"type": "Property", "value": "free" if n % 3 else "no"},
        }
        for n in range(50)
    ]
    made = await client.post("/ngsi-ld/v1/entityOperations/create", json=first + walk, headers=h)
    assert made.status_code == 201, made.text

    async def pages() -> list[str]:
        found: list[str] = []
        for offset in range(0, 60, 7):
            r = await client.get(
                "/ngsi-ld/v1/entities",
                params={"type": kind, "q": 'status=="free"', "limit": 7, "offset": offset},
                headers=h,
            )
            assert r.status_code == 200, r.text
            found += [e["id"] for e in r.json()]
        return found

    expected = [e["id"] for e in walk if e["status"]["value"] == "free"]
    assert await pages() == expected
    # One entity with two types: the walk goes along the whole tenant, still exact.
    both = {
        "id": "urn:ngsi-ld:Walk:020x",
        "type": [kind, "Other"],
        "status": {"type": "Property", "value": "free"},
    }
    assert (await client.post("/ngsi-ld/v1/entities", json=both, headers=h)).status_code == 201
    assert await pages() == sorted([*expected, both["id"]])
