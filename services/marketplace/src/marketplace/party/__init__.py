"""TMF632 Party Management."""
