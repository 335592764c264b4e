-- Index prefilter of geo-queries (ETSI GS CIM 009 V1.8.1, 4.10). PostgreSQL here has no
-- PostGIS: geo_box is the bounding box (longitude, latitude) of the entity's default
-- GeoProperty https://uri.etsi.org/ngsi-ld/location (NULL when it has none), written by the
-- broker on every write (ngsild/geo.py geo_box_of; it also holds the great-circle arcs of
-- the edges). Queries keep the candidates whose box overlaps the query's (&&, GiST) and
-- evaluate the relation exactly in the broker. tenant stays in the WHERE clause: a GiST index
-- over (text, box) would need btree_gist.
ALTER TABLE entity ADD COLUMN geo_box box;
CREATE INDEX entity_geo_box_idx ON entity USING gist (geo_box);

-- Backfill of the rows already there. Points are boxed exactly; for lines and polygons the
-- box is widened towards the poles (their arcs bulge polewards) and made as wide as the world
-- when they span 180 degrees of longitude: larger than needed, never too small. The next
-- write of an entity stores its exact box.
WITH instance AS (
    SELECT e.tenant, e.id, i
    FROM entity e
    CROSS JOIN LATERAL jsonb_array_elements(
        CASE jsonb_typeof(e.attrs -> 'https://uri.etsi.org/ngsi-ld/location')
            WHEN 'array' THEN e.attrs -> 'https://uri.etsi.org/ngsi-ld/location'
            ELSE jsonb_build_array(e.attrs -> 'https://uri.etsi.org/ngsi-ld/location')
        END
    ) AS i
    WHERE e.attrs ? 'https://uri.etsi.org/ngsi-ld/location'
), position AS (
    SELECT tenant, id, i -> 'value' ->> 'type' AS kind, p
    FROM instance
    CROSS JOIN LATERAL jsonb_path_query(
        i -> 'value' -> 'coordinates',
        'strict $.** ? (@.type() == "array" && @.size() >= 2 && @[0].type() == "number")'
    ) AS p
    WHERE i ->> 'type' = 'GeoProperty'
), extent AS (
    SELECT tenant, id,
           bool_and(kind IN ('Point', 'MultiPoint')) AS points_only,
           min((p ->> 0)::float8) AS x0, max((p ->> 0)::float8) AS x1,
           min((p ->> 1)::float8) AS y0, max((p ->> 1)::float8) AS y1
    FROM position
    GROUP BY tenant, id
)
UPDATE entity e SET geo_box = CASE
    WHEN x.points_only THEN box(point(x.x0, x.y0), point(x.x1, x.y1))
    ELSE box(
        point(CASE WHEN x.x1 - x.x0 >= 180 THEN -180 ELSE x.x0 END,
              CASE WHEN x.y0 < 0 THEN -90 ELSE x.y0 END),
        point(CASE WHEN x.x1 - x.x0 >= 180 THEN 180 ELSE x.x1 END,
              CASE WHEN x.y1 > 0 THEN 90 ELSE x.y1 END))
    END
FROM extent x
WHERE e.tenant = x.tenant AND e.id = x.id;
