"""Product orders (TMF622 Product Ordering v5.0.0) and their fulfilment.

Placing an order checks every item against the catalogue of offerings (it must reference a
Launched ``productOffering``) and the buyer against the parties (TMF632), then stores the
order and its events in one statement: an order is created whole or not at all. State
changes follow the order state machine (:mod:`marketplace.tmf.orders`); an illegal one is
409. Reaching ``completed`` (or ``partial``, for the items marked completed) creates, in
the statement that stores the order's new state, one TMF637 product per delivered item and
the entitlements its offering grants, and queues their events.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from marketplace.entitlements import repository as entitlements
from marketplace.entitlements.repository import Entitlement
from marketplace.events.dispatcher import Dispatcher
from marketplace.odrl.policy import terms
from marketplace.resources import repository
from marketplace.resources.service import Effects, ResourceService, now_iso
from marketplace.tmf.events import Event, event
from marketplace.tmf.kinds import (
    CANCEL_PRODUCT_ORDER,
    INDIVIDUAL,
    INVENTORY,
    ORGANIZATION,
    PRODUCT,
    PRODUCT_OFFERING,
    PRODUCT_ORDER,
)
from marketplace.tmf.orders import CANCELLABLE, DELIVERED, allowed_next, can_move
from mims_shared.db import Database
from mims_shared.errors import BadRequestData, Conflict

BUYER_ROLES = frozenset({"buyer", "customer"})
ORDERABLE = "Launched"
MAX_ITEMS = 100
ITEM_ACTIONS = ("add", "modify", "delete", "noChange")
#: Order states its items take on as well.
ITEM_FOLLOWS = frozenset(
    {"cancelled", "failed", "rejected", "inProgress", "acknowledged", "pending", "held"}
)
#: Members that may change once the order has left acknowledged/draft.
LATE_MEMBERS = frozenset(
    {"state", "note", "description", "productOrderItem", "priority", "cancellationReason"}
)


def _ref_id(ref: Any) -> str | None:
    return ref.get("id") if isinstance(ref, dict) and isinstance(ref.get("id"), str) else None


def buyer_of(order: dict[str, Any]) -> str | None:
    """The id of the party with role buyer/customer (TMF622 v5 RelatedPartyRefOrPartyRoleRef)."""
    for rel in order.get("relatedParty", []):
        if not isinstance(rel, dict) or str(rel.get("role", "")).lower() not in BUYER_ROLES:
            continue
        pid = _ref_id(rel.get("partyOrPartyRole"))
        if pid:
            return pid
    return None


def _uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


class OrderService(ResourceService):
    #: Placing reads the offerings and the buyer, then stores the order with its events in
    #: one statement: a transaction around them would add BEGIN and COMMIT round trips and
    #: no guarantee (READ COMMITTED, and the reads take no locks).
    create_in_transaction = False

    def __init__(self, db: Database, base_url: str, dispatcher: Dispatcher) -> None:
        super().__init__(PRODUCT_ORDER, db, base_url, dispatcher)
        root = base_url.rstrip("/")
        self.product_base = root + INVENTORY.prefix + "/product"

    # --- placing -----------------------------------------------------------------------
    def new_resource(self, body: dict[str, Any]) -> dict[str, Any]:
        if "state" in body:
            raise BadRequestData("ProductOrder is not valid: state is set by the server")
        initial = body.get("requestedInitialState", "acknowledged")
        if initial not in ("acknowledged", "draft"):
            raise BadRequestData(
                "ProductOrder is not valid: requestedInitialState must be acknowledged or draft"
            )
        items = body["productOrderItem"]
        if not items or len(items) > MAX_ITEMS:
            raise BadRequestData(
                f"ProductOrder is not valid: productOrderItem needs 1 to {MAX_ITEMS} items"
            )
        seen: set[str] = set()
        stored_items = []
        for i, item in enumerate(items):
            where = f"ProductOrder is not valid: productOrderItem[{i}]"
            if not isinstance(item, dict):
                raise BadRequestData(f"{where} must be an object")
            if not isinstance(item.get("id"), str) or not item["id"]:
                raise BadRequestData(f"{where} needs an id")
            if item["id"] in seen:
                raise BadRequestData(f"{where}: id {item['id']} is repeated")
            seen.add(item["id"])
            if item.get("action") not in ITEM_ACTIONS:
                raise BadRequestData(f"{where}: action must be one of {', '.join(ITEM_ACTIONS)}")
            if item["action"] != "add":
                raise BadRequestData(
                    f"{where}: action {item['action']} is not supported (only add)"
                )
            if _ref_id(item.get("productOffering")) is None:
                raise BadRequestData(f"{where} needs a productOffering with an id")
            quantity = item.get("quantity", 1)
            if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
                raise BadRequestData(f"{where}: quantity must be a positive integer")
            stored_items.append({**item, "state": initial})
        if buyer_of(body) is None:
            raise BadRequestData(
                "ProductOrder is not valid: relatedParty needs a party with role buyer "
                "or customer (partyOrPartyRole.id)"
            )
        resource = super().new_resource(body)
        stamp = now_iso()
        resource.update(
            state=initial, creationDate=stamp, orderDate=stamp, productOrderItem=stored_items
        )
        resource.setdefault("@type", "ProductOrder")
        return resource

    async def check_create(self, conn: asyncpg.Connection, resource: dict[str, Any]) -> list[Event]:
        """Every item's offering exists and is Launched; the buyer is a known party."""
        offering_ids = [item["productOffering"]["id"] for item in resource["productOrderItem"]]
        buyer = str(buyer_of(resource))
        wanted = {raw: _uuid(raw) for raw in [*offering_ids, buyer]}
        found = await repository.many(conn, [u for u in wanted.values() if u is not None])
        for i, raw in enumerate(offering_ids):
            key = wanted[raw]
            hit = found.get(key) if key is not None else None
            if hit is None or hit[0] != PRODUCT_OFFERING.name:
                raise BadRequestData(
                    f"ProductOrder is not valid: productOrderItem[{i}] references "
                    f"ProductOffering {raw}, which does not exist"
                )
            status = hit[1].get("lifecycleStatus")
            if status != ORDERABLE:
                raise BadRequestData(
                    f"ProductOrder is not valid: ProductOffering {raw} is {status} and "
                    f"cannot be ordered (only {ORDERABLE} offerings can)"
                )
        key = wanted[buyer]
        party = found.get(key) if key is not None else None
        if party is None or party[0] not in (INDIVIDUAL.name, ORGANIZATION.name):
            raise BadRequestData(
                f"ProductOrder is not valid: the buyer {buyer} is not a known Individual "
                "or Organization"
            )
        return []

    # --- state changes -----------------------------------------------------------------
    async def check_patch(
        self, conn: asyncpg.Connection, old: dict[str, Any], new: dict[str, Any]
    ) -> None:
        before, after = old["state"], new["state"]
        changed = {k for k in set(old) | set(new) if old.get(k) != new.get(k)}
        if before not in ("acknowledged", "draft") and changed - LATE_MEMBERS:
            raise Conflict(
                f"ProductOrder {old['id']} is {before}: only its state, notes and "
                "description can change"
            )
        if "productOrderItem" in changed:
            self._check_items(old, new)
        if before == after:
            return
        if not can_move(before, after):
            allowed = ", ".join(allowed_next(before)) or "none (it is final)"
            raise Conflict(
                f"ProductOrder {old['id']} cannot go from {before} to {after}; "
                f"allowed next states: {allowed}"
            )
        if after in DELIVERED:
            new["completionDate"] = now_iso()
        if after == "cancelled":
            new["cancellationDate"] = now_iso()

    @staticmethod
    def _check_items(old: dict[str, Any], new: dict[str, Any]) -> None:
        """After placing, items keep their ids and offerings; only their state may change."""
        before = {i["id"]: i for i in old["productOrderItem"]}
        after = new.get("productOrderItem")
        if not isinstance(after, list) or len(after) != len(before):
            raise Conflict("The items of a placed ProductOrder cannot be added or removed")
        for item in after:
            if not isinstance(item, dict) or item.get("id") not in before:
                raise Conflict("The items of a placed ProductOrder cannot be replaced")
            was = before[item["id"]]
            if {k: v for k, v in item.items() if k != "state"} != {
                k: v for k, v in was.items() if k != "state"
            }:
                raise Conflict(f"ProductOrder item {item['id']} can only change its state")

    async def side_effects(
        self, conn: asyncpg.Connection, old: dict[str, Any] | None, new: dict[str, Any] | None
    ) -> Effects:
        if old is None or new is None or old["state"] == new["state"]:
            return Effects()
        if new["state"] in DELIVERED:
            return await self._fulfil(conn, new)
        if new["state"] in ITEM_FOLLOWS:
            for item in new["productOrderItem"]:
                item["state"] = new["state"]
        return Effects()

    async def _fulfil(self, conn: asyncpg.Connection, order: dict[str, Any]) -> Effects:
        """Products and entitlements for the delivered items, stored with the order."""
        complete = order["state"] == "completed"
        items = [i for i in order["productOrderItem"] if complete or i.get("state") == "completed"]
        if not complete and not items:
            raise Conflict("A partial ProductOrder needs at least one item in state completed")
        offerings = await repository.many(
            conn, [uuid.UUID(i["productOffering"]["id"]) for i in items]
        )
        now = datetime.now(UTC)
        stamp = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        buyer = str(buyer_of(order))
        order_id = uuid.UUID(order["id"])
        products: list[tuple[uuid.UUID, dict[str, Any]]] = []
        rights: list[Entitlement] = []
        for item in items:
            offering = offerings[uuid.UUID(item["productOffering"]["id"])][1]
            pid = uuid.uuid4()
            resources = offering.get("dataResource", [])
            grant = terms(offering.get("odrlPolicy", []), now)
            product = {
                "@type": "Product",
                "id": str(pid),
                "href": f"{self.product_base}/{pid}",
                "name": offering.get("name"),
                "status": "active",
                "creationDate": stamp,
                "orderDate": order.get("orderDate"),
                "startDate": grant.valid_from.isoformat().replace("+00:00", "Z"),
                "isCustomerVisible": True,
                "productOffering": {
                    "@type": "ProductOfferingRef",
                    "id": offering["id"],
                    "href": offering["href"],
                    "name": offering.get("name"),
                },
                "relatedParty": order.get("relatedParty", []),
                "productOrderItem": [
                    {
                        "@type": "RelatedOrderItem",
                        "orderItemId": item["id"],
                        "orderItemAction": item["action"],
                        "productOrderId": order["id"],
                        "productOrderHref": order["href"],
                        "role": "fulfilment",
                    }
                ],
                "productCharacteristic": [
                    {
                        "@type": "StringArrayCharacteristic",
                        "name": "dataResource",
                        "valueType": "array",
                        "value": [r["id"] for r in resources],
                    },
                    {
                        "@type": "StringArrayCharacteristic",
                        "name": "actions",
                        "valueType": "array",
                        "value": grant.actions,
                    },
                ],
            }
            if grant.valid_until is not None:
                product["terminationDate"] = grant.valid_until.isoformat().replace("+00:00", "Z")
            products.append((pid, product))
            item["state"] = "completed"
            item["product"] = {"@type": "ProductRef", "id": str(pid), "href": product["href"]}
            by_tenant: dict[str | None, list[dict[str, Any]]] = {}
            for res in resources:
                by_tenant.setdefault(res.get("tenant"), []).append(res)
            for tenant, group in by_tenant.items():
                if not grant.actions:
                    continue
                rights.append(
                    Entitlement(
                        id=uuid.uuid4(),
                        party=buyer,
                        tenant=tenant,
                        datasets=[r["id"] for r in group if r["@referredType"] == "Dataset"],
                        entity_types=list(
                            dict.fromkeys(t for r in group for t in r.get("entityType", []))
                        ),
                        actions=grant.actions,
                        purpose=grant.purpose,
                        max_count=grant.count,
                        valid_from=grant.valid_from,
                        valid_until=grant.valid_until,
                        order_id=order_id,
                        product_id=pid,
                    )
                )
        if not complete:
            for item in order["productOrderItem"]:
                if item.get("state") != "completed":
                    item["state"] = "failed"
        writes = [repository.insert_many(PRODUCT.name, products)]
        if rights:
            writes.append(entitlements.insert_many(rights))
        return Effects(events=[event(PRODUCT, "Create", p) for _, p in products], writes=writes)


