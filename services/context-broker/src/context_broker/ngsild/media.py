"""Media types and the JSON-LD Link header (ETSI GS CIM 009 V1.8.1, 6.3.4-6.3.6)."""

from __future__ import annotations

from typing import Any

from context_broker.ngsild.representation import dataset_map
from mims_shared.errors import NotAcceptable

JSON = "application/json"
JSONLD = "application/ld+json"
GEOJSON = "application/geo+json"


def choose_response_type(accept: str | None, *, geojson: bool = True) -> str:
    """``application/json``, ``application/ld+json`` or (where the operation offers it,
    ``geojson``) ``application/geo+json`` by the ``Accept`` header (6.3.6)."""
    if not accept:
        return JSON
    best: tuple[float, str] | None = None
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        q = 1.0
        for f in fields[1:]:
            if f.startswith("q="):
                try:
                    q = float(f[2:])
                except ValueError:
                    q = 0.0
        offered = (_OFFERED if geojson else _OFFERED_NO_GEO).get(media)
        if offered and q > 0 and (best is None or q > best[0]):
            best = (q, offered)
    if best is None:
        raise NotAcceptable(
            f"None of the media types in Accept ({accept[:200]}) can be produced;"
            f" this resource is available as {JSON} or {JSONLD}"
        )
    return best[1]


_OFFERED = {
    JSON: JSON,
    JSONLD: JSONLD,
    GEOJSON: GEOJSON,
    "*/*": JSON,
    "application/*": JSON,
}
#: The temporal API has no GeoJSON representation (6.3.15 applies to Retrieve and Query
#: Entities only): application/geo+json alone is 406 there (ETSI test 049_02_02).
_OFFERED_NO_GEO = {k: v for k, v in _OFFERED.items() if k != GEOJSON}


def to_feature(entity: dict[str, Any], geometry_property: str) -> dict[str, Any]:
    """An entity (already in its representation) as a GeoJSON Feature (6.3.15)."""
    geo = entity.get(geometry_property)
    if isinstance(geo, list):
        geo = geo[0] if geo else None
    datasets = dataset_map(geo)
    if datasets is not None:  # a multi-attribute in keyValues: the default, else the first
        geo = datasets.get("@none", next(iter(datasets.values()), None))
    if (isinstance(geo, dict) and geo.get("type") == "GeoProperty") or (
        isinstance(geo, dict) and "value" in geo and "coordinates" not in geo
    ):
        geo = geo.get("value")
    if not (isinstance(geo, dict) and "coordinates" in geo):
        geo = None
    properties = {k: v for k, v in entity.items() if k not in ("id", "@context")}
    feature: dict[str, Any] = {
        "id": entity.get("id"),
        "type": "Feature",
        "geometry": geo,
        "properties": properties,
    }
    return feature
