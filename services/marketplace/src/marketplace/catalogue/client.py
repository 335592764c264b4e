"""Reads datasets and data services from the catalogue (``GET /catalogue/v1/...``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from mims_shared.errors import BadGateway, ServiceUnavailable

PATHS = {"Dataset": "datasets", "DataService": "data-services"}


def policy_url(base: str, dataset_id: str, policy_uid: str) -> str:
    """Where the catalogue keeps one ODRL policy of a dataset (``odrl:hasPolicy``)."""
    return (
        f"{base.rstrip('/')}/catalogue/v1/datasets/{quote(dataset_id, safe='')}"
        f"/policies/{quote(policy_uid, safe='')}"
    )


def entity_types_of(record: dict[str, Any]) -> list[str]:
    """The NGSI-LD entity types a catalogue record says it covers, if it says so."""
    for name in ("entityTypes", "entityType", "ngsiLdTypes"):
        value = record.get(name)
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            return [v for v in value if isinstance(v, str)]
    return []


class CatalogueClient:
    def __init__(self, base_url: str, client: httpx.AsyncClient) -> None:
        self.base = base_url.rstrip("/")
        self.client = client

    async def record(self, referred_type: str, rid: str) -> dict[str, Any] | None:
        """The record, or None when the catalogue answers 404."""
        url = f"{self.base}/catalogue/v1/{PATHS[referred_type]}/{quote(rid, safe='')}"
        try:
            resp = await self.client.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"The catalogue cannot be reached: {exc}") from None
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise BadGateway(f"The catalogue answered {resp.status_code} for {url}")
        try:
            found = resp.json()
        except ValueError:
            raise BadGateway(f"The catalogue answered {url} with invalid JSON") from None
        return found if isinstance(found, dict) else {}
