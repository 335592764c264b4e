"""Marketplace settings (environment prefix ``MARKET_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mims_shared.settings import ServiceSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


class MarketSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MARKET_", extra="ignore", frozen=True)

    service_name: str = "marketplace"
    port: int = 8082
    #: Base URL clients reach the marketplace at (through the gateway), used in ``href``.
    public_base_url: str = "http://localhost:8080"
    #: Base URL of the catalogue: offerings' datasets and data services are checked there,
    #: and launched offerings' ODRL policies are pushed to it.
    catalogue_url: str = "http://127.0.0.1:8081"
    #: Time limit of calls to the catalogue and of event deliveries to listeners.
    http_timeout_s: float = Field(default=5.0, gt=0)
    #: Event delivery: seconds between outbox polls, first retry delay (doubled each time),
    #: attempts before giving up.
    outbox_poll_s: float = Field(default=1.0, gt=0)
    outbox_backoff_s: float = Field(default=0.5, gt=0)
    outbox_max_attempts: int = Field(default=8, ge=1, le=100)
