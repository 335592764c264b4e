-- Reference terms: the filter TMF clients use most after the status is on the id of a
-- referenced entity (`category.id=...`, `productOffering.id=...`, `productSpecification.id=...`,
-- TMF630 part 1, 3.3). A GIN bitmap over the JSON finds those rows, but counting them exactly
-- (X-Total-Count) and paging them in creation order means reading and sorting every match.
-- This narrow table holds one row per (resource, first-level member, string id) with the
-- resource's status and creation time, so that such a filter is counted from an index alone
-- and paged in index order, like the status column. Kept by a trigger, so every writer
-- (the API, bulk loads, COPY) keeps it right.
CREATE TABLE tmf_term (
    kind        text        NOT NULL,
    term        text        NOT NULL,   -- '<member>.id=<id>'
    status      text,
    created_at  timestamptz NOT NULL,
    id          uuid        NOT NULL
);
CREATE INDEX tmf_term_idx ON tmf_term (kind, term, status, created_at, id);
CREATE INDEX tmf_term_id_idx ON tmf_term (id);

-- The terms of a resource: for every first-level member that is an object or an array of
-- objects, each string `id` in it (lax SQL/JSON path: the same elements `$."m"."id"` sees).
-- Only member names a filter can spell (no dot, no '=') are kept, so a term reads back one way.
CREATE FUNCTION tmf_terms(doc jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT m.key || '.id=' || (v #>> '{}')), '{}')
    FROM jsonb_each(doc) AS m(key, value)
    CROSS JOIN LATERAL jsonb_path_query(m.value, 'lax $.id[*]') AS v
    WHERE jsonb_typeof(m.value) IN ('object', 'array')
      AND m.key ~ '^[A-Za-z@_][A-Za-z0-9@_-]*$'
      AND jsonb_typeof(v) = 'string'
$$;

-- Exact counts (X-Total-Count) of these kinds by status and by term: a list filtered on
-- them reads a row or a few for its total instead of counting thousands of index entries
-- on every page. term NULL counts every resource of the kind with that status; status
-- NULL those without one. Kept in the writing transaction, so counts are as transactional
-- as the rows, by statement-level triggers: one upsert per counter a statement moves, in
-- a fixed order (a bulk load moves each counter once, not once per row).
CREATE TABLE tmf_count (
    kind    text   NOT NULL,
    term    text,
    status  text,
    n       bigint NOT NULL,
    CONSTRAINT tmf_count_key UNIQUE NULLS NOT DISTINCT (kind, term, status)
);

-- The kinds counted, for a cheap way out of statements on other kinds (orders, products:
-- most writes), which still fire these statement-level triggers.
CREATE FUNCTION tmf_counted(k text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT k IN ('productCatalog', 'category', 'productSpecification', 'productOffering',
                 'productOfferingPrice')
$$;

-- The counters one resource moves: (kind, NULL, status) and one per term.
CREATE FUNCTION tmf_counters(k text, s text, doc jsonb)
RETURNS TABLE (kind text, term text, status text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT k, t, s FROM (SELECT NULL::text UNION ALL SELECT unnest(tmf_terms(doc))) AS x(t)
    WHERE tmf_counted(k)
$$;

CREATE FUNCTION tmf_count_sync() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NOT EXISTS (SELECT FROM new_rows WHERE tmf_counted(kind)) THEN
            RETURN NULL;
        END IF;
        INSERT INTO tmf_count AS c (kind, term, status, n)
        SELECT x.kind, x.term, x.status, count(*)
        FROM new_rows AS r, tmf_counters(r.kind, r.status, r.resource) AS x
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT ON CONSTRAINT tmf_count_key DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSIF TG_OP = 'DELETE' THEN
        IF NOT EXISTS (SELECT FROM old_rows WHERE tmf_counted(kind)) THEN
            RETURN NULL;
        END IF;
        INSERT INTO tmf_count AS c (kind, term, status, n)
        SELECT x.kind, x.term, x.status, -count(*)
        FROM old_rows AS r, tmf_counters(r.kind, r.status, r.resource) AS x
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT ON CONSTRAINT tmf_count_key DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSE
        IF NOT EXISTS (SELECT FROM new_rows WHERE tmf_counted(kind)) THEN
            RETURN NULL;
        END IF;
        INSERT INTO tmf_count AS c (kind, term, status, n)
        SELECT x.kind, x.term, x.status, sum(x.d)
        FROM (
            SELECT y.kind, y.term, y.status, -1 AS d
            FROM old_rows AS r, tmf_counters(r.kind, r.status, r.resource) AS y
            UNION ALL
            SELECT y.kind, y.term, y.status, 1
            FROM new_rows AS r, tmf_counters(r.kind, r.status, r.resource) AS y
        ) AS x
        GROUP BY 1, 2, 3 HAVING sum(x.d) <> 0 ORDER BY 1, 2, 3
        ON CONFLICT ON CONSTRAINT tmf_count_key DO UPDATE SET n = c.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER tmf_count_insert AFTER INSERT ON tmf_resource
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tmf_count_sync();
CREATE TRIGGER tmf_count_update AFTER UPDATE ON tmf_resource
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tmf_count_sync();
CREATE TRIGGER tmf_count_delete AFTER DELETE ON tmf_resource
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION tmf_count_sync();

CREATE FUNCTION tmf_term_sync() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_terms text[];
    new_terms text[];
BEGIN
    IF TG_OP <> 'INSERT' THEN
        old_terms := tmf_terms(OLD.resource);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        new_terms := tmf_terms(NEW.resource);
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.status IS NOT DISTINCT FROM NEW.status
            AND old_terms = new_terms THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM tmf_term WHERE id = OLD.id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO tmf_term (kind, term, status, created_at, id)
        SELECT NEW.kind, t, NEW.status, NEW.created_at, NEW.id FROM unnest(new_terms) AS t;
    END IF;
    RETURN NULL;
END
$$;

-- For the read-mostly TMF620 kinds only (Kind.reference_terms): orders and products are
-- written several times each and filtered by their state, which the status column serves.
CREATE TRIGGER tmf_term_sync AFTER INSERT OR UPDATE ON tmf_resource FOR EACH ROW
    WHEN (NEW.kind IN ('productCatalog', 'category', 'productSpecification',
                       'productOffering', 'productOfferingPrice'))
    EXECUTE FUNCTION tmf_term_sync();
CREATE TRIGGER tmf_term_drop AFTER DELETE ON tmf_resource FOR EACH ROW
    WHEN (OLD.kind IN ('productCatalog', 'category', 'productSpecification',
                       'productOffering', 'productOfferingPrice'))
    EXECUTE FUNCTION tmf_term_sync();

INSERT INTO tmf_term (kind, term, status, created_at, id)
SELECT r.kind, t, r.status, r.created_at, r.id
FROM tmf_resource r CROSS JOIN LATERAL unnest(tmf_terms(r.resource)) AS t
WHERE r.kind IN ('productCatalog', 'category', 'productSpecification', 'productOffering',
                 'productOfferingPrice');
INSERT INTO tmf_count (kind, term, status, n)
SELECT kind, term, status, count(*) FROM tmf_term GROUP BY kind, term, status;
INSERT INTO tmf_count (kind, term, status, n)
SELECT kind, NULL, status, count(*) FROM tmf_resource
WHERE kind IN ('productCatalog', 'category', 'productSpecification', 'productOffering',
               'productOfferingPrice')
GROUP BY kind, status;
