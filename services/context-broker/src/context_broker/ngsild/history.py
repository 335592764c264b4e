"""What an update of one entity changes, instance by instance: what its history records
(ETSI GS CIM 009 V1.8.1, 4.5.? the temporal representation: each instance written, and the
deletion of each one that is gone).

The history trigger of migrations/0012_history_snapshots.sql finds the same in SQL; the
writer of an update of one entity, which knows the entity before and after, records these
rows itself in the statement that updates it (entities/repository.py ``save_if``), which
spares the database a comparison of every attribute. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

import orjson

from context_broker.ngsild.attributes import STAMP_MEMBERS


def unstamped(inst: dict[str, Any]) -> dict[str, Any]:
    """An instance as history records it: without createdAt and modifiedAt (columns)."""
    return {k: v for k, v in inst.items() if k not in STAMP_MEMBERS}


def _by_dataset(value: Any) -> dict[str | None, Any]:
    items = value if isinstance(value, list) else [value]
    return {i.get("datasetId"): i for i in items}


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """The instances to record, as stored (expanded): ``{"attr", "inst", "gone"}`` for each
    instance that is new or differs from the one of the same attribute and datasetId, and
    for each instance that is gone (``gone``, the instance it was)."""
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
    return rows


def told(before: dict[str, Any], after: dict[str, Any]) -> str:
    """The history rows of an update that keeps the entity's types and scopes, for
    ``save_if``: per instance to record, its attribute, datasetId, observedAt, number
    value, whether it is a deletion (``gone``: the instance it was; the database makes the
    deletion record) and the instance without createdAt and modifiedAt (columns)."""
    rows = []
    for c in changes(before, after):
        inst = unstamped(c["inst"])
        gone = c["gone"]
        value = inst.get("value")
        number = not gone and isinstance(value, int | float) and not isinstance(value, bool)
        rows.append(
            {
                "attr": c["attr"],
                "ds": inst.get("datasetId"),
                "observed": None if gone else inst.get("observedAt"),
                "num": value if number else None,
                "gone": gone,
                "inst": inst,
            }
        )
    return orjson.dumps(rows).decode()
