"""Context broker settings (environment prefix ``BROKER_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from mims_shared.settings import ServiceSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


class BrokerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BROKER_", extra="ignore", frozen=True)

    service_name: str = "context-broker"
    #: The port FIWARE tutorials and NGSI-LD clients expect.
    port: int = 1026
