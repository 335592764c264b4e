-- Paging the entities of one type in id order (Query Entities, 5.7.2, with q): the page is
-- found by walking the type's entities in id order and testing q on each
-- (entities/repository.py, _ordered_scan). Along the primary key (tenant, id) that walk
-- also reads, and drops, every entity of the tenant whose id sorts before, whatever its
-- type: 300 ms for a page of ParkingSpot... ids behind 100,000 entities of other types.
-- The first index gives the entities whose types are exactly one type, in id order; the
-- second holds only the (few) entities with several types, so that the walk learns at once
-- whether it may use the first alone (a partial btree: its size tells the planner it is
-- small, where a GIN index lost to a sequential scan).
CREATE INDEX entity_single_type_idx ON entity (tenant, types, id);
CREATE INDEX entity_multi_type_idx ON entity (tenant) WHERE cardinality(types) > 1;
