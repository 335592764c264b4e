"""Context discovery: the entity types and attributes the entities of a tenant have."""
