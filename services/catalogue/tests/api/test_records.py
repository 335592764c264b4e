"""Every kind of record through the JSON API: validation, references, RDF, SHACL, policies."""

from __future__ import annotations

import httpx
import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import DCTERMS

from catalogue.dcat.rdf import DCAT, ODRL

from .helpers import PROBLEM, city, conforms, post, uid

BASE = "http://localhost:8080/catalogue/v1"


async def test_every_kind_round_trips_and_its_rdf_conforms(client: httpx.AsyncClient) -> None:
    ids = await city(client)
    tool = await post(
        client,
        "tools",
        {
            "title": {"en": "Parking app"},
            "description": {"en": "Finds a free spot"},
            "provider": ids["agent"],
            "mims": ["MIM1", "MIM2"],
            "conformsTo": [ids["model"]],
            "apiDescription": "https://vendor.example.com/openapi.json",
            "deployedAt": ["https://parking.example.org"],
        },
    )
    series = await post(
        client,
        "dataset-series",
        {"title": {"en": "Counts"}, "description": {"en": "Yearly counts"}},
    )
    cat = await post(
        client,
        "catalogues",
        {
            "title": {"en": "Mobility"},
            "description": {"en": "Mobility data"},
            "publisher": ids["agent"],
            "dataset": [ids["ds"]],
        },
    )
    pairs = [
        ("datasets", ids["ds"]),
        ("distributions", ids["dist"]),
        ("data-services", ids["svc"]),
        ("agents", ids["agent"]),
        ("contact-points", ids["cp"]),
        ("data-models", ids["model"]),
        ("tools", str(tool["id"])),
        ("dataset-series", str(series["id"])),
        ("catalogues", str(cat["id"])),
    ]
    for plural, rid in pairs:
        got = await client.get(f"/catalogue/v1/{plural}/{rid}")
        assert got.status_code == 200 and got.json()["uri"] == f"{BASE}/{plural}/{rid}"
        ttl = await client.get(f"/catalogue/v1/{plural}/{rid}", headers={"Accept": "text/turtle"})
        assert ttl.status_code == 200 and ttl.headers["content-type"].startswith("text/turtle")
        assert conforms(ttl.content) == [], (plural, ttl.text)
    ds = await client.get(f"/catalogue/v1/datasets/{ids['ds']}", headers={"Accept": "text/turtle"})
    g = Graph().parse(data=ds.content, format="turtle")
    s = URIRef(f"{BASE}/datasets/{ids['ds']}")
    dist = URIRef(f"{BASE}/distributions/{ids['dist']}")
    assert (s, DCAT.distribution, dist) in g
    assert (s, DCTERMS.conformsTo, URIRef(f"{BASE}/data-models/{ids['model']}")) in g
    assert (
        s,
        DCAT.theme,
        URIRef("http://publications.europa.eu/resource/authority/data-theme/TRAN"),
    ) in g
    assert (
        dist,
        DCTERMS.format,
        URIRef("http://publications.europa.eu/resource/authority/file-type/JSON_LD"),
    ) in g
    for ext, syntax in [("ttl", "turtle"), ("jsonld", "json-ld"), ("rdf", "xml"), ("nt", "nt")]:
        doc = await client.get(f"/catalogue/dataset/{ids['ds']}.{ext}")
        assert doc.status_code == 200
        assert len(Graph().parse(data=doc.content, format=syntax)) == len(g)


async def test_update_stamps_modified_and_reindexes(client: httpx.AsyncClient) -> None:
    ids = await city(client)
    before = (await client.get(f"/catalogue/v1/datasets/{ids['ds']}")).json()
    body = {k: v for k, v in before.items() if k not in ("id", "uri", "issued", "modified")}
    body["title"] = {"en": "Renamed"}
    after = await client.put(f"/catalogue/v1/datasets/{ids['ds']}", json=body)
    assert after.status_code == 200, after.text
    assert after.json()["title"] == {"en": "Renamed"}
    assert after.json()["modified"] > before["modified"]
    assert after.json()["issued"] == before["issued"]


@pytest.mark.parametrize(
    ("plural", "body", "needle"),
    [
        (
            "datasets",
            {"title": {"en": "x"}, "description": {"en": "d"}, "theme": ["NOPE"]},
            "data theme",
        ),
        ("distributions", {"dataset": "x", "format": "DOCX"}, "file type"),
        ("distributions", {"dataset": "x", "license": "http://example.org/my-licence"}, "licence"),
        (
            "datasets",
            {"title": {"en": "x"}, "description": {"en": "d"}, "language": ["XXX"]},
            "language",
        ),
        (
            "datasets",
            {"title": {"en": "x"}, "description": {"en": "d"}, "accessRights": "OPEN"},
            "access right",
        ),
        ("tools", {"title": {"en": "x"}, "description": {"en": "d"}, "mims": ["MIM9"]}, "MIM"),
    ],
)
async def test_unknown_vocabulary_terms_are_refused(
    client: httpx.AsyncClient, plural: str, body: dict[str, object], needle: str
) -> None:
    resp = await client.post(f"/catalogue/v1/{plural}", json=body)
    assert resp.status_code == 400 and resp.headers["content-type"] == PROBLEM
    assert resp.json()["type"] == "urn:mims:problem:bad-request-data"
    assert needle in resp.json()["detail"]


