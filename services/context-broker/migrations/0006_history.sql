-- History of entities: the temporal representation (ETSI GS CIM 009 V1.8.1, 4.5.? temporal
-- representation of an entity, 5.6.11-5.6.16 temporal provision, 5.7.3-5.7.4 temporal
-- consumption).
--
-- Every change of the current-state table `entity` is recorded here in the same transaction,
-- whatever wrote it (entities/, batch/, purge), by the statement-level triggers below: each
-- attribute instance that is new or differs from the one it replaces (same attribute, same
-- datasetId) becomes a row of attr_instance; an instance that disappears, or the instances of
-- a deleted entity, are recorded as deletions (value "urn:ngsi-ld:null", deletedAt); a change
-- of the entity's scope is recorded as an instance of "scope".
-- The temporal API (context_broker/temporal) writes its instances itself and turns the
-- triggers off for its own transaction (set_config('mims.history', 'off', true)), so that
-- nothing is recorded twice.

-- The entity as a whole in the history: its types and scopes, and whether (when) it was
-- deleted from the current state. Kept when the current entity is deleted.
CREATE TABLE temporal_entity (
    tenant       text        NOT NULL,
    id           text        NOT NULL,
    types        text[]      NOT NULL,
    scopes       text[],
    created_at   timestamptz NOT NULL,
    modified_at  timestamptz NOT NULL,
    deleted_at   timestamptz,
    PRIMARY KEY (tenant, id)
);

-- One row per attribute instance ever written. `at` is the time the instance is about:
-- its observedAt, else the time it was written (modifiedAt; deletedAt for deletions). The
-- table is range-partitioned by `at` (one partition per month, made ahead of time by
-- history_add_partitions(), which the broker calls at start-up; anything else lands in the
-- DEFAULT partition). The index serves the reads: one attribute of one entity over a time
-- range, in time order either way (lastN reads it backwards).
-- `inst` is the instance as stored in entity.attrs (names expanded); `num` its value when
-- that is a number (aggregations read it instead of parsing `inst`).
CREATE TABLE attr_instance (
    tenant       text        NOT NULL,
    entity_id    text        NOT NULL,
    attr         text        NOT NULL,
    dataset_id   text,
    instance_id  uuid        NOT NULL DEFAULT gen_random_uuid(),
    at           timestamptz NOT NULL,
    observed_at  timestamptz,
    created_at   timestamptz NOT NULL,
    modified_at  timestamptz NOT NULL,
    deleted_at   timestamptz,
    num          float8,
    inst         jsonb       NOT NULL
) PARTITION BY RANGE (at);
CREATE TABLE attr_instance_default PARTITION OF attr_instance DEFAULT;
CREATE INDEX attr_instance_series_idx ON attr_instance (tenant, entity_id, attr, at);

-- Monthly partitions from the current month to `months_ahead` months later (UTC). A month
-- whose rows are already in the DEFAULT partition keeps them there (creating the partition
-- would fail). Returns the number of partitions made. Safe to call from several replicas.
CREATE FUNCTION history_add_partitions(months_ahead integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    month timestamp := date_trunc('month', now() AT TIME ZONE 'UTC');
    name  text;
    made  integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(7311482906);
    FOR i IN 0..months_ahead LOOP
        name := 'attr_instance_' || to_char(month, 'YYYY_MM');
        IF to_regclass(name) IS NULL THEN
            BEGIN
                EXECUTE format(
                    'CREATE TABLE %I PARTITION OF attr_instance FOR VALUES FROM (%L) TO (%L)',
                    name, month::text || '+00', (month + interval '1 month')::text || '+00');
                made := made + 1;
            EXCEPTION WHEN check_violation OR duplicate_table THEN
                NULL;
            END;
        END IF;
        month := month + interval '1 month';
    END LOOP;
    RETURN made;
END $$;
SELECT history_add_partitions(3);

-- The instances of an attribute value as stored: one object, or an array of them.
CREATE FUNCTION history_instances(value jsonb) RETURNS SETOF jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT i FROM jsonb_array_elements(
        CASE jsonb_typeof(value) WHEN 'array' THEN value ELSE jsonb_build_array(value) END) AS i
$$;

-- The deletion record of an instance (4.5.?): its type, the null value in the member of its
-- kind, its datasetId, and deletedAt.
CREATE FUNCTION history_deletion(inst jsonb, at timestamptz) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'type', inst -> 'type',
        CASE inst ->> 'type'
            WHEN 'Relationship' THEN 'object'
            WHEN 'ListRelationship' THEN 'objectList'
            WHEN 'LanguageProperty' THEN 'languageMap'
            WHEN 'VocabProperty' THEN 'vocab'
            WHEN 'JsonProperty' THEN 'json'
            WHEN 'ListProperty' THEN 'valueList'
            ELSE 'value' END,
        CASE inst ->> 'type'
            WHEN 'LanguageProperty' THEN '{"@none": "urn:ngsi-ld:null"}'::jsonb
            WHEN 'ListRelationship' THEN '["urn:ngsi-ld:null"]'::jsonb
            WHEN 'ListProperty' THEN '["urn:ngsi-ld:null"]'::jsonb
            ELSE '"urn:ngsi-ld:null"'::jsonb END,
        'datasetId', inst -> 'datasetId',
        'deletedAt', to_jsonb(at)))
