"""The ProductOrder state machine (TMF622 Product Ordering v5.0.0, user guide "Lifecycle").

``acknowledged`` is where a placed order starts (or ``draft`` when asked); it moves to
``inProgress`` or is ``rejected``; work in progress may be ``pending`` or ``held`` and
resume; it ends ``completed``, ``failed`` or ``partial``. Cancellation goes through
``assessingCancellation`` and ``pendingCancellation`` to ``cancelled`` (TMF622
cancelProductOrder); a cancelled, completed, failed, partial or rejected order is final.
"""

from __future__ import annotations

TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"acknowledged", "cancelled"}),
    "acknowledged": frozenset(
        {"inProgress", "rejected", "pending", "held", "assessingCancellation"}
    ),
    "pending": frozenset({"inProgress", "assessingCancellation"}),
    "held": frozenset({"inProgress", "assessingCancellation"}),
    "inProgress": frozenset(
        {"completed", "failed", "partial", "pending", "held", "assessingCancellation"}
    ),
    "assessingCancellation": frozenset({"pendingCancellation", "inProgress", "held", "pending"}),
    "pendingCancellation": frozenset({"cancelled"}),
    "completed": frozenset(),
    "failed": frozenset(),
    "partial": frozenset(),
    "rejected": frozenset(),
    "cancelled": frozenset(),
}
FINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
#: States an order may be cancelled from by a cancelProductOrder request.
CANCELLABLE = frozenset(
    {
        "draft",
        "acknowledged",
        "pending",
        "held",
        "inProgress",
        "assessingCancellation",
        "pendingCancellation",
    }
)
#: States in which the order's products exist (fully or partly delivered).
DELIVERED = frozenset({"completed", "partial"})


def can_move(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def allowed_next(current: str) -> list[str]:
    return sorted(TRANSITIONS.get(current, frozenset()))
