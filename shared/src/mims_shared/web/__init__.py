"""The HTTP layer every service shares: app factory, error rendering, JSON bodies, middleware."""
