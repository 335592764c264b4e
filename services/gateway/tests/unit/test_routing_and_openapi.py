from __future__ import annotations

import pytest

from gateway.openapi.merge import merge_documents
from gateway.routing.table import Route, RouteTable, Upstream, default_table

TABLE = default_table("http://b", "http://c", "http://m")


@pytest.mark.parametrize(
    ("path", "upstream"),
    [
        ("/ngsi-ld/v1/entities", "context-broker"),
        ("/ngsi-ld", "context-broker"),
        ("/catalogue/v1/datasets", "catalogue"),
        ("/api/3/action/package_search", "catalogue"),
        ("/tmf-api/partyManagement/v5/organization", "marketplace"),
        ("/ngsi-ldx/v1", None),
        ("/", None),
        ("/tmf", None),
    ],
)
def test_resolve(path: str, upstream: str | None) -> None:
    found = TABLE.resolve(path)
    assert (found.name if found else None) == upstream


def test_longest_prefix_wins_and_prefixes_are_checked() -> None:
    a, b = Upstream("a", "http://a"), Upstream("b", "http://b")
    table = RouteTable([Route("/x/", a), Route("/x/y/", b)])
    assert table.resolve("/x/y/z") is b
    assert table.resolve("/x/z") is a
    with pytest.raises(ValueError, match="must start and end"):
        Route("/x", a)


def test_merge_renames_components_and_keeps_paths() -> None:
    broker = {
        "paths": {
            "/ngsi-ld/v1/entities": {
                "post": {"responses": {"400": {"$ref": "#/components/responses/Problem"}}}
            }
        },
        "components": {
            "responses": {
                "Problem": {
                    "description": "p",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/ProblemDetails"}
                        }
                    },
                }
            },
            "schemas": {"ProblemDetails": {"type": "object"}},
        },
    }
    market = {
        "paths": {"/tmf-api/x": {"get": {}}},
        "components": {"schemas": {"ProblemDetails": {"type": "string"}}},
    }
    merged = merge_documents(
        {"context-broker": broker, "marketplace": market},
        title="t",
        version="1",
        own={"paths": {"/health": {"get": {}}}},
    )
    assert set(merged["paths"]) == {"/health", "/ngsi-ld/v1/entities", "/tmf-api/x"}
    ref = merged["paths"]["/ngsi-ld/v1/entities"]["post"]["responses"]["400"]["$ref"]
    assert ref == "#/components/responses/ContextBroker_Problem"
    problem = merged["components"]["responses"]["ContextBroker_Problem"]
    schema_ref = problem["content"]["application/json"]["schema"]["$ref"]
    assert schema_ref == "#/components/schemas/ContextBroker_ProblemDetails"
    assert merged["components"]["schemas"]["Marketplace_ProblemDetails"] == {"type": "string"}
