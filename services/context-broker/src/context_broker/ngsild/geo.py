"""The NGSI-LD geo-query language (ETSI GS CIM 009 V1.8.1, 4.10; parameters of 5.7.2).

Parsing and checking of ``georel``, ``geometry`` and ``coordinates``, and the exact
evaluation of every geo-relationship in Python (PostgreSQL here has no PostGIS):

* ``within``, ``contains``, ``intersects``, ``equals``, ``disjoint``, ``overlaps`` follow the
  Simple Features semantics (as PostGIS ``ST_*`` on ``geometry``): planar, on longitude and
  latitude. The entity's GeoProperty is the first operand: ``within`` is "the entity's
  geometry is within the reference geometry", ``contains`` the reverse.
* ``near;maxDistance==N`` / ``near;minDistance==N``: geodesic distance in metres on a sphere
  from the reference Point (haversine); edges are great-circle arcs; a point inside a polygon
  is at distance 0.

Predicates are exact: orientation tests use a floating-point filter with an exact rational
fallback, and points built from intersections are rationals. Geometries stored by entities are
assumed valid (OGC: simple rings, non-overlapping polygons of a MultiPolygon).

``geo_box_of`` gives the bounding box PostgreSQL indexes (``entity.geo_box``) for the index
prefilter; ``query_box`` the box a query's candidates must overlap. Pure: no web, no database.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

import orjson

from context_broker.ngsild.attributes import is_position
from mims_shared.errors import BadRequestData

#: The default geoproperty (4.10: ``geoproperty`` defaults to ``location``), expanded.
LOCATION = "https://uri.etsi.org/ngsi-ld/location"
GEORELS = ("near", "within", "contains", "intersects", "equals", "disjoint", "overlaps")
GEOMETRIES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")
#: Mean radius of the Earth (IUGG), metres.
EARTH_RADIUS = 6_371_008.8
MAX_COORDINATES_TEXT = 100_000
MAX_POSITIONS = 10_000

Num = float | Fraction
Pt = tuple[Num, Num]
Loc = Literal["I", "B", "E"]  # interior, boundary, exterior (DE-9IM)


# --- geometries --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, eq=False)
class Geometry:
    """A geometry on (longitude, latitude); altitude is ignored. Homogeneous, as GeoJSON:
    points (dim 0), linestrings (dim 1) or polygons (dim 2: rings, shell first)."""

    kind: str
    dim: int
    points: tuple[Pt, ...] = ()
    lines: tuple[tuple[Pt, ...], ...] = ()
    polygons: tuple[tuple[tuple[Pt, ...], ...], ...] = ()
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(min lon, min lat, max lon, max lat) of the vertices."""
        if "bbox" not in self._cache:
            xs = [float(p[0]) for p in self.vertices()]
            ys = [float(p[1]) for p in self.vertices()]
            self._cache["bbox"] = (min(xs), min(ys), max(xs), max(ys))
        box: tuple[float, float, float, float] = self._cache["bbox"]
        return box

    def vertices(self) -> Iterator[Pt]:
        yield from self.points
        for line in self.lines:
            yield from line
        for poly in self.polygons:
            for ring in poly:
                yield from ring

    def segments(self) -> list[tuple[Pt, Pt]]:
        """The edges (zero-length ones dropped); polygon rings oriented so that the
        interior is on the left (shell counter-clockwise, holes clockwise)."""
        if "segments" not in self._cache:
            segs: list[tuple[Pt, Pt]] = []
            for line in self.lines:
                segs.extend(_edges(line))
            for poly in self.polygons:
                for i, ring in enumerate(poly):
                    ccw = _ring_area_sign(ring) > 0
                    oriented = ring if ccw == (i == 0) else tuple(reversed(ring))
                    segs.extend(_edges(oriented))
            self._cache["segments"] = segs
        out: list[tuple[Pt, Pt]] = self._cache["segments"]
        return out

    def line_boundary(self) -> set[Pt]:
        """Boundary of a (multi)linestring by the mod-2 rule (closed lines have none)."""
        if "boundary" not in self._cache:
            counts: dict[Pt, int] = {}
            for line in self.lines:
                for end in (line[0], line[-1]):
                    counts[end] = counts.get(end, 0) + 1
            self._cache["boundary"] = {p for p, n in counts.items() if n % 2}
        out: set[Pt] = self._cache["boundary"]
        return out


