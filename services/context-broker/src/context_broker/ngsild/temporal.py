"""The temporal evolution of entities (ETSI GS CIM 009 V1.8.1): the temporal query (4.11,
5.2.21), aggregation parameters (4.5.19, 5.2.?), the three temporal representations
(normalized 4.5.?, simplified ``temporalValues`` 4.5.?, aggregated ``aggregatedValues``
4.5.19) and the pagination of long histories (6.3.10: 206 with a ``date-time`` Content-Range).

Pure: the functions here take parsed values and compacted instances and return JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from context_broker.ngsild.attributes import INSTANCE_MEMBERS, VALUE_MEMBER, is_datetime
from mims_shared.errors import BadRequestData

Timerel = Literal["before", "after", "between"]
TIMERELS: tuple[Timerel, ...] = ("before", "after", "between")
#: timeproperty (4.11) -> the history column holding it. observedAt falls back to the time
#: the instance was written when it has none (the partition key of the history).
TIME_PROPERTIES = {
    "observedAt": "at",
    "createdAt": "created_at",
    "modifiedAt": "modified_at",
    "deletedAt": "deleted_at",
}
#: The aggregation methods of 4.5.19, in the order they are listed there.
AGGR_METHODS = ("totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq")
#: In the simplified temporal representation, the member listing an attribute's values
#: (4.5.?); the kinds whose values are wrapped in an object with their own member name.
PLURAL = {
    "value": "values",
    "object": "objects",
    "languageMap": "languageMaps",
    "vocab": "vocabs",
    "json": "jsons",
    "valueList": "valueLists",
    "objectList": "objectLists",
}
_WRAPPED = frozenset({"languageMap", "vocab", "json", "valueList", "objectList"})
_SYS = ("createdAt", "modifiedAt")
K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class TemporalQuery:
    """A checked temporal query (5.2.21): no ``timerel`` means the whole history."""

    timerel: Timerel | None = None
    time_at: datetime | None = None
    end_time_at: datetime | None = None
    timeproperty: str = "observedAt"
    last_n: int | None = None

    @property
    def column(self) -> str:
        return TIME_PROPERTIES[self.timeproperty]


def parse_datetime(raw: Any, name: str) -> datetime:
    """A DateTime parameter (ISO 8601 with a time and a zone offset, 4.6.3); a date alone or
    anything else is BadRequestData."""
    if not isinstance(raw, str) or not is_datetime(raw):
        raise BadRequestData(f"{name} must be a DateTime such as 2024-01-31T10:00:00Z")
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequestData(f"{name} {raw[:40]!r} is not a valid DateTime") from None


def parse_last_n(raw: Any) -> int | None:
    """``lastN``: a strictly positive integer (a JSON number or its decimal text)."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise BadRequestData("lastN must be a positive integer")
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and raw.isdigit() and len(raw) < 10:
        value = int(raw)
    else:
        raise BadRequestData("lastN must be a positive integer")
    if value < 1:
        raise BadRequestData("lastN must be a positive integer")
    return value


def parse_temporal_query(
    timerel: Any = None,
    time_at: Any = None,
    end_time_at: Any = None,
    timeproperty: Any = None,
    last_n: Any = None,
) -> TemporalQuery:
    """The temporal query of a request (4.11, 5.2.21): ``timerel`` needs ``timeAt``;
    ``between`` also needs ``endTimeAt``, later than ``timeAt``."""
    prop = timeproperty if timeproperty not in (None, "") else "observedAt"
    if not isinstance(prop, str) or prop not in TIME_PROPERTIES:
        raise BadRequestData(
            f"timeproperty {str(prop)[:40]!r} is not one of observedAt, createdAt, "
            "modifiedAt, deletedAt"
        )
    n = parse_last_n(last_n)
    if timerel in (None, ""):
        if time_at not in (None, "") or end_time_at not in (None, ""):
            raise BadRequestData("timeAt and endTimeAt need timerel (before, after or between)")
        return TemporalQuery(timeproperty=prop, last_n=n)
    if timerel not in TIMERELS:
        raise BadRequestData(f"timerel {str(timerel)[:40]!r} is not before, after or between")
    if time_at in (None, ""):
        raise BadRequestData(f"timerel {timerel} needs timeAt")
    start = parse_datetime(time_at, "timeAt")
    end = None
    if timerel == "between":
        if end_time_at in (None, ""):
            raise BadRequestData("timerel between needs endTimeAt")
        end = parse_datetime(end_time_at, "endTimeAt")
        if end <= start:
            raise BadRequestData("endTimeAt must be later than timeAt")
    elif end_time_at not in (None, ""):
        raise BadRequestData(f"endTimeAt goes with timerel between, not {timerel}")
    return TemporalQuery(timerel, start, end, prop, n)


# --- aggregation (4.5.19) ------------------------------------------------------------------
_DURATION = re.compile(
    r"^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
    r"(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$"
)


@dataclass(frozen=True, slots=True)
class Duration:
    """An ISO 8601 duration: calendar months and seconds (days are 86,400 s here)."""

    months: int
    seconds: float

    @property
    def is_zero(self) -> bool:
        return self.months == 0 and self.seconds == 0


