-- Attribute names and types are stored expanded to IRIs from here on (compiled JSON-LD
-- contexts). Indexes for the indexed queries of Query Entities (ETSI GS CIM 009, 5.7.2):
-- by type (GIN on the type array), by attribute value (GIN jsonb_path_ops serves @? and @@
-- equality paths), by scope, and paging in id order within a tenant (the primary key).
ALTER TABLE entity ADD COLUMN scopes text[];
CREATE INDEX entity_attrs_idx ON entity USING gin (attrs jsonb_path_ops);
CREATE INDEX entity_scopes_idx ON entity USING gin (scopes);