def _edges(line: Sequence[Pt]) -> list[tuple[Pt, Pt]]:
    return [(a, b) for a, b in itertools.pairwise(line) if a != b]


def _ring_area_sign(ring: Sequence[Pt]) -> int:
    """The sign of a ring's area (+1 counter-clockwise); exact."""
    terms = [
        float(a[0]) * float(b[1]) - float(b[0]) * float(a[1]) for a, b in itertools.pairwise(ring)
    ]
    approx = math.fsum(terms)
    bound = (len(terms) + 4) * 2.0**-51 * math.fsum(abs(t) for t in terms)
    if all(type(c) is float for p in ring for c in p) and abs(approx) > bound:
        return 1 if approx > 0 else -1
    total = sum(
        (Fraction(a[0]) * Fraction(b[1]) - Fraction(b[0]) * Fraction(a[1]))
        for a, b in itertools.pairwise(ring)
    )
    return (total > 0) - (total < 0)


# --- parsing -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Georel:
    op: str
    max_distance: float | None = None
    min_distance: float | None = None


@dataclass(frozen=True, slots=True)
class GeoQuery:
    """A checked geo-query; ``geoproperty`` is the expanded IRI of the GeoProperty."""

    georel: Georel
    geometry: Geometry
    geoproperty: str = LOCATION


def parse_georel(text: str) -> Georel:
    """``near;maxDistance==N``, ``near;minDistance==N`` (N metres) or a relation name."""
    if text in GEORELS and text != "near":
        return Georel(text)
    parts = text.split(";")
    if parts[0] != "near":
        raise BadRequestData(f"Invalid georel {text[:80]!r}: expected one of {', '.join(GEORELS)}")
    if len(parts) != 2 or "==" not in parts[1]:
        raise BadRequestData(
            f"Invalid georel {text[:80]!r}: near takes one modifier, "
            "near;maxDistance==N or near;minDistance==N (metres)"
        )
    name, _, number = parts[1].partition("==")
    if name not in ("maxDistance", "minDistance"):
        raise BadRequestData(
            f"Invalid georel {text[:80]!r}: the modifier of near is maxDistance or minDistance"
        )
    try:
        distance = float(number)
    except ValueError:
        distance = math.nan
    if not math.isfinite(distance) or distance < 0:
        raise BadRequestData(
            f"Invalid georel {text[:80]!r}: {name} must be a non-negative number of metres"
        )
    if name == "maxDistance":
        return Georel("near", max_distance=distance)
    return Georel("near", min_distance=distance)


def _bad_coords(kind: str, why: str) -> BadRequestData:
    return BadRequestData(f"Invalid coordinates for a {kind}: {why}")


def _position(raw: Any, kind: str) -> Pt:
    if not is_position(raw):
        raise _bad_coords(kind, f"a position must be [longitude, latitude], got {_short(raw)}")
    lon, lat = float(raw[0]), float(raw[1])
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise _bad_coords(kind, "a coordinate is not a finite number")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise _bad_coords(kind, f"[{lon}, {lat}] is outside longitude -180..180 / latitude -90..90")
    return (lon, lat)


def _short(raw: Any) -> str:
    text = orjson.dumps(raw).decode()
    return text if len(text) <= 60 else text[:57] + "..."


def _list(raw: Any, kind: str, what: str) -> list[Any]:
    if not isinstance(raw, list):
        raise _bad_coords(kind, f"{what} must be an array, got {_short(raw)}")
    return raw


def _linestring(raw: Any, kind: str) -> tuple[Pt, ...]:
    pts = tuple(_position(p, kind) for p in _list(raw, kind, "a line string"))
    if len(set(pts)) < 2:
        raise _bad_coords(kind, "a line string needs at least two distinct positions")
    return pts


