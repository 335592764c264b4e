"""When batch creations make the planner's statistics stale (batch/service.py Staleness)."""

from __future__ import annotations

import pytest

from context_broker.batch import service
from context_broker.batch.service import Staleness


@pytest.fixture(autouse=True)
def _small(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "ANALYZE_AFTER", 10)


def _created(s: Staleness, kind: str, n: int) -> None:
    for _ in range(n):
        s.created([kind])


def test_a_load_of_one_type_is_analysed_each_time_its_count_doubles() -> None:
    s = Staleness()
    due_at = []
    for n in range(1, 201):
        s.created(["T"])
        if s.due():
            due_at.append(n)
    assert due_at == [10, 20, 40, 80, 160]


def test_a_new_type_in_a_large_table_is_analysed_after_its_first_few() -> None:
    s = Staleness()
    _created(s, "Big", 1000)
    assert s.due()
    _created(s, "Big", 500)
    assert not s.due()
    _created(s, "New", 9)
    assert not s.due()
    s.created(["New"])
    assert s.due()


def test_an_entity_of_several_types_counts_for_each() -> None:
    s = Staleness()
    _created(s, "A", 5)
    for _ in range(5):
        s.created(["A", "B"])
    assert s.due()  # A reached 10
    assert not s.due()  # and the counts were taken as analysed


def test_many_types_of_a_few_each_are_analysed_as_the_table_grows() -> None:
    """No type reaches the threshold on its own; the table's count doubles all the same."""
    s = Staleness()
    due_at = []
    for n in range(1, 201):
        s.created([f"T{n % 25}"])  # 25 types, 8 entities each by the end
        if s.due():
            due_at.append(n)
    assert due_at == [10, 20, 40, 80, 160]
