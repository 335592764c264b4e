"""Small request readings shared by the non-entity operations (discovery, @context management).

- ``parse_flag``: a boolean query parameter (``details``, ``local``, ``reload``); anything
  but ``true`` or ``false`` is BadRequestData (what the ETSI suite expects of ``details`` and
  ``reload``, 5.13.3 and 5.13.5).
- ``json_media_type``: ``application/json`` or ``application/ld+json`` by ``Accept``
  (6.3.6); these resources are not entities and have no GeoJSON representation.
"""

from __future__ import annotations

from context_broker.ngsild.media import choose_response_type
from mims_shared.errors import BadRequestData


def parse_flag(name: str, value: str | None) -> bool:
    """The value of the boolean query parameter ``name``; absent or empty is false."""
    if value in (None, "", "false"):
        return False
    if value == "true":
        return True
    raise BadRequestData(f"{name} must be true or false, not {value[:50]!r}")


def json_media_type(accept: str | None) -> str:
    """The JSON media type to answer with; NotAcceptable when ``Accept`` allows neither."""
    return choose_response_type(accept, geojson=False)
