"""How the stack compares NGSI-LD entity types across services: by name.

Marketplace entitlements, the gateway's decisions and the broker's visibility filter
(context_broker ngsild/visibility.py, and its SQL twin ``type_name()`` of the broker's
migration 0009) all name a type by the last segment of its IRI, so that ``ParkingSpot``
covers ``https://smartdatamodels.org/dataModel.Parking/ParkingSpot`` and ``sdm:ParkingSpot``.
"""

from __future__ import annotations


def type_name(iri: str) -> str:
    """The last segment of a type IRI: after the last ``#``, else ``/``, else ``:``; a name
    without separators is itself."""
    for sep in ("#", "/", ":"):
        _, found, rest = iri.rpartition(sep)
        if found and rest:
            return rest
    return iri
