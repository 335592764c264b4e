"""Marketplace settings (environment prefix ``MARKET_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from mims_shared.settings import ServiceSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


class MarketSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MARKET_", extra="ignore", frozen=True)

    service_name: str = "marketplace"
    port: int = 8082
    #: Base URL clients reach the marketplace at (through the gateway), used in ``href``.
    public_base_url: str = "http://localhost:8080"
