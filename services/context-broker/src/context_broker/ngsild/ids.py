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


#: Valid names already judged (the same few recur in every entity of a batch), up to a
#: bound; invalid ones are not kept (a client could fill the memory with them).
_VALID: set[str] = set()
_MAX_VALID = 50_000


def is_valid_name(value: object) -> bool:
    """True when ``value`` may name an attribute or a type."""
    if not isinstance(value, str) or not 0 < len(value) <= 512:
        return False
    if value in _VALID:
        return True
    if (_FORBIDDEN_IN_TERM & set(value)) or not _TERM.match(value):
        return False
    if len(_VALID) < _MAX_VALID:
        _VALID.add(value)
    return True
