"""Temporal evolution of entities: history storage and the temporal API."""
