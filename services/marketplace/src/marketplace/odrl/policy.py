"""ODRL policies attached to product offerings (W3C ODRL Information Model 2.2).

An offering's terms are ODRL ``Offer`` (or ``Set``) policies: permissions, prohibitions and
obligations (duties), each rule an ``action`` with optional ``constraint``s. The marketplace
reads from them what an entitlement needs: the actions granted on the data (``read``,
``subscribe``), the time window (``dateTime`` constraints, ``elapsedTime`` from the order's
completion), a ``count`` limit and the ``purpose``s allowed.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

CONTEXT = "http://www.w3.org/ns/odrl.jsonld"
ODRL = "http://www.w3.org/ns/odrl/2/"
POLICY_TYPES = ("Offer", "Set", "Agreement")
RULES = ("permission", "prohibition", "obligation")
OPERATORS = frozenset(
    {
        "eq",
        "neq",
        "lt",
        "lteq",
        "gt",
        "gteq",
        "isA",
        "isPartOf",
        "isAnyOf",
        "isAllOf",
        "isNoneOf",
        "hasPart",
    }
)
#: ODRL action -> the data-access actions it grants (``use`` is the ODRL top action).
ACTIONS: dict[str, frozenset[str]] = {
    "use": frozenset({"read", "subscribe"}),
    "read": frozenset({"read"}),
    "subscribe": frozenset({"subscribe"}),
    "distribute": frozenset(),
    "reproduce": frozenset(),
    "derive": frozenset(),
    "aggregate": frozenset(),
    "attribute": frozenset(),
    "compensate": frozenset(),
    "inform": frozenset(),
    "delete": frozenset(),
    "anonymize": frozenset(),
}
DATA_ACTIONS = ("read", "subscribe")
_DURATION = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$"
)
_UID = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s/?#][^\s]{0,500}$")


class PolicyError(ValueError):
    """An ODRL policy is not one the marketplace can hold; the message says why."""


def _name(value: Any) -> str | None:
    """``"odrl:read"``, ``"read"``, ``{"@id": "http://www.w3.org/ns/odrl/2/read"}`` -> read."""
    if isinstance(value, dict):
        value = value.get("@id") or value.get("rdf:value", {}).get("@id")
    if not isinstance(value, str):
        return None
    for prefix in (ODRL, "odrl:"):
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration (``P30D``, ``P1Y``, ``PT12H``); a year is 365 days, a month 30."""
    match = _DURATION.match(text)
    if not match or text in ("P", "PT"):
        raise PolicyError(f"{text!r} is not an ISO 8601 duration")
    y, mo, w, d, h, mi, s = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=365 * y + 30 * mo + 7 * w + d, hours=h, minutes=mi, seconds=s)


