"""Pure routing logic: which upstream serves a path."""