def _ring(raw: Any, kind: str, check: bool) -> tuple[Pt, ...]:
    pts = tuple(_position(p, kind) for p in _list(raw, kind, "a linear ring"))
    if len(pts) < 4:
        raise _bad_coords(kind, "a linear ring needs at least four positions")
    if pts[0] != pts[-1]:
        raise _bad_coords(kind, "a linear ring must be closed (last position = first)")
    if _ring_area_sign(pts) == 0:
        raise _bad_coords(kind, "a linear ring must enclose an area")
    # A ring that crosses itself is accepted, as PostGIS accepts invalid geometries: the
    # ETSI suite queries with such a polygon; predicates then follow the ring as drawn.
    del check
    return pts


def _polygon(raw: Any, kind: str, check: bool) -> tuple[tuple[Pt, ...], ...]:
    rings = _list(raw, kind, "a polygon")
    if not rings:
        raise _bad_coords(kind, "a polygon needs at least its exterior ring")
    return tuple(_ring(r, kind, check) for r in rings)


def geometry_from(kind: str, coords: Any, *, check: bool = True) -> Geometry:
    """A checked geometry from a GeoJSON type and coordinates (raises BadRequestData);
    ``check=False`` skips the quadratic test that rings do not cross themselves."""
    if kind == "Point":
        return Geometry(kind, 0, points=(_position(coords, kind),))
    if kind == "MultiPoint":
        pts = tuple(_position(p, kind) for p in _list(coords, kind, "the coordinates"))
        if not pts:
            raise _bad_coords(kind, "a MultiPoint needs at least one position")
        return Geometry(kind, 0, points=pts)
    if kind == "LineString":
        return Geometry(kind, 1, lines=(_linestring(coords, kind),))
    if kind == "MultiLineString":
        lines = tuple(_linestring(c, kind) for c in _list(coords, kind, "the coordinates"))
        if not lines:
            raise _bad_coords(kind, "a MultiLineString needs at least one line string")
        return Geometry(kind, 1, lines=lines)
    if kind == "Polygon":
        return Geometry(kind, 2, polygons=(_polygon(coords, kind, check),))
    if kind == "MultiPolygon":
        polys = tuple(_polygon(c, kind, check) for c in _list(coords, kind, "the coordinates"))
        if not polys:
            raise _bad_coords(kind, "a MultiPolygon needs at least one polygon")
        return Geometry(kind, 2, polygons=polys)
    raise BadRequestData(f"Invalid geometry {kind[:80]!r}: expected one of {', '.join(GEOMETRIES)}")


def _count_positions(raw: Any, depth: int = 0) -> int:
    if depth > 5:
        raise BadRequestData("Invalid coordinates: arrays are nested deeper than a MultiPolygon")
    if isinstance(raw, list) and raw and all(isinstance(c, list) for c in raw):
        return sum(_count_positions(c, depth + 1) for c in raw)
    return 1


def parse_geo_query(
    georel: str | None, geometry: str | None, coordinates: Any
) -> tuple[Georel, Geometry] | None:
    """The checked georel and reference geometry of a query, or None when none is asked.

    ``coordinates`` is JSON text (query string) or an already decoded array (geoQ body).
    """
    given = {
        "georel": georel is not None,
        "geometry": geometry is not None,
        "coordinates": coordinates is not None,
    }
    if not any(given.values()):
        return None
    if not all(given.values()):
        missing = [k for k, v in given.items() if not v]
        present = [k for k, v in given.items() if v]
        raise BadRequestData(
            f"A geo-query needs georel, geometry and coordinates together: "
            f"{', '.join(present)} given without {', '.join(missing)}"
        )
    assert georel is not None and geometry is not None
    rel = parse_georel(georel)
    if geometry not in GEOMETRIES:
        raise BadRequestData(
            f"Invalid geometry {geometry[:80]!r}: expected one of {', '.join(GEOMETRIES)}"
        )
    if isinstance(coordinates, str):
        if len(coordinates) > MAX_COORDINATES_TEXT:
            raise BadRequestData(
                f"Invalid coordinates: more than {MAX_COORDINATES_TEXT} characters"
            )
        try:
            coordinates = orjson.loads(coordinates)
        except orjson.JSONDecodeError:
            raise BadRequestData(
                f"Invalid coordinates {coordinates[:80]!r}: not a JSON array "
                "(for example [8.0, 40.0])"
            ) from None
    if _count_positions(coordinates) > MAX_POSITIONS:
        raise BadRequestData(f"Invalid coordinates: more than {MAX_POSITIONS} positions")
    geom = geometry_from(geometry, coordinates)
    if rel.op == "near" and geom.kind != "Point":
        raise BadRequestData(f"georel near takes a Point as its geometry, not a {geom.kind}")
    return rel, geom


