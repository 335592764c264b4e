"""The CKAN action API: envelope, package_search with text, filters, facets, paging, sort."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from catalogue.app import create_app
from catalogue.ckan.service import CkanService
from mims_shared.errors import ServiceUnavailable
from mims_shared.web.edge import EdgeApp

from .helpers import city, post, uid

_JSON = {"Content-Type": "application/json"}


async def action(client: httpx.AsyncClient, name: str, **params: object) -> httpx.Response:
    return await client.post(f"/api/3/action/{name}", json=params)


async def test_package_show_and_the_envelope(client: httpx.AsyncClient) -> None:
    ids = await city(client)
    resp = await client.get("/api/3/action/package_show", params={"id": ids["ds"]})
    assert resp.status_code == 200
    body = resp.json()
    assert body["success"] is True and body["help"].endswith("help_show?name=package_show")
    pkg = body["result"]
    assert pkg["name"] == ids["ds"] and pkg["title"] == "Parking spots"
    assert (
        pkg["organization"]["name"] == ids["agent"]
        and pkg["organization"]["title"] == "City of Example"
    )
    assert [g["name"] for g in pkg["groups"]] == ["tran", "regi"]
    assert [t["name"] for t in pkg["tags"]] == ["parking", "mobility"]
    assert pkg["resources"][0]["format"] == "JSON_LD"
    assert (
        pkg["resources"][0]["url"]
        == "https://city.example.org/ngsi-ld/v1/entities?type=ParkingSpot"
    )
    assert pkg["license_id"] == "CC_BY_4_0" and pkg["num_resources"] == 1
    assert pkg == (await action(client, "package_show", id=ids["ds"])).json()["result"]
    missing = await client.get("/api/3/action/package_show", params={"id": "nope"})
    assert missing.status_code == 404
    assert missing.json()["success"] is False
    assert missing.json()["error"]["__type"] == "Not Found Error"


async def test_package_search_text_facets_filters(client: httpx.AsyncClient) -> None:
    word = uid("zebra").replace("-", "")
    ids = await city(client, word)
    other = await city(client, "bicycle")
    found = (
        await action(
            client,
            "package_search",
            q=word,
            **{"facet.field": ["groups", "res_format", "conforms_to"]},
        )
    ).json()["result"]
    assert found["count"] == 1 and found["results"][0]["id"] == ids["ds"]
    assert found["facets"]["groups"] == {"TRAN": 1, "REGI": 1}
    assert found["search_facets"]["groups"]["items"][0]["display_name"] in (
        "Transport",
        "Regions and cities",
    )
    assert found["facets"]["conforms_to"] == {ids["model"]: 1}
    fq = f'organization:{ids["agent"]} res_format:"JSON_LD" groups:tran'
    filtered = (await client.get("/api/3/action/package_search", params={"fq": fq})).json()[
        "result"
    ]
    assert [r["id"] for r in filtered["results"]] == [ids["ds"]]
    none = (
        await action(client, "package_search", q=word, fq=f"organization:{other['agent']}")
    ).json()
    assert none["result"]["count"] == 0
    # title outranks description: the dataset titled with the word comes first
    described = await post(
        client,
        "datasets",
        {"title": {"en": "Unrelated"}, "description": {"en": f"mentions {word} once"}},
    )
    ranked = (await action(client, "package_search", q=word)).json()["result"]
    assert [r["id"] for r in ranked["results"]] == [ids["ds"], described["id"]]
    # language-aware: English stemming finds "occupancy" from "occupancies"
    stem = (await action(client, "package_search", q=f"{word} occupancies", lang="en")).json()
    assert stem["result"]["count"] == 1
    literal = (await action(client, "package_search", q=f"{word} occupancies")).json()["result"]
    assert literal["count"] == 0


async def test_paging_sort_and_lists(client: httpx.AsyncClient) -> None:
    tag = uid("tag").replace("-", "")
    made = []
    for n in range(5):
        made.append(
            await post(
                client,
                "datasets",
                {"title": {"en": f"T{n}"}, "description": {"en": "d"}, "keyword": [tag]},
            )
        )
    pages = []
    for start in (0, 2, 4):
        r = (
            await action(
                client, "package_search", fq=f"tags:{tag}", rows=2, start=start, sort="name asc"
            )
        ).json()
        pages += [p["id"] for p in r["result"]["results"]]
        assert r["result"]["count"] == 5
    assert pages == sorted(str(m["id"]) for m in made)
    newest = (
        await action(
            client, "package_search", fq=f"tags:{tag}", sort="metadata_modified desc", rows=1
        )
    ).json()
    assert newest["result"]["results"][0]["id"] == made[-1]["id"]
    names = (await client.get("/api/3/action/package_list")).json()["result"]
    assert all(str(m["id"]) in names for m in made)
    recent = (await action(client, "current_package_list_with_resources", limit=5)).json()["result"]
    assert [p["id"] for p in recent] == [m["id"] for m in reversed(made)]
    status = (await client.get("/api/action/status_show")).json()["result"]
    assert status["ckan_version"].startswith("2.")


async def test_organizations(client: httpx.AsyncClient) -> None:
    ids = await city(client)
    orgs = (await client.get("/api/3/action/organization_list")).json()["result"]
    assert ids["agent"] in orgs
    full = (await action(client, "organization_list", all_fields=True)).json()["result"]
    mine = next(o for o in full if o["name"] == ids["agent"])
    assert mine["package_count"] == 1 and mine["title"] == "City of Example"
    shown = (
        await action(client, "organization_show", id=ids["agent"], include_datasets=True)
    ).json()
    assert [p["id"] for p in shown["result"]["packages"]] == [ids["ds"]]


@pytest.mark.parametrize(
    ("params", "kind"),
    [
        ({"rows": "ten"}, "Validation Error"),
        ({"rows": 5000}, "Validation Error"),
        ({"sort": "evil; DROP TABLE record"}, "Search Query Error"),
        ({"fq": "unknown_field:x"}, "Search Query Error"),
        ({"fq": "metadata_modified:yesterday"}, "Search Query Error"),
        ({"facet.field": '["nope"]'}, "Validation Error"),
        ({"q": "'; DROP TABLE record; --"}, None),
    ],
)
async def test_bad_search_parameters(
    client: httpx.AsyncClient, params: dict[str, object], kind: str | None
) -> None:
    resp = await client.get("/api/3/action/package_search", params=params)
    if kind is None:
        assert resp.status_code == 200 and resp.json()["success"] is True
        return
    assert resp.status_code in (400, 409)
    assert resp.json()["success"] is False and resp.json()["error"]["__type"] == kind


async def test_unknown_action_and_bad_body(client: httpx.AsyncClient) -> None:
    resp = await client.get("/api/3/action/package_delete")
    assert resp.status_code == 400 and resp.json()["success"] is False
    bad = await client.post(
        "/api/3/action/package_search", content=b"[1]", headers={"Content-Type": "application/json"}
    )
    assert bad.status_code == 409 and bad.json()["error"]["__type"] == "Validation Error"


async def test_incremental_harvest_filter(client: httpx.AsyncClient) -> None:
    first = await city(client)
    mark = (await client.get(f"/catalogue/v1/datasets/{first['ds']}")).json()["modified"]
    later = await city(client)
    fq = f"metadata_modified:[{mark} TO *]"
    r = (await action(client, "package_search", fq=fq, rows=1000)).json()["result"]
    ids = {p["id"] for p in r["results"]}
    assert later["ds"] in ids


async def test_cached_results_follow_every_change(client: httpx.AsyncClient) -> None:
    word = uid("cache").replace("-", "")
    body = {"title": {"en": word}, "description": {"en": "d"}}
    first = await post(client, "datasets", body)
    for _ in range(2):  # the second answer comes from the cache
        assert (await action(client, "package_search", q=word)).json()["result"]["count"] == 1
    second = await post(client, "datasets", body)
    assert (await action(client, "package_search", q=word)).json()["result"]["count"] == 2
    assert (await client.delete(f"/catalogue/v1/datasets/{first['id']}")).status_code == 204
    found = (await action(client, "package_search", q=word)).json()["result"]
    assert [p["id"] for p in found["results"]] == [second["id"]]
    policy = {"@type": "Offer", "uid": "urn:uuid:cache-1", "permission": []}
    url = f"/catalogue/v1/datasets/{second['id']}/policies/p1"
    before = found["results"][0]["metadata_modified"]
    assert (await client.put(url, json=policy)).status_code == 201
    after = (await action(client, "package_search", q=word)).json()["result"]["results"][0]
    assert after["metadata_modified"] > before


@pytest.mark.parametrize("prefix", ["/api/3/action", "/api/action"])
async def test_action_routes_refuse_what_every_route_refuses(
    client: httpx.AsyncClient, prefix: str
) -> None:
    nul = await client.get(f"{prefix}/package_search", params={"q": "a\x00b"})
    assert nul.status_code == 400
    assert nul.headers["content-type"].startswith("application/problem+json")
    assert "NUL" in nul.json()["detail"]
    put = await client.put(f"{prefix}/package_search", json={})
    assert put.status_code == 405 and set(put.headers["allow"].split(", ")) >= {"GET", "POST"}
    ok = await client.get(f"{prefix}/status_show")
    assert ok.status_code == 200 and ok.json()["success"] is True


async def test_the_action_edge_answers_as_the_routes_do(
    settings_for: Callable[..., object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """GET and POST on the action paths skip FastAPI's stack: every answer, failures
    included, is what the routes behind it give."""
    app = create_app(settings_for("catalogue"))  # type: ignore[arg-type]
    assert isinstance(app, EdgeApp)
    edge = app.edge
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/api/3/action/status_show", {}),
        ("GET", "/api/action/package_search", {"params": {"q": "zebra", "rows": 2}}),
        ("POST", "/api/3/action/package_search", {"json": {"rows": 1, "facet": "false"}}),
        ("GET", "/api/3/action/package_search", {"params": {"rows": "ten"}}),
        ("GET", "/api/3/action/package_delete", {}),
        ("GET", "/api/3/action/package_search", {"params": {"q": "a\x00b"}}),
        ("POST", "/api/3/action/package_search", {"content": b"{", "headers": _JSON}),
        ("GET", "/api/3/action/package_search", {"params": {"q": "crash"}}),
        ("GET", "/api/3/action/package_search", {"params": {"q": "down"}}),
    ]

    async def failing(self: CkanService, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("q") == "crash":
            raise RuntimeError("boom")
        if params.get("q") == "down":
            raise ServiceUnavailable("The database cannot be reached")
        return await search(self, params)

    search = CkanService.package_search
    monkeypatch.setattr(CkanService, "package_search", failing)
    async with app.router.lifespan_context(app):
        assert await app.state.ckan.index.ready()
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answers = []
            for through in (edge, None):
                app.edge = through
                answers.append(
                    [await client.request(method, url, **kw) for method, url, kw in requests]
                )
    for (method, url, kw), edged, routed in zip(requests, *answers, strict=True):
        label = (method, url, kw)
        assert edged.status_code == routed.status_code, label
        assert edged.headers["content-type"] == routed.headers["content-type"], label
        assert edged.content == routed.content, label
        assert edged.headers["x-request-id"], label  # (the routes' 500 has none)
    assert [a.status_code for a in answers[0]] == [200, 200, 200, 409, 400, 400, 409, 500, 503]
