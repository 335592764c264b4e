"""A lean HTTP/1.1 client for the proxy's hot path: pooled keep-alive connections."""
