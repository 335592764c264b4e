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
#: Members an instance is recorded without (attr_instance columns hold them).
_SYSTEM = frozenset({"createdAt", "modifiedAt"})


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
    tenant: str,
    eid: str,
    written: str,
    before: dict[str, Any],
    after: dict[str, Any],
    entity_changed: bool,
    scopes_before: list[str] | None,
    scopes_after: list[str] | None,
) -> str:
    """The value of ``mims.history_changes`` for the update of one entity at ``written``
    (its new modifiedAt): the rows of attr_instance to record, column by column, as the
    trigger would make them. A deleted instance is sent as it was, ``gone`` (the trigger
    makes its deletion record); the scope's is sent as recorded."""
    rows = []
    for c in changes(before, after, scopes_before, scopes_after):
        inst = {k: v for k, v in c["inst"].items() if k not in _SYSTEM}
        row: dict[str, Any] = {"attr": c["attr"], "ds": inst.get("datasetId"), "inst": inst}
        row["written"] = written
        if c["attr"] == SCOPE:
            row.update(at=written, deleted=written if c["gone"] else None)
        elif c["gone"]:
            row.update(at=written, deleted=written, gone=True)
        else:
            observed = inst.get("observedAt")
            value = inst.get("value")
            number = isinstance(value, int | float) and not isinstance(value, bool)
            row.update(at=observed or written, observed=observed, num=value if number else None)
        rows.append(row)
    doc = {"tenant": tenant, "id": eid, "entity": entity_changed, "rows": rows}
    return orjson.dumps(doc).decode()
