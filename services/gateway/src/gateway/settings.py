"""Gateway settings (environment prefix ``GATEWAY_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from mims_shared.settings import ServiceSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
DEV_ADMIN_TOKEN = "dev-admin-token"  # noqa: S105 - refused outside dev, see below

CommaList = Annotated[tuple[str, ...], NoDecode]


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
    #: Retries of an idempotent request (GET, HEAD, OPTIONS, PUT, DELETE) whose upstream
    #: cannot be reached or drops the connection before answering.
    upstream_retries: int = Field(default=1, ge=0, le=5)
    #: Large bodies (batch operations, RDF uploads) pass through the gateway.
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)

    # --- who is asking ------------------------------------------------------------------
    #: ``enforce``: every request is authenticated and authorised. ``open`` (development
    #: only): a request without credentials is let through as it was before; a request
    #: with credentials is still checked.
    auth_mode: Literal["open", "enforce"] = "open"
    #: The URL clients reach the gateway at; the built-in issuer's ``iss``.
    public_url: str = "http://127.0.0.1:8080"
    #: The built-in OAuth 2.0 token issuer (client-credentials grant for registered clients).
    issuer_enabled: bool = True
    token_lifetime_s: int = Field(default=300, ge=30, le=86_400)
    #: External OpenID Connect issuers trusted for bearer tokens (comma-separated issuer
    #: URLs, e.g. a Keycloak realm); their keys come from their discovery document.
    oidc_issuers: CommaList = ()
    #: The audience a token must carry (``aud``).
    audience: str = "mims"
    clock_skew_s: int = Field(default=30, ge=0, le=600)
    jwks_cache_s: int = Field(default=300, ge=1)
    #: Least interval between two JWKS fetches caused by an unknown ``kid`` (rotation).
    jwks_min_refresh_s: float = Field(default=10.0, ge=0)
    #: Claims read from tokens (dotted paths for nested claims, e.g. ``realm_access.roles``).
    roles_claim: str = "roles"
    tenants_claim: str = "tenants"
    party_claim: str = "party"
    #: How long a looked-up API key is trusted before it is looked up again (revocation
    #: reaches every replica within this time).
    api_key_cache_s: float = Field(default=5.0, ge=0)

    # --- what they may do ---------------------------------------------------------------
    #: Entity types whose data is openly licensed: readable by anyone, no entitlement needed.
    open_types: CommaList = ()
    #: How long the entitlements of a party are cached (an entitlement event clears them).
    entitlement_cache_s: float = Field(default=10.0, ge=0)

    # --- traffic ------------------------------------------------------------------------
    #: Token bucket per client (anonymous callers: per address): refill rate and size.
    rate_limit_per_s: float = Field(default=200.0, gt=0)
    rate_limit_burst: int = Field(default=400, ge=1)
    #: Redis shared by every replica for rate limits; in-process buckets when unset.
    redis_url: str | None = None
    #: Origins allowed by CORS (``*`` for any); none by default.
    cors_origins: CommaList = ()

    @model_validator(mode="before")
    @classmethod
    def _split_lists(cls, data: object) -> object:
        if isinstance(data, dict):
            for key in ("oidc_issuers", "open_types", "cors_origins"):
                value = data.get(key)
                if isinstance(value, str):
                    data[key] = tuple(p.strip() for p in value.split(",") if p.strip())
        return data

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Self:
        token = self.admin_token.get_secret_value()
        if self.environment == "prod":
            if token == DEV_ADMIN_TOKEN or len(token) < 24:
                raise ValueError(
                    "GATEWAY_ADMIN_TOKEN must be set to a secret of at least 24 characters in prod"
                )
            if self.auth_mode != "enforce":
                raise ValueError("GATEWAY_AUTH_MODE must be 'enforce' in prod")
            if "*" in self.cors_origins:
                raise ValueError("GATEWAY_CORS_ORIGINS may not be '*' in prod")
        return self

    @property
    def issuer(self) -> str:
        return self.public_url.rstrip("/")
