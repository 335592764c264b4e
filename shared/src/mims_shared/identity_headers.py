"""The identity headers of the stack (MIM6): set by the gateway on the requests it forwards,
read by the services behind it. Clients cannot set them: the gateway drops every request
header that starts with ``PREFIX`` before adding its own.

Names in lower case, as ASGI and httpx give header names.
"""

from __future__ import annotations

PREFIX = "x-mims-"
#: Who the gateway authenticated (the token's subject, or the API key's name).
SUBJECT = "x-mims-subject"
#: How (the gateway's ``Identity.kind``).
AUTH = "x-mims-auth"
#: The caller's roles, comma-separated.
ROLES = "x-mims-roles"
#: The NGSI-LD tenants the caller may use, comma-separated.
TENANTS = "x-mims-tenants"
#: The marketplace party the caller acts for.
PARTY = "x-mims-party"
#: The entity types the broker may show the caller (comma-separated type names; empty:
#: none); absent for a reader without limits.
ENTITY_TYPES = "x-mims-entity-types"
#: When the entitlements that allow the caller's reads end (RFC 3339), if they do.
ENTITLED_UNTIL = "x-mims-entitled-until"
