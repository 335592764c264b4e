-- Every kind of catalogue record in one table (datasets, distributions, data services,
-- series, catalogues, agents, contact points, data models, tools). The record is kept
-- whole as JSON; what search, facets, references and harvesting read are columns.

-- tsvector concatenation as an aggregate (one tsvector per language of a text).
CREATE AGGREGATE tsv_agg(tsvector) (SFUNC = tsvector_concat, STYPE = tsvector, INITCOND = '');

-- The PostgreSQL text search configuration of a BCP 47 language tag.
CREATE FUNCTION catalogue_lang_config(tag text) RETURNS regconfig
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE lower(split_part(tag, '-', 1))
    WHEN 'en' THEN 'english' WHEN 'nl' THEN 'dutch' WHEN 'fr' THEN 'french'
    WHEN 'de' THEN 'german' WHEN 'es' THEN 'spanish' WHEN 'it' THEN 'italian'
    WHEN 'pt' THEN 'portuguese' WHEN 'sv' THEN 'swedish' WHEN 'da' THEN 'danish'
    WHEN 'fi' THEN 'finnish' WHEN 'hu' THEN 'hungarian' WHEN 'ro' THEN 'romanian'
    WHEN 'no' THEN 'norwegian' WHEN 'ru' THEN 'russian'
    ELSE 'simple' END::regconfig
$$;

-- The weighted search vector of a record: title (A) > keywords (B) > description (C).
-- Each language of a text is stemmed with its own configuration, and every word is also
-- kept unstemmed ('simple'), so a query matches in the reader's language or literally.
CREATE FUNCTION catalogue_lang_tsv(texts jsonb, weight "char") RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(tsv_agg(setweight(
           to_tsvector(catalogue_lang_config(key), value) || to_tsvector('simple', value),
           weight)), '')
  FROM jsonb_each_text(CASE WHEN jsonb_typeof(texts) = 'object' THEN texts ELSE '{}' END)
$$;

CREATE FUNCTION catalogue_tsv(r jsonb) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT catalogue_lang_tsv(r -> 'title', 'A')
      || setweight(to_tsvector('simple', coalesce((
           SELECT string_agg(k, ' ') FROM jsonb_array_elements_text(
             CASE WHEN jsonb_typeof(r -> 'keyword') = 'array' THEN r -> 'keyword' ELSE '[]' END) k),
           '')), 'B')
      || catalogue_lang_tsv(r -> 'description', 'C')
$$;

CREATE TABLE record (
    kind        text        NOT NULL,
    id          text        NOT NULL,
    -- the record this one belongs to (a distribution's dataset)
    parent      text,
    -- the harvest source it came from (NULL: written through the API)
    source      text,
    record      jsonb       NOT NULL,
    issued      timestamptz NOT NULL DEFAULT now(),
    modified    timestamptz NOT NULL DEFAULT now(),
    -- 'kind/id' of every record this one names
    refs        text[]      NOT NULL DEFAULT '{}',
    themes      text[]      NOT NULL DEFAULT '{}',
    orgs        text[]      NOT NULL DEFAULT '{}',
    formats     text[]      NOT NULL DEFAULT '{}',
    licences    text[]      NOT NULL DEFAULT '{}',
    tags        text[]      NOT NULL DEFAULT '{}',
    models      text[]      NOT NULL DEFAULT '{}',
    title_sort  text        NOT NULL DEFAULT '',
    tsv         tsvector    GENERATED ALWAYS AS (catalogue_tsv(record)) STORED,
    PRIMARY KEY (kind, id)
);
CREATE INDEX record_kind_modified_idx ON record (kind, modified, id);
CREATE INDEX record_parent_idx ON record (parent, kind) WHERE parent IS NOT NULL;
CREATE INDEX record_source_idx ON record (source) WHERE source IS NOT NULL;
CREATE INDEX record_refs_idx ON record USING gin (refs);
-- Search and facets read datasets only: partial indexes keep other kinds out of them.
CREATE INDEX record_tsv_idx ON record USING gin (tsv) WHERE kind = 'dataset';
CREATE INDEX record_themes_idx ON record USING gin (themes) WHERE kind = 'dataset';
CREATE INDEX record_orgs_idx ON record USING gin (orgs) WHERE kind = 'dataset';
CREATE INDEX record_formats_idx ON record USING gin (formats) WHERE kind = 'dataset';
CREATE INDEX record_licences_idx ON record USING gin (licences) WHERE kind = 'dataset';
CREATE INDEX record_tags_idx ON record USING gin (tags) WHERE kind = 'dataset';
CREATE INDEX record_models_idx ON record USING gin (models) WHERE kind = 'dataset';

INSERT INTO record (kind, id, record, issued, modified, tags, title_sort)
SELECT 'dataset', id, record, issued, modified,
       ARRAY(SELECT DISTINCT lower(k) FROM jsonb_array_elements_text(
             CASE WHEN jsonb_typeof(record -> 'keyword') = 'array' THEN record -> 'keyword'
                  ELSE '[]' END) k ORDER BY 1),
       lower(coalesce(record -> 'title' ->> 'en', ''))
FROM dataset;
DROP TABLE dataset;

-- ODRL policies the marketplace publishes on datasets (odrl:hasPolicy).
CREATE TABLE policy (
    dataset_id  text        NOT NULL,
    policy_id   text        NOT NULL,
    body        jsonb       NOT NULL,
    modified    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dataset_id, policy_id)
);

-- Where records are harvested from, and what each harvest did.
CREATE TABLE harvest_source (
    id          text        PRIMARY KEY,
    record      jsonb       NOT NULL,
    interval_s  integer,
    next_run    timestamptz,
    created     timestamptz NOT NULL DEFAULT now(),
    modified    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX harvest_source_next_run_idx ON harvest_source (next_run) WHERE next_run IS NOT NULL;

CREATE TABLE harvest_job (
    id          bigserial   PRIMARY KEY,
    source_id   text        NOT NULL REFERENCES harvest_source (id) ON DELETE CASCADE,
    started     timestamptz NOT NULL,
    finished    timestamptz NOT NULL,
    report      jsonb       NOT NULL
);
CREATE INDEX harvest_job_source_idx ON harvest_job (source_id, id DESC);
