"""Pure authorisation logic: what a request needs (no web framework, no I/O)."""
