"""JSON-LD @context management: resolving, fetching, caching and hosting contexts."""
