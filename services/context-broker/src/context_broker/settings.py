"""Context broker settings (environment prefix ``BROKER_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import DirectoryPath, Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from context_broker.entities.indexed import parse_declared
from mims_shared.settings import ServiceSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


class BrokerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BROKER_", extra="ignore", frozen=True)

    service_name: str = "context-broker"
    #: The port FIWARE tutorials and NGSI-LD clients expect.
    port: int = 1026
    #: Fetch @context documents named by URL that the broker does not hold (once, then
    #: cached). When False an unknown URL (and not in ``context_mirror``) is answered with
    #: LdContextNotAvailable.
    fetch_remote_contexts: bool = True
    context_fetch_timeout_s: float = Field(default=5.0, gt=0, le=60)
    #: A directory of @context documents for air-gapped deployments, laid out as
    #: ``wget --mirror`` leaves what it downloads: the document of
    #: ``https://host/some/path.jsonld`` is ``<dir>/host/some/path.jsonld``. A URL whose file
    #: is there is read from it instead of the network — checked, cached, counted and listed
    #: exactly as a fetched (Cached) @context, ETSI GS CIM 009 V1.8.1, 5.13.1 — and any
    #: other URL is treated as before (fetched, or LdContextNotAvailable). Nothing outside
    #: the directory is ever read (contexts/mirror.py says which URLs are mirrored). It must
    #: exist when the broker starts. None: no mirror.
    context_mirror: DirectoryPath | None = None
    #: Base URL clients reach the broker at: hosted @contexts are served under it (5.13.2).
    public_base_url: str = "http://localhost:1026"
    #: Run the notifier in this process (matching the outbox, delivering notifications).
    #: Every replica may run it: the work is shared through the database.
    notifier: bool = True
    #: How long a process owns the notifications it is sending; after a crash, another
    #: process takes them over when this has passed (it must exceed the send timeout).
    notify_lease_s: float = Field(default=30.0, gt=0, le=3600)
    #: The catalogue the MIM2 data models are read from (None: no validation).
    catalogue_url: str | None = None
    #: Validation of entities of a type that has a data model and no mode of its own.
    validation_default_mode: Literal["off", "warn", "enforce"] = "warn"
    #: How often the data models are read again from the catalogue.
    models_refresh_s: float = Field(default=10.0, gt=0, le=3600)
    #: Attribute instances returned per entity by a temporal read before the history is
    #: cut and answered 206 with a Content-Range (ETSI GS CIM 009 V1.8.1, 6.3.10).
    temporal_page_limit: int = Field(default=1000, ge=1, le=100_000)
    #: Attributes Query Entities finds matches of ``attr==value`` by (entities/indexed.py):
    #: comma-separated names (expanded with the core @context) or IRIs; one btree index
    #: each, made sure of at start-up.
    indexed_attributes: Annotated[tuple[str, ...], NoDecode] = ()

    @field_validator("context_mirror", mode="before")
    @classmethod
    def _mirror(cls, value: Any) -> Any:
        """An empty setting is no mirror (not the working directory)."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("indexed_attributes", mode="before")
    @classmethod
    def _declared(cls, value: Any) -> tuple[str, ...]:
        return parse_declared(value)
