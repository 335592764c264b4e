-- @contexts stored by the broker (ETSI GS CIM 009 V1.8.1, 5.13). One row per @context the
-- broker hosts: kind 'Hosted' (added with POST /ngsi-ld/v1/jsonldContexts) and, later,
-- 'ImplicitlyCreated'. A hosted @context is served at {public URL}/ngsi-ld/v1/jsonldContexts/{id};
-- url holds the original URL of a context that has one (NULL for Hosted). Contexts fetched
-- from elsewhere ('Cached') live in each broker process's memory, not here.
-- number_of_hits and last_usage are flushed from memory when the metadata is read.
CREATE TABLE jsonld_context (
    id              text        PRIMARY KEY,
    tenant          text        NOT NULL DEFAULT '',
    kind            text        NOT NULL CHECK (kind IN ('Hosted', 'Cached', 'ImplicitlyCreated')),
    url             text,
    body            jsonb       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_usage      timestamptz,
    number_of_hits  bigint      NOT NULL DEFAULT 0
);
CREATE INDEX jsonld_context_tenant_idx ON jsonld_context (tenant, kind, created_at);