def stored_geometry(value: Any) -> Geometry | None:
    """The geometry of a stored GeoJSON value, or None when it is not a usable one."""
    if not isinstance(value, dict):
        return None
    kind = value.get("type")
    if not isinstance(kind, str):
        return None
    try:
        return geometry_from(kind, value.get("coordinates"), check=False)
    except BadRequestData:
        return None


def geometries_of(attr: Any) -> list[Geometry]:
    """The geometries of a stored attribute (every instance of a multi-attribute)."""
    instances = attr if isinstance(attr, list) else [attr]
    out: list[Geometry] = []
    for inst in instances:
        if isinstance(inst, dict) and inst.get("type") == "GeoProperty":
            geom = stored_geometry(inst.get("value"))
            if geom is not None:
                out.append(geom)
    return out


# --- exact kernel ------------------------------------------------------------------------
_CCW_BOUND = (3.0 + 16.0 * 2.0**-53) * 2.0**-53


def orient(a: Pt, b: Pt, c: Pt) -> int:
    """+1 when c is left of a->b, -1 right, 0 on the line; exact."""
    ax, ay = a
    bx, by = b
    cx, cy = c
    if (
        type(ax) is float
        and type(ay) is float
        and type(bx) is float
        and type(by) is float
        and type(cx) is float
        and type(cy) is float
    ):
        left = (ax - cx) * (by - cy)
        right = (ay - cy) * (bx - cx)
        det = left - right
        bound = _CCW_BOUND * (abs(left) + abs(right))
        if det > bound:
            return 1
        if -det > bound:
            return -1
    fx, fy = Fraction(cx), Fraction(cy)
    exact = (Fraction(ax) - fx) * (Fraction(by) - fy) - (Fraction(ay) - fy) * (Fraction(bx) - fx)
    return (exact > 0) - (exact < 0)


def _in_box(p: Pt, a: Pt, b: Pt) -> bool:
    return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def on_segment(p: Pt, a: Pt, b: Pt) -> bool:
    return _in_box(p, a, b) and orient(a, b, p) == 0


def _boxes_meet(a: Pt, b: Pt, c: Pt, d: Pt) -> bool:
    return (
        max(a[0], b[0]) >= min(c[0], d[0])
        and max(c[0], d[0]) >= min(a[0], b[0])
        and max(a[1], b[1]) >= min(c[1], d[1])
        and max(c[1], d[1]) >= min(a[1], b[1])
    )


def intersections(a: Pt, b: Pt, c: Pt, d: Pt) -> list[Pt]:
    """Points where segment ab meets segment cd (the ends of a shared part if collinear)."""
    if not _boxes_meet(a, b, c, d):
        return []
    o1, o2 = orient(a, b, c), orient(a, b, d)
    if o1 == o2 == 0:
        return [p for p in (a, b) if _in_box(p, c, d)] + [p for p in (c, d) if _in_box(p, a, b)]
    o3, o4 = orient(c, d, a), orient(c, d, b)
    if o1 * o2 > 0 or o3 * o4 > 0:
        return []
    if o1 == 0:
        return [c]
    if o2 == 0:
        return [d]
    if o3 == 0:
        return [a]
    if o4 == 0:
        return [b]
    ax, ay, bx, by = Fraction(a[0]), Fraction(a[1]), Fraction(b[0]), Fraction(b[1])
    cx, cy, dx, dy = Fraction(c[0]), Fraction(c[1]), Fraction(d[0]), Fraction(d[1])
    t = ((cx - ax) * (dy - cy) - (cy - ay) * (dx - cx)) / (
        (bx - ax) * (dy - cy) - (by - ay) * (dx - cx)
    )
    return [(ax + t * (bx - ax), ay + t * (by - ay))]


