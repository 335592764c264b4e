"""MIM1: NGSI-LD (ETSI GS CIM 009 V1.8.1) against any broker, from the spec's rules.

Every check names its entities ``urn:ngsi-ld:MimsCheck:<run>:<check>:<n>`` and its types
``MimsCheck<run><Name>`` (default @context), so runs and checks never meet; what a check
creates is deleted in ``finally``.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import httpx

from mims_check.receiver import NotificationReceiver
from mims_check.runner import Context, Failed, Skipped, check, expect, show, writable

NGSI = "/ngsi-ld/v1"
ERR = "https://uri.etsi.org/ngsi-ld/errors/"
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"
JSON = {"Content-Type": "application/json"}


def _base(ctx: Context) -> str:
    return ctx.url("broker") + NGSI


def _eid(ctx: Context, name: str, n: int | str = 1) -> str:
    return f"urn:ngsi-ld:MimsCheck:{ctx.run_id}:{name}:{n}"


def _prop(value: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, **extra}


async def _create(ctx: Context, entity: dict[str, Any]) -> None:
    r = await ctx.client.post(f"{_base(ctx)}/entities", json=entity, headers=ctx.headers(JSON))
    writable(r)
    expect(r.status_code == 201, f"Create Entity must answer 201 (5.6.1): {show(r)}")


async def _delete_all(ctx: Context, ids: list[str]) -> None:
    for eid in ids:
        with contextlib.suppress(httpx.HTTPError):
            await ctx.client.delete(f"{_base(ctx)}/entities/{eid}", headers=ctx.headers())


def problem(resp: httpx.Response, status: int | tuple[int, ...], *kinds: str) -> None:
    """``resp`` is an NGSI-LD error: the status, a JSON ProblemDetails body whose ``type`` is
    one of ``kinds`` (ETSI GS CIM 009 5.5.2 and 6.3.2) and a ``title``."""
    statuses = (status,) if isinstance(status, int) else status
    expect(resp.status_code in statuses, f"expected {statuses}: {show(resp)}")
    ctype = resp.headers.get("content-type", "").split(";")[0].strip()
    expect(
        ctype in ("application/json", "application/problem+json", "application/ld+json"),
        f"an error body must be JSON ProblemDetails, got Content-Type {ctype!r}: {show(resp)}",
    )
    try:
        body = resp.json()
    except ValueError:
        raise Failed(f"the error body is not JSON: {show(resp)}") from None
    expect(isinstance(body, dict), f"the error body must be an object: {show(resp)}")
    expect(
        body.get("type") in {ERR + k for k in kinds},
        f"the error type must be one of {[ERR + k for k in kinds]} (5.5.2): {show(resp)}",
    )
    expect(isinstance(body.get("title"), str) and body["title"], f"no title: {show(resp)}")


async def _query(ctx: Context, **params: str) -> httpx.Response:
    return await ctx.client.get(
        f"{_base(ctx)}/entities", params=params, headers=ctx.headers({"Accept": "application/json"})
    )


def _ids(resp: httpx.Response) -> set[str]:
    expect(resp.status_code == 200, f"Query Entities must answer 200 (5.7.2): {show(resp)}")
    body = resp.json()
    expect(isinstance(body, list), f"Query Entities must answer an array: {show(resp)}")
    return {str(e.get("id")) for e in body if isinstance(e, dict)}


@check("mim1.entity-crud", "Entity create, retrieve, update, append, delete", "5.6.1-5.6.6")
async def entity_crud(ctx: Context) -> str | None:
    base = _base(ctx)
    ctx.writing()
    etype = f"{ctx.prefix}Thing"
    eid = _eid(ctx, "crud")
    try:
        r = await ctx.client.post(
            f"{base}/entities",
            json={"id": eid, "type": etype, "temperature": _prop(21.5), "status": _prop("on")},
            headers=ctx.headers(JSON),
        )
        writable(r)
        expect(r.status_code == 201, f"Create Entity must answer 201 (6.4.3.1): {show(r)}")
        location = r.headers.get("location", "")
        expect(
            location.endswith(f"/entities/{eid}"),
            f"201 must carry Location .../entities/{eid} (6.4.3.1), got {location!r}",
        )
        again = await ctx.client.post(
            f"{base}/entities", json={"id": eid, "type": etype}, headers=ctx.headers(JSON)
        )
        problem(again, 409, "AlreadyExists")

        got = await ctx.client.get(f"{base}/entities/{eid}", headers=ctx.headers())
        expect(got.status_code == 200, f"Retrieve Entity must answer 200 (5.7.1): {show(got)}")
        body = got.json()
        expect(body.get("id") == eid and body.get("type") == etype, f"wrong entity: {body}")
        t = body.get("temperature")
        expect(
            isinstance(t, dict) and t.get("type") == "Property" and t.get("value") == 21.5,
            f"temperature must come back as written, got {t!r}",
        )

        upd = await ctx.client.patch(
            f"{base}/entities/{eid}/attrs",
            json={"temperature": _prop(25)},
            headers=ctx.headers(JSON),
        )
        expect(upd.status_code == 204, f"Update Attributes must answer 204 (6.6.3.3): {show(upd)}")
        app = await ctx.client.post(
            f"{base}/entities/{eid}/attrs",
            json={"humidity": _prop(40)},
            headers=ctx.headers(JSON),
        )
        expect(app.status_code == 204, f"Append Attributes must answer 204 (6.6.3.1): {show(app)}")
        body = (await ctx.client.get(f"{base}/entities/{eid}", headers=ctx.headers())).json()
        expect(
            body.get("temperature", {}).get("value") == 25,
            f"the update was not applied: {body}",
        )
        expect(body.get("humidity", {}).get("value") == 40, f"the append was not applied: {body}")

        da = await ctx.client.delete(f"{base}/entities/{eid}/attrs/humidity", headers=ctx.headers())
        expect(da.status_code == 204, f"Delete Attribute must answer 204 (6.7.3.3): {show(da)}")
        body = (await ctx.client.get(f"{base}/entities/{eid}", headers=ctx.headers())).json()
        expect("humidity" not in body, f"the deleted attribute is still there: {body}")

        de = await ctx.client.delete(f"{base}/entities/{eid}", headers=ctx.headers())
        expect(de.status_code == 204, f"Delete Entity must answer 204 (6.5.3.2): {show(de)}")
        gone = await ctx.client.get(f"{base}/entities/{eid}", headers=ctx.headers())
        problem(gone, 404, "ResourceNotFound")
    finally:
        await _delete_all(ctx, [eid])
    return None


@check(
    "mim1.query-language", "Query Entities: type, q language, attrs, count, paging", "4.9, 5.7.2"
)
async def query_language(ctx: Context) -> str | None:
    _base(ctx)
    ctx.writing()
    etype = f"{ctx.prefix}Sensor"
    rows = {"a": (10, "off"), "b": (25, "on"), "c": (30, "on")}
    ids = {k: _eid(ctx, "query", k) for k in rows}
    try:
        for k, (temp, status) in rows.items():
            await _create(
                ctx,
                {"id": ids[k], "type": etype, "temperature": _prop(temp), "status": _prop(status)},
            )
        cases = [
            ("temperature>20", {"b", "c"}),
            ("temperature==25", {"b"}),
            ('temperature>20;status=="on"', {"b", "c"}),
            ('status=="off"|temperature>=30', {"a", "c"}),
            ('(temperature<11|temperature>29);status!="on"', {"a"}),
            ("temperature==10..26", {"a", "b"}),
            ("humidity", set()),
        ]
        for q, want in cases:
            got = _ids(await _query(ctx, type=etype, q=q))
            expected = {ids[k] for k in want}
            expect(got == expected, f"q={q} must select {sorted(expected)}, got {sorted(got)}")
        everything = _ids(await _query(ctx, type=etype))
        expect(everything == set(ids.values()), f"type={etype} must select all 3: {everything}")

        projected = await _query(ctx, type=etype, attrs="temperature")
        for e in projected.json():
            expect("status" not in e, f"attrs=temperature must leave out status: {e}")
            expect("temperature" in e, f"attrs=temperature must keep temperature: {e}")

        page = await _query(ctx, type=etype, count="true", limit="1")
        expect(len(_ids(page)) == 1, f"limit=1 must return one entity: {page.text}")
        count = page.headers.get("ngsild-results-count")
        expect(count == "3", f"count=true must give NGSILD-Results-Count: 3 (6.3.13), got {count}")
    finally:
        await _delete_all(ctx, list(ids.values()))
    return None


@check("mim1.geo-query", "Geo-queries: near (max/min distance) and within", "4.10, 5.7.2")
async def geo_query(ctx: Context) -> str | None:
    _base(ctx)
    ctx.writing()
    etype = f"{ctx.prefix}Place"
    points = {"centre": [2.3522, 48.8566], "near": [2.3622, 48.8600], "far": [4.8357, 45.7640]}
    ids = {k: _eid(ctx, "geo", k) for k in points}
    try:
        for k, coords in points.items():
            await _create(
                ctx,
                {
                    "id": ids[k],
                    "type": etype,
                    "location": {
                        "type": "GeoProperty",
                        "value": {"type": "Point", "coordinates": coords},
                    },
                },
            )
        square = [[[2.30, 48.80], [2.40, 48.80], [2.40, 48.90], [2.30, 48.90], [2.30, 48.80]]]
        cases: list[tuple[str, str, object, set[str]]] = [
            ("near;maxDistance==3000", "Point", points["centre"], {"centre", "near"}),
            ("near;minDistance==100000", "Point", points["centre"], {"far"}),
            ("within", "Polygon", square, {"centre", "near"}),
            ("intersects", "Polygon", square, {"centre", "near"}),
        ]
        for georel, geometry, shape, want in cases:
            got = _ids(
                await _query(
                    ctx,
                    type=etype,
                    georel=georel,
                    geometry=geometry,
                    coordinates=json.dumps(shape, separators=(",", ":")),
                )
            )
            expected = {ids[k] for k in want}
            expect(
                got == expected,
                f"georel={georel} {geometry} must select {sorted(expected)}, got {sorted(got)}",
            )
    finally:
        await _delete_all(ctx, list(ids.values()))
    return None


@check(
    "mim1.subscriptions",
    "Subscriptions: create, notify a local receiver on change, delete stops notifying",
    "5.8, 5.11",
)
async def subscriptions(ctx: Context) -> str | None:
    base = _base(ctx)
    ctx.writing()
    etype = f"{ctx.prefix}Watched"
    sid = f"urn:ngsi-ld:Subscription:MimsCheck:{ctx.run_id}:1"
    e1, e2 = _eid(ctx, "sub", 1), _eid(ctx, "sub", 2)
    receiver = NotificationReceiver(ctx.receiver_host, ctx.receiver_port, ctx.receiver_url)
    path = f"/notify/{ctx.run_id}"
    created = False
    try:
        r = await ctx.client.post(
            f"{base}/subscriptions",
            json={
                "id": sid,
                "type": "Subscription",
                "entities": [{"type": etype}],
                "notification": {
                    "endpoint": {"uri": receiver.url + path, "accept": "application/json"}
                },
            },
            headers=ctx.headers(JSON),
        )
        writable(r)
        expect(r.status_code == 201, f"Create Subscription must answer 201 (6.10.3.1): {show(r)}")
        created = True
        expect(
            r.headers.get("location", "").endswith(f"/subscriptions/{sid}"),
            f"201 must carry Location .../subscriptions/{sid}, got {r.headers.get('location')!r}",
        )
        got = await ctx.client.get(f"{base}/subscriptions/{sid}", headers=ctx.headers())
        expect(got.status_code == 200, f"Retrieve Subscription must answer 200: {show(got)}")
        expect(got.json().get("id") == sid, f"wrong subscription: {got.text[:300]}")

        await _create(ctx, {"id": e1, "type": etype, "level": _prop(1)})
        bodies = await receiver.wait(path, 1, ctx.notification_timeout)

        def about(body: Any, eid: str, value: Any | None = None) -> bool:
            if not isinstance(body, dict):
                return False
            for e in body.get("data") or []:
                if isinstance(e, dict) and e.get("id") == eid:
                    level = e.get("level")
                    level = level.get("value") if isinstance(level, dict) else level
                    return value is None or level == value
            return False

        expect(
            any(about(b, e1) for b in bodies),
            f"no notification about {e1} reached {receiver.url + path} within "
            f"{ctx.notification_timeout:.0f}s (5.8.1); received: {json.dumps(bodies)[:300]}",
        )
        first = next(b for b in bodies if about(b, e1))
        expect(first.get("type") == "Notification", f"type must be Notification: {first}")
        expect(first.get("subscriptionId") == sid, f"subscriptionId must be {sid}: {first}")
        expect(isinstance(first.get("notifiedAt"), str), f"notifiedAt is missing: {first}")

        upd = await ctx.client.patch(
            f"{base}/entities/{e1}/attrs", json={"level": _prop(2)}, headers=ctx.headers(JSON)
        )
        expect(upd.status_code == 204, f"Update Attributes must answer 204: {show(upd)}")
        for _ in range(2):
            bodies = await receiver.wait(path, len(bodies) + 1, ctx.notification_timeout)
            if any(about(b, e1, 2) for b in bodies):
                break
        expect(
            any(about(b, e1, 2) for b in bodies),
            f"no notification of the update of {e1} (level 2): {json.dumps(bodies)[:300]}",
        )

        de = await ctx.client.delete(f"{base}/subscriptions/{sid}", headers=ctx.headers())
        expect(de.status_code == 204, f"Delete Subscription must answer 204: {show(de)}")
        created = False
        gone = await ctx.client.get(f"{base}/subscriptions/{sid}", headers=ctx.headers())
        problem(gone, 404, "ResourceNotFound")
        await _create(ctx, {"id": e2, "type": etype, "level": _prop(3)})
        later = await receiver.wait(path, 10**6, 1.0)
        expect(
            not any(about(b, e2) for b in later),
            f"a deleted subscription still notified about {e2}",
        )
    finally:
        if created:
            with contextlib.suppress(httpx.HTTPError):
                await ctx.client.delete(f"{base}/subscriptions/{sid}", headers=ctx.headers())
        await _delete_all(ctx, [e1, e2])
        receiver.close()
    return None


@check(
    "mim1.context",
    "@context: inline terms, IRIs without a context, Link, JSON-LD output",
    "5.5.7, 6.3.5, 6.3.6",
)
async def context_handling(ctx: Context) -> str | None:
    base = _base(ctx)
    ctx.writing()
    vocab = f"https://example.org/mims-check/{ctx.run_id}/"
    eid = _eid(ctx, "ctx")
    ld = {"Content-Type": "application/ld+json"}
    try:
        r = await ctx.client.post(
            f"{base}/entities",
            json={
                "id": eid,
                "type": "mcThing",
                "mcReading": _prop(7),
                "@context": [{"mcThing": vocab + "Thing", "mcReading": vocab + "reading"}, CORE],
            },
            headers=ctx.headers(ld),
        )
        writable(r)
        expect(r.status_code == 201, f"Create Entity (JSON-LD) must answer 201: {show(r)}")

        plain = await ctx.client.get(
            f"{base}/entities/{eid}", headers=ctx.headers({"Accept": "application/json"})
        )
        expect(plain.status_code == 200, f"Retrieve Entity: {show(plain)}")
        body = plain.json()
        expect(
            body.get("type") == vocab + "Thing" and vocab + "reading" in body,
            "without a @context, names must come back as full IRIs (compacted with the core "
            f"context only, 5.5.7): {body}",
        )
        expect("@context" not in body, f"application/json must not carry @context: {body}")
        link = plain.headers.get("link", "")
        expect(
            "http://www.w3.org/ns/json-ld#context" in link,
            f"an application/json response must give the @context in a Link header (6.3.6), "
            f"got {link!r}",
        )
        by_iri = _ids(await _query(ctx, type=vocab + "Thing"))
        expect(eid in by_iri, f"query by the type's IRI must find {eid}: {by_iri}")

        jsonld = await ctx.client.get(
            f"{base}/entities/{eid}", headers=ctx.headers({"Accept": "application/ld+json"})
        )
        ctype = jsonld.headers.get("content-type", "")
        expect(
            ctype.startswith("application/ld+json"),
            f"Accept: application/ld+json must answer application/ld+json (6.3.6), got {ctype}",
        )
        expect("@context" in jsonld.json(), f"JSON-LD output must carry @context: {jsonld.text}")

        mixed = await ctx.client.post(
            f"{base}/entities",
            json={"id": _eid(ctx, "ctx", 2), "type": "T", "@context": CORE},
            headers=ctx.headers(JSON),
        )
        problem(mixed, 400, "BadRequestData", "InvalidRequest")
        bare = await ctx.client.post(
            f"{base}/entities",
            json={"id": _eid(ctx, "ctx", 3), "type": "T"},
            headers=ctx.headers(ld),
        )
        problem(bare, 400, "BadRequestData", "InvalidRequest")
    finally:
        await _delete_all(ctx, [eid, _eid(ctx, "ctx", 2), _eid(ctx, "ctx", 3)])
    return None


@check(
    "mim1.errors-read", "Errors of reads: ProblemDetails with the ETSI error types", "5.5.2, 6.3.2"
)
async def errors_read(ctx: Context) -> str | None:
    base = _base(ctx)
    absent = await ctx.client.get(f"{base}/entities/{_eid(ctx, 'absent')}", headers=ctx.headers())
    problem(absent, 404, "ResourceNotFound")
    bad_id = await ctx.client.get(f"{base}/entities/not%20an%20iri", headers=ctx.headers())
    problem(bad_id, 400, "BadRequestData", "InvalidRequest")
    bad_q = await _query(ctx, type=f"{ctx.prefix}Sensor", q="temperature>>>")
    problem(bad_q, 400, "BadRequestData", "InvalidRequest")
    bad_geo = await _query(
        ctx, type=f"{ctx.prefix}Place", georel="near;maxDistance==1", geometry="Point"
    )
    problem(bad_geo, 400, "BadRequestData", "InvalidRequest")
    return None


@check(
    "mim1.errors-write",
    "Errors of writes: bad JSON, media type, ids; nothing written",
    "6.3.4, 6.4.3.1",
)
async def errors_write(ctx: Context) -> str | None:
    base = _base(ctx)
    ctx.writing()
    eid = _eid(ctx, "err")
    try:
        broken = await ctx.client.post(
            f"{base}/entities", content=b'{"id": "' + eid.encode(), headers=ctx.headers(JSON)
        )
        writable(broken)
        problem(broken, 400, "InvalidRequest", "BadRequestData")
        text = await ctx.client.post(
            f"{base}/entities",
            content=json.dumps({"id": eid, "type": "T"}),
            headers=ctx.headers({"Content-Type": "text/plain"}),
        )
        expect(text.status_code == 415, f"a text/plain body must get 415 (6.3.4): {show(text)}")
        no_id = await ctx.client.post(
            f"{base}/entities", json={"type": "T"}, headers=ctx.headers(JSON)
        )
        problem(no_id, 400, "BadRequestData", "InvalidRequest")
        bad_id = await ctx.client.post(
            f"{base}/entities", json={"id": "not an iri", "type": "T"}, headers=ctx.headers(JSON)
        )
        problem(bad_id, 400, "BadRequestData", "InvalidRequest")
        bad_attr = await ctx.client.post(
            f"{base}/entities",
            json={"id": eid, "type": "T", "temperature": {"type": "Property"}},
            headers=ctx.headers(JSON),
        )
        problem(bad_attr, 400, "BadRequestData", "InvalidRequest")
        after = await ctx.client.get(f"{base}/entities/{eid}", headers=ctx.headers())
        expect(after.status_code == 404, f"a refused create must write nothing: {show(after)}")
    finally:
        await _delete_all(ctx, [eid])
    return None


@check(
    "mim1.temporal", "Temporal API: history of changes, timerel (optional feature)", "5.6.11, 5.7.3"
)
async def temporal(ctx: Context) -> str | None:
    base = _base(ctx)
    etype = f"{ctx.prefix}History"
    root = await ctx.client.get(
        f"{base}/temporal/entities", params={"type": etype}, headers=ctx.headers()
    )
    if root.status_code in (404, 501):
        raise Skipped(f"the temporal API is not served ({root.status_code} at /temporal/entities)")
    ctx.writing()
    eid = _eid(ctx, "temporal")
    t1, t2 = "2026-01-01T10:00:00Z", "2026-01-01T12:00:00Z"
    try:
        await _create(ctx, {"id": eid, "type": etype, "speed": _prop(10, observedAt=t1)})
        upd = await ctx.client.patch(
            f"{base}/entities/{eid}/attrs",
            json={"speed": _prop(20, observedAt=t2)},
            headers=ctx.headers(JSON),
        )
        expect(upd.status_code == 204, f"Update Attributes must answer 204: {show(upd)}")

        async def instances(**params: str) -> list[Any]:
            r = await ctx.client.get(
                f"{base}/temporal/entities/{eid}",
                params=params,
                headers=ctx.headers({"Accept": "application/json"}),
            )
            expect(r.status_code == 200, f"Retrieve Temporal Evolution must answer 200: {show(r)}")
            speed = r.json().get("speed")
            if isinstance(speed, dict):
                speed = [speed]
            expect(isinstance(speed, list), f"speed must be a list of instances: {r.text[:300]}")
            return [i.get("value") for i in speed if isinstance(i, dict)]

        all_values = await instances()
        expect(
            sorted(v for v in all_values if v is not None) == [10, 20],
            f"the history of speed must hold 10 and 20, got {all_values}",
        )
        later = await instances(timerel="after", timeAt="2026-01-01T11:00:00Z")
        expect(later == [20], f"timerel=after 11:00 must keep only 20 (observedAt), got {later}")
    finally:
        await _delete_all(ctx, [eid])
        with contextlib.suppress(httpx.HTTPError):
            await ctx.client.delete(f"{base}/temporal/entities/{eid}", headers=ctx.headers())
    return None
