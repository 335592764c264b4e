"""The services of the stack, as the tooling starts them."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str
    package: str
    env_prefix: str
    port: int

    @property
    def factory(self) -> str:
        return f"{self.package}.app:create_app"

    @property
    def database(self) -> str:
        return "mims_" + self.name.replace("-", "_")

    @property
    def migrations(self) -> Path:
        module = importlib.import_module(f"{self.package}.settings")
        folder: Path = module.MIGRATIONS
        return folder


#: Upstreams first: the gateway starts last.
SERVICES = (
    ServiceSpec("context-broker", "context_broker", "BROKER_", 1026),
    ServiceSpec("catalogue", "catalogue", "CATALOGUE_", 8081),
    ServiceSpec("marketplace", "marketplace", "MARKET_", 8082),
    ServiceSpec("gateway", "gateway", "GATEWAY_", 8080),
)


def spec(name: str) -> ServiceSpec:
    for s in SERVICES:
        if s.name == name:
            return s
    raise KeyError(name)
