"""One SQL statement for a write and everything that must happen with it.

A change to a resource comes with its events (fanned out to the outbox), outgoing calls
(outbox rows) and, for some kinds, rows of their own (an order's products and
entitlements). Written as data-modifying CTEs of one statement they are atomic without a
transaction — no ``BEGIN``/``COMMIT`` round trips — and each is guarded by the main write
having happened (``GUARD``), so a compare-and-set update that finds the row changed writes
nothing at all (PostgreSQL 15 manual, 7.8.4 "Data-Modifying Statements in WITH": they run
exactly once, on one snapshot, whatever the primary query reads of them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

#: The condition every further write adds to its ``WHERE``: the main write wrote a row.
GUARD = "EXISTS (SELECT FROM w)"


@dataclass(frozen=True)
class Write:
    """A data-modifying statement that goes with a main write.

    ``sql(first)`` is its text with parameters numbered from ``first`` (constant text and
    parameter numbers only, never input) and ``GUARD`` in its ``WHERE``; ``args`` are its
    parameters; ``delivers`` says whether its rows are outbox deliveries (counted).
    """

    sql: Callable[[int], str]
    args: tuple[Any, ...]
    delivers: bool = False


def compose(main: str, args: Sequence[Any], writes: Sequence[Write]) -> tuple[str, list[Any]]:
    """The statement: ``main`` (an INSERT/UPDATE/DELETE on parameters ``$1..$len(args)``)
    as CTE ``w``, each write as a CTE; it returns ``written`` (rows of ``main``) and
    ``queued`` (outbox rows of the writes that deliver)."""
    params = list(args)
    ctes = [f"w AS ({main} RETURNING 1)"]
    counted = []
    for n, write in enumerate(writes):
        ctes.append(f"x{n} AS ({write.sql(len(params) + 1)} RETURNING 1)")
        params += write.args
        if write.delivers:
            counted.append(f"(SELECT count(*) FROM x{n})")  # noqa: S608 (numbers only)
    queued = " + ".join(counted) or "0"
    # Constant fragments and parameter numbers only, never input.
    sql = f"WITH {', '.join(ctes)} SELECT (SELECT count(*) FROM w) AS written, {queued} AS queued"  # noqa: S608
    return sql, params
