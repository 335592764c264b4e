-- DCAT-AP datasets. The record is kept whole as JSON; what we search and sort on is a column.
CREATE TABLE dataset (
    id          text PRIMARY KEY,
    record      jsonb       NOT NULL,
    issued      timestamptz NOT NULL DEFAULT now(),
    modified    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dataset_modified_idx ON dataset (modified, id);
