"""Who is asking: bearer tokens (JWT), API keys, and the gateway's own token issuer."""
