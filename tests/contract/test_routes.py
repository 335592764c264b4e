"""Served routes == contract operations, for every service (no silent drift either way)."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from openapi_spec_validator import validate

from mims_shared.web.contract import contract_operations, load_contract
from mims_stack.services import SERVICES

_PARAM = re.compile(r"\{[^}]+\}")
#: Routes that are deliberately outside a contract: the gateway's proxy catch-all forwards
#: to the other services, whose contracts describe what lies behind it.
NOT_IN_CONTRACT = {("gateway", "/{path:path}")}


def _normalise(path: str) -> str:
    return _PARAM.sub("{}", path)


def served_operations(service: str, app: FastAPI) -> set[tuple[str, str]]:
    ops = set()
    # FastAPI resolves included routers lazily; iter_route_contexts gives the effective routes.
    for route in iter_route_contexts(app.routes):
        path, methods = route.path, route.methods
        if path is None or methods is None or (service, path) in NOT_IN_CONTRACT:
            continue
        for method in set(methods) - {"HEAD"}:
            ops.add((method, _normalise(path)))
    assert ops, f"no routes found in the {service} app"
    return ops


@pytest.mark.parametrize("svc", SERVICES, ids=lambda s: s.name)
def test_served_routes_match_the_contract(svc: object) -> None:
    from mims_stack.services import ServiceSpec

    assert isinstance(svc, ServiceSpec)
    module = __import__(f"{svc.package}.app", fromlist=["create_app"])
    settings_mod = __import__(f"{svc.package}.settings", fromlist=["x"])
    cls = next(
        v
        for k, v in vars(settings_mod).items()
        if k.endswith("Settings") and k != "ServiceSettings" and isinstance(v, type)
    )
    app = module.create_app(cls(database_url="postgresql+asyncpg://unused@/unused"))
    served = served_operations(svc.name, app)
    documented = {(m, _normalise(p)) for m, p in contract_operations(load_contract(svc.name))}
    assert served - documented == set(), "served but missing from the contract"
    assert documented - served == set(), "in the contract but not served"


@pytest.mark.parametrize("svc", SERVICES, ids=lambda s: s.name)
def test_contract_is_valid_openapi_3_1(svc: object) -> None:
    from mims_stack.services import ServiceSpec

    assert isinstance(svc, ServiceSpec)
    doc = load_contract(svc.name)
    validate(doc)
    assert doc["openapi"].startswith("3.1")
