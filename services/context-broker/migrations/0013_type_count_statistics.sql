-- How many entities have several types: PostgreSQL keeps no statistics of an expression
-- unless asked, and guessed a third of any tenant's entities for cardinality(types) > 1.
-- Query Entities probes for such entities (entities/repository.py, through the partial
-- index of migration 0011) before reading them; with that guess, the probe could read the
-- whole table instead. ANALYZE now keeps the distribution of cardinality(types).
CREATE STATISTICS entity_type_count_stats ON (cardinality(types)) FROM entity;
ANALYZE entity;
