"""Pure TMF logic: filters to SQL/JSON path, merge patch, validation, the order machine."""

from __future__ import annotations

import pytest

from marketplace.tmf.kinds import INDIVIDUAL, PRODUCT_OFFERING
from marketplace.tmf.orders import allowed_next, can_move
from marketplace.tmf.patch import merge_patch
from marketplace.tmf.query import QueryError, parse_filters, split_reference, to_jsonpath
from marketplace.tmf.validate import problems


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ([], None),
        ([("fields", "name"), ("offset", "0"), ("limit", "5")], None),
        ([("name", "Parking")], '($."name" == "Parking")'),
        (
            [("lifecycleStatus", "Active,Launched")],
            '($."lifecycleStatus" == "Active" || $."lifecycleStatus" == "Launched")',
        ),
        ([("category.id", "7")], '($."category"."id" == "7" || $."category"."id" == 7)'),
        (
            [("lastUpdate.gt", "2026-01-01"), ("isBundle", "true")],
            '($."lastUpdate" > "2026-01-01") && ($."isBundle" == "true" || $."isBundle" == true)',
        ),
        ([("name", 'a" || true || "')], '($."name" == "a\\" || true || \\"")'),
        ([("@type", "ProductOffering")], '($."@type" == "ProductOffering")'),
    ],
)
def test_filters_compile_to_one_jsonpath(params: list[tuple[str, str]], expected: str) -> None:
    assert to_jsonpath(parse_filters(params)) == expected


@pytest.mark.parametrize(
    ("params", "term", "left"),
    [
        ([("category.id", "cat-4")], "category.id=cat-4", 0),
        ([("name", "x"), ("category.id", "a"), ("channel.id", "b")], "category.id=a", 2),
        # Values that also spell a number or boolean, several values, other operators and
        # other depths stay in the path predicate.
        ([("category.id", "42")], None, 1),
        ([("category.id", "true")], None, 1),
        ([("category.id", "a,b")], None, 1),
        ([("category.id.ne", "a")], None, 1),
        ([("relatedParty.partyOrPartyRole.id", "p")], None, 1),
        ([("id", "x")], None, 1),
    ],
)
def test_reference_terms(params: list[tuple[str, str]], term: str | None, left: int) -> None:
    found, rest = split_reference(parse_filters(params))
    assert found == term and len(rest) == left


@pytest.mark.parametrize(
    "params",
    [[("sort", "name")], [("na me", "x")], [("a..b", "x")], [("x'; drop", "1")], [("$", "1")]],
)
def test_bad_filters_are_refused(params: list[tuple[str, str]]) -> None:
    with pytest.raises(QueryError):
        parse_filters(params)


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [  # RFC 7386, Appendix A
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch_rfc7386_examples(target: object, patch: object, expected: object) -> None:
    assert merge_patch(target, patch) == expected


def test_validation_messages() -> None:
    assert problems(PRODUCT_OFFERING, {"name": "x"}, partial=False) == ["@type is required"]
    assert (
        problems(
            PRODUCT_OFFERING,
            {"@type": "DataOffering", "@baseType": "ProductOffering", "name": "x"},
            partial=False,
        )
        == []
    )
    assert problems(INDIVIDUAL, {"@type": "Individual", "givenName": "A"}, partial=False) == [
        "familyName is required"
    ]
    assert problems(
        PRODUCT_OFFERING,
        {"@type": "ProductOffering", "name": 3, "lifecycleStatus": "Sold", "id": "1"},
        partial=False,
    ) == [
        "id is set by the server",
        "name must be a string",
        "lifecycleStatus 'Sold' is not one of In study, In design, In test, Active, "
        "Launched, Retired, Obsolete, Rejected",
    ]
    assert problems(PRODUCT_OFFERING, {"description": None}, partial=True) == []
    assert problems(PRODUCT_OFFERING, {"name": None}, partial=True) == [
        "null is not a value for name"
    ]


@pytest.mark.parametrize(
    ("current", "target", "ok"),
    [
        ("acknowledged", "inProgress", True),
        ("inProgress", "completed", True),
        ("inProgress", "failed", True),
        ("inProgress", "partial", True),
        ("acknowledged", "completed", False),
        ("completed", "inProgress", False),
        ("cancelled", "acknowledged", False),
        ("draft", "acknowledged", True),
        ("pendingCancellation", "cancelled", True),
        ("acknowledged", "cancelled", False),
    ],
)
def test_order_state_machine(current: str, target: str, ok: bool) -> None:
    assert can_move(current, target) is ok


def test_final_states_have_no_next() -> None:
    for state in ("completed", "failed", "partial", "rejected", "cancelled"):
        assert allowed_next(state) == []
