"""The MIMs stack's common library: settings, errors, database, health, logging, telemetry.

One concept per module; services import what they need and nothing here knows any service.
"""
