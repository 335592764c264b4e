"""The geo-query language (ETSI GS CIM 009 V1.8.1, 4.10): parsing, the exact relations against
shapely (GEOS, the engine of PostGIS) as the oracle, geodesic distances, index boxes."""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

import pytest
import shapely
from shapely.geometry import shape

from context_broker.ngsild import geo
from context_broker.ngsild.geo import Geometry, GeoQuery, geometry_from, holds
from mims_shared.errors import BadRequestData

OPS = ("within", "contains", "intersects", "equals", "disjoint", "overlaps")


def sq(x0: float, y0: float, x1: float, y1: float, *, cw: bool = False) -> list[list[float]]:
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return ring[::-1] if cw else ring


# Hand-picked to hit the degenerate cases: shared edges, touching corners, holes, equal
# geometries written differently, collinear overlaps, points on boundaries.
CORPUS: dict[str, list[Any]] = {
    "Point": [[0, 0], [1, 1], [2, 2], [5, 5], [1, 0], [2, 0], [4, 2]],
    "MultiPoint": [[[0, 0], [2, 2]], [[1, 1], [5, 5]], [[2, 2]], [[0, 0], [4, 0], [4, 4]]],
    "LineString": [
        [[0, 0], [2, 2]],
        [[0, 2], [2, 0]],
        [[1, 1], [3, 3]],
        [[0, 0], [4, 0], [4, 4]],
        [[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]],
        [[2, 2], [1, 1], [0, 0]],
        [[1, 2], [3, 2]],
        [[5, 5], [6, 6]],
        [[-1, 2], [5, 2]],
    ],
    "MultiLineString": [
        [[[0, 0], [1, 1]], [[1, 1], [2, 2]]],
        [[[0, 0], [4, 0]], [[4, 0], [4, 4]]],
        [[[1, 2], [3, 2]], [[2, 1], [2, 3]]],
        [[[0, 0], [2, 2]], [[5, 5], [6, 6]]],
    ],
    "Polygon": [
        [sq(0, 0, 4, 4)],
        [sq(1, 1, 3, 3)],
        [sq(2, 2, 6, 6)],
        [sq(4, 0, 8, 4)],
        [sq(0, 0, 4, 4), sq(1, 1, 3, 3, cw=True)],
        [[[0, 0], [4, 0], [0, 4], [0, 0]]],
        [sq(0, 0, 4, 4, cw=True)],
        [[[0, 0], [2, 0], [4, 0], [4, 4], [0, 4], [0, 0]]],
        [sq(0, 0, 2, 2)],
        [[[2, 0], [4, 2], [2, 4], [0, 2], [2, 0]]],
    ],
    "MultiPolygon": [
        [[sq(0, 0, 2, 2)], [sq(2, 2, 4, 4)]],
        [[sq(1, 1, 3, 3)], [sq(5, 5, 6, 6)]],
        [[sq(0, 0, 4, 4), sq(1, 1, 3, 3)]],
        [[sq(0, 0, 1, 1)], [sq(3, 3, 4, 4)]],
    ],
}


def both(kind: str, coords: Any) -> tuple[Geometry, Any]:
    """Ours and shapely's. GEOS 3.14 mis-relates a MultiPolygon whose parts touch where a
    vertex meets an edge (e.g. within gives 2F2F11212 for a part of it), so the oracle takes
    the union of the parts: the same point set, noded."""
    oracle_shape = shape({"type": kind, "coordinates": coords})
    if kind == "MultiPolygon":
        oracle_shape = shapely.union_all(list(oracle_shape.geoms))
    return geometry_from(kind, coords), oracle_shape


def test_corpus_is_valid() -> None:
    for kind, items in CORPUS.items():
        for coords in items:
            assert shape({"type": kind, "coordinates": coords}).is_valid, (kind, coords)


def oracle(op: str, a: Any, b: Any) -> bool:
    return bool(getattr(a, op)(b))


