"""Pure temporal logic (ngsild/temporal.py): the temporal query, aggregation parameters, the
simplified and aggregated representations (golden JSON) and the paging of long histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from context_broker.ngsild.temporal import (
    Duration,
    TemporalQuery,
    aggregated_attribute,
    iso,
    paginate,
    parse_aggr_methods,
    parse_duration,
    parse_temporal_query,
    simplified_attribute,
    strip_instance,
)
from mims_shared.errors import BadRequestData


def t(minute: int) -> datetime:
    return datetime(2020, 8, 1, 12, minute, tzinfo=UTC)


def test_a_temporal_query_with_its_bounds() -> None:
    q = parse_temporal_query("between", "2020-08-01T12:00:00Z", "2020-08-01T13:30:00+01:00")
    assert q.timerel == "between"
    assert q.time_at == t(0)
    assert q.end_time_at == t(30)  # 13:30+01:00 is 12:30Z
    assert q.column == "at"
    assert parse_temporal_query(timeproperty="deletedAt").column == "deleted_at"
    assert parse_temporal_query(last_n="3").last_n == 3
    assert parse_temporal_query(last_n=3).last_n == 3
    assert parse_temporal_query() == TemporalQuery()


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (("after",), "needs timeAt"),
        (("between", "2020-08-01T12:00:00Z"), "needs endTimeAt"),
        (("between", "2020-08-01T12:00:00Z", "2020-08-01T11:00:00Z"), "later than"),
        (("during", "2020-08-01T12:00:00Z"), "is not before, after or between"),
        (("after", "2020-08-01"), "must be a DateTime"),
        (("after", "2020-02-30T00:00:00Z"), "must be a DateTime"),
        (("after", "yesterday"), "must be a DateTime"),
        ((None, "2020-08-01T12:00:00Z"), "need timerel"),
        (("after", "2020-08-01T12:00:00Z", "2020-08-02T12:00:00Z"), "goes with timerel between"),
        ((None, None, None, "observedAtt"), "timeproperty"),
        ((None, None, None, {}), "timeproperty"),
        (({}, "2020-08-01T12:00:00Z"), "timerel"),
        (("after", ["2020-08-01T12:00:00Z"]), "must be a DateTime"),
        ((None, None, None, None, "0"), "positive integer"),
        ((None, None, None, None, "1.5"), "positive integer"),
        ((None, None, None, None, True), "positive integer"),
        ((None, None, None, None, -2), "positive integer"),
    ],
)
def test_bad_temporal_queries_are_refused(args: tuple[Any, ...], why: str) -> None:
    with pytest.raises(BadRequestData, match=why):
        parse_temporal_query(*args)


@pytest.mark.parametrize(
    ("text", "months", "seconds"),
    [
        ("PT1H", 0, 3600),
        ("P1D", 0, 86400),
        ("P1W", 0, 7 * 86400),
        ("PT1M30.5S", 0, 90.5),
        ("P1M", 1, 0),
        ("P2Y", 24, 0),
        ("PT0S", 0, 0),
    ],
)
def test_durations(text: str, months: int, seconds: float) -> None:
    assert parse_duration(text) == Duration(months, seconds)


@pytest.mark.parametrize("text", ["P", "PT", "1H", "PT1H2", "P1DT", "P1M1D", "PT-1S", "P1.5D"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(BadRequestData):
        parse_duration(text)


def test_aggregation_methods() -> None:
    assert parse_aggr_methods("avg,max,avg") == ["avg", "max"]
    assert parse_aggr_methods(["sum", "totalCount"]) == ["sum", "totalCount"]
    for bad in ("median", "", None, ["avg", 3]):
        with pytest.raises(BadRequestData):
            parse_aggr_methods(bad)


def test_time_stamps_name_fractions_only_when_there_are_some() -> None:
    assert iso(t(3)) == "2020-08-01T12:03:00Z"
    assert iso(t(3) + timedelta(milliseconds=250)) == "2020-08-01T12:03:00.250Z"
    assert iso(t(3) + timedelta(microseconds=7)) == "2020-08-01T12:03:00.000007Z"


def test_normalized_instances_keep_deleted_at_and_lose_other_system_members() -> None:
    inst = {
        "type": "Property",
        "value": 1,
        "createdAt": "x",
        "modifiedAt": "y",
        "deletedAt": "z",
        "unitCode": "KMH",
        "https://x/q": {"type": "Property", "value": 2, "createdAt": "x"},
    }
    assert strip_instance(inst, sys_attrs=False) == {
        "type": "Property",
        "value": 1,
        "deletedAt": "z",
        "unitCode": "KMH",
        "https://x/q": {"type": "Property", "value": 2},
    }
    assert strip_instance(inst, sys_attrs=True) is inst


def test_golden_simplified_representation() -> None:
    speed = [
        ("2020-08-01T12:03:00Z", {"type": "Property", "value": 120, "unitCode": "KMH"}),
        ("2020-08-01T12:05:00Z", {"type": "Property", "value": 80}),
    ]
    assert simplified_attribute(speed) == {
        "type": "Property",
        "values": [[120, "2020-08-01T12:03:00Z"], [80, "2020-08-01T12:05:00Z"]],
    }
    parked = [("2020-08-01T12:03:00Z", {"type": "Relationship", "object": "urn:x:1"})]
    assert simplified_attribute(parked) == {
        "type": "Relationship",
        "objects": [["urn:x:1", "2020-08-01T12:03:00Z"]],
    }
    name = [("2020-08-01T12:03:00Z", {"type": "LanguageProperty", "languageMap": {"fr": "a"}})]
    assert simplified_attribute(name) == {
        "type": "LanguageProperty",
        "languageMaps": [[{"languageMap": {"fr": "a"}}, "2020-08-01T12:03:00Z"]],
    }
    tags = [("2020-08-01T12:03:00Z", {"type": "VocabProperty", "vocab": ["a", "b"]})]
    assert simplified_attribute(tags) == {
        "type": "VocabProperty",
        "vocabs": [[{"vocab": ["a", "b"]}, "2020-08-01T12:03:00Z"]],
    }
    two = [
        ("2020-08-01T12:03:00Z", {"type": "Property", "value": 1}),
        ("2020-08-01T12:04:00Z", {"type": "Property", "value": 2, "datasetId": "urn:d:1"}),
    ]
    assert simplified_attribute(two) == [
        {"type": "Property", "values": [[1, "2020-08-01T12:03:00Z"]]},
        {"type": "Property", "datasetId": "urn:d:1", "values": [[2, "2020-08-01T12:04:00Z"]]},
    ]


def test_golden_aggregated_representation() -> None:
    buckets = [
        (None, "2020-08-01T12:03:00Z", "2020-08-01T13:03:00Z", {"avg": 100.0, "totalCount": 3}),
        (None, "2020-08-01T13:03:00Z", "2020-08-01T14:03:00Z", {"avg": 53.0, "totalCount": 1}),
    ]
    assert aggregated_attribute("Property", buckets, ["avg", "totalCount"]) == {
        "type": "Property",
        "avg": [
            [100.0, "2020-08-01T12:03:00Z", "2020-08-01T13:03:00Z"],
            [53.0, "2020-08-01T13:03:00Z", "2020-08-01T14:03:00Z"],
        ],
        "totalCount": [
            [3, "2020-08-01T12:03:00Z", "2020-08-01T13:03:00Z"],
            [1, "2020-08-01T13:03:00Z", "2020-08-01T14:03:00Z"],
        ],
    }


def _series() -> dict[str, list[tuple[datetime, Any]]]:
    return {
        "speed": [(t(m), m) for m in range(0, 20, 2)],  # 10 instances, even minutes
        "fuel": [(t(m), m) for m in range(1, 20, 2)],  # 10 instances, odd minutes
    }


def test_a_history_within_the_limit_is_whole() -> None:
    series, page = paginate(_series(), 20, TemporalQuery())
    assert series == _series()
    assert not page.truncated


def test_a_long_history_is_cut_at_one_time_for_every_attribute() -> None:
    query = parse_temporal_query("after", "2020-08-01T11:00:00Z")
    series, page = paginate(_series(), 5, query)
    assert [m for _, m in series["speed"]] == [0, 2, 4]
    assert [m for _, m in series["fuel"]] == [1, 3]
    assert page.truncated
    assert page.content_range == "date-time 2020-08-01T11:00:00Z-2020-08-01T12:04:00Z/*"


def test_last_n_pages_run_backwards_from_the_newest() -> None:
    series, page = paginate(_series(), 4, TemporalQuery(last_n=10))
    assert [m for _, m in series["speed"]] == [16, 18]
    assert [m for _, m in series["fuel"]] == [17, 19]
    assert page.content_range == "date-time 2020-08-01T12:19:00Z-2020-08-01T12:16:00Z/10"


def test_an_attribute_cut_whole_stays_empty() -> None:
    series = {"a": [(t(m), m) for m in range(10)], "b": [(t(30), 30)]}
    cut, page = paginate(series, 5, TemporalQuery())
    assert cut["b"] == []
    assert page.truncated
