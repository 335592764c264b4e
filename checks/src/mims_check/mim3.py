"""MIM3: the TM Forum Open APIs v5 (TMF620 Product Catalog, TMF622 Product Ordering, TMF632
Party) as their official OpenAPI documents and the TMF630 design guidelines say: POST
answers 201 with ``id``, ``href`` and ``@type``; GET by id and list (``X-Total-Count``,
``fields``); PATCH with ``application/merge-patch+json``; DELETE 204; errors are the TMF
``Error`` object (``code`` and ``reason`` required).
"""

from __future__ import annotations

import contextlib
from typing import Any

import httpx

from mims_check.runner import Context, Failed, Skipped, check, expect, show, writable

PARTY = "/tmf-api/partyManagement/v5"
CATALOG = "/tmf-api/productCatalogManagement/v5"
ORDERING = "/tmf-api/productOrderingManagement/v5"
KEYS = {"id", "href", "@type", "@baseType", "@schemaLocation"}


def tmf_error(r: httpx.Response, *statuses: int) -> None:
    """``r`` is a TMF ``Error``: one of ``statuses``, JSON with string ``code`` and ``reason``."""
    expect(r.status_code in statuses, f"expected {statuses}: {show(r)}")
    try:
        body = r.json()
    except ValueError:
        raise Failed(f"a TMF error must be a JSON Error object: {show(r)}") from None
    expect(
        isinstance(body, dict)
        and isinstance(body.get("code"), str)
        and isinstance(body.get("reason"), str),
        f"a TMF Error needs string code and reason (TMF630, Error schema): {show(r)}",
    )


async def _root(ctx: Context, api: str, resource: str) -> str:
    base = ctx.url("marketplace") + api
    r = await ctx.client.get(f"{base}/{resource}", params={"limit": "1"}, headers=ctx.headers())
    if r.status_code in (404, 501):
        raise Skipped(f"{api}/{resource} is not served ({r.status_code})")
    expect(r.status_code == 200, f"list {resource}: {show(r)}")
    return base