def _in_ring(p: Pt, ring: Sequence[Pt]) -> Loc:
    winding = 0
    for a, b in itertools.pairwise(ring):
        if on_segment(p, a, b):
            return "B"
        if a[1] <= p[1]:
            if b[1] > p[1] and orient(a, b, p) > 0:
                winding += 1
        elif b[1] <= p[1] and orient(a, b, p) < 0:
            winding -= 1
    return "I" if winding else "E"


def _in_polygon(p: Pt, rings: Sequence[Sequence[Pt]]) -> Loc:
    shell = _in_ring(p, rings[0])
    if shell != "I":
        return shell
    for hole in rings[1:]:
        where = _in_ring(p, hole)
        if where == "B":
            return "B"
        if where == "I":
            return "E"
    return "I"


def locate(p: Pt, g: Geometry) -> Loc:
    """Where a point is relative to a geometry: interior, boundary or exterior."""
    x0, y0, x1, y1 = g.bbox
    if not (x0 <= p[0] <= x1 and y0 <= p[1] <= y1):
        return "E"
    if g.dim == 0:
        return "I" if p in g.points else "E"
    if g.dim == 1:
        if p in g.line_boundary():
            return "B"
        return "I" if any(on_segment(p, a, b) for a, b in g.segments()) else "E"
    found: Loc = "E"
    for poly in g.polygons:
        where = _in_polygon(p, poly)
        if where == "B":
            return "B"
        if where == "I":
            found = "I"
    return found


@dataclass(slots=True)
class _Piece:
    own: Loc  # where the piece is in its own geometry (I or B)
    dim: int  # 0: a point, 1: an open part of an edge
    where: Loc  # where it is in the other geometry
    same_side: bool | None = None  # area edge on the other area's edge: interiors same side?


def _sort_along(points: Iterable[Pt], a: Pt, b: Pt) -> list[Pt]:
    unique = set(points)
    return sorted(unique, reverse=(b[0], b[1]) < (a[0], a[1]))


def _pieces(g: Geometry, other: Geometry) -> list[_Piece]:
    """``g`` cut where it meets ``other``: each point and open edge part lies wholly in the
    interior, boundary or exterior of ``other``."""
    if g.dim == 0:
        return [_Piece("I", 0, locate(p, other)) for p in g.points]
    boundary = g.line_boundary() if g.dim == 1 else set()
    others = other.segments()
    ox0, oy0, ox1, oy1 = other.bbox
    out: list[_Piece] = []
    for a, b in g.segments():
        cuts: list[Pt] = [a, b]
        if not (
            max(a[0], b[0]) < ox0
            or min(a[0], b[0]) > ox1
            or max(a[1], b[1]) < oy0
            or min(a[1], b[1]) > oy1
        ):
            for c, d in others:
                cuts.extend(intersections(a, b, c, d))
            cuts.extend(p for p in other.points if on_segment(p, a, b))
        ordered = _sort_along(cuts, a, b)
        for v in ordered:
            own: Loc = "B" if g.dim == 2 or v in boundary else "I"
            out.append(_Piece(own, 0, locate(v, other)))
        for u, v in itertools.pairwise(ordered):
            mid = ((Fraction(u[0]) + Fraction(v[0])) / 2, (Fraction(u[1]) + Fraction(v[1])) / 2)
            piece = _Piece("B" if g.dim == 2 else "I", 1, locate(mid, other))
            if g.dim == 2 and other.dim == 2 and piece.where == "B":
                piece.same_side = _same_side(mid, a, b, others)
            out.append(piece)
    return out


