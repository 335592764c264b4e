"""The built-in issuer's signing keys: RSA (RS256), kept in the gateway's database.

The newest active key signs; every active key is published in the JWKS, so tokens signed
before a rotation stay valid until the old key is retired. Replicas learn a key another
replica created when a token names a ``kid`` they do not know (at most once per interval).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from gateway.identity import repository
from mims_shared.db import Database
from mims_shared.errors import Conflict, NotFound

ALGORITHM = "RS256"


def _new_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class SigningKeys:
    def __init__(self, db: Database, min_reload_s: float) -> None:
        self.db = db
        self.min_reload_s = min_reload_s
        self.private: dict[str, rsa.RSAPrivateKey] = {}
        self.public: dict[str, rsa.RSAPublicKey] = {}
        self.current: str | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def load(self, *, create: bool = True) -> None:
        async with self.db.unit_of_work(transaction=False) as uow:
            rows = await repository.active(uow.connection)
            if not rows and create:
                await repository.insert(uow.connection, uuid.uuid4().hex, _new_pem())
                rows = await repository.active(uow.connection)
        private: dict[str, rsa.RSAPrivateKey] = {}
        for row in rows:
            key = serialization.load_pem_private_key(bytes(row["private_pem"]), password=None)
            assert isinstance(key, rsa.RSAPrivateKey)
            private[row["kid"]] = key
        self.private = private
        self.public = {kid: k.public_key() for kid, k in private.items()}
        self.current = rows[-1]["kid"] if rows else None
        self._loaded_at = time.monotonic()

    async def key(self, kid: str) -> Any:
        """The public key named ``kid``, reloading the set once if it is unknown."""
        found = self.public.get(kid)
        if found is None and time.monotonic() - self._loaded_at >= self.min_reload_s:
            async with self._lock:
                if kid not in self.public:
                    await self.load(create=False)
            found = self.public.get(kid)
        return found

    def signer(self) -> tuple[str, rsa.RSAPrivateKey]:
        if self.current is None:
            raise RuntimeError("the issuer has no signing key")
        return self.current, self.private[self.current]

    def jwks(self) -> dict[str, Any]:
        """RFC 7517 JWK Set of every active key."""
        keys = []
        for kid, pub in self.public.items():
            jwk = orjson.loads(RSAAlgorithm.to_jwk(pub))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": ALGORITHM})
        return {"keys": keys}

    async def rotate(self) -> str:
        """A new signing key; the previous ones stay published until retired."""
        kid = uuid.uuid4().hex
        async with self.db.unit_of_work(transaction=False) as uow:
            await repository.insert(uow.connection, kid, _new_pem())
        await self.load(create=False)
        return kid

    async def retire(self, kid: str) -> None:
        if kid == self.current:
            raise Conflict(f"Signing key {kid} is the current one; rotate before retiring it")
        async with self.db.unit_of_work(transaction=False) as uow:
            if not await repository.retire(uow.connection, kid):
                raise NotFound(f"Signing key {kid} does not exist")
        await self.load(create=False)
