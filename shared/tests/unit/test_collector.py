"""Pausing the cyclic garbage collector over a burst of allocations (mims_shared.collector)."""

from __future__ import annotations

import gc
from typing import Any

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


def test_a_request_scope_holds_the_collector_off_across_blocks_until_it_ends() -> None:
    from mims_shared.collector import request_ended, request_started

    request_started()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the block ended, the request has not
    finally:
        request_ended()
    assert gc.isenabled()


def test_overlapping_requests_bring_the_collector_back_when_the_last_ends() -> None:
    from mims_shared.collector import request_ended, request_started

    request_started()
    request_started()
    request_ended()
    assert not gc.isenabled()
    request_ended()
    assert gc.isenabled()


def test_past_the_safety_valve_a_request_that_ends_collects_even_while_paused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Reference cycles made while requests keep overlapping are still collected once the
    young generation has grown past the valve."""
    import weakref

    from mims_shared import collector
    from mims_shared.collector import request_ended, request_started

    class Node:
        pass

    monkeypatch.setattr(collector, "SAFETY_VALVE", 1_000)
    gc.collect()
    request_started()
    request_started()
    try:
        first = Node()
        first.self = first  # type: ignore[attr-defined]
        watch = weakref.ref(first)
        del first
        keep = [[i] for i in range(2_000)]  # the young count passes the valve
        request_ended()  # the other is still in flight: the valve collects
        assert watch() is None
        assert not gc.isenabled()
        assert len(keep) == 2_000
    finally:
        request_ended()
    assert gc.isenabled()


async def test_the_middleware_pauses_the_collector_for_large_bodies_only() -> None:
    from mims_shared.collector import LARGE_BODY
    from mims_shared.web.middleware import LargeBodyCollectorPause

    seen: list[bool] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(gc.isenabled())

    async def nothing() -> Any:
        return {"type": "http.request", "body": b""}

    async def ignore(message: Any) -> None:
        return None

    pause = LargeBodyCollectorPause(app)
    for length in (LARGE_BODY, LARGE_BODY - 1):
        headers = [(b"content-length", str(length).encode())]
        await pause({"type": "http", "headers": headers}, nothing, ignore)
    await pause({"type": "http", "headers": [(b"content-length", b"x")]}, nothing, ignore)
    assert seen == [False, True, True]
    assert gc.isenabled()