class CancelOrderService(ResourceService):
    """cancelProductOrder (TMF622 v5.0.0): a cancellation request, decided at once."""

    create_in_transaction = True

    def __init__(self, db: Database, base_url: str, dispatcher: Dispatcher) -> None:
        super().__init__(CANCEL_PRODUCT_ORDER, db, base_url, dispatcher)

    def new_resource(self, body: dict[str, Any]) -> dict[str, Any]:
        if _ref_id(body["productOrder"]) is None:
            raise BadRequestData("CancelProductOrder is not valid: productOrder needs an id")
        resource = super().new_resource(body)
        stamp = now_iso()
        resource.update(state="done", creationDate=stamp, effectiveCancellationDate=stamp)
        return resource

    async def check_create(self, conn: asyncpg.Connection, resource: dict[str, Any]) -> list[Event]:
        """The order exists and may still be cancelled; it is cancelled in this transaction."""
        raw = resource["productOrder"]["id"]
        oid = _uuid(raw)
        order = (
            await repository.get(conn, PRODUCT_ORDER.name, oid, for_update=True) if oid else None
        )
        if order is None or oid is None:
            raise BadRequestData(
                f"CancelProductOrder is not valid: ProductOrder {raw} does not exist"
            )
        if order["state"] not in CANCELLABLE:
            raise Conflict(f"ProductOrder {raw} is {order['state']} and cannot be cancelled")
        order["state"] = "cancelled"
        order["cancellationDate"] = resource["creationDate"]
        if "cancellationReason" in resource:
            order["cancellationReason"] = resource["cancellationReason"]
        order["productOrderItem"] = [{**i, "state": "cancelled"} for i in order["productOrderItem"]]
        await repository.update(conn, PRODUCT_ORDER.name, oid, order)
        resource["productOrder"] = {
            "@type": "ProductOrderRef",
            "id": order["id"],
            "href": order["href"],
        }
        return [event(PRODUCT_ORDER, "StateChange", order)]


class ProductService(ResourceService):
    """TMF637 products: a product leaving ``active`` ends its entitlements."""

    ENDS = frozenset({"terminated", "suspended", "cancelled", "aborted", "pendingTerminate"})

    def __init__(self, db: Database, base_url: str, dispatcher: Dispatcher) -> None:
        super().__init__(PRODUCT, db, base_url, dispatcher)

    async def check_patch(
        self, conn: asyncpg.Connection, old: dict[str, Any], new: dict[str, Any]
    ) -> None:
        if old.get("status") in self.ENDS and new.get("status") not in self.ENDS:
            raise Conflict(f"Product {old['id']} is {old['status']} and cannot become active")

    async def side_effects(
        self, conn: asyncpg.Connection, old: dict[str, Any] | None, new: dict[str, Any] | None
    ) -> Effects:
        """Leaving ``active``: the product's entitlements end now, with its update."""
        if old is None or new is None:
            return Effects()
        if new.get("status") in self.ENDS and old.get("status") not in self.ENDS:
            now = datetime.now(UTC)
            new.setdefault("terminationDate", now.isoformat().replace("+00:00", "Z"))
            return Effects(writes=[entitlements.end_for_product(uuid.UUID(old["id"]), now)])
        return Effects()
