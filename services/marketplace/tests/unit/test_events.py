"""Event payloads and hub registrations (TMF630 part 2)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from marketplace.tmf.events import HubError, change_event, check_callback, event, parse_hub_query
from marketplace.tmf.kinds import ORDERING, PRODUCT_ORDER


def test_event_shape() -> None:
    order = {"id": "1", "state": "acknowledged"}
    got = event(PRODUCT_ORDER, "Create", order, datetime(2026, 11, 26, 12, tzinfo=UTC))
    assert got.api == ORDERING and got.event_type == "ProductOrderCreateEvent"
    body = dict(got.body)
    assert body.pop("eventId")
    assert body == {
        "@type": "ProductOrderCreateEvent",
        "eventTime": "2026-11-26T12:00:00Z",
        "eventType": "ProductOrderCreateEvent",
        "event": {"productOrder": order},
    }


def test_state_change_or_attribute_change() -> None:
    old = {"id": "1", "state": "acknowledged", "note": []}
    assert change_event(PRODUCT_ORDER, old, {**old, "state": "inProgress"}).event_type == (
        "ProductOrderStateChangeEvent"
    )
    assert change_event(PRODUCT_ORDER, old, {**old, "note": [{"text": "x"}]}).event_type == (
        "ProductOrderAttributeValueChangeEvent"
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (None, None),
        ("", None),
        ("eventType=ProductOrderCreateEvent", ["ProductOrderCreateEvent"]),
        (
            "eventType=ProductOrderCreateEvent,CancelProductOrderStateChangeEvent",
            ["ProductOrderCreateEvent", "CancelProductOrderStateChangeEvent"],
        ),
    ],
)
def test_hub_queries(query: str | None, expected: list[str] | None) -> None:
    assert parse_hub_query(ORDERING, query) == expected


@pytest.mark.parametrize(
    "query", ["eventType=ProductOfferingCreateEvent", "state=completed", "eventType=", 3]
)
def test_bad_hub_queries(query: object) -> None:
    with pytest.raises(HubError):
        parse_hub_query(ORDERING, query)


@pytest.mark.parametrize(
    "callback", ["", "ftp://x/y", "http://", "/relative", "http://a b/", None, "x" * 3000]
)
def test_bad_callbacks(callback: object) -> None:
    with pytest.raises(HubError):
        check_callback(callback)
