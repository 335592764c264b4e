"""The catalogue document: Hydra paging, modified_since, syntaxes, DCAT-AP validity."""

from __future__ import annotations

import httpx
from rdflib import Graph, URIRef
from rdflib.namespace import RDF

from catalogue.dcat.rdf import DCAT, HYDRA

from .helpers import PROBLEM, city, conforms

CATALOG = URIRef("http://localhost:8080/catalogue/catalog")


def hydra(g: Graph, p: URIRef) -> str | None:
    value = next(g.objects(None, p), None)
    return None if value is None else str(value)


async def test_pages_walk_the_whole_catalogue(client: httpx.AsyncClient) -> None:
    await city(client)
    await city(client)
    first = await client.get("/catalogue/catalog.ttl", params={"page_size": 3})
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/turtle")
    g = Graph().parse(data=first.content, format="turtle")
    assert (None, RDF.type, HYDRA.PagedCollection) in g
    total = int(hydra(g, HYDRA.totalItems) or 0)
    assert total >= 4
    assert (
        hydra(g, HYDRA.firstPage)
        == "http://localhost:8080/catalogue/catalog.ttl?page=1&page_size=3"
    )
    last = -(-total // 3)
    assert (
        hydra(g, HYDRA.lastPage)
        == f"http://localhost:8080/catalogue/catalog.ttl?page={last}&page_size=3"
    )
    assert conforms(first.content) == []
    members: set[str] = set()
    url: str | None = "/catalogue/catalog.ttl?page=1&page_size=3"
    pages = 0
    while url:
        resp = await client.get(url.removeprefix("http://localhost:8080"))
        page = Graph().parse(data=resp.content, format="turtle")
        members |= {
            str(o)
            for p in (DCAT.dataset, DCAT.service, DCAT.resource, DCAT.catalog)
            for o in page.objects(CATALOG, p)
        }
        url = hydra(page, HYDRA.nextPage)
        pages += 1
    assert pages == last and len(members) == total


async def test_modified_since_and_syntaxes(client: httpx.AsyncClient) -> None:
    ids = await city(client)
    mark = (await client.get(f"/catalogue/v1/datasets/{ids['ds']}")).json()["modified"]
    resp = await client.get(
        "/catalogue/catalog.ttl", params={"modified_since": mark, "page_size": 1000}
    )
    g = Graph().parse(data=resp.content, format="turtle")
    datasets = set(g.objects(CATALOG, DCAT.dataset))
    assert URIRef(f"http://localhost:8080/catalogue/v1/datasets/{ids['ds']}") in datasets
    everything = Graph().parse(
        data=(await client.get("/catalogue/catalog.ttl", params={"page_size": 1})).content,
        format="turtle",
    )
    # the data model and data service written before the dataset are left out
    assert int(hydra(g, HYDRA.totalItems) or 0) < int(hydra(everything, HYDRA.totalItems) or 0)
    listed = {o for p in (DCAT.dataset, DCAT.service, DCAT.resource) for o in g.objects(CATALOG, p)}
    assert URIRef(f"http://localhost:8080/catalogue/v1/data-models/{ids['model']}") not in listed
    for accept, syntax in [
        ("application/ld+json", "json-ld"),
        ("application/rdf+xml", "xml"),
        ("application/n-triples", "nt"),
    ]:
        doc = await client.get(
            "/catalogue/catalog", params={"page_size": 5}, headers={"Accept": accept}
        )
        assert doc.status_code == 200 and doc.headers["content-type"].startswith(accept)
        parsed = Graph().parse(data=doc.content, format=syntax)
        assert (CATALOG, RDF.type, DCAT.Catalog) in parsed
    bad = await client.get("/catalogue/catalog", headers={"Accept": "text/html"})
    assert bad.status_code == 406 and bad.headers["content-type"] == PROBLEM
    assert (await client.get("/catalogue/catalog.html")).status_code == 404
    since = await client.get("/catalogue/catalog.ttl", params={"modified_since": "yesterday"})
    assert since.status_code == 400 and since.headers["content-type"] == PROBLEM