SEEN: dict[str, set[bool]] = {op: set() for op in OPS}


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("kind_a", list(CORPUS))
@pytest.mark.parametrize("kind_b", list(CORPUS))
def test_relation_matches_shapely(op: str, kind_a: str, kind_b: str) -> None:
    for ca, cb in itertools.product(CORPUS[kind_a], CORPUS[kind_b]):
        (ga, sa), (gb, sb) = both(kind_a, ca), both(kind_b, cb)
        expected = oracle(op, sa, sb)
        assert holds(op, ga, gb) is expected, f"{kind_a} {ca} {op} {kind_b} {cb}"
        SEEN[op].add(expected)


def test_every_relation_was_seen_true_and_false() -> None:
    assert all(v == {True, False} for v in SEEN.values()), SEEN


def random_geometry(rng: random.Random) -> tuple[str, Any]:
    """Small lattice geometries: coincident vertices and collinear edges are frequent."""

    def p() -> list[int]:
        return [rng.randint(0, 4), rng.randint(0, 4)]

    kind = rng.choice(list(CORPUS))
    if kind == "Point":
        return kind, p()
    if kind == "MultiPoint":
        return kind, [p() for _ in range(rng.randint(1, 3))]
    if kind in ("LineString", "MultiLineString"):
        lines = []
        for _ in range(1 if kind == "LineString" else rng.randint(1, 3)):
            line = [p() for _ in range(rng.randint(2, 4))]
            while len({tuple(q) for q in line}) < 2:
                line.append(p())
            lines.append(line)
        return kind, lines[0] if kind == "LineString" else lines
    polys: list[Any] = []
    while len(polys) < (1 if kind == "Polygon" else rng.randint(1, 2)):
        x0, y0 = rng.randint(0, 3), rng.randint(0, 3)
        x1, y1 = rng.randint(x0 + 1, 4), rng.randint(y0 + 1, 4)
        if rng.random() < 0.5:
            poly = [sq(x0, y0, x1, y1)]
        else:
            poly = [[[x0, y0], [x1, y0], [x0, y1], [x0, y0]]]
        candidate = shape({"type": "MultiPolygon", "coordinates": [*polys, poly]})
        if candidate.is_valid:
            polys.append(poly)
    return kind, polys[0] if kind == "Polygon" else polys


