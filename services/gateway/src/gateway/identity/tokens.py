"""Bearer tokens: JWT validation (RFC 7519, RFC 9068) against the issuer's keys.

An external OpenID Connect issuer's keys come from the ``jwks_uri`` of its discovery
document (OpenID Connect Discovery 1.0, section 4); they are cached and fetched again when
the cache expires or a token names an unknown ``kid`` (key rotation). A verified token's
identity is cached until the token expires, so the signature is checked once per token.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

import httpx
import jwt
import orjson

from gateway.identity.keys import SigningKeys
from gateway.identity.model import Identity, from_claims
from mims_shared.errors import Unauthenticated

#: Asymmetric algorithms only: no ``none``, no shared-secret HMAC.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")
_CACHE_MAX = 50_000


class KeySource(Protocol):
    async def key(self, kid: str) -> Any: ...


class OidcIssuer:
    """The keys of one external issuer, found through its discovery document."""

    def __init__(
        self, issuer: str, client: httpx.AsyncClient, *, cache_s: float, min_refresh_s: float
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client = client
        self.cache_s = cache_s
        self.min_refresh_s = min_refresh_s
        self.keys: dict[str, Any] = {}
        self._fetched_at = -1e9
        self._lock = asyncio.Lock()

    async def _refresh(self) -> None:
        url = f"{self.issuer}/.well-known/openid-configuration"
        resp = await self.client.get(url)
        resp.raise_for_status()
        config = orjson.loads(resp.content)
        if config.get("issuer", "").rstrip("/") != self.issuer:
            raise ValueError(f"{url} names another issuer: {config.get('issuer')!r}")
        jwks = await self.client.get(config["jwks_uri"])
        jwks.raise_for_status()
        keys: dict[str, Any] = {}
        for jwk in jwt.PyJWKSet.from_dict(orjson.loads(jwks.content)).keys:
            if jwk.key_id and jwk.public_key_use in (None, "sig"):
                keys[jwk.key_id] = jwk
        self.keys = keys
        self._fetched_at = time.monotonic()

    def _stale(self, kid: str) -> bool:
        age = time.monotonic() - self._fetched_at
        return age > self.cache_s or (kid not in self.keys and age >= self.min_refresh_s)

    async def key(self, kid: str) -> Any:
        if self._stale(kid):
            async with self._lock:
                if self._stale(kid):  # another request may have fetched them meanwhile
                    try:
                        await self._refresh()
                    except (httpx.HTTPError, ValueError, KeyError, jwt.PyJWKError) as exc:
                        self._fetched_at = time.monotonic() - self.cache_s + self.min_refresh_s
                        if not self.keys:
                            raise Unauthenticated(
                                f"The keys of issuer {self.issuer} cannot be fetched "
                                f"({type(exc).__name__})"
                            ) from None
        jwk = self.keys.get(kid)
        return jwk.key if jwk is not None else None


class TokenVerifier:
    def __init__(
        self,
        sources: dict[str, KeySource],
        *,
        audience: str,
        leeway: int,
        roles_claim: str,
        tenants_claim: str,
        party_claim: str,
    ) -> None:
        self.sources = sources
        self.audience = audience
        self.leeway = leeway
        self.claims = {
            "roles_claim": roles_claim,
            "tenants_claim": tenants_claim,
            "party_claim": party_claim,
        }
        self._cache: dict[str, tuple[Identity, float]] = {}

    async def verify(self, token: str) -> Identity:
        hit = self._cache.get(token)
        now = time.time()
        if hit is not None:
            if hit[1] > now:
                return hit[0]
            del self._cache[token]
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise Unauthenticated("The bearer token is not a well-formed JWT") from None
        issuer = unverified.get("iss")
        source = self.sources.get(issuer.rstrip("/")) if isinstance(issuer, str) else None
        if source is None:
            raise Unauthenticated(f"The bearer token's issuer {issuer!r} is not trusted")
        kid = header.get("kid")
        if not isinstance(kid, str) or header.get("alg") not in ALGORITHMS:
            raise Unauthenticated("The bearer token names no key or an algorithm not accepted")
        key = await source.key(kid)
        if key is None:
            raise Unauthenticated(f"The bearer token is signed by an unknown key {kid!r}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[header["alg"]],
                audience=self.audience,
                issuer=issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("The bearer token has expired") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated(
                f"The bearer token is not meant for this audience ({self.audience})"
            ) from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"The bearer token is invalid: {exc}") from None
        identity = from_claims(claims, **self.claims)
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[token] = (identity, float(claims["exp"]) + self.leeway)
        return identity


class BuiltInIssuer:
    """The gateway's own keys as a key source, and the tokens it signs."""

    def __init__(self, issuer: str, keys: SigningKeys, audience: str, lifetime_s: int) -> None:
        self.issuer = issuer
        self.keys = keys
        self.audience = audience
        self.lifetime_s = lifetime_s

    async def key(self, kid: str) -> Any:
        return await self.keys.key(kid)

    def issue(self, subject: str, roles: list[str], tenants: list[str], party: str | None) -> str:
        """An access token for a client (RFC 9068 claims plus roles, tenants and party)."""
        kid, private = self.keys.signer()
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.audience,
            "iat": now,
            "exp": now + self.lifetime_s,
            "client_id": subject,
            "jti": f"{subject}.{now}.{time.perf_counter_ns()}",
            "roles": roles,
            "tenants": tenants,
        }
        if party:
            claims["party"] = party
        return jwt.encode(claims, private, algorithm="RS256", headers={"kid": kid, "typ": "at+jwt"})

    def discovery(self) -> dict[str, Any]:
        """OpenID Connect Discovery 1.0 / RFC 8414 metadata of the built-in issuer."""
        return {
            "issuer": self.issuer,
            "token_endpoint": f"{self.issuer}/oauth/token",
            "jwks_uri": f"{self.issuer}/oauth/jwks",
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }
