"""The route table: path prefixes to upstream services, longest prefix first."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Upstream:
    name: str
    base_url: str


@dataclass(frozen=True, slots=True)
class Route:
    prefix: str
    upstream: Upstream

    def __post_init__(self) -> None:
        if not (self.prefix.startswith("/") and self.prefix.endswith("/")):
            raise ValueError(f"Route prefix {self.prefix!r} must start and end with '/'")

    def matches(self, path: str) -> bool:
        return path.startswith(self.prefix) or path == self.prefix[:-1]


class RouteTable:
    def __init__(self, routes: list[Route]) -> None:
        self.routes = sorted(routes, key=lambda r: len(r.prefix), reverse=True)

    def resolve(self, path: str) -> Upstream | None:
        for route in self.routes:
            if route.matches(path):
                return route.upstream
        return None

    @property
    def upstreams(self) -> list[Upstream]:
        seen: dict[str, Upstream] = {}
        for route in self.routes:
            seen.setdefault(route.upstream.name, route.upstream)
        return sorted(seen.values(), key=lambda u: u.name)


def default_table(broker: str, catalogue: str, marketplace: str) -> RouteTable:
    """NGSI-LD and MIM2 to the broker, TM Forum to the marketplace, catalogue and CKAN API
    to the catalogue."""
    b = Upstream("context-broker", broker.rstrip("/"))
    c = Upstream("catalogue", catalogue.rstrip("/"))
    m = Upstream("marketplace", marketplace.rstrip("/"))
    return RouteTable(
        [
            Route("/ngsi-ld/", b),
            Route("/mim2/", b),  # the broker's MIM2 validation modes and reports
            Route("/catalogue/", c),
            Route("/api/3/", c),
            Route("/tmf-api/", m),
        ]
    )
