"""Gateway settings (environment prefix ``GATEWAY_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from mims_shared.settings import ServiceSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
DEV_ADMIN_TOKEN = "dev-admin-token"  # noqa: S105 - refused outside dev, see below


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    service_name: str = "gateway"
    port: int = 8080
    broker_url: str = "http://127.0.0.1:1026"
    catalogue_url: str = "http://127.0.0.1:8081"
    marketplace_url: str = "http://127.0.0.1:8082"
    #: Bearer token of the gateway's administration API (``/gateway/v1``).
    admin_token: SecretStr = SecretStr(DEV_ADMIN_TOKEN)
    connect_timeout_s: float = Field(default=2.0, gt=0)
    read_timeout_s: float = Field(default=30.0, gt=0)
    health_timeout_s: float = Field(default=2.0, gt=0)
    max_upstream_connections: int = Field(default=200, ge=1)
    #: Large bodies (batch operations, RDF uploads) pass through the gateway.
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Self:
        token = self.admin_token.get_secret_value()
        if self.environment == "prod" and (token == DEV_ADMIN_TOKEN or len(token) < 24):
            raise ValueError(
                "GATEWAY_ADMIN_TOKEN must be set to a secret of at least 24 characters in prod"
            )
        return self
