"""Entitlements: what completed orders grant, read by the gateway."""