$$;

-- The scope of an entity (4.18) is recorded like a Property whose value is the array of
-- scopes ([] once deleted), under the IRI the core @context gives "scope".
CREATE FUNCTION history_scope(scopes text[]) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT jsonb_build_object('type', 'Property', 'value', coalesce(to_jsonb(scopes), '[]'::jsonb))
$$;

CREATE FUNCTION history_is_off() RETURNS boolean
LANGUAGE sql STABLE AS $$ SELECT current_setting('mims.history', true) = 'off' $$;

-- INSERT: every instance of the new entities.
CREATE FUNCTION history_entity_inserted() RETURNS trigger
LANGUAGE plpgsql SET jit = off AS $$
BEGIN
    IF history_is_off() THEN
        RETURN NULL;
    END IF;
    INSERT INTO temporal_entity AS t (tenant, id, types, scopes, created_at, modified_at)
    SELECT n.tenant, n.id, n.types, n.scopes, n.created_at, n.modified_at FROM new_rows n
    ON CONFLICT (tenant, id) DO UPDATE
        SET types = EXCLUDED.types, scopes = EXCLUDED.scopes,
            modified_at = EXCLUDED.modified_at, deleted_at = NULL;
    INSERT INTO attr_instance (tenant, entity_id, attr, dataset_id, at, observed_at,
                               created_at, modified_at, num, inst)
    SELECT n.tenant, n.id, a.key, i ->> 'datasetId',
           coalesce((i ->> 'observedAt')::timestamptz, n.modified_at),
           (i ->> 'observedAt')::timestamptz,
           n.modified_at, n.modified_at,
           CASE WHEN jsonb_typeof(i -> 'value') = 'number' THEN (i ->> 'value')::float8 END,
           i
    FROM new_rows n
    CROSS JOIN LATERAL jsonb_each(n.attrs) AS a
    CROSS JOIN LATERAL history_instances(a.value) AS i
    UNION ALL
    SELECT n.tenant, n.id, 'https://uri.etsi.org/ngsi-ld/scope', NULL, n.modified_at, NULL,
           n.modified_at, n.modified_at, NULL, history_scope(n.scopes)
    FROM new_rows n
    WHERE n.scopes IS NOT NULL;
    RETURN NULL;
END $$;