async def _create(ctx: Context, url: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await ctx.client.post(url, json=body, headers=ctx.headers())
    writable(r)
    expect(r.status_code == 201, f"POST must answer 201 (TMF630): {show(r)}")
    created: dict[str, Any] = r.json()
    expect(
        isinstance(created, dict)
        and isinstance(created.get("id"), str)
        and isinstance(created.get("href"), str),
        f"the created resource must have id and href: {r.text[:300]}",
    )
    expect(created.get("@type") == body["@type"], f"@type must be {body['@type']}: {r.text[:300]}")
    return created


async def _delete(ctx: Context, url: str) -> None:
    with contextlib.suppress(httpx.HTTPError):
        await ctx.client.delete(url, headers=ctx.headers())


async def resource_lifecycle(
    ctx: Context, api: str, resource: str, body: dict[str, Any], invalid: dict[str, Any]
) -> str | None:
    """Create, retrieve, list (X-Total-Count, fields), delete, then the Error of a 404 and a 400."""
    base = await _root(ctx, api, resource)
    ctx.writing()
    created: dict[str, Any] | None = None
    try:
        created = await _create(ctx, f"{base}/{resource}", body)
        one = f"{base}/{resource}/{created['id']}"
        got = await ctx.client.get(one, headers=ctx.headers())
        expect(got.status_code == 200, f"GET by id must answer 200: {show(got)}")
        expect(
            got.json().get("id") == created["id"] and got.json().get("name") == body["name"],
            f"GET by id must return what was created: {got.text[:300]}",
        )
        listed = await ctx.client.get(
            f"{base}/{resource}", params={"fields": "name", "limit": "1000"}, headers=ctx.headers()
        )
        expect(listed.status_code == 200, f"list must answer 200: {show(listed)}")
        items = listed.json()
        expect(isinstance(items, list), f"list must answer an array: {listed.text[:300]}")
        total = listed.headers.get("x-total-count")
        expect(
            total is not None and total.isdigit() and int(total) >= 1,
            f"a list must carry X-Total-Count (TMF630), got {total!r}",
        )
        for item in items:
            extra = set(item) - KEYS - {"name"}
            expect(not extra, f"fields=name must leave out {sorted(extra)}: {item}")
        if len(items) < 1000:
            expect(
                any(i.get("id") == created["id"] for i in items),
                f"the created {resource} is missing from the list",
            )
        de = await ctx.client.delete(one, headers=ctx.headers())
        expect(de.status_code == 204, f"DELETE must answer 204: {show(de)}")
        tmf_error(await ctx.client.get(one, headers=ctx.headers()), 404)
        created = None
        bad = await ctx.client.post(f"{base}/{resource}", json=invalid, headers=ctx.headers())
        if bad.status_code == 201:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                await _delete(ctx, f"{base}/{resource}/{bad.json()['id']}")
        tmf_error(bad, 400, 422)
    finally:
        if created is not None:
            await _delete(ctx, f"{base}/{resource}/{created['id']}")
    return None


@check(
    "mim3.tmf632-organization",
    "TMF632 organization: create, get, list, fields, delete, Error",
    "TMF632 v5",
)
async def tmf632_organization(ctx: Context) -> str | None:
    return await resource_lifecycle(
        ctx,
        PARTY,
        "organization",
        {"@type": "Organization", "name": f"{ctx.prefix} Org", "tradingName": "check"},
        {"@type": "Organization", "tradingName": "no name"},
    )


@check(
    "mim3.tmf632-update", "TMF632 organization: PATCH with merge-patch+json", "TMF632 v5, TMF630"
)
async def tmf632_update(ctx: Context) -> str | None:
    base = await _root(ctx, PARTY, "organization")
    ctx.writing()
    created = await _create(
        ctx, f"{base}/organization", {"@type": "Organization", "name": f"{ctx.prefix} Patch"}
    )
    one = f"{base}/organization/{created['id']}"
    try:
        r = await ctx.client.patch(
            one,
            json={"@type": "Organization", "tradingName": "patched"},
            headers=ctx.headers({"Content-Type": "application/merge-patch+json"}),
        )
        expect(r.status_code == 200, f"PATCH (merge-patch+json) must answer 200: {show(r)}")
        body = r.json()
        expect(body.get("tradingName") == "patched", f"PATCH was not applied: {r.text[:300]}")
        expect(body.get("name") == f"{ctx.prefix} Patch", f"PATCH lost the name: {r.text[:300]}")
        again = await ctx.client.get(one, headers=ctx.headers())
        expect(again.json().get("tradingName") == "patched", f"not stored: {again.text[:300]}")
    finally:
        await _delete(ctx, one)
    return None


def _offering(ctx: Context, name: str, status: str = "Active") -> dict[str, Any]:
    return {
        "@type": "ProductOffering",
        "name": f"{ctx.prefix} {name}",
        "lifecycleStatus": status,
        "lastUpdate": "2026-01-01T00:00:00Z",
        "isBundle": False,
    }


@check(
    "mim3.tmf620-offering",
    "TMF620 productOffering: create, get, list, fields, delete, Error",
    "TMF620 v5",
)
async def tmf620_offering(ctx: Context) -> str | None:
    return await resource_lifecycle(
        ctx, CATALOG, "productOffering", _offering(ctx, "Offering"), {"@type": "ProductOffering"}
    )


@check(
    "mim3.tmf622-order",
    "TMF622 productOrder: order an offering, state, get, list, Error",
    "TMF622 v5",
)
async def tmf622_order(ctx: Context) -> str | None:
    base = await _root(ctx, ORDERING, "productOrder")
    tmf_error(
        await ctx.client.get(
            f"{base}/productOrder/mims-check-{ctx.run_id}-absent", headers=ctx.headers()
        ),
        404,
    )
    ctx.writing()
    catalog = await _root(ctx, CATALOG, "productOffering")
    party = await _root(ctx, PARTY, "organization")
    offering: dict[str, Any] | None = None
    buyer: dict[str, Any] | None = None
    order: dict[str, Any] | None = None
    try:
        # Launched: the TMF620 lifecycle status of what customers can order.
        offering = await _create(
            ctx, f"{catalog}/productOffering", _offering(ctx, "Ordered", "Launched")
        )
        buyer = await _create(
            ctx, f"{party}/organization", {"@type": "Organization", "name": f"{ctx.prefix} Buyer"}
        )
        bad = await ctx.client.post(
            f"{base}/productOrder", json={"@type": "ProductOrder"}, headers=ctx.headers()
        )
        tmf_error(bad, 400, 422)
        order = await _create(
            ctx,
            f"{base}/productOrder",
            {
                "@type": "ProductOrder",
                "relatedParty": [
                    {
                        "@type": "RelatedPartyRefOrPartyRoleRef",
                        "role": "buyer",
                        "partyOrPartyRole": {
                            "@type": "PartyRef",
                            "@referredType": "Organization",
                            "id": buyer["id"],
                            "href": buyer["href"],
                        },
                    }
                ],
                "productOrderItem": [
                    {
                        "@type": "ProductOrderItem",
                        "id": "1",
                        "action": "add",
                        "quantity": 1,
                        "productOffering": {
                            "@type": "ProductOfferingRef",
                            "id": offering["id"],
                            "href": offering["href"],
                        },
                    }
                ],
            },
        )
        states = {
            "acknowledged", "rejected", "pending", "held", "inProgress", "cancelled",
            "completed", "failed", "partial", "assessingCancellation", "pendingCancellation",
            "draft", "inProgress.accepted",
        }  # fmt: skip
        expect(order.get("state") in states, f"state must be a ProductOrderStateType: {order}")
        got = await ctx.client.get(f"{base}/productOrder/{order['id']}", headers=ctx.headers())
        expect(got.status_code == 200, f"GET productOrder by id: {show(got)}")
        items = got.json().get("productOrderItem")
        expect(
            isinstance(items, list)
            and items
            and items[0].get("productOffering", {}).get("id") == offering["id"],
            f"the order must keep its item and offering: {got.text[:300]}",
        )
    finally:
        if order is not None:
            await _delete(ctx, f"{base}/productOrder/{order['id']}")
        if offering is not None:
            await _delete(ctx, f"{catalog}/productOffering/{offering['id']}")
        if buyer is not None:
            await _delete(ctx, f"{party}/organization/{buyer['id']}")
    return None
