"""Keeping Python's cyclic garbage collector away from bursts of allocations.

Parsing a large JSON body or building the entities of a batch allocates some 100,000
objects that hold no reference cycles and live until the request ends. Every collection
that runs meanwhile walks them to free none: young collections every 700 allocations, and
middle and full ones as they age. With four batch upserts in flight that was 10 µs of the
broker's CPU per entity (gc callbacks over a 43,000-entity load: 365 young collections,
185 ms; 33 middle ones, 183 ms, up to 45 ms each; 2 full ones, 80 ms). Raising the
threshold for the whole process would make every other request's pauses longer
(notification latency p50 +0.6 ms at 10,000, measured).

Two scopes, both process-wide and counted, so that overlapping ones leave the collector
off until the last ends:

- :func:`collector_paused`, a block that must not await (the parse of a large body, the
  build of a batch's entities);
- :func:`request_started` / :func:`request_ended`, around a whole request whose body is
  large (``LargeBodyCollectorPause`` in web/middleware.py): its objects are freed by
  reference counting before the collector comes back, so it never walks them. Requests that
  overlap it run without collections too (no pauses for them either).

Objects are still freed by reference counting while the collector is off; only reference
cycles wait. The young generation's count grows by the objects that survive (allocations
minus deallocations), so a count past ``SAFETY_VALVE`` at the end of a request means real
accumulation (cycles, or a load that never lets the collector back): a collection then runs
anyway, and memory stays bounded under a load that never pauses.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: Bodies from this size (bytes) are parsed, and their requests served, with the collector
#: off: web/body.py (the parse) and web/middleware.py (the request, by Content-Length).
LARGE_BODY = 64 * 1024
#: Young-generation count past which a request that ends collects even while paused.
SAFETY_VALVE = 200_000


class _Pause:
    """How many scopes hold the collector off, and whether they turned it off."""

    depth = 0
    owned = False


def _enter() -> None:
    if _Pause.depth == 0:
        _Pause.owned = gc.isenabled()  # a process that disabled it keeps it disabled
        if _Pause.owned:
            gc.disable()
    _Pause.depth += 1


def _leave() -> None:
    _Pause.depth -= 1
    if _Pause.depth == 0:
        if _Pause.owned:
            gc.enable()
    elif _Pause.owned and gc.get_count()[0] > SAFETY_VALVE:
        gc.collect(1)


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic collection inside the block (reference counting still frees memory)."""
    _enter()
    try:
        yield
    finally:
        _leave()


def request_started() -> None:
    """A request with a large body begins: no cyclic collection until it (and any other
    such request) has ended."""
    _enter()


def request_ended() -> None:
    """The request of :func:`request_started` ended, its objects freed."""
    _leave()
