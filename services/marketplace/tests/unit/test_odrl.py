"""ODRL policies: checks and the access they grant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from marketplace.odrl.policy import PolicyError, normalise, parse_duration, terms

START = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def offer(**rules: Any) -> dict[str, Any]:
    return normalise({"@type": "Offer", "uid": "urn:mims:policy:1", **rules})


def test_normalise_adds_context_and_uid() -> None:
    got = normalise({"@type": "odrl:Offer", "permission": [{"action": "odrl:read"}]})
    assert got["@context"] == "http://www.w3.org/ns/odrl.jsonld"
    assert got["@type"] == "Offer"
    assert got["uid"].startswith("urn:uuid:")


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ([], "must be a JSON object"),
        ({"@type": "Thing", "permission": [{"action": "read"}]}, "@type must be one of"),
        ({"@type": "Offer"}, "needs a permission, prohibition or obligation"),
        ({"@type": "Offer", "permission": [{}]}, "needs an action"),
        ({"@type": "Offer", "permission": [{"action": "fly"}]}, "not one the marketplace knows"),
        ({"@type": "Offer", "uid": "not an iri", "permission": [{"action": "read"}]}, "uid"),
        (
            {
                "@type": "Offer",
                "permission": [
                    {
                        "action": "read",
                        "constraint": [
                            {"leftOperand": "dateTime", "operator": "lt", "rightOperand": "x"}
                        ],
                    }
                ],
            },
            "is not an ISO 8601 date-time",
        ),
        (
            {
                "@type": "Offer",
                "permission": [
                    {
                        "action": "read",
                        "constraint": [
                            {"leftOperand": "count", "operator": "like", "rightOperand": 1}
                        ],
                    }
                ],
            },
            "is not an ODRL operator",
        ),
    ],
)
def test_bad_policies(policy: Any, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        normalise(policy)


def test_no_policy_grants_read_and_subscribe_without_end() -> None:
    got = terms([], START)
    assert (got.actions, got.valid_from, got.valid_until) == (["read", "subscribe"], START, None)


def test_use_minus_prohibited_subscribe_with_window_count_and_purpose() -> None:
    policy = offer(
        permission=[
            {
                "action": "use",
                "constraint": [
                    {
                        "leftOperand": "dateTime",
                        "operator": "gteq",
                        "rightOperand": "2026-12-01T00:00:00Z",
                    },
                    {
                        "leftOperand": "dateTime",
                        "operator": "lt",
                        "rightOperand": {"@value": "2027-12-01T00:00:00Z"},
                    },
                    {
                        "leftOperand": "purpose",
                        "operator": "isAnyOf",
                        "rightOperand": ["mobility", "research"],
                    },
                    {"leftOperand": "count", "operator": "lteq", "rightOperand": 1000},
                ],
                "duty": [{"action": "attribute"}],
            }
        ],
        prohibition=[{"action": "subscribe"}],
    )
    got = terms([policy], START)
    assert got.actions == ["read"]
    assert got.valid_from == datetime(2026, 12, 1, tzinfo=UTC)
    assert got.valid_until == datetime(2027, 12, 1, tzinfo=UTC)
    assert got.purpose == ["mobility", "research"]
    assert got.count == 1000


def test_elapsed_time_runs_from_completion() -> None:
    policy = offer(
        permission=[
            {
                "action": "read",
                "constraint": [
                    {"leftOperand": "elapsedTime", "operator": "lteq", "rightOperand": "P30D"}
                ],
            }
        ]
    )
    assert terms([policy], START).valid_until == START + timedelta(days=30)


@pytest.mark.parametrize(
    ("text", "delta"),
    [("P1Y", timedelta(days=365)), ("PT12H", timedelta(hours=12)), ("P2W", timedelta(days=14))],
)
def test_durations(text: str, delta: timedelta) -> None:
    assert parse_duration(text) == delta
