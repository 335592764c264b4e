"""Typed settings shared by every service.

Each service subclasses :class:`ServiceSettings` with its own environment prefix
(``BROKER_``, ``CATALOGUE_``, ``MARKET_``, ``GATEWAY_``). Settings are built when the app is
created, never at import, and tests pass ``Settings(...)`` directly.
"""

from __future__ import annotations

import os
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mims_shared.db import Database, database_url_for

Environment = Literal["dev", "test", "prod"]


class ServiceSettings(BaseSettings):
    """What every service can be told by its environment."""

    # Each service sets its own prefix; this one only keeps the base from reading DATABASE_URL.
    model_config = SettingsConfigDict(env_prefix="MIMS_SERVICE_", extra="ignore", frozen=True)

    #: Name used in logs, traces, health documents and the default database name.
    service_name: str = "service"
    environment: Environment = "dev"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    #: SQLAlchemy URL of this service's own database. When unset, the database named
    #: ``mims_<service>`` on the server of the shared ``DATABASE_URL`` is used.
    database_url: SecretStr | None = None
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=10, ge=0, le=200)
    db_connect_timeout_s: float = Field(default=5.0, gt=0)
    db_statement_timeout_ms: int = Field(default=30_000, ge=0)
    #: Largest request body accepted, in bytes (NGSI-LD brokers commonly allow 1-2 MB).
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    #: Deepest nesting of arrays/objects accepted in a JSON body.
    max_json_depth: int = Field(default=64, ge=2, le=1000)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: Emit one access-log line per request.
    access_log: bool = True

    @model_validator(mode="after")
    def _resolve_database_url(self) -> Self:
        if self.database_url is None:
            server = os.environ.get("DATABASE_URL")
            if server:
                url = database_url_for(server, f"mims_{self.service_name.replace('-', '_')}")
                object.__setattr__(self, "database_url", SecretStr(url))
        return self

    def require_database_url(self) -> str:
        """The database URL, or a clear configuration error."""
        if self.database_url is None:
            raise RuntimeError(
                f"{self.service_name}: no database configured; set DATABASE_URL "
                "(the server) or this service's own *_DATABASE_URL"
            )
        return self.database_url.get_secret_value()


def open_database(settings: ServiceSettings) -> Database:
    """The engine of the service's own database, sized and named from its settings."""
    return Database(
        settings.require_database_url(),
        application_name=settings.service_name,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        connect_timeout_s=settings.db_connect_timeout_s,
        statement_timeout_ms=settings.db_statement_timeout_ms,
    )
