"""Pure NGSI-LD helpers: ids, names, entity shape, tenants, media types."""

from __future__ import annotations

from typing import Any

import pytest

from context_broker.ngsild import ids
from context_broker.ngsild.entity import parse_entity
from context_broker.ngsild.ids import is_uri, is_valid_name
from context_broker.ngsild.media import JSON, JSONLD, choose_response_type
from context_broker.ngsild.tenant import parse_tenant
from mims_shared.errors import BadRequestData, NotAcceptable


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("urn:ngsi-ld:ParkingSpot:1", True),
        ("https://example.org/spots/1?x=1#a", True),
        ("urn:x:1';DROP/**/TABLE", True),
        ("not a uri", False),
        ("ParkingSpot1", False),
        ("urn:x:a b", False),
        ("urn:x:<script>", False),
        ("1urn:x", False),
        ("", False),
        (42, False),
        ("urn:x:" + "a" * 3000, False),
    ],
)
def test_is_uri(value: object, ok: bool) -> None:
    assert is_uri(value) is ok


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("status", True),
        ("availableSpotNumber", True),
        ("https://smartdatamodels.org/dataModel.Parking/status", True),
        ("bad name", False),
        ("a=b", False),
        ("a;b", False),
        ("a(b)", False),
        ("", False),
        ("x'y", False),
    ],
)
def test_is_valid_name(name: str, ok: bool) -> None:
    assert is_valid_name(name) is ok
    assert is_valid_name(name) is ok  # the same when remembered


def test_invalid_names_are_not_remembered() -> None:
    """Valid names are kept to be judged faster; invalid ones (a client's to choose, of any
    size) are not, nor names over the length limit."""
    before = set(ids._VALID)
    for n in range(100):
        assert not is_valid_name(f"bad name {n} " + "x" * 10_000)
        assert not is_valid_name("y" * 600 + str(n))
    assert before == ids._VALID
    assert is_valid_name("remembered_name")
    assert "remembered_name" in ids._VALID


def test_parse_entity_splits_core_members_from_attributes() -> None:
    parsed = parse_entity(
        {
            "id": "urn:a:1",
            "type": ["A", "B", "A"],
            "scope": "/x",
            "p": {"type": "Property", "value": 1},
        },
        context_in_body=False,
    )
    assert parsed.id == "urn:a:1"
    assert parsed.types == ["A", "B"]
    assert parsed.attrs == {"p": {"type": "Property", "value": 1}}
    assert parsed.context is None


@pytest.mark.parametrize(
    ("body", "ld", "message"),
    [
        ([], False, "JSON object"),
        ({"type": "T"}, False, "has no id"),
        ({"id": "x y", "type": "T"}, False, "not a URI"),
        ({"id": "urn:a:1"}, False, "no valid type"),
        ({"id": "urn:a:1", "type": []}, False, "no valid type"),
        ({"id": "urn:a:1", "type": "a b"}, False, "no valid type"),
        ({"id": "urn:a:1", "type": "T", "@context": "x"}, False, "must not carry"),
        ({"id": "urn:a:1", "type": "T"}, True, "must carry"),
        ({"id": "urn:a:1", "type": "T", "x=y": {}}, False, "forbidden name"),
    ],
)
def test_parse_entity_refuses(body: Any, ld: bool, message: str) -> None:
    with pytest.raises(BadRequestData, match=message):
        parse_entity(body, context_in_body=ld)


def test_tenants() -> None:
    assert parse_tenant(None) == ""
    assert parse_tenant("") == ""
    assert parse_tenant("city_a-1") == "city_a-1"
    for bad in ("a b", "a/b", "x" * 65, "ü"):
        with pytest.raises(BadRequestData):
            parse_tenant(bad)


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, JSON),
        ("*/*", JSON),
        ("application/json", JSON),
        ("application/ld+json", JSONLD),
        ("application/json;q=0.5, application/ld+json", JSONLD),
        ("text/html, application/*;q=0.1", JSON),
    ],
)
def test_choose_response_type(accept: str | None, chosen: str) -> None:
    assert choose_response_type(accept) == chosen


def test_unacceptable() -> None:
    with pytest.raises(NotAcceptable):
        choose_response_type("text/csv")
    with pytest.raises(NotAcceptable):
        choose_response_type("application/json;q=0")
