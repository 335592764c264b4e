"""MIM2 conformance: validation on every write path, modes per tenant and type, reports.

Write paths ask ``checker(tenant)`` before they open their transaction (it may refresh the
models from the catalogue) and then call it on each entity as it will be stored:
- ``off``: nothing;
- ``warn``: the write is accepted and the violations go to the ``NGSILD-Warning`` header;
- ``enforce``: BadRequestData listing each violation with its JSON path; nothing stored.
"""

from __future__ import annotations

import contextvars
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from context_broker.datamodels import repository
from context_broker.datamodels.registry import ModelRegistry
from context_broker.datamodels.validation import CompiledModel, Violation
from context_broker.entities.repository import StoredEntity
from mims_shared.db import Database
from mims_shared.errors import BadRequestData, NotFound

MODES: Final = ("off", "warn", "enforce")
#: The warnings of the request being served (set by the warnings middleware).
WARNINGS: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "mims_warnings", default=None
)

Checker = Callable[[StoredEntity], None]


def warn(text: str) -> None:
    """Add a warning to the response of the current request (NGSILD-Warning header)."""
    found = WARNINGS.get()
    if found is not None and len(found) < 50:
        found.append(text)


def _describe(violations: list[Violation]) -> str:
    return "; ".join(f"{v.path}: {v.message}" for v in violations)


@dataclass(frozen=True, slots=True)
class _Modes:
    by_type: dict[str, str]
    at: float


class ConformanceService:
    def __init__(
        self, db: Database, registry: ModelRegistry, *, default_mode: str, cache_s: float = 2.0
    ) -> None:
        if default_mode not in MODES:
            raise ValueError(f"validation mode {default_mode!r} is not one of {MODES}")
        self.db = db
        self.registry = registry
        self.default_mode = default_mode
        self.cache_s = cache_s
        self._modes: dict[str, _Modes] = {}

    async def _tenant_modes(self, tenant: str) -> dict[str, str]:
        cached = self._modes.get(tenant)
        if cached is None or time.monotonic() - cached.at > self.cache_s:
            async with self.db.unit_of_work(transaction=False) as uow:
                found = await repository.modes(uow.connection, tenant)
            cached = self._modes[tenant] = _Modes(found, time.monotonic())
        return cached.by_type

    async def checker(self, tenant: str) -> Checker:
        """The check of the entities a write will store (see the module docstring)."""
        models = await self.registry.by_type()
        if not models:
            return _nothing
        modes = await self._tenant_modes(tenant)
        default = self.default_mode

        def check(e: StoredEntity) -> None:
            for t in e.types:
                model = models.get(t)
                if model is None:
                    continue
                mode = modes.get(t, default)
                if mode == "off":
                    continue
                found = model.violations(_as_entity(e))
                if not found:
                    continue
                if mode == "enforce":
                    raise BadRequestData(
                        f"Entity {e.id} does not conform to data model {model.id} "
                        f"({model.version}): {_describe(found)}"[:4000],
                        extra={
                            "dataModel": model.id,
                            "violations": [v.to_json() for v in found],
                        },
                    )
                warn(f"Entity {e.id} does not conform to data model {model.id}: {_describe(found)}")

        return check

    # --- modes ---------------------------------------------------------------------------
    async def set_mode(self, tenant: str, type_iri: str, mode: str) -> None:
        if mode not in MODES:
            raise BadRequestData(f"mode must be one of {', '.join(MODES)}")
        async with self.db.unit_of_work(transaction=False) as uow:
            await repository.set_mode(uow.connection, tenant, type_iri, mode)
        self._modes.pop(tenant, None)

    async def drop_mode(self, tenant: str, type_iri: str) -> None:
        async with self.db.unit_of_work(transaction=False) as uow:
            if not await repository.drop_mode(uow.connection, tenant, type_iri):
                raise NotFound(f"No validation mode is set for {type_iri}")
        self._modes.pop(tenant, None)

    async def modes(self, tenant: str) -> dict[str, str]:
        async with self.db.unit_of_work(transaction=False) as uow:
            return await repository.modes(uow.connection, tenant)

    async def models(self) -> dict[str, Any]:
        models = await self.registry.by_type()
        seen: dict[str, dict[str, Any]] = {}
        for type_iri, model in models.items():
            entry = seen.setdefault(
                model.id, {"id": model.id, "version": model.version, "types": []}
            )
            entry["types"].append(type_iri)
        return {"models": list(seen.values()), "problem": self.registry.problem}

    # --- report --------------------------------------------------------------------------
    async def report(self, tenant: str, type_iri: str, *, examples: int = 3) -> dict[str, Any]:
        """How the tenant's entities of a type conform to their model: counts, the most
        frequent violations (by path and message) with example entity ids."""
        models = await self.registry.by_type()
        model = models.get(type_iri)
        if model is None:
            raise NotFound(f"No data model is registered for the type {type_iri}")
        total = conforming = 0
        counts: Counter[tuple[str, str]] = Counter()
        samples: dict[tuple[str, str], list[str]] = {}
        async with self.db.unit_of_work() as uow:
            async for e in repository.entities_of_type(uow.connection, tenant, type_iri):
                total += 1
                found = model.violations(_as_entity(e), limit=50)
                if not found:
                    conforming += 1
                    continue
                for v in {(v.path, v.message) for v in found}:
                    counts[v] += 1
                    ids = samples.setdefault(v, [])
                    if len(ids) < examples:
                        ids.append(e.id)
        return {
            "type": type_iri,
            "dataModel": {"id": model.id, "version": model.version},
            "mode": (await self._tenant_modes(tenant)).get(type_iri, self.default_mode),
            "entities": total,
            "conforming": conforming,
            "conformance": round(conforming / total, 4) if total else None,
            "violations": [
                {"path": p, "message": m, "entities": n, "examples": samples[(p, m)]}
                for (p, m), n in counts.most_common(20)
            ],
        }


def _nothing(_: StoredEntity) -> None:
    return None


#: The checker when nothing is to be validated (no data model is registered).
NO_CHECK: Checker = _nothing


def _as_entity(e: StoredEntity) -> dict[str, Any]:
    types: Any = e.types if len(e.types) > 1 else e.types[0]
    return {"id": e.id, "type": types, **e.attrs}


__all__ = ["NO_CHECK", "WARNINGS", "Checker", "CompiledModel", "ConformanceService", "warn"]
