"""Small request readings shared by the non-entity operations (discovery, @context management).

- ``parse_flag``: a boolean query parameter (``details``, ``local``, ``reload``); anything
  but ``true`` or ``false`` is BadRequestData (what the ETSI suite expects of ``details`` and
  ``reload``, 5.13.3 and 5.13.5).
- ``json_media_type``: ``application/json`` or ``application/ld+json`` by ``Accept``
  (6.3.6); these resources are not entities and have no GeoJSON representation.
"""

from __future__ import annotations

from context_broker.ngsild.media import GEOJSON, JSON, JSONLD, choose_response_type
from mims_shared.errors import BadRequestData, NotAcceptable


def parse_flag(name: str, value: str | None) -> bool:
    """The value of the boolean query parameter ``name``; absent or empty is false."""
    if value in (None, "", "false"):
        return False
    if value == "true":
        return True
    raise BadRequestData(f"{name} must be true or false, not {value[:50]!r}")


def json_media_type(accept: str | None) -> str:
    """The JSON media type to answer with; NotAcceptable when ``Accept`` allows neither."""
    media = choose_response_type(accept)
    if media != GEOJSON:
        return media
    others = ",".join(p for p in (accept or "").split(",") if GEOJSON not in p.lower())
    if not others.strip():
        raise NotAcceptable(
            f"None of the media types in Accept ({(accept or '')[:200]}) can be produced;"
            f" this resource is available as {JSON} or {JSONLD}"
        )
    return choose_response_type(others)