@pytest.mark.parametrize("seed", range(20))
def test_random_lattice_geometries_match_shapely(seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    for _ in range(60):
        (ka, ca), (kb, cb) = random_geometry(rng), random_geometry(rng)
        (ga, sa), (gb, sb) = both(ka, ca), both(kb, cb)
        for op in OPS:
            assert holds(op, ga, gb) is oracle(op, sa, sb), f"{ka} {ca} {op} {kb} {cb}"


def test_exact_where_floating_point_is_not() -> None:
    # A point on a segment whose coordinates are not exact in binary.
    line = geometry_from("LineString", [[0.1, 0.1], [0.3, 0.3]])
    point = geometry_from("Point", [0.2, 0.2])
    expected = shapely.Point(0.2, 0.2).intersects(shapely.LineString([(0.1, 0.1), (0.3, 0.3)]))
    assert holds("intersects", point, line) is expected
    # Two segments crossing at a point that no float represents.
    a = geometry_from("LineString", [[0, 0], [1, 3]])
    b = geometry_from("LineString", [[0, 1], [1, 0]])
    assert holds("intersects", a, b) and not holds("overlaps", a, b)


# --- distances ---------------------------------------------------------------------------
PARIS, LONDON = (2.3522, 48.8566), (-0.1276, 51.5072)
MADRID, BARCELONA = (-3.7038, 40.4168), (2.1734, 41.3851)
NEW_YORK, LOS_ANGELES = (-74.0060, 40.7128), (-118.2437, 34.0522)
SYDNEY = (151.2093, -33.8688)


@pytest.mark.parametrize(
    ("a", "b", "km"),
    [
        (PARIS, LONDON, 343.6),  # great-circle distances on a 6371 km sphere
        (MADRID, BARCELONA, 505.0),
        (NEW_YORK, LOS_ANGELES, 3935.7),
        (LONDON, SYDNEY, 16_993.0),
        (PARIS, PARIS, 0.0),
        ((0.0, 0.0), (180.0, 0.0), math.pi * 6371.0088),
        ((0.0, 90.0), (0.0, -90.0), math.pi * 6371.0088),
    ],
)
def test_haversine_on_known_pairs(a: geo.Pt, b: geo.Pt, km: float) -> None:
    assert geo.haversine(a, b) / 1000 == pytest.approx(km, rel=2e-3, abs=1e-9)
    assert geo.haversine(a, b) == pytest.approx(geo.haversine(b, a))


def slerp_samples(a: geo.Pt, b: geo.Pt, n: int = 2000) -> list[geo.Pt]:
    ua, ub = geo._unit(a), geo._unit(b)
    omega = math.acos(max(-1.0, min(1.0, geo._dot(ua, ub))))
    out = []
    for i in range(n + 1):
        t = i / n
        if omega < 1e-12:
            v = ua
        else:
            s1, s2 = math.sin((1 - t) * omega), math.sin(t * omega)
            v = tuple((s1 * x + s2 * y) / math.sin(omega) for x, y in zip(ua, ub, strict=True))
        out.append((math.degrees(math.atan2(v[1], v[0])), math.degrees(math.asin(v[2]))))
    return out


@pytest.mark.parametrize(
    ("p", "a", "b"),
    [
        ((0.0, 1.0), (-1.0, 0.0), (1.0, 0.0)),  # foot inside the arc
        ((3.0, 1.0), (-1.0, 0.0), (1.0, 0.0)),  # nearest is an end
        ((10.0, 75.0), (-30.0, 60.0), (50.0, 60.0)),  # the arc bulges to the pole
        ((2.35, 48.85), (-0.13, 51.5), (13.4, 52.5)),
    ],
)
def test_distance_to_an_arc_is_its_nearest_point(p: geo.Pt, a: geo.Pt, b: geo.Pt) -> None:
    sampled = min(geo.haversine(p, q) for q in slerp_samples(a, b))
    exact = geo.arc_distance(p, a, b)
    assert exact <= sampled + 1e-6
    assert sampled - exact < 50  # metres: the samples are ~ arc/2000 apart


def test_distance_to_a_polygon_is_zero_inside() -> None:
    poly = geometry_from("Polygon", [sq(0, 0, 1, 1)])
    assert geo.distance((0.5, 0.5), poly) == 0.0
    assert geo.distance((1.0, 0.5), poly) == 0.0
    assert geo.distance((2.0, 0.5), poly) == pytest.approx(geo.haversine((1, 0.5), (2, 0.5)), 1e-6)


def near(max_d: float | None = None, min_d: float | None = None, at: Any = None) -> GeoQuery:
    rel = geo.Georel("near", max_distance=max_d, min_distance=min_d)
    return GeoQuery(rel, geometry_from("Point", list(at or PARIS)))


def located(kind: str, coords: Any) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": kind, "coordinates": coords}}


def test_near_max_and_min_distance() -> None:
    london = located("Point", list(LONDON))
    assert geo.matches(near(max_d=344_000), london)
    assert not geo.matches(near(max_d=343_000), london)
    assert geo.matches(near(min_d=343_000), london)
    assert not geo.matches(near(min_d=344_000), london)
    assert not geo.matches(near(max_d=1e9), None)
    # A multi-attribute matches when one instance does.
    two = [
        located("Point", list(SYDNEY)),
        {**located("Point", list(LONDON)), "datasetId": "urn:ngsi-ld:Dataset:2"},
    ]
    assert geo.matches(near(max_d=344_000), two)


# --- index boxes -------------------------------------------------------------------------
def parse_box(text: str) -> tuple[float, float, float, float]:
    nums = [float(x) for x in text.replace("(", "").replace(")", "").split(",")]
    return (nums[0], nums[1], nums[2], nums[3])


def destination(p: geo.Pt, bearing: float, metres: float) -> geo.Pt:
    lat1, lon1, d = math.radians(p[1]), math.radians(p[0]), metres / geo.EARTH_RADIUS
    lat2 = math.asin(
        math.sin(lat1) * math.cos(d) + math.cos(lat1) * math.sin(d) * math.cos(bearing)
    )
    lon2 = lon1 + math.atan2(
        math.sin(bearing) * math.sin(d) * math.cos(lat1),
        math.cos(d) - math.sin(lat1) * math.sin(lat2),
    )
    lon = (math.degrees(lon2) + 540) % 360 - 180
    return (lon, math.degrees(lat2))


def inside(p: geo.Pt, box: tuple[float, float, float, float]) -> bool:
    return box[0] <= p[0] <= box[2] and box[1] <= p[1] <= box[3]


@pytest.mark.parametrize(
    ("center", "metres"),
    [
        (PARIS, 1000.0),
        (PARIS, 2_000_000.0),
        ((179.9, 10.0), 50_000.0),  # crosses the antimeridian
        ((10.0, 89.5), 100_000.0),  # holds the pole
        ((10.0, 80.0), 900_000.0),
        ((-70.0, -60.0), 3_000_000.0),
        ((0.0, 0.0), 1.0),
    ],
)
def test_near_box_holds_the_whole_circle(center: geo.Pt, metres: float) -> None:
    text = geo.query_box(near(max_d=metres, at=center))
    assert text is not None
    box = parse_box(text)
    for i in range(720):
        edge = destination(center, math.radians(i / 2), metres)
        assert inside(edge, box), (edge, box)


def test_no_box_where_any_entity_may_match() -> None:
    ref = geometry_from("Point", [0, 0])
    assert geo.query_box(GeoQuery(geo.Georel("disjoint"), ref)) is None
    assert geo.query_box(near(min_d=10)) is None
    assert geo.query_box(near(max_d=21_000_000)) is None
    assert geo.query_box(GeoQuery(geo.Georel("within"), ref)) is not None


@pytest.mark.parametrize(
    ("kind", "coords"),
    [
        ("Point", [8.5, 47.3]),
        ("LineString", [[-30.0, 60.0], [50.0, 60.0]]),  # bulges north of 60
        ("Polygon", [[[-100, -50], [100, -50], [100, -40], [-100, -40], [-100, -50]]]),
        ("MultiPoint", [[1, 2], [3, 4]]),
        ("LineString", [[170.0, 0.0], [-170.0, 0.0]]),  # the arc crosses the antimeridian
    ],
)
def test_geo_box_holds_the_geometry_and_its_arcs(kind: str, coords: Any) -> None:
    attrs = {geo.LOCATION: located(kind, coords)}
    text = geo.geo_box_of(attrs)
    assert text is not None
    box = parse_box(text)
    g = geometry_from(kind, coords)
    for v in g.vertices():
        assert inside((float(v[0]), float(v[1])), box)
    for a, b in g.segments():
        for q in slerp_samples(a, b, 200):
            assert inside(q, box), (q, box)


def test_geo_box_of_without_location() -> None:
    assert geo.geo_box_of({}) is None
    assert geo.geo_box_of({geo.LOCATION: {"type": "Property", "value": "here"}}) is None


# --- parsing -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("georel", "expected"),
    [
        ("within", geo.Georel("within")),
        ("near;maxDistance==2000", geo.Georel("near", max_distance=2000.0)),
        ("near;minDistance==0.5", geo.Georel("near", min_distance=0.5)),
    ],
)
def test_parse_georel(georel: str, expected: geo.Georel) -> None:
    assert geo.parse_georel(georel) == expected


