"""Tenants (ETSI GS CIM 009 V1.8.1, clause 4.14): named by the ``NGSILD-Tenant`` header."""

from __future__ import annotations

import re

from mims_shared.errors import BadRequestData

DEFAULT_TENANT = ""
_TENANT = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


def parse_tenant(header: str | None) -> str:
    """The tenant a request addresses; the default tenant when the header is absent."""
    if header is None or header == "":
        return DEFAULT_TENANT
    if not _TENANT.match(header):
        raise BadRequestData("The NGSILD-Tenant header must be 1 to 64 letters, digits, '-' or '_'")
    return header
