"""Reading entitlements: who may do what on which data, until when."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marketplace.entitlements import repository
from mims_shared.db import Database


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


class EntitlementService:
    def __init__(self, db: Database, base_url: str) -> None:
        self.db = db
        base = base_url.rstrip("/")
        self.orders = base + "/tmf-api/productOrderingManagement/v5/productOrder/"
        self.products = base + "/tmf-api/productInventory/v5/product/"

    def view(self, row: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": str(row["id"]),
            "party": row["party"],
            "datasets": row["datasets"],
            "entityTypes": row["entity_types"],
            "tenant": row["tenant"],
            "actions": row["actions"],
            "validFrom": _iso(row["valid_from"]),
            "validUntil": _iso(row["valid_until"]),
            "purpose": row["purpose"],
            "count": row["max_count"],
            "order": {"id": str(row["order_id"]), "href": self.orders + str(row["order_id"])},
            "product": {
                "id": str(row["product_id"]),
                "href": self.products + str(row["product_id"]),
            },
        }

    async def page(
        self,
        *,
        party: str | None,
        entity_type: str | None,
        dataset: str | None,
        tenant: str | None,
        tenant_given: bool,
        include_expired: bool,
        offset: int,
        limit: int,
    ) -> tuple[list[dict[str, Any]], int]:
        async with self.db.unit_of_work(transaction=False) as uow:
            rows, total = await repository.page(
                uow.connection,
                party=party,
                entity_type=entity_type,
                dataset=dataset,
                tenant_given=tenant_given,
                tenant=tenant,
                valid_at=None if include_expired else datetime.now(UTC),
                offset=offset,
                limit=limit,
            )
        return [self.view(r) for r in rows], total
