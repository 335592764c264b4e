"""Product offerings and what they sell (TMF620 v5.0.0 productOffering, with MIMs extensions).

An offering may list ``dataResource``: the catalogue datasets and data services it sells
(``{"id", "@referredType": "Dataset"|"DataService", "tenant"?, "entityType"?}``), each
checked against the catalogue over HTTP when written, and ``odrlPolicy``: its terms as ODRL
policies. When the offering is launched each policy is pushed to the catalogue on every
dataset it sells (``PUT .../datasets/{id}/policies/{uid}``); when it leaves Launched (retired,
obsolete) or is deleted, they are withdrawn (``DELETE``). Both go through the outbox.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from marketplace.catalogue.client import PATHS, CatalogueClient, entity_types_of, policy_url
from marketplace.events.dispatcher import Dispatcher
from marketplace.odrl.policy import PolicyError, normalise
from marketplace.resources.service import Call, Effects, ResourceService
from marketplace.tmf.kinds import PRODUCT_OFFERING
from mims_shared.db import Database
from mims_shared.errors import BadRequestData

LAUNCHED = "Launched"
MAX_RESOURCES = 100


class OfferingService(ResourceService):
    def __init__(
        self,
        db: Database,
        base_url: str,
        dispatcher: Dispatcher,
        catalogue: CatalogueClient,
    ) -> None:
        super().__init__(PRODUCT_OFFERING, db, base_url, dispatcher)
        self.catalogue = catalogue

    async def _resolve(self, resources: Any) -> list[dict[str, Any]]:
        """Each data resource checked against the catalogue, its entity types completed."""
        if not isinstance(resources, list) or len(resources) > MAX_RESOURCES:
            raise BadRequestData(f"dataResource must be an array of at most {MAX_RESOURCES}")
        resolved = []
        for i, ref in enumerate(resources):
            where = f"ProductOffering is not valid: dataResource[{i}]"
            if not isinstance(ref, dict) or not isinstance(ref.get("id"), str) or not ref["id"]:
                raise BadRequestData(f"{where} needs an id")
            referred = ref.get("@referredType", "Dataset")
            if referred not in PATHS:
                raise BadRequestData(f"{where}: @referredType must be Dataset or DataService")
            declared = ref.get("entityType", [])
            tenant = ref.get("tenant")
            if not isinstance(declared, list) or not all(isinstance(t, str) for t in declared):
                raise BadRequestData(f"{where}: entityType must be an array of strings")
            if tenant is not None and not isinstance(tenant, str):
                raise BadRequestData(f"{where}: tenant must be a string")
            record = await self.catalogue.record(referred, ref["id"])
            if record is None:
                raise BadRequestData(
                    f"{where}: {referred} {ref['id']} does not exist in the catalogue"
                )
            types = list(dict.fromkeys([*declared, *entity_types_of(record)]))
            entry = {**ref, "@referredType": referred, "entityType": types}
            if isinstance(record.get("uri"), str):
                entry["href"] = record["uri"]  # the catalogue's URI of the record
            resolved.append(entry)
        return resolved

    @staticmethod
    def _policies(raw: Any) -> list[dict[str, Any]]:
        if not isinstance(raw, list):
            raise BadRequestData("ProductOffering is not valid: odrlPolicy must be an array")
        try:
            return [normalise(p) for p in raw]
        except PolicyError as exc:
            raise BadRequestData(f"ProductOffering is not valid: odrlPolicy: {exc}") from None

    async def prepare(self, body: dict[str, Any]) -> None:
        """Policies checked and data resources resolved against the catalogue, before the
        transaction (a merge patch replaces these arrays whole, so the same holds for it)."""
        if body.get("odrlPolicy") is not None:
            body["odrlPolicy"] = self._policies(body["odrlPolicy"])
        if body.get("dataResource") is not None:
            body["dataResource"] = await self._resolve(body["dataResource"])

    def _pushes(self, offering: dict[str, Any], method: str) -> list[Call]:
        """One call per policy and dataset. A policy without a ``target`` is pushed with
        the dataset as its target (ODRL 2.2, 2.1: an Offer names its asset)."""
        datasets = [r for r in offering.get("dataResource", []) if r["@referredType"] == "Dataset"]
        calls: list[Call] = []
        for policy in offering.get("odrlPolicy", []):
            for ds in datasets:
                url = policy_url(self.catalogue.base, ds["id"], policy["uid"])
                body = None
                if method == "PUT":
                    body = {**policy, "target": policy.get("target", ds.get("href", ds["id"]))}
                calls.append((method, url, body))
        return calls

    async def side_effects(
        self, conn: asyncpg.Connection, old: dict[str, Any] | None, new: dict[str, Any] | None
    ) -> Effects:
        was = old is not None and old.get("lifecycleStatus") == LAUNCHED
        now = new is not None and new.get("lifecycleStatus") == LAUNCHED
        calls: list[Call] = []
        if was and old is not None:
            stale = self._pushes(old, "DELETE")
            kept = {c[1] for c in self._pushes(new, "PUT")} if now and new is not None else set()
            calls += [c for c in stale if c[1] not in kept]
        if now and new is not None:
            same = (
                was
                and old is not None
                and old.get("odrlPolicy") == new.get("odrlPolicy")
                and old.get("dataResource") == new.get("dataResource")
            )
            if not same:
                calls += self._pushes(new, "PUT")
        return Effects(calls=calls)
