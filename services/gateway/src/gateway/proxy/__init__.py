"""Streaming reverse proxy to the upstream services."""
