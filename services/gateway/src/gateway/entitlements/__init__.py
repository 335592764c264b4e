"""Entitlements read from the marketplace: which party may read which entity types."""