@pytest.mark.parametrize(
    ("georel", "detail"),
    [
        ("nearby", "Invalid georel 'nearby': expected one of near, within"),
        ("near", "near takes one modifier"),
        ("near;maxDistance=10", "near takes one modifier"),
        ("near;distance==10", "the modifier of near is maxDistance or minDistance"),
        ("near;maxDistance==-1", "maxDistance must be a non-negative number"),
        ("near;maxDistance==abc", "maxDistance must be a non-negative number"),
        ("near;maxDistance==nan", "maxDistance must be a non-negative number"),
        ("near;maxDistance==1;minDistance==2", "near takes one modifier"),
    ],
)
def test_bad_georel(georel: str, detail: str) -> None:
    with pytest.raises(BadRequestData, match=detail):
        geo.parse_georel(georel)


@pytest.mark.parametrize(
    ("geometry", "coordinates", "detail"),
    [
        ("Circle", "[1,2]", "Invalid geometry 'Circle'"),
        ("Point", "[1,", "not a JSON array"),
        ("Point", "[1]", "a position must be"),
        ("Point", "[200, 0]", "outside longitude"),
        ("Point", "[0, 91]", "outside longitude"),
        ("Point", '["a", 1]', "a position must be"),
        ("Point", "[[1, 2]]", "a position must be"),
        ("LineString", "[[1, 2]]", "at least two distinct positions"),
        ("LineString", "[1, 2]", "a position must be"),
        ("Polygon", "[[[0,0],[1,0],[1,1],[0,1]]]", "must be closed"),
        ("Polygon", "[[[0,0],[1,0],[0,0]]]", "at least four positions"),
        ("Polygon", "[[[0,0],[1,0],[2,0],[0,0]]]", "must enclose an area"),
        ("Polygon", "[]", "needs at least its exterior ring"),
        ("Polygon", "[[0,0],[1,0],[1,1],[0,0]]", "a position must be"),
        ("MultiPoint", "[]", "needs at least one position"),
        ("MultiPolygon", "[[[[[[[[0,0]]]]]]]]", "nested deeper"),
    ],
)
def test_bad_geometry(geometry: str, coordinates: str, detail: str) -> None:
    with pytest.raises(BadRequestData, match=detail):
        geo.parse_geo_query("within", geometry, coordinates)


