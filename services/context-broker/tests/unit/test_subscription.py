"""The pure parts of subscriptions: the checks of 5.8.1/5.8.2 and what a change notifies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from context_broker.entities.repository import StoredEntity
from context_broker.entities.service import View
from context_broker.ngsild.jsonld import get_compiled
from context_broker.ngsild.selectors import Atom
from context_broker.ngsild.subscription import (
    check_subscription,
    merge_fragment,
    status_of,
    subscription_q,
)
from context_broker.subscriptions.matching import (
    Change,
    EntitySelector,
    Live,
    diff,
    notified_entity,
    scope_holds,
    trigger_reason,
)
from mims_shared.errors import BadRequestData

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
V = "https://uri.etsi.org/ngsi-ld/default-context/"


def _sub(**extra: Any) -> dict[str, Any]:
    return {
        "type": "Subscription",
        "entities": [{"type": "Spot"}],
        "notification": {"endpoint": {"uri": "http://r/n"}},
        **extra,
    }


def test_a_valid_subscription_is_kept_without_read_only_members() -> None:
    doc = check_subscription(
        {**_sub(), "status": "paused", "@context": "x", "throttling": 2}, now=NOW
    )
    assert doc == {**_sub(), "throttling": 2}


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "Notification"},
        {"entities": [{"id": "urn:x:1"}]},  # a selector needs a type
        {"entities": [{"type": "Spot", "idPattern": "("}]},
        {"watchedAttributes": []},
        {"watchedAttributes": ["a", "a"]},
        {"notification": {"endpoint": {"uri": "http://r/n", "accept": "text/html"}}},
        {"notification": {"endpoint": {"uri": "http://r/n", "receiverInfo": [{"key": "a"}]}}},
        *(
            {"notification": {"endpoint": {"uri": "http://r/n", "receiverInfo": [pair]}}}
            for pair in (
                {"key": "X-A", "value": "v\r\nX-Injected: 1"},  # header injection
                {"key": "X-A", "value": "v\n"},
                {"key": "X-A", "value": "\u20ac"},  # not Latin-1
            )
        ),
        {"notification": {"endpoint": {"uri": "http://r:99999/n"}}},
        {
            "notification": {
                "endpoint": {
                    "uri": "mqtt://r/t",
                    "notifierInfo": [{"key": "MQTT-QoS", "value": "3"}],
                }
            }
        },
        {"notification": {"endpoint": {"uri": "http://r/n"}, "attributes": ["a"], "pick": ["b"]}},
        {"notification": {"endpoint": {"uri": "http://r/n"}, "pick": ["a"], "omit": ["a"]}},
        {"timeInterval": 0},
        {"timeInterval": 5, "throttling": 1},
        {"isActive": "yes"},
        {"expiresAt": "tomorrow"},
        {"lang": 3},
        {"jsonldContext": "not a uri"},
    ],
)
def test_invalid_members_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(BadRequestData):
        check_subscription({**_sub(), **bad}, now=NOW)


def test_a_fragment_replaces_members_and_null_removes_them() -> None:
    stored = {**_sub(), "id": "urn:s:1", "throttling": 5, "q": "a>1"}
    merged = merge_fragment(stored, {"type": "Subscription", "throttling": None, "q": "a>2"})
    assert merged == {**_sub(), "id": "urn:s:1", "q": "a>2"}
    with pytest.raises(BadRequestData):
        merge_fragment(stored, {"type": "Subscription"})  # changes nothing
    with pytest.raises(BadRequestData):
        merge_fragment(stored, {"id": "urn:s:2"})


def test_status_follows_is_active_and_expires_at() -> None:
    assert status_of(True, None, NOW) == "active"
    assert status_of(False, None, NOW) == "paused"
    assert status_of(True, datetime(2020, 1, 1, tzinfo=UTC), NOW) == "expired"
    assert subscription_q('name=="Eiffel%20Tower"') == 'name=="Eiffel Tower"'
    assert subscription_q("a==1") == "a==1"


@pytest.mark.parametrize(
    ("pattern", "scope", "hit"),
    [
        ("/Madrid", "/Madrid", True),
        ("/Madrid", "/Madrid/Gardens", False),
        ("/Madrid/#", "/Madrid/Gardens/Rose", True),
        ("/Madrid/#", "/Madrid", True),
        ("/Madrid/+", "/Madrid/Gardens", True),
        ("/Madrid/+", "/Madrid/Gardens/Rose", False),
        ("/#", "/Anything", True),
    ],
)
def test_scope_patterns(pattern: str, scope: str, hit: bool) -> None:
    assert scope_holds(Atom(pattern), [scope]) is hit


def _live(**extra: Any) -> Live:
    ctx = get_compiled(None, lambda url: {})
    values: dict[str, Any] = {
        "tenant": "",
        "id": "urn:s:1",
        "doc": {},
        "ctx": ctx,
        "render_ctx": ctx,
        "link_url": "",
        "context_value": "",
        "selectors": (EntitySelector(Atom(V + "Spot")),),
        "watched": None,
        "triggers": frozenset({"attributeCreated", "attributeUpdated"}),
        "q_path": None,
        "geo": None,
        "scope": None,
        "view": View(),
        "show_changes": False,
        "endpoint": {"uri": "http://r/n"},
        "join": None,
        "throttling": None,
        "time_interval": None,
        "is_active": True,
        "expires_at": None,
    }
    values.update(extra)
    return Live(**values)


def _entity(attrs: dict[str, Any]) -> StoredEntity:
    return StoredEntity("urn:x:1", [V + "Spot"], attrs, None, NOW, NOW)


def _inst(value: Any, ds: str | None = None, at: str = "t1") -> dict[str, Any]:
    out = {"type": "Property", "value": value, "modifiedAt": at}
    if ds is not None:
        out["datasetId"] = ds
    return out


def _change(op: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> Change:
    return Change(
        1,
        "",
        "urn:x:1",
        op,
        _entity(old) if old is not None else None,
        _entity(new) if new is not None else None,
        NOW,
    )


def test_diff_tells_created_updated_and_deleted_instances() -> None:
    change = _change(
        "update",
        {V + "a": _inst(1), V + "b": [_inst(1), _inst(2, "urn:d:2")], V + "c": _inst(1)},
        {V + "a": _inst(1), V + "b": _inst(1), V + "c": _inst(1, at="t2"), V + "d": _inst(4)},
    )
    d = diff(change)
    assert d.created == {V + "d"}
    assert d.updated == {V + "c"}  # rewritten with the same value counts
    assert d.deleted == {V + "b"}
    assert d.deleted_instances[V + "b"] == [_inst(2, "urn:d:2")]


@pytest.mark.parametrize(
    ("triggers", "watched", "op", "reason"),
    [
        ({"attributeCreated", "attributeUpdated"}, None, "create", "attributeCreated"),
        ({"entityCreated"}, None, "create", "entityCreated"),
        ({"attributeUpdated"}, None, "create", None),
        ({"attributeUpdated"}, {V + "c"}, "update", "attributeUpdated"),
        ({"attributeUpdated"}, {V + "x"}, "update", None),
        ({"attributeDeleted"}, None, "update", None),
        ({"entityUpdated"}, None, "update", "entityUpdated"),
        ({"entityDeleted"}, None, "delete", "entityDeleted"),
        ({"attributeDeleted"}, {V + "c"}, "delete", "attributeDeleted"),
        ({"attributeCreated", "attributeUpdated"}, None, "delete", None),
    ],
)
def test_trigger_reasons(
    triggers: set[str], watched: set[str] | None, op: str, reason: str | None
) -> None:
    old = None if op == "create" else {V + "c": _inst(1)}
    new = None if op == "delete" else {V + "c": _inst(2, at="t2")}
    live = _live(triggers=frozenset(triggers), watched=frozenset(watched) if watched else None)
    change = _change(op, old, new)
    assert trigger_reason(live, change, diff(change)) == reason


def test_notified_entity_shows_previous_values_and_null_instances() -> None:
    live = _live(show_changes=True, triggers=frozenset({"attributeUpdated", "attributeDeleted"}))
    change = _change(
        "update",
        {V + "a": _inst(1), V + "gone": {"type": "Relationship", "object": "urn:o:1"}},
        {V + "a": _inst(2, at="t2")},
    )
    shown = notified_entity(live, change, diff(change), "attributeUpdated", "2026-11-26T12:00:00Z")
    assert shown.attrs == {
        V + "a": {"type": "Property", "value": 2, "modifiedAt": "t2", "previousValue": 1},
        V + "gone": {
            "type": "Relationship",
            "object": "urn:ngsi-ld:null",
            "previousObject": "urn:o:1",
            "deletedAt": "2026-11-26T12:00:00Z",
        },
    }
