"""Catalogue settings (environment prefix ``CATALOGUE_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from mims_shared.settings import ServiceSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


class CatalogueSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CATALOGUE_", extra="ignore", frozen=True)

    service_name: str = "catalogue"
    port: int = 8081
    #: Base URL the catalogue is published at; record URIs are built on it and stay stable.
    public_base_url: str = "http://localhost:8080"
