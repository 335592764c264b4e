"""Pausing the cyclic garbage collector over a burst of allocations (mims_shared.collector)."""

from __future__ import annotations

import gc

import pytest

from mims_shared.collector import collector_paused


def test_the_collector_is_paused_inside_and_enabled_after() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # nested: still paused, and not enabled by the inner one
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_error_inside_leaves_the_collector_enabled() -> None:
    with pytest.raises(ValueError, match="boom"), collector_paused():
        raise ValueError("boom")
    assert gc.isenabled()


def test_a_process_that_disabled_it_keeps_it_disabled() -> None:
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_burst_is_not_traversed_by_a_young_collection_after_the_block() -> None:
    """The objects made inside the block end in the oldest generation and the young count
    starts again, so the next allocation does not collect (and walk) them."""
    gc.collect()
    collections_before = gc.get_stats()[0]["collections"]
    with collector_paused():
        burst = [{"n": [i]} for i in range(50_000)]  # tracked containers, far over threshold
    assert gc.get_count()[0] < 100
    more = [[i] for i in range(10)]  # a few allocations: no young collection is due
    assert gc.get_stats()[0]["collections"] == collections_before
    assert len(burst) == 50_000 and len(more) == 10


def test_cyclic_garbage_made_inside_is_still_collected_by_a_full_collection() -> None:
    class Node:
        pass

    gc.collect()
    with collector_paused():
        a, b = Node(), Node()
        a.other, b.other = b, a  # type: ignore[attr-defined]
        del a, b
    assert gc.collect() >= 2  # the cycle is found once the oldest generation is collected
