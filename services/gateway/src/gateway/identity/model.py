"""The caller as the gateway knows it once its credentials are checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

CITY_ADMIN: Final = "city-admin"
DATA_PROVIDER: Final = "data-provider"
DATA_CONSUMER: Final = "data-consumer"
ROLES: Final = frozenset({CITY_ADMIN, DATA_PROVIDER, DATA_CONSUMER})

Kind = Literal["anonymous", "jwt", "api-key", "open"]


@dataclass(frozen=True, slots=True)
class Identity:
    """``tenants`` empty: the default tenant only. ``party``: the marketplace party the
    caller acts for (entitlements are granted to parties)."""

    kind: Kind
    subject: str
    roles: frozenset[str]
    tenants: frozenset[str]
    party: str | None
    #: The key rate limits are counted under.
    limit_key: str

    @property
    def is_admin(self) -> bool:
        return CITY_ADMIN in self.roles

    @property
    def is_provider(self) -> bool:
        return DATA_PROVIDER in self.roles


def anonymous(address: str) -> Identity:
    return Identity("anonymous", "anonymous", frozenset(), frozenset(), None, f"ip:{address}")


def open_access(address: str) -> Identity:
    """Development mode without credentials: everything, as before the gateway checked."""
    return Identity(
        "open", "anonymous", frozenset({CITY_ADMIN}), frozenset(), None, f"ip:{address}"
    )


def claim(claims: dict[str, Any], path: str) -> Any:
    """A claim by dotted path (``realm_access.roles``), or None."""
    node: Any = claims
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _names(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset(v for v in value.replace(",", " ").split() if v)
    if isinstance(value, list):
        return frozenset(v for v in value if isinstance(v, str) and v)
    return frozenset()


def from_claims(
    claims: dict[str, Any], *, roles_claim: str, tenants_claim: str, party_claim: str
) -> Identity:
    """The identity a verified token describes; unknown role names are ignored."""
    subject = str(claims.get("sub") or claims.get("client_id") or "")
    roles = _names(claim(claims, roles_claim)) & ROLES
    tenants = _names(claim(claims, tenants_claim))
    party = claim(claims, party_claim)
    return Identity(
        "jwt",
        subject,
        roles,
        tenants,
        party if isinstance(party, str) and party else subject or None,
        f"sub:{claims.get('iss', '')}|{subject}",
    )
