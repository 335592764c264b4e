"""What an update of one entity changes, instance by instance: what its history records
(ETSI GS CIM 009 V1.8.1, 4.5.? the temporal representation: each instance written, and the
deletion of each one that is gone).

The history trigger of migrations/0012_history_snapshots.sql finds the same in SQL when it
is not told; a writer that knows the entity before and after tells it (entities/
repository.py ``save_if``), which spares the database a comparison of every attribute.
Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

import orjson

#: The scope of an entity (4.18) is recorded like a Property under this IRI.
SCOPE = "https://uri.etsi.org/ngsi-ld/scope"


def _by_dataset(value: Any) -> dict[str | None, Any]:
    items = value if isinstance(value, list) else [value]
    return {i.get("datasetId"): i for i in items}


def changes(
    before: dict[str, Any],
    after: dict[str, Any],
    scopes_before: list[str] | None,
    scopes_after: list[str] | None,
) -> list[dict[str, Any]]:
    """The instances to record, as stored (expanded): ``{"attr", "inst", "gone"}`` for each
    instance that is new or differs from the one of the same attribute and datasetId, for
    each instance that is gone (``gone``, the instance it was), and for the scope when it
    changed (``gone`` when none is left)."""
    rows: list[dict[str, Any]] = []
    for attr, now in after.items():
        was = before.get(attr)
        if was is now or was == now:
            continue
        new = _by_dataset(now)
        old = _by_dataset(was) if was is not None else {}
        rows.extend(
            {"attr": attr, "inst": inst, "gone": False}
            for ds, inst in new.items()
            if old.get(ds) != inst
        )
        rows.extend(
            {"attr": attr, "inst": inst, "gone": True} for ds, inst in old.items() if ds not in new
        )
    for attr, was in before.items():
        if attr not in after:
            rows.extend(
                {"attr": attr, "inst": inst, "gone": True} for inst in _by_dataset(was).values()
            )
    if scopes_before != scopes_after:
        scope = {"type": "Property", "value": list(scopes_after or [])}
        rows.append({"attr": SCOPE, "inst": scope, "gone": not scopes_after})
    return rows


def told(
    eid: str,
    before: dict[str, Any],
    after: dict[str, Any],
    entity_changed: bool,
    scopes_before: list[str] | None,
    scopes_after: list[str] | None,
) -> str:
    """The value of ``mims.history_changes`` for the update of one entity."""
    rows = changes(before, after, scopes_before, scopes_after)
    return orjson.dumps({"id": eid, "entity": entity_changed, "rows": rows}).decode()
