"""The entitlements of a party, from the marketplace's ``GET /marketplace/v1/entitlements``.

One call per party lists its entitlements valid now (every tenant); they are cached for
``GATEWAY_ENTITLEMENT_CACHE_S`` seconds and forgotten at once when the marketplace reports a
change (TMF event to the gateway's listener). Validity (``validFrom``/``validUntil``) is
checked again at each decision, so a cached entitlement never outlives its end.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import orjson

from mims_shared.entity_types import type_name
from mims_shared.errors import ServiceUnavailable


@dataclass(frozen=True, slots=True)
class Entitlement:
    tenant: str | None
    types: frozenset[str]
    actions: frozenset[str]
    valid_from: float | None
    valid_until: float | None

    def covers(self, tenant: str | None, action: str, now: float) -> bool:
        return (
            self.tenant == tenant
            and action in self.actions
            and (self.valid_from is None or self.valid_from <= now)
            and (self.valid_until is None or now < self.valid_until)
        )


def _instant(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def parse(items: Any) -> list[Entitlement]:
    """Entitlement objects as the marketplace lists them; malformed ones are skipped."""
    out: list[Entitlement] = []
    if not isinstance(items, list):
        return out
    for item in items:
        if not isinstance(item, dict):
            continue
        try:
            out.append(
                Entitlement(
                    item.get("tenant") or None,
                    frozenset(type_name(t) for t in item.get("entityTypes") or [] if t),
                    frozenset(a for a in item.get("actions") or [] if isinstance(a, str)),
                    _instant(item.get("validFrom")),
                    _instant(item.get("validUntil")),
                )
            )
        except (TypeError, ValueError):
            continue
    return out


class Entitlements:
    def __init__(self, client: httpx.AsyncClient, marketplace_url: str, cache_s: float) -> None:
        self.client = client
        self.url = marketplace_url.rstrip("/") + "/marketplace/v1/entitlements"
        self.cache_s = cache_s
        self._cache: dict[str, tuple[list[Entitlement], float]] = {}
        self._pending: dict[str, asyncio.Future[list[Entitlement]]] = {}

    async def _fetch(self, party: str) -> list[Entitlement]:
        try:
            resp = await self.client.get(self.url, params={"party": party, "limit": 1000})
        except httpx.HTTPError:
            raise ServiceUnavailable(
                "The marketplace cannot be reached to check entitlements; try again shortly"
            ) from None
        if resp.status_code != 200:
            raise ServiceUnavailable(
                f"The marketplace answered {resp.status_code} when asked for entitlements"
            )
        try:
            return parse(orjson.loads(resp.content))
        except orjson.JSONDecodeError:
            raise ServiceUnavailable(
                "The marketplace answered entitlements that are not JSON"
            ) from None

    async def of(self, party: str) -> list[Entitlement]:
        hit = self._cache.get(party)
        now = time.monotonic()
        if hit is not None and hit[1] > now:
            return hit[0]
        pending = self._pending.get(party)
        if pending is not None:  # one call per party however many requests wait for it
            return await asyncio.shield(pending)
        future: asyncio.Future[list[Entitlement]] = asyncio.get_running_loop().create_future()
        self._pending[party] = future
        try:
            found = await self._fetch(party)
            future.set_result(found)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters get it, no "never retrieved" warning
            raise
        finally:
            del self._pending[party]
        if self.cache_s > 0:
            self._cache[party] = (found, time.monotonic() + self.cache_s)
        return found

    async def types(self, party: str | None, tenant: str | None, action: str) -> set[str]:
        """The entity types ``party`` may ``action`` in ``tenant`` now."""
        if not party:
            return set()
        now = time.time()
        out: set[str] = set()
        for ent in await self.of(party):
            if ent.covers(tenant, action, now):
                out |= ent.types
        return out

    async def until(
        self, party: str | None, tenant: str | None, action: str, names: set[str]
    ) -> float | None:
        """When ``party``'s right to ``action`` every one of ``names`` ends (epoch seconds):
        for each name the latest end among the entitlements covering it, and the earliest of
        those. None when none of them ends (or none is covered: openly licensed types)."""
        if not party:
            return None
        now = time.time()
        valid = [e for e in await self.of(party) if e.covers(tenant, action, now)]
        ends: list[float] = []
        for name in names:
            covering = [e.valid_until for e in valid if name in e.types]
            if covering and None not in covering:
                ends.append(max(c for c in covering if c is not None))
        return min(ends) if ends else None

    def forget(self, party: str | None = None) -> None:
        """Entitlements changed: ask the marketplace again next time."""
        if party is None:
            self._cache.clear()
        else:
            self._cache.pop(party, None)
