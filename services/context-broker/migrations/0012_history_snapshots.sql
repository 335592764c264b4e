-- A cheaper history write (issue #4: the write path with history on, at least 80% of the
-- write path without): a created entity is recorded as one row, and the update of one
-- entity may be recorded by its writer.
--
-- Until now a Create Entity added one attr_instance row, and one index entry, per attribute
-- instance (eleven for a ten-attribute entity with a scope): about 100 us of PostgreSQL per
-- create. Now the INSERT trigger records the new entity's attributes as they are, in one
-- row, a *snapshot*: attr = '' (no attribute IRI is empty), at = the time it was written,
-- inst = the entity's attributes (IRI -> instance, or array of instances), with the scope
-- under its IRI. Updates and deletions are recorded per instance as before.
--
-- Reads see a snapshot as the instances it holds: the view history_instance below unfolds
-- snapshots (history_unfold) beside the ordinary rows, with the same columns. An unfolded
-- instance is named by the snapshot's number and its place in it:
-- urn:ngsi-ld:Instance:<iid>-<sub>, sub = its position among the snapshot's instances
-- (attributes in jsonb's key order, then each attribute's array). Snapshots are never
-- changed: before the temporal
-- API changes or deletes recorded instances of an entity, history_unfold_into_rows() turns
-- its snapshots into ordinary rows that keep those names (iid, sub), and the change then
-- applies to rows as before.

ALTER TABLE attr_instance ADD COLUMN sub integer;

-- A history key is only ever looked up by (tenant, id), and comes from its identity
-- sequence: the unique index on it was one more index entry per created entity, on the
-- page every create wrote. Each connection takes keys 64 at a time.
-- Keys are only ever the sequence's (GENERATED ALWAYS: an INSERT cannot choose one).
ALTER TABLE temporal_entity DROP CONSTRAINT temporal_entity_key_key;
ALTER TABLE temporal_entity ALTER COLUMN key SET GENERATED ALWAYS;
ALTER TABLE temporal_entity ALTER COLUMN key SET CACHE 64;

-- The instances of a snapshot (its attributes' as stored in entity.attrs, written at
-- `written`), as attr_instance rows would hold them.
CREATE FUNCTION history_unfold(attrs jsonb, written timestamptz)
RETURNS TABLE (attr text, dataset_id text, at timestamptz, observed_at timestamptz,
               num float8, sub integer, inst jsonb)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT a.key, i.value ->> 'datasetId', coalesce(o.observed, written), o.observed,
           CASE WHEN jsonb_typeof(i.value -> 'value') = 'number'
                THEN (i.value ->> 'value')::float8 END,
           (row_number() OVER (ORDER BY a.n, i.n))::integer,
           i.value - '{createdAt,modifiedAt}'::text[]
    FROM jsonb_each(attrs) WITH ORDINALITY AS a(key, value, n)
    CROSS JOIN LATERAL jsonb_array_elements(
        CASE jsonb_typeof(a.value) WHEN 'array' THEN a.value ELSE jsonb_build_array(a.value) END
    ) WITH ORDINALITY AS i(value, n)
    CROSS JOIN LATERAL (SELECT (i.value ->> 'observedAt')::timestamptz AS observed) AS o
$$;

-- The instances of the snapshots, unfolded, with the columns of attr_instance.
CREATE VIEW history_snapshot_instance AS
SELECT s.entity_key, u.attr, u.dataset_id, u.at, u.observed_at, s.created_at,
       s.modified_at, NULL::timestamptz AS deleted_at, u.num, s.iid, u.sub,
       NULL::uuid AS legacy_id, u.inst
FROM attr_instance s
CROSS JOIN LATERAL history_unfold(s.inst, s.at) AS u
WHERE s.attr = '';

-- Every recorded instance: the ordinary rows and the unfolded snapshots. What the temporal
-- reads select from (temporal/repository.py); a condition on entity_key is an index probe
-- in both branches. A read per attribute (lastN) takes the ordinary rows of each attribute
-- by index and the snapshots' instances once (unfolding a snapshot for each of its
-- attributes would cost the square of their number).
CREATE VIEW history_instance AS
SELECT entity_key, attr, dataset_id, at, observed_at, created_at, modified_at, deleted_at,
       num, iid, sub, legacy_id, inst
FROM attr_instance
WHERE attr <> ''
UNION ALL
SELECT entity_key, attr, dataset_id, at, observed_at, created_at, modified_at, deleted_at,
       num, iid, sub, legacy_id, inst
FROM history_snapshot_instance;

