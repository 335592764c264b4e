"""Event notifications (TMF630 part 2, "Notifications"; the ``*Event`` schemas of each v5 API).

An event names its type (``ProductOfferingCreateEvent``), carries an id and a time, and holds
the resource under its kind's name in ``event`` (``{"productOffering": {...}}``). A hub's
``query`` may restrict the event types it receives: ``eventType=A,B``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from marketplace.tmf.kinds import KINDS, Api, Kind

EVENT_KINDS = ("Create", "AttributeValueChange", "StateChange", "Delete")


@dataclass(frozen=True)
class Event:
    api: Api
    event_type: str
    body: dict[str, Any]


def event(kind: Kind, what: str, resource: dict[str, Any], now: datetime | None = None) -> Event:
    """The ``what`` event (Create, StateChange, ...) of ``resource``."""
    event_type = kind.event_type(what)
    moment = (now or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    body = {
        "@type": event_type,
        "eventId": str(uuid.uuid4()),
        "eventTime": moment,
        "eventType": event_type,
        "event": {kind.name: resource},
    }
    return Event(kind.api, event_type, body)


def change_event(kind: Kind, old: dict[str, Any], new: dict[str, Any]) -> Event:
    """StateChange when the kind's status member changed, else AttributeValueChange."""
    member = kind.status_member
    if member is not None and old.get(member) != new.get(member):
        return event(kind, "StateChange", new)
    return event(kind, "AttributeValueChange", new)


def event_types(api: Api) -> list[str]:
    """Every event type the API emits."""
    return [k.event_type(w) for k in KINDS if k.api == api for w in EVENT_KINDS]


class HubError(ValueError):
    """A hub registration the API cannot honour; the message says why."""


def check_callback(callback: Any) -> str:
    """The callback must be an absolute http(s) URL."""
    if not isinstance(callback, str) or not callback or len(callback) > 2000:
        raise HubError("callback must be an absolute http or https URL")
    parts = urlsplit(callback)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HubError(f"callback {callback!r} is not an absolute http or https URL")
    if any(c.isspace() for c in callback):
        raise HubError("callback must not contain white space")
    return callback


def parse_hub_query(api: Api, query: Any) -> list[str] | None:
    """The event types a hub's ``query`` selects (``None``: all of them)."""
    if query is None or query == "":
        return None
    if not isinstance(query, str):
        raise HubError("query must be a string such as eventType=ProductOrderCreateEvent")
    known = set(event_types(api))
    selected: list[str] = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name != "eventType":
            raise HubError(f"query may only select eventType, not {name!r}")
        for t in value.split(","):
            if t not in known:
                raise HubError(f"{t!r} is not an event type of {api.number}")
            selected.append(t)
    if not selected:
        raise HubError("query must be a string such as eventType=ProductOrderCreateEvent")
    return selected
