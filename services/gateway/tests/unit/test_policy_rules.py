from __future__ import annotations

import pytest

from gateway.policy.rules import (
    Need,
    body_types,
    names_in_selection,
    ngsild_need,
    other_need,
    query_types,
    response_types,
    restrict_query,
)
from mims_shared.entity_types import type_name as short_name  # the gateway's rule for names


@pytest.mark.parametrize(
    ("method", "path", "need"),
    [
        ("GET", "/ngsi-ld/v1/entities", Need("read", "query")),
        ("GET", "/ngsi-ld/v1/entities/urn:x:1", Need("read", "response")),
        ("HEAD", "/ngsi-ld/v1/temporal/entities", Need("read", "query")),
        ("GET", "/ngsi-ld/v1/temporal/entities/urn:x:1", Need("read", "response")),
        ("POST", "/ngsi-ld/v1/entityOperations/query", Need("read", "body")),
        ("POST", "/ngsi-ld/v1/temporal/entityOperations/query", Need("read", "body")),
        ("POST", "/ngsi-ld/v1/entityOperations/upsert", Need("write")),
        ("POST", "/ngsi-ld/v1/subscriptions", Need("subscribe", "body")),
        ("PATCH", "/ngsi-ld/v1/subscriptions/urn:s:1", Need("subscribe", "body")),
        ("DELETE", "/ngsi-ld/v1/subscriptions/urn:s:1", Need("meta")),
        ("GET", "/ngsi-ld/v1/subscriptions", Need("meta")),
        ("GET", "/ngsi-ld/v1/types", Need("meta")),
        ("POST", "/ngsi-ld/v1/entities", Need("write")),
        ("PATCH", "/ngsi-ld/v1/entities/urn:x:1/attrs", Need("write")),
        ("DELETE", "/ngsi-ld/v1/jsonldContexts/x", Need("write")),
    ],
)
def test_ngsild_needs(method: str, path: str, need: Need) -> None:
    assert ngsild_need(method, path) == need


@pytest.mark.parametrize(
    ("upstream", "method", "path", "action"),
    [
        ("catalogue", "GET", "/catalogue/v1/datasets", "public"),
        ("catalogue", "POST", "/api/3/action/package_search", "public"),
        ("catalogue", "POST", "/api/3/action/package_create", "provider"),
        ("catalogue", "POST", "/catalogue/v1/datasets", "provider"),
        ("marketplace", "GET", "/tmf-api/productCatalogManagement/v5/productOffering", "public"),
        ("marketplace", "POST", "/tmf-api/productCatalogManagement/v5/productOffering", "provider"),
        (
            "marketplace",
            "POST",
            "/tmf-api/productOrderingManagement/v5/productOrder",
            "authenticated",
        ),
        ("marketplace", "GET", "/tmf-api/partyManagement/v5/organization", "authenticated"),
    ],
)
def test_other_needs(upstream: str, method: str, path: str, action: str) -> None:
    assert other_need(upstream, method, path).action == action


def test_type_names() -> None:
    assert short_name("https://smartdatamodels.org/dataModel.Parking/ParkingSpot") == "ParkingSpot"
    assert short_name("https://uri.etsi.org/ngsi-ld/default-context#Spot") == "Spot"
    assert short_name("sdm:ParkingSpot") == "ParkingSpot"
    assert names_in_selection("(A;B)|C, D") == {"A", "B", "C", "D"}
    assert query_types(b"type=A%2CB&q=x") == ({"A", "B"}, True)
    assert query_types(b"q=type==1") == (set(), False)
    assert restrict_query(b"q=a", {"B", "A"}) == b"q=a&type=A,B"
    assert restrict_query(b"", {"A"}) == b"type=A"


def test_body_and_response_types() -> None:
    assert body_types({"entities": [{"type": "A"}, {"type": "B|C"}]}) == {"A", "B", "C"}
    assert body_types({"entities": [{"id": "urn:x"}]}) is None
    assert body_types({"watchedAttributes": ["a"]}) is None
    assert body_types([1]) is None
    assert response_types({"id": "x", "type": ["A", "sdm:B"]}) == {"A", "B"}
    assert response_types({"type": "Feature", "properties": {"type": "A"}}) == {"A"}
    assert response_types("nope") == set()


def test_prod_refuses_unsafe_gateway_settings() -> None:
    from pydantic import ValidationError

    from gateway.settings import GatewaySettings

    secret = "s" * 32
    with pytest.raises(ValidationError, match="GATEWAY_AUTH_MODE must be 'enforce'"):
        GatewaySettings(environment="prod", admin_token=secret)
    with pytest.raises(ValidationError, match="GATEWAY_CORS_ORIGINS may not be"):
        GatewaySettings(
            environment="prod", admin_token=secret, auth_mode="enforce", cors_origins="*"
        )
    ok = GatewaySettings(environment="prod", admin_token=secret, auth_mode="enforce")
    assert ok.cors_origins == ()