def _same_side(mid: Pt, a: Pt, b: Pt, others: list[tuple[Pt, Pt]]) -> bool:
    """Whether the other area's edge through ``mid`` runs the same way as a->b (then both
    interiors lie on its left)."""
    for c, d in others:
        if on_segment(mid, c, d):
            dot = (Fraction(b[0]) - Fraction(a[0])) * (Fraction(d[0]) - Fraction(c[0])) + (
                Fraction(b[1]) - Fraction(a[1])
            ) * (Fraction(d[1]) - Fraction(c[1]))
            return dot > 0
    return False  # pragma: no cover - mid lies on the other's boundary by construction


@dataclass(frozen=True, slots=True)
class Relation:
    """What the predicates need of the DE-9IM matrix of (a, b)."""

    intersects: bool
    interiors_meet: bool  # I(a) ∩ I(b) ≠ ∅
    a_in_b: bool  # a ⊆ b
    b_in_a: bool  # b ⊆ a
    lines_share: bool  # dim(I(a) ∩ I(b)) = 1 (for two lines)


def _covered(g: Geometry, pg: list[_Piece], other: Geometry, po: list[_Piece]) -> bool:
    """g ⊆ other, from the pieces of g (pg) and of other (po)."""
    if g.dim > other.dim or any(p.where == "E" for p in pg):
        return False
    if g.dim == 2:  # the other's boundary inside g, or a shared edge facing away: no
        return not any(p.where == "I" for p in po) and not any(p.same_side is False for p in pg)
    return True


def relation(a: Geometry, b: Geometry) -> Relation:
    pa, pb = _pieces(a, b), _pieces(b, a)
    intersects = any(p.where != "E" for p in pa) or any(p.where != "E" for p in pb)
    meet = any(p.own == "I" and p.where == "I" for p in pa) or any(
        p.own == "I" and p.where == "I" for p in pb
    )
    if a.dim == 2 and b.dim == 2 and not meet:
        meet = (
            any(p.where == "I" for p in pa)
            or any(p.where == "I" for p in pb)
            or any(p.same_side for p in pa)
        )
    return Relation(
        intersects=intersects,
        interiors_meet=meet,
        a_in_b=_covered(a, pa, b, pb),
        b_in_a=_covered(b, pb, a, pa),
        lines_share=any(p.dim == 1 and p.where == "I" for p in pa),
    )


def _boxes_disjoint(a: Geometry, b: Geometry) -> bool:
    ax0, ay0, ax1, ay1 = a.bbox
    bx0, by0, bx1, by1 = b.bbox
    return ax1 < bx0 or bx1 < ax0 or ay1 < by0 or by1 < ay0


def _meet(a: Geometry, b: Geometry) -> bool:
    """a ∩ b ≠ ∅: a vertex of one lies in or on the other, or two edges meet."""
    if any(locate(v, b) != "E" for v in a.vertices()):
        return True
    if any(locate(v, a) != "E" for v in b.vertices()):
        return True
    return any(intersections(*s, *t) for s in a.segments() for t in b.segments())


def holds(op: str, a: Geometry, b: Geometry) -> bool:
    """Whether ``a op b`` holds for a Simple Features relation name."""
    if _boxes_disjoint(a, b):
        return op == "disjoint"
    if a.dim == 0 and len(a.points) == 1:  # fast path: a single point
        where = locate(a.points[0], b)
        if op in ("intersects", "disjoint"):
            return (where != "E") == (op == "intersects")
        if op == "within":
            return where == "I"
        if op in ("contains", "equals"):
            return b.dim == 0 and all(p == a.points[0] for p in b.points)
        return False  # overlaps: one point is inside the other or apart from it
    if b.dim == 0 and len(b.points) == 1:  # fast path: the reference is a single point
        where = locate(b.points[0], a)
        if op in ("intersects", "disjoint"):
            return (where != "E") == (op == "intersects")
        if op == "contains":
            return where == "I"
        if op in ("within", "equals"):
            return a.dim == 0 and all(p == b.points[0] for p in a.points)
        return False
    if op in ("intersects", "disjoint"):  # no cutting needed: vertices and crossings
        return _meet(a, b) == (op == "intersects")
    r = relation(a, b)
    if op == "intersects":
        return r.intersects
    if op == "disjoint":
        return not r.intersects
    if op == "within":
        return r.a_in_b and r.interiors_meet
    if op == "contains":
        return r.b_in_a and r.interiors_meet
    if op == "equals":
        return r.a_in_b and r.b_in_a
    if op == "overlaps":
        if a.dim != b.dim or r.a_in_b or r.b_in_a:
            return False
        if a.dim == 0:
            return r.intersects
        return r.lines_share if a.dim == 1 else r.interiors_meet
    raise ValueError(op)


