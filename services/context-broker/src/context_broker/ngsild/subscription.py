"""The Subscription data type (ETSI GS CIM 009 V1.8.1, 5.2.12, 5.2.14, 5.2.15, 5.2.22) and
the checks of Create (5.8.1) and Update Subscription (5.8.2); pure.

A subscription is kept as the client wrote it (names compacted in its own @context); the
members the broker maintains (status, timesSent, ...) are added when it is read.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from context_broker.ngsild.geo import parse_geo_query
from context_broker.ngsild.ids import is_uri, is_valid_name
from context_broker.ngsild.query import parse_q
from context_broker.ngsild.selectors import is_scope_pattern, parse_selector
from mims_shared.errors import BadRequestData

#: Table 5.2.12-1: the values of notificationTrigger.
TRIGGERS = frozenset(
    {
        "entityCreated",
        "entityUpdated",
        "entityDeleted",
        "attributeCreated",
        "attributeUpdated",
        "attributeDeleted",
    }
)
#: Table 5.2.12-1: "If not present, the default is attributeCreated and attributeUpdated".
DEFAULT_TRIGGERS = ("attributeCreated", "attributeUpdated")

#: Members of a Subscription (Table 5.2.12-1) a client may write.
WRITABLE = frozenset(
    {
        "id",
        "type",
        "subscriptionName",
        "description",
        "entities",
        "watchedAttributes",
        "notificationTrigger",
        "timeInterval",
        "q",
        "geoQ",
        "csf",
        "isActive",
        "notification",
        "expiresAt",
        "throttling",
        "temporalQ",
        "scopeQ",
        "lang",
        "jsonldContext",
        "datasetId",
    }
)
#: Members the broker maintains (Table 5.2.12-2); sent back by a client, they are ignored.
READ_ONLY = frozenset({"status", "createdAt", "modifiedAt"})
NOTIFICATION_WRITABLE = frozenset(
    {
        "attributes",
        "sysAttrs",
        "format",
        "endpoint",
        "showChanges",
        "pick",
        "omit",
        "join",
        "joinLevel",
    }
)
NOTIFICATION_READ_ONLY = frozenset(
    {"status", "timesSent", "timesFailed", "lastNotification", "lastFailure", "lastSuccess"}
)
ENDPOINT_MEMBERS = frozenset(
    {"uri", "accept", "timeout", "cooldown", "receiverInfo", "notifierInfo"}
)
FORMATS = frozenset({"normalized", "keyValues", "simplified", "concise"})
ACCEPTS = frozenset({"application/json", "application/ld+json", "application/geo+json"})
SCHEMES = frozenset({"http", "https", "mqtt", "mqtts"})
#: 5.2.22: notifierInfo keys the MQTT binding knows, with the values each may take.
MQTT_INFO = {"MQTT-Version": {"mqtt3.1.1", "mqtt5.0"}, "MQTT-QoS": {"0", "1", "2"}}
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
#: RFC 9110, 5.5 field values: visible characters, spaces and tabs (no CR, LF or NUL); Latin-1.
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


def _bad(message: str) -> BadRequestData:
    return BadRequestData(message)


def parse_datetime(text: Any, member: str) -> datetime:
    if not isinstance(text, str):
        raise _bad(f"{member} must be a DateTime string")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _bad(f"{member} {text[:60]!r} is not a DateTime") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _names(value: Any, member: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise _bad(f"{member} must be a non-empty array of names")
    for name in value:
        if not isinstance(name, str) or not is_valid_name(name):
            raise _bad(f"{member}: {str(name)[:60]!r} is not a valid name")
    if len(set(value)) != len(value):
        raise _bad(f"{member} names an attribute twice")
    return value


def _positive(value: Any, member: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise _bad(f"{member} must be a number greater than 0")


def _key_values(value: Any, member: str) -> dict[str, str]:
    """5.2.22 KeyValuePair arrays (receiverInfo, notifierInfo)."""
    if not isinstance(value, list):
        raise _bad(f"{member} must be an array of key/value pairs")
    out: dict[str, str] = {}
    for pair in value:
        if (
            not isinstance(pair, dict)
            or set(pair) != {"key", "value"}
            or not isinstance(pair["key"], str)
            or not isinstance(pair["value"], str)
        ):
            raise _bad(f"Each member of {member} must be {{'key': string, 'value': string}}")
        out[pair["key"]] = pair["value"]
    return out


def check_endpoint(endpoint: Any) -> None:
    """5.2.15 Endpoint."""
    if not isinstance(endpoint, dict):
        raise _bad("notification.endpoint must be an object with a uri")
    unknown = set(endpoint) - ENDPOINT_MEMBERS
    if unknown:
        raise _bad(f"notification.endpoint has an unknown member {sorted(unknown)[0][:60]!r}")
    uri = endpoint.get("uri")
    if not isinstance(uri, str) or not is_uri(uri):
        raise _bad("notification.endpoint.uri must be a URI")
    parts = urlsplit(uri)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise _bad(
            "notification.endpoint.uri must be an http, https, mqtt or mqtts URL with a host"
        )
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise _bad("notification.endpoint.uri has a port that is not valid") from None
    if parts.scheme.startswith("mqtt") and not parts.path.strip("/"):
        raise _bad("An MQTT endpoint names its topic: mqtt://host:port/topic")
    accept = endpoint.get("accept")
    if accept is not None and not (isinstance(accept, str) and accept in ACCEPTS):
        raise _bad(f"notification.endpoint.accept must be one of {', '.join(sorted(ACCEPTS))}")
    if "timeout" in endpoint:
        _positive(endpoint["timeout"], "notification.endpoint.timeout")
    if "cooldown" in endpoint:
        _positive(endpoint["cooldown"], "notification.endpoint.cooldown")
    if "receiverInfo" in endpoint:
        for name, value in _key_values(endpoint["receiverInfo"], "receiverInfo").items():
            if not _HEADER_NAME.match(name):
                raise _bad(f"receiverInfo key {name[:60]!r} is not a valid header name")
            if not _HEADER_VALUE.fullmatch(value):
                raise _bad(f"receiverInfo {name[:60]} has a value that is not a valid header value")
    if "notifierInfo" in endpoint:
        for key, value in _key_values(endpoint["notifierInfo"], "notifierInfo").items():
            if key in MQTT_INFO and value not in MQTT_INFO[key]:
                raise _bad(f"notifierInfo {key} may not be {value[:40]!r}")


def _projection(value: Any, member: str) -> list[str]:
    if isinstance(value, str):
        value = [v for v in value.split(",") if v]
    return _names(value, member)


def check_notification(params: Any) -> None:
    """5.2.14 NotificationParams."""
    if not isinstance(params, dict):
        raise _bad("notification must be an object")
    unknown = set(params) - NOTIFICATION_WRITABLE - NOTIFICATION_READ_ONLY
    if unknown:
        raise _bad(f"notification has an unknown member {sorted(unknown)[0][:60]!r}")
    if "endpoint" not in params:
        raise _bad("notification.endpoint is mandatory")
    check_endpoint(params["endpoint"])
    if "attributes" in params:
        _names(params["attributes"], "notification.attributes")
    fmt = params.get("format")
    if fmt is not None and not (isinstance(fmt, str) and fmt in FORMATS):
        raise _bad("notification.format must be normalized, keyValues, simplified or concise")
    for flag in ("sysAttrs", "showChanges"):
        if flag in params and not isinstance(params[flag], bool):
            raise _bad(f"notification.{flag} must be true or false")
    pick = _projection(params["pick"], "notification.pick") if "pick" in params else None
    omit = _projection(params["omit"], "notification.omit") if "omit" in params else None
    if (pick or omit) and "attributes" in params:
        raise _bad("notification.attributes cannot be used together with pick or omit")
    if pick and omit and set(pick) & set(omit):
        raise _bad("A member cannot be both picked and omitted")
    if "join" in params and params["join"] not in ("flat", "inline", "@none"):
        raise _bad("notification.join must be flat, inline or @none")
    if "joinLevel" in params:
        level = params["joinLevel"]
        if isinstance(level, bool) or not isinstance(level, int) or level < 1:
            raise _bad("notification.joinLevel must be a positive integer")


def _check_entities(entities: Any) -> None:
    if not isinstance(entities, list) or not entities:
        raise _bad("entities must be a non-empty array of entity selectors")
    for sel in entities:
        if not isinstance(sel, dict) or not set(sel) <= {"id", "idPattern", "type"}:
            raise _bad("An entity selector is an object with type and optionally id or idPattern")
        if not isinstance(sel.get("type"), str):
            raise _bad("An entity selector must have a type")
        parse_selector(sel["type"], "type", is_valid_name)
        if "id" in sel and (not isinstance(sel["id"], str) or not is_uri(sel["id"])):
            raise _bad("The id of an entity selector must be a URI")
        if "idPattern" in sel:
            if not isinstance(sel["idPattern"], str):
                raise _bad("idPattern must be a regular expression")
            try:
                re.compile(sel["idPattern"])
            except re.error:
                raise _bad(f"idPattern {sel['idPattern'][:60]!r} is not valid") from None


def check_subscription(doc: Any, *, now: datetime) -> dict[str, Any]:
    """A whole subscription (5.8.1.4): the members the client may write, checked; raises
    BadRequestData on the first problem found."""
    if not isinstance(doc, dict):
        raise _bad("A subscription must be a JSON object")
    if doc.get("type") != "Subscription":
        raise _bad("A subscription must have type Subscription")
    unknown = set(doc) - WRITABLE - READ_ONLY - {"@context"}
    if unknown:
        raise _bad(f"Unknown member {sorted(unknown)[0][:60]!r} in the subscription")
    if "id" in doc and (not isinstance(doc["id"], str) or not is_uri(doc["id"])):
        raise _bad("The subscription id must be a URI")
    if "entities" not in doc and "watchedAttributes" not in doc:
        raise _bad("A subscription needs entities or watchedAttributes (5.2.12)")
    if "entities" in doc:
        _check_entities(doc["entities"])
    if "watchedAttributes" in doc:
        _names(doc["watchedAttributes"], "watchedAttributes")
    if "notificationTrigger" in doc:
        triggers = doc["notificationTrigger"]
        if not isinstance(triggers, list) or not triggers or not set(triggers) <= TRIGGERS:
            raise _bad("notificationTrigger must be a non-empty array of " + ", ".join(TRIGGERS))
    if "timeInterval" in doc:
        _positive(doc["timeInterval"], "timeInterval")
        if "watchedAttributes" in doc:
            raise _bad("timeInterval and watchedAttributes cannot be used together")
        if "throttling" in doc:
            raise _bad("timeInterval and throttling cannot be used together")
    if "throttling" in doc:
        _positive(doc["throttling"], "throttling")
    if "q" in doc:
        if not isinstance(doc["q"], str):
            raise _bad("q must be a string")
        parse_q(subscription_q(doc["q"]))
    if "csf" in doc and not isinstance(doc["csf"], str):
        raise _bad("csf must be a string")
    if "geoQ" in doc:
        geo = doc["geoQ"]
        if not isinstance(geo, dict) or not set(geo) <= {
            "georel",
            "geometry",
            "coordinates",
            "geoproperty",
        }:
            raise _bad("geoQ must be an object with georel, geometry and coordinates")
        parsed = parse_geo_query(geo.get("georel"), geo.get("geometry"), geo.get("coordinates"))
        if parsed is None:
            raise _bad("geoQ needs georel, geometry and coordinates")
        gp = geo.get("geoproperty")
        if gp is not None and (not isinstance(gp, str) or not is_valid_name(gp)):
            raise _bad("geoQ.geoproperty must be an attribute name")
    if "scopeQ" in doc:
        if not isinstance(doc["scopeQ"], str):
            raise _bad("scopeQ must be a string")
        parse_selector(doc["scopeQ"], "scopeQ", is_scope_pattern)
    if "isActive" in doc and not isinstance(doc["isActive"], bool):
        raise _bad("isActive must be true or false")
    if "expiresAt" in doc and parse_datetime(doc["expiresAt"], "expiresAt") <= now:
        raise _bad("expiresAt must be in the future")
    for text in ("subscriptionName", "description", "lang"):
        if text in doc and not isinstance(doc[text], str):
            raise _bad(f"{text} must be a string")
    if "jsonldContext" in doc and (
        not isinstance(doc["jsonldContext"], str) or not is_uri(doc["jsonldContext"])
    ):
        raise _bad("jsonldContext must be a URI")
    if "datasetId" in doc:
        ids = doc["datasetId"]
        ids = [ids] if isinstance(ids, str) else ids
        if not isinstance(ids, list) or not all(isinstance(i, str) and is_uri(i) for i in ids):
            raise _bad("datasetId must be a URI or an array of URIs")
    if "notification" not in doc:
        raise _bad("notification is mandatory")
    check_notification(doc["notification"])
    return {
        k: v for k, v in doc.items() if k not in READ_ONLY and k != "@context" and v is not None
    }


def merge_fragment(stored: dict[str, Any], fragment: Any) -> dict[str, Any]:
    """Update Subscription (5.8.2.4): each member of the fragment replaces the one stored
    (``notification`` too, whole: the ETSI suite expects a notification without endpoint
    to be refused); a member set to null is removed."""
    if not isinstance(fragment, dict):
        raise _bad("A subscription fragment must be a JSON object")
    body = {k: v for k, v in fragment.items() if k != "@context"}
    if not {k for k in body if k != "type"}:
        raise _bad("The fragment changes nothing")
    if "type" in body and body["type"] != "Subscription":
        raise _bad("A subscription fragment may only have type Subscription")
    if "id" in body and body["id"] != stored.get("id"):
        raise _bad("The id of a subscription cannot be changed")
    out = dict(stored)
    for key, value in body.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def subscription_q(text: str) -> str:
    """The q of a subscription, percent-decoded as it would be in a query string (clients
    and the ETSI suite write ``name=="Eiffel%20Tower"``)."""
    return unquote(text) if "%" in text else text


def status_of(is_active: bool, expires_at: datetime | None, now: datetime) -> str:
    """5.2.12: ``expired`` once expiresAt is past, else ``paused`` when not active."""
    if expires_at is not None and expires_at <= now:
        return "expired"
    return "active" if is_active else "paused"