def parse_duration(raw: str) -> Duration:
    """``aggrPeriodDuration`` (ISO 8601 duration such as PT1H, P1D, P1M, PT0S)."""
    m = _DURATION.match(raw) if isinstance(raw, str) else None
    if m is None or raw.endswith("T"):
        raise BadRequestData(
            f"aggrPeriodDuration {str(raw)[:40]!r} is not an ISO 8601 duration such as PT1H"
        )
    y, mo, w, d, h, mi, s = m.groups()
    months = int(y or 0) * 12 + int(mo or 0)
    seconds = (
        int(w or 0) * 7 * 86400
        + int(d or 0) * 86400
        + int(h or 0) * 3600
        + int(mi or 0) * 60
        + float((s or "0").replace(",", "."))
    )
    if months and seconds:
        raise BadRequestData(
            "aggrPeriodDuration mixes months or years with days or times; "
            "use either calendar months (P1M, P1Y) or a fixed duration (P1D, PT1H)"
        )
    return Duration(months, seconds)


def parse_aggr_methods(raw: Any) -> list[str]:
    """``aggrMethods``: a comma-separated string or a JSON array of method names."""
    items: list[Any]
    if isinstance(raw, str):
        items = [m.strip() for m in raw.split(",")]
    elif isinstance(raw, list):
        items = raw
    else:
        raise BadRequestData("aggregatedValues needs aggrMethods")
    methods: list[str] = []
    for m in items:
        if not isinstance(m, str) or m not in AGGR_METHODS:
            raise BadRequestData(
                f"{str(m)[:40]!r} is not an aggregation method ({', '.join(AGGR_METHODS)})"
            )
        if m not in methods:
            methods.append(m)
    if not methods:
        raise BadRequestData("aggregatedValues needs aggrMethods")
    return methods


# --- time stamps ---------------------------------------------------------------------------
def iso(moment: datetime) -> str:
    """A time stamp in UTC with ``Z``; fractions of a second only when there are some."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    us = moment.microsecond
    spec = "seconds" if not us else "milliseconds" if us % 1000 == 0 else "microseconds"
    return moment.isoformat(timespec=spec)[:-6] + "Z"  # "+00:00" -> "Z"


# --- representations -----------------------------------------------------------------------
def strip_instance(inst: dict[str, Any], sys_attrs: bool) -> dict[str, Any]:
    """An instance of the temporal representation: system members only with sysAttrs
    (deletedAt always: it tells a deletion), in sub-attributes too."""
    if sys_attrs:
        return inst
    out: dict[str, Any] = {}
    for k, v in inst.items():
        if k in _SYS:
            continue
        if k not in INSTANCE_MEMBERS and isinstance(v, dict):
            v = strip_instance(v, sys_attrs)
        out[k] = v
    return out


def simplified_attribute(series: list[tuple[str, dict[str, Any]]]) -> Any:
    """An attribute in the simplified temporal representation (``temporalValues``): per
    datasetId, its kind and ``[value, time]`` pairs (``[{member: value}, time]`` for the
    kinds whose value is structured). ``series`` is ``(time, instance)`` in time order."""
    groups: dict[str | None, dict[str, Any]] = {}
    for when, inst in series:
        ds = inst.get("datasetId")
        kind = str(inst.get("type", "Property"))
        member = VALUE_MEMBER.get(kind, "value")
        group = groups.get(ds)
        if group is None:
            group = groups[ds] = {"type": kind}
            if ds is not None:
                group["datasetId"] = ds
        entry = {member: inst.get(member)} if member in _WRAPPED else inst.get(member)
        group.setdefault(PLURAL[member], []).append([entry, when])
    values = list(groups.values())
    if not values:  # cut whole by paging (6.3.10)
        return {"type": "Property", "values": []}
    return values[0] if len(values) == 1 else values


def aggregated_attribute(
    kind: str, buckets: list[tuple[str | None, str, str, dict[str, Any]]], methods: list[str]
) -> Any:
    """An attribute in the aggregated temporal representation (4.5.19): for each method,
    ``[result, periodStart, periodEnd]`` per period that holds instances. ``buckets`` is
    ``(datasetId, start, end, {method: result})`` in time order."""
    groups: dict[str | None, dict[str, Any]] = {}
    for ds, start, end, results in buckets:
        group = groups.get(ds)
        if group is None:
            group = groups[ds] = {"type": kind}
            if ds is not None:
                group["datasetId"] = ds
            for m in methods:
                group[m] = []
        for m in methods:
            group[m].append([results.get(m), start, end])
    values = list(groups.values())
    return values[0] if len(values) == 1 else values


# --- pagination (6.3.10) -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Page:
    """What a page of a long history holds: the cut-off time, the Content-Range."""

    truncated: bool
    content_range: str | None = None


def paginate(
    series: dict[K, list[tuple[datetime, Any]]],
    limit: int,
    query: TemporalQuery,
) -> tuple[dict[K, list[tuple[datetime, Any]]], Page]:
    """Cut a response to ``limit`` instances (6.3.10): the ``limit`` earliest (latest with
    lastN) instances over all its attributes (of all its entities), every attribute cut at
    the same time; an attribute cut whole stays, empty. The Content-Range names the time
    range the page covers: from timeAt (or the first instance) to the cut-off, newest first
    with lastN, and the size asked (lastN, else *)."""
    moments = sorted((t for items in series.values() for t, _ in items), reverse=bool(query.last_n))
    if len(moments) <= limit:
        return series, Page(False)
    cut = moments[limit - 1]
    if query.last_n:
        kept = {k: [(t, i) for t, i in v if t >= cut] for k, v in series.items()}
        if query.timerel == "between":
            start = query.end_time_at
        elif query.timerel == "before":
            start = query.time_at
        else:
            start = moments[0]
    else:
        kept = {k: [(t, i) for t, i in v if t <= cut] for k, v in series.items()}
        start = query.time_at if query.timerel in ("after", "between") else moments[0]
    assert start is not None
    size = str(query.last_n) if query.last_n else "*"
    return kept, Page(True, f"date-time {iso(start)}-{iso(cut)}/{size}")
