"""TMF620 resources through the shared mechanism: create, fields, filters, paging, merge patch."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

CAT = "/tmf-api/productCatalogManagement/v5"
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("productCatalog", {"@type": "ProductCatalog", "name": "City data"}),
        ("category", {"@type": "Category", "name": "Mobility"}),
        ("productSpecification", {"@type": "ProductSpecification", "name": "Parking feed"}),
        ("productOffering", {"@type": "ProductOffering", "name": "Parking"}),
        (
            "productOfferingPrice",
            {"@type": "ProductOfferingPrice", "name": "Monthly", "priceType": "recurring"},
        ),
    ],
)
async def test_every_catalog_resource(client: httpx.AsyncClient, kind: str, body: dict) -> None:
    created = await client.post(f"{CAT}/{kind}", json=body)
    assert created.status_code == 201, created.text
    res = created.json()
    assert res["href"] == f"http://localhost:8080{CAT}/{kind}/{res['id']}"
    assert res["lastUpdate"].endswith("Z")
    got = await client.get(f"{CAT}/{kind}/{res['id']}")
    assert got.json() == res
    patched = await client.patch(
        f"{CAT}/{kind}/{res['id']}", content=b'{"description": "d"}', headers=MERGE
    )
    assert patched.status_code == 200 and patched.json()["description"] == "d"
    assert (await client.delete(f"{CAT}/{kind}/{res['id']}")).status_code == 204
    assert (await client.get(f"{CAT}/{kind}/{res['id']}")).status_code == 404


async def test_list_filters_fields_and_paging(client: httpx.AsyncClient) -> None:
    tag = uuid.uuid4().hex[:8]
    for n in range(5):
        body = {
            "@type": "ProductOffering",
            "name": f"{tag}-{n}",
            "version": tag,
            "lifecycleStatus": "Launched" if n % 2 else "Active",
            "category": [{"id": f"cat-{tag}", "@type": "CategoryRef"}] if n < 2 else [],
        }
        assert (await client.post(f"{CAT}/productOffering", json=body)).status_code == 201
    page = await client.get(
        f"{CAT}/productOffering",
        params={"version": tag, "fields": "name", "offset": 1, "limit": 2},
    )
    assert page.status_code == 200
    assert page.headers["x-total-count"] == "5" and page.headers["x-result-count"] == "2"
    assert [o["name"] for o in page.json()] == [f"{tag}-1", f"{tag}-2"]
    assert set(page.json()[0]) == {"id", "href", "@type", "name"}
    launched = await client.get(
        f"{CAT}/productOffering", params={"version": tag, "lifecycleStatus": "Launched"}
    )
    assert [o["name"] for o in launched.json()] == [f"{tag}-1", f"{tag}-3"]
    both = await client.get(
        f"{CAT}/productOffering", params={"version": tag, "lifecycleStatus": "Launched,Active"}
    )
    assert both.headers["x-total-count"] == "5"
    nested = await client.get(f"{CAT}/productOffering", params={"category.id": f"cat-{tag}"})
    assert [o["name"] for o in nested.json()] == [f"{tag}-0", f"{tag}-1"]
    after = await client.get(
        f"{CAT}/productOffering", params={"version": tag, "name.gt": f"{tag}-2"}
    )
    assert [o["name"] for o in after.json()] == [f"{tag}-3", f"{tag}-4"]
    beyond = await client.get(f"{CAT}/productOffering", params={"version": tag, "offset": 50})
    assert beyond.json() == [] and beyond.headers["x-total-count"] == "5"
    injection = await client.get(f"{CAT}/productOffering", params={"name": "x' OR 1=1 --"})
    assert injection.status_code == 200 and injection.json() == []


async def test_reference_filters_agree_with_the_path_predicate(
    client: httpx.AsyncClient,
) -> None:
    """``extRef.id=X`` (any member holding references, as ``category`` does) is answered
    from the index of reference terms (migration 0003); it must select what the SQL/JSON
    path ``$.extRef.id == "X"`` selects, through creates, patches and deletes."""
    tag = uuid.uuid4().hex[:8]
    shapes: list[object] = [
        [{"id": f"c-{tag}"}],  # array of refs
        {"id": f"c-{tag}"},  # one ref
        [{"id": "other"}, {"id": f"c-{tag}"}],
        {"id": [f"c-{tag}", "x"]},  # an array of ids (lax path)
        [{"id": f"C-{tag}"}],  # case matters
        [{"name": f"c-{tag}"}],
        f"c-{tag}",  # not a ref
    ]
    ids = []
    for n, category in enumerate(shapes):
        body = {
            "@type": "ProductOffering",
            "name": f"{tag}-{n}",
            "version": tag,
            "lifecycleStatus": "Launched" if n % 2 else "Active",
            "extRef": category,
        }
        made = await client.post(f"{CAT}/productOffering", json=body)
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])

    async def names(**params: str) -> tuple[list[str], str]:
        got = await client.get(f"{CAT}/productOffering", params=params)
        assert got.status_code == 200, got.text
        return [o["name"] for o in got.json()], got.headers["x-total-count"]

    ref = {"extRef.id": f"c-{tag}"}
    assert await names(**ref) == ([f"{tag}-{n}" for n in range(4)], "4")
    # The term with the status column, with a path predicate, and paged.
    assert await names(**ref, lifecycleStatus="Launched") == ([f"{tag}-1", f"{tag}-3"], "2")
    assert await names(**ref, name=f"{tag}-2") == ([f"{tag}-2"], "1")
    assert await names(**ref, offset="3", limit="5") == ([f"{tag}-3"], "4")
    assert await names(**ref, offset="9") == ([], "4")
    assert await names(**ref, lifecycleStatus="Retired") == ([], "0")
    # The path predicate alone (two values) selects the same.
    both = {"extRef.id": f"c-{tag},nothing-{tag}"}
    assert await names(**both) == ([f"{tag}-{n}" for n in range(4)], "4")
    # A patch moves the offering out of (and into) the term; a status change follows too.
    url = f"{CAT}/productOffering/{ids[0]}"
    moved = await client.patch(url, json={"extRef": [{"id": f"d-{tag}"}]}, headers=MERGE)
    assert moved.status_code == 200
    assert (await names(**ref))[1] == "3"
    assert await names(**{"extRef.id": f"d-{tag}"}) == ([f"{tag}-0"], "1")
    await client.patch(url, json={"lifecycleStatus": "Launched"}, headers=MERGE)
    assert await names(**{"extRef.id": f"d-{tag}"}, lifecycleStatus="Launched") == (
        [f"{tag}-0"],
        "1",
    )
    assert (await client.delete(f"{CAT}/productOffering/{ids[1]}")).status_code == 204
    assert await names(**ref) == ([f"{tag}-2", f"{tag}-3"], "2")


async def test_concurrent_patches_lose_nothing(client: httpx.AsyncClient) -> None:
    """Patches are optimistic (read, then store if unchanged, else again): concurrent ones
    on one resource all land, none overwrites another."""
    res = (await client.post(f"{CAT}/category", json={"@type": "Category", "name": "c"})).json()
    url = f"{CAT}/category/{res['id']}"

    async def patch(n: int) -> int:
        done = await client.patch(url, json={"tags": {f"t{n}": n}}, headers=MERGE)
        return done.status_code

    statuses = await asyncio.gather(*(patch(n) for n in range(12)))
    assert statuses == [200] * 12
    assert (await client.get(url)).json()["tags"] == {f"t{n}": n for n in range(12)}
    deletes = await asyncio.gather(*(client.delete(url) for _ in range(3)))
    assert sorted(d.status_code for d in deletes) == [204, 404, 404]


async def test_merge_patch_semantics(client: httpx.AsyncClient) -> None:
    body = {"@type": "ProductOffering", "name": "P", "description": "d", "validFor": {"a": 1}}
    res = (await client.post(f"{CAT}/productOffering", json=body)).json()
    url = f"{CAT}/productOffering/{res['id']}"
    patched = await client.patch(
        url,
        content=b'{"description": null, "validFor": {"startDateTime": "2026-01-01T00:00:00Z"}}',
        headers=MERGE,
    )
    got = patched.json()
    assert "description" not in got
    assert got["validFor"] == {"a": 1, "startDateTime": "2026-01-01T00:00:00Z"}
    assert (await client.get(url)).json() == got


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "code"),
    [
        ("POST", "productOffering", b'{"name": "no type"}', {}, 400, "BadRequestData"),
        (
            "POST",
            "productOffering",
            b'{"@type": "Category", "name": "x"}',
            {},
            400,
            "BadRequestData",
        ),
        (
            "POST",
            "productOffering",
            b'{"@type": "ProductOffering", "name": "x", "id": "1"}',
            {},
            400,
            "BadRequestData",
        ),
        ("POST", "productOffering", b'{"@type": "ProductOffering"', {}, 400, "InvalidRequest"),
        (
            "POST",
            "productOffering",
            b'{"@type": "ProductOffering", "name": "x"}',
            {"Content-Type": "text/plain"},
            415,
            "UnsupportedMediaType",
        ),
        ("GET", "productOffering?sort=name", None, {}, 400, "InvalidRequest"),
        ("GET", "productOffering?limit=0", None, {}, 400, "InvalidRequest"),
        ("GET", "productOffering?na%20me=x", None, {}, 400, "InvalidRequest"),
        ("GET", "productOffering/not-a-uuid", None, {}, 404, "NotFound"),
        ("PATCH", f"productOffering/{uuid.uuid4()}", b"{}", MERGE, 404, "NotFound"),
        ("DELETE", f"category/{uuid.uuid4()}", None, {}, 404, "NotFound"),
    ],
)
async def test_bad_input_is_a_tmf_error(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    before = (await client.get(f"{CAT}/productOffering")).headers["x-total-count"]
    resp = await client.request(
        method,
        f"{CAT}/{path}",
        content=body,
        headers={"Content-Type": "application/json", **headers},
    )
    assert resp.status_code == status, resp.text
    err = resp.json()
    assert err["@type"] == "Error" and err["code"] == code and err["status"] == str(status)
    assert err["reason"] and err["message"]
    assert (await client.get(f"{CAT}/productOffering")).headers["x-total-count"] == before


async def test_patch_refuses_invalid_results(client: httpx.AsyncClient) -> None:
    res = (await client.post(f"{CAT}/category", json={"@type": "Category", "name": "c"})).json()
    url = f"{CAT}/category/{res['id']}"
    for patch in (b'{"name": null}', b'{"id": "x"}', b'{"lifecycleStatus": "Sold"}', b"[1]"):
        resp = await client.patch(url, content=patch, headers=MERGE)
        assert resp.status_code == 400, patch
    assert (await client.get(url)).json() == res


async def test_individual(client: httpx.AsyncClient) -> None:
    base = "/tmf-api/partyManagement/v5/individual"
    missing = await client.post(base, json={"@type": "Individual", "givenName": "Ana"})
    assert missing.status_code == 400
    assert missing.json()["message"] == "Individual is not valid: familyName is required"
    created = await client.post(
        base, json={"@type": "Individual", "givenName": "Ana", "familyName": "Peeters"}
    )
    assert created.status_code == 201
    ana = created.json()
    found = await client.get(base, params={"familyName": "Peeters", "fields": "givenName"})
    assert {"id": ana["id"], "href": ana["href"], "@type": "Individual", "givenName": "Ana"} in (
        found.json()
    )
    patched = await client.patch(f"{base}/{ana['id']}", json={"status": "validated"})
    assert patched.json()["status"] == "validated"
