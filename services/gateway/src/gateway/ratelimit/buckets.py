"""Token buckets: ``rate`` tokens per second up to ``burst``; a request takes one.

:class:`LocalBuckets` keeps them in this process (one replica). :class:`RedisBuckets` keeps
them in Redis and updates them in one Lua script (atomic on the server), so every replica
counts against the same bucket. Both answer 0 when the request may go on, else the seconds
to wait before a token is available (for ``Retry-After``).
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

_MAX_KEYS = 100_000
log = logging.getLogger("mims.gateway")


class Buckets(Protocol):
    async def take(self, key: str) -> float: ...

    async def close(self) -> None: ...


class LocalBuckets:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._state: dict[str, list[float]] = {}

    async def take(self, key: str) -> float:
        now = time.monotonic()
        state = self._state.get(key)
        if state is None:
            if len(self._state) >= _MAX_KEYS:
                self._state.clear()
            self._state[key] = [self.burst - 1.0, now]
            return 0.0
        tokens = min(self.burst, state[0] + (now - state[1]) * self.rate)
        state[1] = now
        if tokens >= 1.0:
            state[0] = tokens - 1.0
            return 0.0
        state[0] = tokens
        return (1.0 - tokens) / self.rate

    async def close(self) -> None:
        return None


# KEYS[1]: the bucket; ARGV: rate (tokens/s), burst, cost. The server's clock is used so
# that replicas with skewed clocks agree. Answers the wait in milliseconds (0: allowed).
_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil then
  tokens = burst
  at = now
end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return wait
"""


class RedisBuckets:
    def __init__(self, url: str, rate: float, burst: int, prefix: str = "mims:gw:rl:") -> None:
        self.redis = Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.script = self.redis.register_script(_SCRIPT)
        self.args = (repr(rate), str(burst))
        self.prefix = prefix
        self._warned_at = -1e9

    async def take(self, key: str) -> float:
        try:
            wait_ms = await self.script(keys=[self.prefix + key], args=self.args)
        except RedisError as exc:
            # Fail open: limits pause while Redis is away, the city's API does not.
            if time.monotonic() - self._warned_at > 10:
                self._warned_at = time.monotonic()
                log.warning("Rate limits are not enforced: Redis fails (%s)", exc)
            return 0.0
        return int(wait_ms) / 1000.0

    async def close(self) -> None:
        await self.redis.aclose()
