"""API clients of the gateway (machine clients with API keys)."""
