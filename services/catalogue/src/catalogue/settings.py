"""Catalogue settings (environment prefix ``CATALOGUE_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mims_shared.settings import ServiceSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


class CatalogueSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CATALOGUE_", extra="ignore", frozen=True)

    service_name: str = "catalogue"
    port: int = 8081
    #: Base URL the catalogue is published at; record URIs are built on it and stay stable.
    public_base_url: str = "http://localhost:8080"

    #: How the catalogue document names and describes the catalogue.
    catalogue_title: str = "City data catalogue"
    catalogue_description: str = (
        "Datasets, data services, data models and digital tools of the city"
    )
    catalogue_language: str = "en"
    publisher_name: str = "City"
    homepage: str | None = None
    #: The context broker whose entity types become datasets (NGSI-LD discovery).
    broker_url: str = "http://127.0.0.1:1026"
    #: How the broker is reached by the catalogue's readers (the gateway); access URLs of
    #: the NGSI-LD distributions are built on it.
    broker_public_url: str = "http://localhost:8080"
    #: Harvest the broker every so many seconds (0: only on demand).
    broker_harvest_interval_s: int = Field(default=0, ge=0)
    #: The NGSI-LD tenants to harvest ("" is the default tenant).
    broker_tenants: list[str] = Field(default_factory=lambda: [""])
    #: Time limits of a harvest's HTTP calls.
    harvest_timeout_s: float = Field(default=10.0, gt=0)
    #: How often the scheduler looks for due harvest sources (0: no scheduler).
    harvest_poll_s: float = Field(default=5.0, ge=0)
    #: Largest harvested document or page, in bytes.
    harvest_max_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    #: Search results kept per process, valid until the catalogue next changes (0: none).
    search_cache_size: int = Field(default=1024, ge=0, le=100_000)
    #: Answer package_search from an in-memory index of the datasets, kept at the
    #: catalogue's write version (False: every search is one SQL statement).
    search_index: bool = True
    #: How often the index looks for writes without waiting for a search (0: never).
    search_index_refresh_s: float = Field(default=1.0, ge=0)