def _instant(value: Any) -> datetime:
    raw = value.get("@value") if isinstance(value, dict) else value
    if not isinstance(raw, str):
        raise PolicyError("a dateTime constraint needs an ISO 8601 date-time rightOperand")
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise PolicyError(f"{raw!r} is not an ISO 8601 date-time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _check_constraint(c: Any, where: str) -> None:
    if not isinstance(c, dict):
        raise PolicyError(f"{where}: a constraint must be an object")
    if "and" in c or "or" in c or "xone" in c or "andSequence" in c:
        raise PolicyError(f"{where}: logical constraints are not supported")
    left, op = _name(c.get("leftOperand")), _name(c.get("operator"))
    if not left:
        raise PolicyError(f"{where}: a constraint needs a leftOperand")
    if op not in OPERATORS:
        raise PolicyError(f"{where}: operator {c.get('operator')!r} is not an ODRL operator")
    if "rightOperand" not in c:
        raise PolicyError(f"{where}: a constraint needs a rightOperand")
    right = c["rightOperand"]
    if left == "dateTime":
        _instant(right)
    elif left == "elapsedTime":
        raw = right.get("@value") if isinstance(right, dict) else right
        if not isinstance(raw, str):
            raise PolicyError(f"{where}: elapsedTime needs an ISO 8601 duration")
        parse_duration(raw)
    elif left == "count" and (not isinstance(right, int) or isinstance(right, bool) or right < 0):
        raise PolicyError(f"{where}: count needs a non-negative integer")


def _check_rule(rule: Any, where: str) -> None:
    if not isinstance(rule, dict):
        raise PolicyError(f"{where} must be an object")
    action = _name(rule.get("action"))
    if action is None:
        raise PolicyError(f"{where} needs an action")
    if action not in ACTIONS:
        raise PolicyError(f"{where}: action {action!r} is not one the marketplace knows")
    constraints = rule.get("constraint", [])
    if not isinstance(constraints, list):
        raise PolicyError(f"{where}: constraint must be an array")
    for i, c in enumerate(constraints):
        _check_constraint(c, f"{where}.constraint[{i}]")
    duties = rule.get("duty", [])
    if not isinstance(duties, list):
        raise PolicyError(f"{where}: duty must be an array")
    for i, d in enumerate(duties):
        _check_rule(d, f"{where}.duty[{i}]")


def normalise(policy: Any) -> dict[str, Any]:
    """The policy checked and completed: ``@context`` and ``uid`` added when missing."""
    if not isinstance(policy, dict):
        raise PolicyError("an ODRL policy must be a JSON object")
    typ = _name(policy.get("@type"))
    if typ not in POLICY_TYPES:
        raise PolicyError(f"an ODRL policy's @type must be one of {', '.join(POLICY_TYPES)}")
    uid = policy.get("uid", f"urn:uuid:{uuid.uuid4()}")
    if not isinstance(uid, str) or not _UID.match(uid):
        raise PolicyError(f"the policy uid {uid!r} is not an absolute IRI")
    if not any(policy.get(r) for r in RULES):
        raise PolicyError("an ODRL policy needs a permission, prohibition or obligation")
    for rule_kind in RULES:
        rules = policy.get(rule_kind, [])
        if not isinstance(rules, list):
            raise PolicyError(f"{rule_kind} must be an array")
        for i, rule in enumerate(rules):
            _check_rule(rule, f"{rule_kind}[{i}]")
    return {"@context": CONTEXT, **policy, "@type": typ, "uid": uid}


@dataclass
class Terms:
    """What a set of policies grants from a given instant."""

    actions: list[str]
    valid_from: datetime
    valid_until: datetime | None
    purpose: list[str] = field(default_factory=list)
    count: int | None = None


def terms(policies: list[dict[str, Any]], start: datetime) -> Terms:
    """The access the ``policies`` grant to a buyer whose order completed at ``start``.

    Without policies the buyer may read and subscribe with no end. Permitted actions are
    the union of the permissions', minus every prohibited one; each constraint narrows the
    window (the latest start, the earliest end) or records a count limit or purposes.
    """
    if not policies:
        return Terms(list(DATA_ACTIONS), start, None)
    granted: set[str] = set()
    denied: set[str] = set()
    valid_from, valid_until = start, None
    purposes: list[str] = []
    count: int | None = None

    def narrow(constraints: list[dict[str, Any]]) -> None:
        nonlocal valid_from, valid_until, count
        for c in constraints:
            left, op, right = _name(c["leftOperand"]), _name(c["operator"]), c["rightOperand"]
            if left == "dateTime":
                at = _instant(right)
                if op in ("gt", "gteq", "eq"):
                    valid_from = max(valid_from, at)
                if op in ("lt", "lteq", "eq"):
                    valid_until = at if valid_until is None else min(valid_until, at)
            elif left == "elapsedTime" and op in ("lt", "lteq", "eq"):
                raw = right.get("@value") if isinstance(right, dict) else right
                end = start + parse_duration(str(raw))
                valid_until = end if valid_until is None else min(valid_until, end)
            elif left == "count" and op in ("lt", "lteq", "eq"):
                limit = right - 1 if op == "lt" else right
                count = limit if count is None else min(count, limit)
            elif left == "purpose":
                values = right if isinstance(right, list) else [right]
                purposes.extend(str(_name(v)) for v in values)

    for policy in policies:
        for rule in policy.get("permission", []):
            granted |= ACTIONS[str(_name(rule["action"]))]
            narrow(rule.get("constraint", []))
        for rule in policy.get("prohibition", []):
            denied |= ACTIONS[str(_name(rule["action"]))]
    actions = [a for a in DATA_ACTIONS if a in granted and a not in denied]
    return Terms(actions, valid_from, valid_until, sorted(set(purposes)), count)
