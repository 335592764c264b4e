"""Which entity types a reader may see: the gateway's entitlement decision (MIM6), applied to
the stored data; pure.

The gateway decides which entity types a data consumer (or an anonymous reader) may read or
subscribe to, from marketplace entitlements and openly licensed types, and names them in the
``X-Mims-Entity-Types`` request header (comma-separated type names; the gateway drops any
copy of that header a client sends). The names are compared with the *stored* type IRIs,
never with what the reader's own ``@context`` makes of them: a ``Link`` context that maps an
entitled name such as ``ParkingSpot`` to another type's IRI selects nothing more, because the
entities it would reach have stored types whose names are not entitled.

A name matches a stored IRI when it is the IRI's last segment
(:func:`mims_shared.entity_types.type_name`, which the gateway uses for entitlements too):
``ParkingSpot`` covers ``https://smartdatamodels.org/dataModel.Parking/ParkingSpot``. The
same function exists in SQL (``type_name`` of migration 0009) so that queries filter in the
database; a test holds the two to the same answers.

Without the header nothing is restricted: the header only ever narrows what a request sees,
so a request that reaches the broker without the gateway gains nothing by omitting it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from mims_shared import identity_headers
from mims_shared.entity_types import type_name
from mims_shared.errors import BadRequestData, Forbidden

#: The request header the gateway sets (lower case, as ASGI and httpx give header names).
HEADER = identity_headers.ENTITY_TYPES
#: For a subscription: when the entitlements that allow it end (RFC 3339), if they do.
UNTIL_HEADER = identity_headers.ENTITLED_UNTIL
#: Who the gateway authenticated: a limited reader's subscriptions are its own.
SUBJECT_HEADER = identity_headers.SUBJECT


def parse(header: str | None) -> frozenset[str] | None:
    """The names of the header; None without the header (nothing restricted). An empty
    header makes every entity invisible."""
    if header is None:
        return None
    return frozenset(n for n in (part.strip() for part in header.split(",")) if n)


def parse_until(header: str | None) -> datetime | None:
    """The end of a subscriber's entitlements; None without the header."""
    if header is None:
        return None
    try:
        moment = datetime.fromisoformat(header.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequestData(f"{UNTIL_HEADER} must be an RFC 3339 date-time") from None
    if moment.tzinfo is None:
        raise BadRequestData(f"{UNTIL_HEADER} must name its time zone")
    return moment


def earliest(*moments: datetime | None) -> datetime | None:
    """The earliest of the moments given (None: no end)."""
    known = [m for m in moments if m is not None]
    return min(known) if known else None


def visible(types: Iterable[str], names: frozenset[str] | None) -> bool:
    """Whether an entity with these stored type IRIs may be shown to a reader limited to
    ``names`` (None: no limit)."""
    return names is None or any(type_name(t) in names for t in types)


def refuse_hidden(
    tenant: str, types: Iterable[str], names: frozenset[str] | None, action: str = "read"
) -> None:
    """Forbidden when an entity asked for by id is not visible to the reader: the same
    refusal, in the same words, as the gateway's for a type it can see is not entitled."""
    types = list(types)
    if visible(types, names):
        return
    shown = ", ".join(sorted({type_name(t) for t in types})) or "unknown"
    where = f" in tenant {tenant}" if tenant else ""
    raise Forbidden(f"The caller has no entitlement to {action} entity type {shown}{where}")