def test_parts_missing() -> None:
    assert geo.parse_geo_query(None, None, None) is None
    with pytest.raises(BadRequestData, match="georel given without geometry, coordinates"):
        geo.parse_geo_query("within", None, None)
    with pytest.raises(BadRequestData, match="geometry, coordinates given without georel"):
        geo.parse_geo_query(None, "Point", "[1,2]")
    with pytest.raises(BadRequestData, match="near takes a Point"):
        geo.parse_geo_query("near;maxDistance==1", "Polygon", [sq(0, 0, 1, 1)])


def test_coordinates_may_come_decoded() -> None:
    parsed = geo.parse_geo_query("intersects", "LineString", [[0, 0], [1, 1]])
    assert parsed is not None and parsed[1].lines == (((0.0, 0.0), (1.0, 1.0)),)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ({"type": "Point", "coordinates": [4.35, 50.85]}, True),
        ({"type": "Point", "coordinates": [4, 50]}, True),
        ({"type": "Point", "coordinates": [-180, -90, 12.5]}, True),
        ({"type": "Point", "coordinates": [180.0, 90.0]}, True),
        ({"type": "Point", "coordinates": [180.5, 0]}, False),
        ({"type": "Point", "coordinates": [0, 91]}, False),
        ({"type": "Point", "coordinates": [True, 1]}, False),
        ({"type": "Point", "coordinates": [1]}, False),
        ({"type": "Point", "coordinates": [1, 2, 3, 4]}, False),
        ({"type": "Point", "coordinates": "1,2"}, False),
        ({"type": "Point", "coordinates": [math.nan, 2]}, False),
        ({"type": "Point", "coordinates": [2, math.nan]}, False),
        ({"type": "Point", "coordinates": [math.inf, 2]}, False),
        ({"type": "Point", "coordinates": [1, False]}, False),
        ({"type": "Point", "coordinates": [179.9999999999, -89.9999999999]}, True),
        ({"type": "Point"}, False),
    ],
)
def test_the_box_of_a_point_location_is_that_of_the_general_path(value: Any, valid: bool) -> None:
    """geo_box_of takes a short cut for a single Point location; a multi-attribute of the
    same instance goes the general way (geometries_of, _geometry_box): same answer."""
    for kind in ("GeoProperty", "Property"):
        inst = {"type": kind, "value": value}
        assert geo.geo_box_of({geo.LOCATION: inst}) == geo.geo_box_of({geo.LOCATION: [inst]})
    box = geo.geo_box_of({geo.LOCATION: {"type": "GeoProperty", "value": value}})
    assert (box is not None) is valid