# --- distances (sphere) ------------------------------------------------------------------
def haversine(a: Pt, b: Pt) -> float:
    """Great-circle distance in metres between two (lon, lat) positions."""
    lon1, lat1, lon2, lat2 = map(math.radians, (float(a[0]), float(a[1]), float(b[0]), float(b[1])))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS * math.asin(min(1.0, math.sqrt(h)))


Vec = tuple[float, float, float]


def _unit(p: Pt) -> Vec:
    lon, lat = math.radians(float(p[0])), math.radians(float(p[1]))
    return (math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat))


def _cross(u: Vec, v: Vec) -> Vec:
    return (u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0])


def _dot(u: Vec, v: Vec) -> float:
    return u[0] * v[0] + u[1] * v[1] + u[2] * v[2]


def _norm(u: Vec) -> float:
    return math.sqrt(_dot(u, u))


def _on_arc(v: Vec, a: Vec, b: Vec, n: Vec) -> bool:
    """Whether v (on the great circle of a and b, normal n = a x b) lies on the minor arc."""
    return _dot(_cross(a, v), n) >= 0 and _dot(_cross(v, b), n) >= 0


def arc_distance(p: Pt, a: Pt, b: Pt) -> float:
    """Metres from p to the great-circle arc from a to b."""
    ends = min(haversine(p, a), haversine(p, b))
    pu, au, bu = _unit(p), _unit(a), _unit(b)
    n = _cross(au, bu)
    size = _norm(n)
    if size < 1e-15:
        return ends
    n = (n[0] / size, n[1] / size, n[2] / size)
    off = _dot(pu, n)
    foot = (pu[0] - off * n[0], pu[1] - off * n[1], pu[2] - off * n[2])
    if _norm(foot) < 1e-15 or not _on_arc(foot, au, bu, n):
        return ends
    return min(ends, EARTH_RADIUS * math.atan2(abs(off), _norm(foot)))


def distance(p: Pt, g: Geometry) -> float:
    """Metres from the point p to g: to its nearest point, 0 when p is in or on g."""
    if g.dim == 0:
        return min(haversine(p, q) for q in g.points)
    if g.dim == 2 and locate(p, g) != "E":
        return 0.0
    return min(arc_distance(p, a, b) for a, b in g.segments())


# --- the whole query ---------------------------------------------------------------------
def matches(query: GeoQuery, attr: Any) -> bool:
    """Whether an entity whose geoproperty is stored as ``attr`` (an instance or the array
    of a multi-attribute; None when absent) matches: any instance may satisfy the relation.
    An entity without the geoproperty matches nothing."""
    geoms = geometries_of(attr) if attr is not None else []
    rel, ref = query.georel, query.geometry
    for g in geoms:
        if rel.op == "near":
            d = distance(ref.points[0], g)
            if rel.max_distance is not None and d <= rel.max_distance:
                return True
            if rel.min_distance is not None and d >= rel.min_distance:
                return True
        elif holds(rel.op, g, ref):
            return True
    return False


Box = tuple[float, float, float, float]
_PAD = 1e-9  # degrees: boxes only ever err on the large side


def _box_text(box: Box) -> str:
    x0, y0, x1, y1 = box
    return f"({x0!r},{y0!r}),({x1!r},{y1!r})"