-- The snapshots of these entities become ordinary rows (same names); how many rows.
CREATE FUNCTION history_unfold_into_rows(keys bigint[]) RETURNS bigint
LANGUAGE sql AS $$
    WITH s AS (
        DELETE FROM attr_instance
        WHERE entity_key = ANY(keys) AND attr = ''
        RETURNING entity_key, iid, at, created_at, modified_at, inst
    ), made AS (
        INSERT INTO attr_instance (entity_key, attr, dataset_id, at, observed_at, created_at,
                                   modified_at, num, iid, sub, inst)
        SELECT s.entity_key, u.attr, u.dataset_id, u.at, u.observed_at, s.created_at,
               s.modified_at, u.num, s.iid, u.sub, u.inst
        FROM s CROSS JOIN LATERAL history_unfold(s.inst, s.at) AS u
        RETURNING 1
    )
    SELECT count(*) FROM made
$$;

-- INSERT: one snapshot per new entity; the key of each comes back from the upsert.
CREATE OR REPLACE FUNCTION history_entity_inserted() RETURNS trigger
LANGUAGE plpgsql SET jit = off AS $$
BEGIN
    IF history_is_off() THEN
        RETURN NULL;
    END IF;
    WITH e AS (
        INSERT INTO temporal_entity AS t (tenant, id, types, scopes, created_at, modified_at)
        SELECT n.tenant, n.id, n.types, n.scopes, n.created_at, n.modified_at FROM new_rows n
        ON CONFLICT (tenant, id) DO UPDATE
            SET types = EXCLUDED.types, scopes = EXCLUDED.scopes,
                modified_at = EXCLUDED.modified_at, deleted_at = NULL
        RETURNING t.tenant, t.id, t.key
    )
    INSERT INTO attr_instance (entity_key, attr, at, created_at, modified_at, inst)
    SELECT e.key, '', n.modified_at, n.modified_at, n.modified_at,
           CASE WHEN n.scopes IS NULL THEN n.attrs
                ELSE n.attrs || jsonb_build_object('https://uri.etsi.org/ngsi-ld/scope',
                                                   history_scope(n.scopes)) END
    FROM new_rows n JOIN e ON e.tenant = n.tenant AND e.id = n.id
    WHERE n.attrs <> '{}'::jsonb OR n.scopes IS NOT NULL;
    RETURN NULL;
END $$;

-- The history key of an entity for an update written at `written`, made or put right from
-- its row when its history entity is missing or out of date (an entity written while the
-- history was off).
CREATE FUNCTION history_entity_key(tenant_ text, id_ text, written timestamptz)
RETURNS bigint
LANGUAGE sql AS $$
    INSERT INTO temporal_entity AS t (tenant, id, types, scopes, created_at, modified_at)
    SELECT e.tenant, e.id, e.types, e.scopes, e.created_at, written
    FROM entity e WHERE e.tenant = tenant_ AND e.id = id_
    ON CONFLICT (tenant, id) DO UPDATE
        SET types = EXCLUDED.types, scopes = EXCLUDED.scopes,
            modified_at = EXCLUDED.modified_at, deleted_at = NULL
    RETURNING t.key
$$;

