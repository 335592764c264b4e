"""What a request needs before the gateway forwards it.

NGSI-LD paths (ETSI GS CIM 009 V1.8.1, clause 5 operations; clause 4.17 for the entity type
selection language) are classified by the data they expose:

- ``read``: entities or their history; the entity types come from the ``type`` query
  parameter (Query Entities 5.7.2, Query Temporal 5.7.4), from the body's
  ``entities[].type`` (Query batch 5.7.2 over POST ``entityOperations/query``), or, for one
  entity by id (Retrieve Entity 5.7.1), from the entity the broker answers with;
- ``subscribe``: a subscription's ``entities[].type`` (Create Subscription 5.8.1, and an
  Update Subscription 5.8.2 that names entities);
- ``meta``: types, attributes, @contexts, listing one's subscriptions, deleting one;
- ``write``: every other change.

The other services: catalogue and product-catalogue reads are public, their writes need
the provider role, the rest of the marketplace (parties, orders, inventory) any caller
with credentials.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, quote

from mims_shared.entity_types import type_name

Action = Literal["read", "subscribe", "meta", "write", "public", "authenticated", "provider"]
TypesFrom = Literal["query", "body", "response", "none"]

_SEPARATORS = re.compile(r"[,;|()]")
_READ = frozenset({"GET", "HEAD"})
_CKAN_READS = ("_show", "_list", "_search", "_autocomplete")


@dataclass(frozen=True, slots=True)
class Need:
    action: Action
    types_from: TypesFrom = "none"


_META = Need("meta")
_WRITE = Need("write")
_BY_QUERY = Need("read", "query")
_BY_RESPONSE = Need("read", "response")
_BY_BODY = Need("read", "body")
_SUBSCRIBE = Need("subscribe", "body")


def ngsild_need(method: str, path: str) -> Need:
    """``path`` is the full request path (``/ngsi-ld/v1/...``)."""
    segs = path.strip("/").split("/")[2:]
    if segs and segs[0] == "temporal":
        segs = segs[1:]
    head = segs[0] if segs else ""
    if method in _READ:
        if head == "entities":
            return _BY_QUERY if len(segs) == 1 else _BY_RESPONSE
        return _META
    if method == "POST" and segs == ["entityOperations", "query"]:
        return _BY_BODY
    if head == "subscriptions":
        if method == "POST" and len(segs) == 1:
            return _SUBSCRIBE
        if method == "PATCH" and len(segs) == 2:
            return _SUBSCRIBE
        if method == "DELETE" and len(segs) == 2:
            return _META
    return _WRITE


def other_need(upstream: str, method: str, path: str) -> Need:
    """Catalogue and marketplace paths."""
    if upstream == "catalogue":
        if method in _READ:
            return Need("public")
        if path.startswith("/api/3/action/") and path.rstrip("/").endswith(_CKAN_READS):
            return Need("public")
        return Need("provider")
    if path.startswith("/tmf-api/productCatalogManagement/"):
        return Need("public") if method in _READ else Need("provider")
    return Need("authenticated")


def names_in_selection(selection: str) -> set[str]:
    """The type names of an entity type selection (``(A;B)|C,D``)."""
    return {type_name(n.strip()) for n in _SEPARATORS.split(selection) if n.strip()}


def query_types(query_string: bytes) -> tuple[set[str], bool]:
    """The names in the ``type`` parameter of a query string, and whether one was given."""
    names: set[str] = set()
    given = False
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if key == "type":
            given = True
            names |= names_in_selection(value)
    return names, given


def restrict_query(query_string: bytes, allowed: set[str]) -> bytes:
    """The query string limited to ``allowed`` types (``type=A,B``: any of them)."""
    value = quote(",".join(sorted(allowed)), safe=",")
    extra = f"type={value}".encode("latin-1")
    return query_string + b"&" + extra if query_string else extra


def body_types(body: Any) -> set[str] | None:
    """The types a Query or Subscription body names in ``entities[].type``; None when the
    body names no entity type at all."""
    if not isinstance(body, dict):
        return None
    entities = body.get("entities")
    if not isinstance(entities, list) or not entities:
        return None
    names: set[str] = set()
    for selector in entities:
        kind = selector.get("type") if isinstance(selector, dict) else None
        if not isinstance(kind, str) or not kind:
            return None
        names |= names_in_selection(kind)
    return names or None


def response_types(body: Any) -> set[str]:
    """The types of an entity as the broker answered it (JSON-LD, keyValues or GeoJSON)."""
    if not isinstance(body, dict):
        return set()
    kind = body.get("type")
    if kind == "Feature" and isinstance(body.get("properties"), dict):
        kind = body["properties"].get("type")
    if isinstance(kind, str):
        return {type_name(kind)}
    if isinstance(kind, list):
        return {type_name(k) for k in kind if isinstance(k, str)}
    return set()
