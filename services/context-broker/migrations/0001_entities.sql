-- NGSI-LD entities (ETSI GS CIM 009). One row per entity and tenant ('' is the default
-- tenant). The attributes are kept as JSON; id and types are columns so that the indexed
-- queries stay logarithmic in the number of entities.
CREATE TABLE entity (
    tenant       text        NOT NULL DEFAULT '',
    id           text        NOT NULL,
    types        text[]      NOT NULL,
    attrs        jsonb       NOT NULL,
    context      jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    modified_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, id)
);
CREATE INDEX entity_types_idx ON entity USING gin (types);
