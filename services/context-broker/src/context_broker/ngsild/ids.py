"""Identifiers and names (ETSI GS CIM 009 V1.8.1, clauses 4.6.2 and 4.6.3)."""

from __future__ import annotations

import re

# RFC 3986 URI: a scheme, a colon, then no whitespace, controls or characters the URI
# grammar excludes. NGSI-LD entity ids shall be URIs (4.6.2).
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`\x00-\x1f\x7f]+$")
# Attribute and type names: a term (4.6.3 forbids characters that break query syntax)
# or an absolute IRI.
_TERM = re.compile(r"^[A-Za-z_@][A-Za-z0-9_\-.:/#@]*$")
_FORBIDDEN_IN_TERM = set("<>\"'=()&;, ")

MAX_ID_LENGTH = 2048


def is_uri(value: object) -> bool:
    """True when ``value`` is a string shaped like an absolute URI."""
    return isinstance(value, str) and len(value) <= MAX_ID_LENGTH and bool(_URI.match(value))


#: Names already judged (the same few recur in every entity of a batch), up to a bound.
_JUDGED: dict[str, bool] = {}
_MAX_JUDGED = 50_000


def is_valid_name(value: object) -> bool:
    """True when ``value`` may name an attribute or a type."""
    if not isinstance(value, str):
        return False
    valid = _JUDGED.get(value)
    if valid is None:
        valid = (
            0 < len(value) <= 512
            and not (_FORBIDDEN_IN_TERM & set(value))
            and bool(_TERM.match(value))
        )
        if len(_JUDGED) < _MAX_JUDGED:
            _JUDGED[value] = valid
    return valid
