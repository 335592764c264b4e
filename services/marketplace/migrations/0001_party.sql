-- TMF632 Party Management: organizations. The resource is kept whole as JSON (TMF resources
-- are extensible with @type/@schemaLocation); the columns we filter and sort on are real.
CREATE TABLE organization (
    id          uuid PRIMARY KEY,
    name        text        NOT NULL,
    status      text,
    resource    jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX organization_name_idx ON organization (name);
CREATE INDEX organization_created_idx ON organization (created_at, id);
