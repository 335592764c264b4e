"""Context broker settings (environment prefix ``BROKER_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mims_shared.settings import ServiceSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


class BrokerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BROKER_", extra="ignore", frozen=True)

    service_name: str = "context-broker"
    #: The port FIWARE tutorials and NGSI-LD clients expect.
    port: int = 1026
    #: Fetch @context documents named by URL that the broker does not hold (once, then
    #: cached). When False an unknown URL is answered with LdContextNotAvailable.
    fetch_remote_contexts: bool = True
    context_fetch_timeout_s: float = Field(default=5.0, gt=0, le=60)
    #: Base URL clients reach the broker at: hosted @contexts are served under it (5.13.2).
    public_base_url: str = "http://localhost:1026"
    #: Attribute instances returned per entity by a temporal read before the history is
    #: cut and answered 206 with a Content-Range (ETSI GS CIM 009 V1.8.1, 6.3.10).
    temporal_page_limit: int = Field(default=1000, ge=1, le=100_000)