-- UPDATE: the instances that are new or changed, and deletions of those that are gone.
CREATE FUNCTION history_entity_updated() RETURNS trigger
LANGUAGE plpgsql SET jit = off AS $$
BEGIN
    IF history_is_off() THEN
        RETURN NULL;
    END IF;
    INSERT INTO temporal_entity AS t (tenant, id, types, scopes, created_at, modified_at)
    SELECT n.tenant, n.id, n.types, n.scopes, n.created_at, n.modified_at FROM new_rows n
    ON CONFLICT (tenant, id) DO UPDATE
        SET types = EXCLUDED.types, scopes = EXCLUDED.scopes,
            modified_at = EXCLUDED.modified_at, deleted_at = NULL
        WHERE t.types IS DISTINCT FROM EXCLUDED.types
           OR t.scopes IS DISTINCT FROM EXCLUDED.scopes
           OR t.deleted_at IS NOT NULL;
    WITH n AS (
        SELECT r.tenant, r.id, r.modified_at AS written, a.key AS attr,
               coalesce(i ->> 'datasetId', '') AS ds, i AS inst
        FROM new_rows r
        CROSS JOIN LATERAL jsonb_each(r.attrs) AS a
        CROSS JOIN LATERAL history_instances(a.value) AS i
    ), o AS (
        SELECT r.tenant, r.id, a.key AS attr, coalesce(i ->> 'datasetId', '') AS ds, i AS inst
        FROM old_rows r
        CROSS JOIN LATERAL jsonb_each(r.attrs) AS a
        CROSS JOIN LATERAL history_instances(a.value) AS i
    ), changed AS (  -- '' stands for the default instance: equality joins are hashed
        SELECT n.tenant, n.id, n.attr, n.ds, n.inst, n.written
        FROM n LEFT JOIN o
          ON o.tenant = n.tenant AND o.id = n.id AND o.attr = n.attr AND o.ds = n.ds
        WHERE o.inst IS DISTINCT FROM n.inst
    ), gone AS (
        SELECT o.tenant, o.id, o.attr, o.ds, o.inst, w.modified_at AS written
        FROM o
        JOIN new_rows w ON w.tenant = o.tenant AND w.id = o.id
        WHERE NOT EXISTS (
            SELECT 1 FROM n
            WHERE n.tenant = o.tenant AND n.id = o.id AND n.attr = o.attr AND n.ds = o.ds)
    )
    INSERT INTO attr_instance (tenant, entity_id, attr, dataset_id, at, observed_at,
                               created_at, modified_at, deleted_at, num, inst)
    SELECT c.tenant, c.id, c.attr, nullif(c.ds, ''),
           coalesce((c.inst ->> 'observedAt')::timestamptz, c.written),
           (c.inst ->> 'observedAt')::timestamptz,
           c.written, c.written, NULL,
           CASE WHEN jsonb_typeof(c.inst -> 'value') = 'number'
                THEN (c.inst ->> 'value')::float8 END,
           c.inst
    FROM changed c
    UNION ALL
    SELECT g.tenant, g.id, g.attr, nullif(g.ds, ''), g.written, NULL, g.written, g.written, g.written,
           NULL, history_deletion(g.inst, g.written)
    FROM gone g
    UNION ALL
    SELECT r.tenant, r.id, 'https://uri.etsi.org/ngsi-ld/scope', NULL, r.modified_at, NULL,
           r.modified_at, r.modified_at,
           CASE WHEN cardinality(r.scopes) > 0 THEN NULL ELSE r.modified_at END,
           NULL, history_scope(r.scopes)
    FROM new_rows r
    JOIN old_rows p ON p.tenant = r.tenant AND p.id = r.id
    WHERE p.scopes IS DISTINCT FROM r.scopes;
    RETURN NULL;
END $$;

-- DELETE: the entity is marked deleted and each of its instances recorded as deleted.
CREATE FUNCTION history_entity_deleted() RETURNS trigger
LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    moment timestamptz := clock_timestamp();
BEGIN
    IF history_is_off() THEN
        RETURN NULL;
    END IF;
    INSERT INTO temporal_entity AS t (tenant, id, types, scopes, created_at, modified_at,
                                      deleted_at)
    SELECT o.tenant, o.id, o.types, o.scopes, o.created_at, moment, moment FROM old_rows o
    ON CONFLICT (tenant, id) DO UPDATE SET modified_at = moment, deleted_at = moment;
    INSERT INTO attr_instance (tenant, entity_id, attr, dataset_id, at, observed_at,
                               created_at, modified_at, deleted_at, num, inst)
    SELECT o.tenant, o.id, a.key, i ->> 'datasetId', moment, NULL::timestamptz, moment, moment,
           moment, NULL::float8, history_deletion(i, moment)
    FROM old_rows o
    CROSS JOIN LATERAL jsonb_each(o.attrs) AS a
    CROSS JOIN LATERAL history_instances(a.value) AS i
    UNION ALL
    SELECT o.tenant, o.id, 'https://uri.etsi.org/ngsi-ld/scope', NULL, moment, NULL, moment,
           moment, moment, NULL, history_scope(NULL)
    FROM old_rows o
    WHERE cardinality(o.scopes) > 0;
    RETURN NULL;
END $$;

-- PostgreSQL allows transition tables on a trigger for one event only: three triggers.
-- The trigger functions run without JIT: the planner cannot size jsonb_each over a batch and
-- would compile (~1 s) statements that take milliseconds.
CREATE TRIGGER entity_history_insert AFTER INSERT ON entity
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION history_entity_inserted();
CREATE TRIGGER entity_history_update AFTER UPDATE ON entity
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION history_entity_updated();
CREATE TRIGGER entity_history_delete AFTER DELETE ON entity
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION history_entity_deleted();
