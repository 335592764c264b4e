"""Catalogue: the RDF catalogue is valid DCAT-AP 3.0.1 (the official SHACL shapes) and the
CKAN action API has CKAN's shape (what portal harvesters and ``ckanapi`` rely on).

The shapes are this package's own byte-for-byte copy (``shapes/``, see its README): the
tool must judge any vendor's catalogue the same way, whatever catalogue is installed.
"""

from __future__ import annotations

import asyncio
from functools import cache
from importlib import resources
from typing import Any

import httpx
from rdflib import Graph
from rdflib.namespace import RDF, SH, Namespace

from mims_check.runner import Context, Failed, Skipped, check, expect, show

DCAT = Namespace("http://www.w3.org/ns/dcat#")
RDF_TYPES = {
    "text/turtle": "turtle",
    "application/ld+json": "json-ld",
    "application/rdf+xml": "xml",
    "application/n-triples": "nt",
}
PROBES = ("/catalogue/catalog.ttl", "/catalog.ttl", "/catalogue/catalog")


@cache
def shapes() -> Graph:
    """The official shapes; ``sh:property`` links to property shapes the file does not define
    (no ``sh:path``; upstream has a few, on DataServiceShape among others) are dropped in
    memory, since pySHACL refuses a shapes graph with them (the file stays byte for byte)."""
    g = Graph()
    text = resources.files("mims_check").joinpath("shapes/dcat-ap-SHACL.ttl").read_text("utf-8")
    g.parse(data=text, format="turtle")
    for s, o in list(g.subject_objects(SH.property)):
        if (o, SH.path, None) not in g:
            g.remove((s, SH.property, o))
    return g


def validate(data: Graph) -> list[str]:
    """The messages of the DCAT-AP 3.0.1 violations (severity sh:Violation) in ``data``."""
    from pyshacl import validate as shacl

    conforms, report, _ = shacl(data, shacl_graph=shapes(), inference="none", allow_warnings=True)
    if conforms:
        return []
    assert isinstance(report, Graph)
    sh = Namespace("http://www.w3.org/ns/shacl#")
    out = []
    for result in report.subjects(RDF.type, sh.ValidationResult):
        if report.value(result, sh.resultSeverity) != sh.Violation:
            continue
        focus = report.value(result, sh.focusNode)
        path = report.value(result, sh.resultPath)
        msg = report.value(result, sh.resultMessage)
        out.append(f"{focus} {path}: {msg}")
    return sorted(out)


async def _fetch_rdf(ctx: Context) -> tuple[str, httpx.Response]:
    if ctx.catalogue_rdf:
        urls = [ctx.catalogue_rdf]
    else:
        base = ctx.url("catalogue")
        urls = [base + p for p in PROBES]
    tried = []
    for url in urls:
        r = await ctx.client.get(url, headers=ctx.headers({"Accept": "text/turtle"}))
        if r.status_code == 200:
            return url, r
        tried.append(f"{url} -> {r.status_code}")
        if r.status_code not in (404, 406, 501):
            raise Failed(f"the RDF catalogue could not be read: {show(r)}")
    raise Skipped("no RDF catalogue served (" + "; ".join(tried) + "); give --catalogue-rdf")


@check(
    "catalogue.dcat-ap-shacl",
    "RDF catalogue valid against the DCAT-AP 3.0.1 SHACL shapes",
    "DCAT-AP 3.0.1",
)
async def dcat_ap_shacl(ctx: Context) -> str | None:
    url, r = await _fetch_rdf(ctx)
    ctype = r.headers.get("content-type", "").split(";")[0].strip()
    fmt = RDF_TYPES.get(ctype)
    expect(fmt is not None, f"{url}: not an RDF media type: {ctype!r}")
    data = Graph()
    try:
        data.parse(data=r.text, format=fmt)
    except Exception as exc:
        raise Failed(f"{url}: the {ctype} does not parse: {exc}") from None
    catalogues = list(data.subjects(RDF.type, DCAT.Catalog))
    expect(catalogues, f"{url}: no dcat:Catalog in the catalogue")
    problems = await asyncio.to_thread(validate, data)
    if problems:
        raise Failed(
            f"{len(problems)} DCAT-AP 3.0.1 violations in {url}:\n" + "\n".join(problems[:10])
        )
    datasets = len(set(data.subjects(RDF.type, DCAT.Dataset)))
    return f"{len(data)} triples, {datasets} datasets"


def _ckan(r: httpx.Response, ok: bool) -> Any:
    try:
        body = r.json()
    except ValueError:
        raise Failed(f"a CKAN action must answer JSON: {show(r)}") from None
    expect(isinstance(body, dict), f"a CKAN action answers an object: {show(r)}")
    expect(body.get("success") is ok, f"success must be {ok}: {show(r)}")
    if ok:
        expect("result" in body, f"a successful action has a result: {show(r)}")
        return body["result"]
    err = body.get("error")
    expect(
        isinstance(err, dict) and isinstance(err.get("__type"), str),
        f"a failed action has error.__type: {show(r)}",
    )
    return err


@check(
    "catalogue.ckan-api",
    "CKAN action API: package_list, package_search, package_show",
    "CKAN API 2.x",
)
async def ckan_api(ctx: Context) -> str | None:
    base = ctx.url("catalogue") + "/api/3/action"
    h = ctx.headers()
    listed = await ctx.client.get(f"{base}/package_list", headers=h)
    if listed.status_code in (404, 501):
        raise Skipped(f"no CKAN action API ({listed.status_code} at /api/3/action/package_list)")
    expect(listed.status_code == 200, f"package_list: {show(listed)}")
    names = _ckan(listed, True)
    expect(
        isinstance(names, list) and all(isinstance(n, str) for n in names),
        f"package_list's result is a list of names: {listed.text[:300]}",
    )
    search = await ctx.client.get(f"{base}/package_search", params={"rows": "1"}, headers=h)
    expect(search.status_code == 200, f"package_search: {show(search)}")
    found = _ckan(search, True)
    expect(
        isinstance(found, dict)
        and isinstance(found.get("count"), int)
        and isinstance(found.get("results"), list)
        and len(found["results"]) <= 1,
        f"package_search's result has count and at most rows results: {search.text[:300]}",
    )
    if names:
        shown = await ctx.client.get(f"{base}/package_show", params={"id": names[0]}, headers=h)
        expect(shown.status_code == 200, f"package_show of a listed name: {show(shown)}")
        pkg = _ckan(shown, True)
        expect(
            isinstance(pkg, dict) and names[0] in (pkg.get("name"), pkg.get("id")),
            f"package_show?id={names[0]} must show that package: {shown.text[:300]}",
        )
    absent = await ctx.client.get(
        f"{base}/package_show", params={"id": f"mims-check-{ctx.run_id}-absent"}, headers=h
    )
    expect(absent.status_code == 404, f"package_show of an unknown id must be 404: {show(absent)}")
    err = _ckan(absent, False)
    expect(err["__type"] == "Not Found Error", f"error.__type must be 'Not Found Error': {err}")
    return f"{len(names)} packages"