-- UPDATE: the instances that are new or changed, and deletions of those that are gone.
--
-- The writer of an update of one entity may record them itself, in the statement that
-- updates it (entities/repository.py ``save_if``, from the entity it had before and after:
-- ngsild/history.py); it then sets mims.history_changes to 'recorded' in that statement,
-- and this trigger takes that (clears it) and records nothing more: the writer knew what
-- changed, where this trigger would compare every attribute of the entity.
-- Otherwise (batches, SQL, types or scopes changed), the attributes that differ between
-- the old and the new rows are found here, and compared instance by instance. Both record
-- the same rows (tests/integration/test_history_changes.py).
CREATE OR REPLACE FUNCTION history_entity_updated() RETURNS trigger
LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    cleared text;
BEGIN
    IF current_setting('mims.history_changes', true) = 'recorded' THEN
        cleared := set_config('mims.history_changes', '', true);
        RETURN NULL;
    END IF;
    IF history_is_off() THEN
        RETURN NULL;
    END IF;
    -- No row lock when nothing changes (ON CONFLICT DO UPDATE would take one).
    INSERT INTO temporal_entity AS t (tenant, id, types, scopes, created_at, modified_at)
    SELECT n.tenant, n.id, n.types, n.scopes, n.created_at, n.modified_at FROM new_rows n
    WHERE NOT EXISTS (
        SELECT 1 FROM temporal_entity x
        WHERE x.tenant = n.tenant AND x.id = n.id AND x.types = n.types
          AND x.scopes IS NOT DISTINCT FROM n.scopes AND x.deleted_at IS NULL)
    ON CONFLICT (tenant, id) DO UPDATE
        SET types = EXCLUDED.types, scopes = EXCLUDED.scopes,
            modified_at = EXCLUDED.modified_at, deleted_at = NULL;
    WITH w AS MATERIALIZED (
        SELECT (SELECT t.key FROM temporal_entity t WHERE t.tenant = r.tenant AND t.id = r.id)
                   AS key,
               r.attrs, p.attrs AS before, r.scopes, p.scopes AS scopes_before,
               r.modified_at AS written
        FROM new_rows r JOIN old_rows p ON p.tenant = r.tenant AND p.id = r.id
    ), a AS (  -- the attributes that differ, with their values before and after
        SELECT w.key, w.written, x.key AS attr, x.value AS now, w.before -> x.key AS was
        FROM w CROSS JOIN LATERAL jsonb_each(w.attrs) AS x
        WHERE w.before -> x.key IS DISTINCT FROM x.value
        UNION ALL
        SELECT w.key, w.written, x.key, NULL, x.value
        FROM w CROSS JOIN LATERAL jsonb_each(w.before) AS x
        WHERE NOT w.attrs ? x.key
    ), n AS (  -- '' stands for the default instance: equality joins are hashed
        SELECT a.key, a.written, a.attr, coalesce(i ->> 'datasetId', '') AS ds, i AS inst
        FROM a CROSS JOIN LATERAL history_instances(a.now) AS i
        WHERE a.now IS NOT NULL
    ), o AS (
        SELECT a.key, a.written, a.attr, coalesce(i ->> 'datasetId', '') AS ds, i AS inst
        FROM a CROSS JOIN LATERAL history_instances(a.was) AS i
        WHERE a.was IS NOT NULL
    ), changed AS (
        SELECT n.key, n.attr, n.ds, n.inst, n.written
        FROM n LEFT JOIN o ON o.key = n.key AND o.attr = n.attr AND o.ds = n.ds
        WHERE o.inst IS DISTINCT FROM n.inst
    ), gone AS (
        SELECT o.key, o.attr, o.ds, o.inst, o.written
        FROM o
        WHERE NOT EXISTS (
            SELECT 1 FROM n WHERE n.key = o.key AND n.attr = o.attr AND n.ds = o.ds)
    )
    INSERT INTO attr_instance (entity_key, attr, dataset_id, at, observed_at,
                               created_at, modified_at, deleted_at, num, inst)
    SELECT c.key, c.attr, nullif(c.ds, ''), coalesce(x.observed, c.written), x.observed,
           c.written, c.written, NULL,
           CASE WHEN jsonb_typeof(c.inst -> 'value') = 'number'
                THEN (c.inst ->> 'value')::float8 END,
           c.inst - '{createdAt,modifiedAt}'::text[]
    FROM changed c
    CROSS JOIN LATERAL (SELECT (c.inst ->> 'observedAt')::timestamptz AS observed) AS x
    UNION ALL
    SELECT g.key, g.attr, nullif(g.ds, ''), g.written, NULL, g.written, g.written, g.written,
           NULL, history_deletion(g.inst, g.written)
    FROM gone g
    UNION ALL
    SELECT w.key, 'https://uri.etsi.org/ngsi-ld/scope', NULL, w.written, NULL,
           w.written, w.written,
           CASE WHEN cardinality(w.scopes) > 0 THEN NULL ELSE w.written END,
           NULL, history_scope(w.scopes)
    FROM w
    WHERE w.scopes_before IS DISTINCT FROM w.scopes;
    RETURN NULL;
END $$;

-- Attribute documents (1-3 KB for a Smart Data Models entity) are compressed with lz4 where
-- the server has it: several times faster than the default pglz, which a create paid twice
-- (the entity, its snapshot). A server built without lz4 keeps pglz.
-- Partitions made from now on take the parent's; those that exist are set one by one.
DO $$
DECLARE
    r record;
BEGIN
    ALTER TABLE entity ALTER COLUMN attrs SET COMPRESSION lz4;
    ALTER TABLE attr_instance ALTER COLUMN inst SET COMPRESSION lz4;
    FOR r IN SELECT i.inhrelid::regclass AS part FROM pg_inherits i
             WHERE i.inhparent = 'attr_instance'::regclass
    LOOP
        EXECUTE format('ALTER TABLE %s ALTER COLUMN inst SET COMPRESSION lz4', r.part);
    END LOOP;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available: attribute documents stay compressed with pglz';
END $$;