def _arc_box(a: Pt, b: Pt) -> Box:
    """A box holding the great-circle arc from a to b (it bulges towards a pole)."""
    x0, x1 = sorted((float(a[0]), float(b[0])))
    y0, y1 = sorted((float(a[1]), float(b[1])))
    if x1 - x0 >= 180:  # the minor arc goes round the other side (or over a pole)
        x0, x1 = -180.0, 180.0
    au, bu = _unit(a), _unit(b)
    n = _cross(au, bu)
    size = _norm(n)
    if size < 1e-12:
        if _dot(au, bu) < 0:  # (almost) antipodal: the arc may go anywhere
            return (-180.0, -90.0, 180.0, 90.0)
        return (x0, y0, x1, y1)
    n = (n[0] / size, n[1] / size, n[2] / size)
    top = (-n[2] * n[0], -n[2] * n[1], 1 - n[2] * n[2])
    if _norm(top) > 1e-12:
        for v in (top, (-top[0], -top[1], -top[2])):
            if _on_arc(v, au, bu, n):
                lat = math.degrees(math.asin(max(-1.0, min(1.0, v[2] / _norm(v)))))
                y0, y1 = min(y0, lat), max(y1, lat)
    return (x0, y0, x1, y1)


def _geometry_box(g: Geometry) -> Box:
    x0, y0, x1, y1 = g.bbox
    for a, b in g.segments():
        bx0, by0, bx1, by1 = _arc_box(a, b)
        x0, y0, x1, y1 = min(x0, bx0), min(y0, by0), max(x1, bx1), max(y1, by1)
    return (x0, y0, x1, y1)


def _padded(box: Box) -> Box:
    x0, y0, x1, y1 = box
    return (
        max(-180.0, x0 - _PAD),
        max(-90.0, y0 - _PAD),
        min(180.0, x1 + _PAD),
        min(90.0, y1 + _PAD),
    )


def geo_box_of(attrs: dict[str, Any]) -> str | None:
    """The PostgreSQL box literal ``'(x1,y1),(x2,y2)'`` bounding the default ``location``
    GeoProperty of stored (expanded) attributes, or None when there is none.

    The box holds the planar geometry and its great-circle edges, so it serves both the
    planar relations and ``near``. Every write of the ``entity`` table sets ``geo_box`` to
    this value (bind it as text and cast: ``$n::text::box``).
    """
    location = attrs.get(LOCATION)
    if location is None:
        return None
    value = location.get("value") if isinstance(location, dict) else None
    if (
        isinstance(value, dict)
        and value.get("type") == "Point"
        and location.get("type") == "GeoProperty"
    ):  # the usual location: its box is the point (as _geometry_box finds, without a Geometry)
        try:
            point = _position(value.get("coordinates"), "Point")
        except BadRequestData:
            return None
        lon, lat = float(point[0]), float(point[1])
        return _box_text(_padded((lon, lat, lon, lat)))
    geoms = geometries_of(location)
    if not geoms:
        return None
    boxes = [_geometry_box(g) for g in geoms]
    box = (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )
    return _box_text(_padded(box))


def query_box(query: GeoQuery) -> str | None:
    """The box a candidate's ``geo_box`` must overlap, or None when the relation allows
    any box (``disjoint``, ``near;minDistance``, or a distance reaching everywhere)."""
    rel, ref = query.georel, query.geometry
    if rel.op == "disjoint" or (rel.op == "near" and rel.max_distance is None):
        return None
    if rel.op != "near":
        return _box_text(_padded(ref.bbox))
    assert rel.max_distance is not None
    lon, lat = float(ref.points[0][0]), float(ref.points[0][1])
    reach = rel.max_distance / EARTH_RADIUS * (1 + 1e-9)  # radians
    if reach >= math.pi:
        return None
    dlat = math.degrees(reach)
    y0, y1 = lat - dlat, lat + dlat
    phi = math.radians(lat)
    if y0 <= -90 or y1 >= 90 or math.sin(reach) >= math.cos(phi):
        x0, x1 = -180.0, 180.0  # the circle holds a pole
    else:
        dlon = math.degrees(math.asin(math.sin(reach) / math.cos(phi)))
        x0, x1 = lon - dlon, lon + dlon
        if x0 < -180 or x1 > 180:  # it crosses the antimeridian: a planar box cannot wrap
            x0, x1 = -180.0, 180.0
    return _box_text(_padded((x0, y0, x1, y1)))