async def test_a_record_that_is_not_dcat_ap_is_refused_with_its_violations(
    client: httpx.AsyncClient,
) -> None:
    ds = uid("ds")
    await post(
        client, "datasets", {"identifier": ds, "title": {"en": "t"}, "description": {"en": "d"}}
    )
    total = (await client.get("/catalogue/v1/distributions", params={"dataset": ds})).json()[
        "total"
    ]
    resp = await client.post("/catalogue/v1/distributions", json={"dataset": ds, "format": "CSV"})
    assert resp.status_code == 400
    problem = resp.json()
    assert problem["type"] == "urn:mims:problem:bad-request-data"
    assert "not valid DCAT-AP 3.0.1" in problem["detail"]
    assert [v["path"] for v in problem["violations"]] == ["http://www.w3.org/ns/dcat#accessURL"]
    assert problem["violations"][0]["shape"].startswith(
        "https://semiceu.github.io/DCAT-AP/releases/3.0.1#"
    )
    svc = await client.post("/catalogue/v1/data-services", json={"title": {"en": "no endpoint"}})
    assert [v["path"] for v in svc.json()["violations"]] == [
        "http://www.w3.org/ns/dcat#endpointURL"
    ]
    agent = await client.post("/catalogue/v1/agents", json={"email": "a@b.org"})
    assert [v["path"] for v in agent.json()["violations"]] == ["http://xmlns.com/foaf/0.1/name"]
    after = (await client.get("/catalogue/v1/distributions", params={"dataset": ds})).json()[
        "total"
    ]
    assert after == total


async def test_references_must_exist_and_referenced_records_stay(client: httpx.AsyncClient) -> None:
    ids = await city(client)
    resp = await client.post(
        "/catalogue/v1/datasets",
        json={
            "title": {"en": "t"},
            "description": {"en": "d"},
            "publisher": "nobody",
            "conformsTo": ["no-model"],
        },
    )
    assert resp.status_code == 400
    assert (
        "agent nobody" in resp.json()["detail"] and "data model no-model" in resp.json()["detail"]
    )
    used = await client.delete(f"/catalogue/v1/agents/{ids['agent']}")
    assert used.status_code == 409 and used.json()["type"] == "urn:mims:problem:conflict"
    assert f"dataset {ids['ds']}" in used.json()["detail"]
    # a dataset goes with its distributions
    assert (await client.delete(f"/catalogue/v1/datasets/{ids['ds']}")).status_code == 204
    assert (await client.get(f"/catalogue/v1/distributions/{ids['dist']}")).status_code == 404


async def test_odrl_policies_show_on_the_dataset(client: httpx.AsyncClient) -> None:
    ids = await city(client)
    policy = {
        "@context": "http://www.w3.org/ns/odrl.jsonld",
        "@type": "Offer",
        "uid": "urn:uuid:7b3a4a1e-0000-4000-8000-000000000001",
        "assigner": "urn:ngsi-ld:Organization:city",
        "permission": [
            {
                "action": "use",
                "constraint": [
                    {"leftOperand": "dateTime", "operator": "lteq", "rightOperand": "2027-12-31"}
                ],
            }
        ],
    }
    url = f"/catalogue/v1/datasets/{ids['ds']}/policies/offering-1"
    put = await client.put(url, json=policy, headers={"Content-Type": "application/ld+json"})
    assert put.status_code == 201 and put.json() == policy
    assert (await client.put(url, json=policy)).status_code == 200
    assert (await client.get(url)).json() == policy
    ttl = await client.get(f"/catalogue/v1/datasets/{ids['ds']}", headers={"Accept": "text/turtle"})
    g = Graph().parse(data=ttl.content, format="turtle")
    uid_ = URIRef(policy["uid"])  # type: ignore[arg-type]
    assert (URIRef(f"{BASE}/datasets/{ids['ds']}"), ODRL.hasPolicy, uid_) in g
    assert (uid_, None, ODRL.Offer) in g
    assert conforms(ttl.content) == []
    bad = await client.put(url, json={"@type": "Contract", "permission": []})
    assert bad.status_code == 400
    assert (await client.delete(url)).status_code == 204
    assert (await client.delete(url)).status_code == 404
    missing = await client.put(f"/catalogue/v1/datasets/{uid('none')}/policies/p", json=policy)
    assert missing.status_code == 404


async def test_content_negotiation(client: httpx.AsyncClient) -> None:
    ids = await city(client)
    url = f"/catalogue/v1/datasets/{ids['ds']}"
    assert (await client.get(url, headers={"Accept": "application/ld+json"})).headers[
        "content-type"
    ] == "application/ld+json"
    xml = await client.get(url, headers={"Accept": "application/rdf+xml;q=0.9, text/turtle;q=0.5"})
    assert xml.headers["content-type"].startswith("application/rdf+xml")
    assert (await client.get(url, headers={"Accept": "*/*"})).headers[
        "content-type"
    ] == "application/json"
    refused = await client.get(url, headers={"Accept": "image/png"})
    assert refused.status_code == 406 and refused.headers["content-type"] == PROBLEM
    assert (await client.get(f"/catalogue/dataset/{ids['ds']}.docx")).status_code == 404


async def test_vocabularies_are_published(client: httpx.AsyncClient) -> None:
    every = (await client.get("/catalogue/v1/vocabularies")).json()
    assert {v["id"] for v in every} >= {
        "data-theme",
        "file-type",
        "licence",
        "language",
        "access-right",
    }
    themes = (await client.get("/catalogue/v1/vocabularies/data-theme")).json()
    tran = next(t for t in themes["terms"] if t["code"] == "TRAN")
    assert tran == {
        "code": "TRAN",
        "uri": "http://publications.europa.eu/resource/authority/data-theme/TRAN",
        "label": "Transport",
    }
    missing = await client.get("/catalogue/v1/vocabularies/colours")
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
