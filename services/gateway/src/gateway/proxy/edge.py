"""The gateway's hot path, as pure ASGI: every proxied request passes here and nowhere else.

For a path a service owns: security headers and CORS, credentials (bearer JWT, API key),
the rate limit, the tenant binding, the authorisation of the request (roles, entitlements),
then forwarding over pooled HTTP/1.1 connections with both bodies streamed. Any other path
(health, administration API, the issuer's endpoints, docs) goes on to the FastAPI routes.
Denials are answered as RFC 9457 problem+json with the reason and written to the audit log.
"""

from __future__ import annotations

import hmac
import logging
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from opentelemetry import propagate, trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.clients.service import ClientService
from gateway.entitlements.service import Entitlements
from gateway.identity import model
from gateway.identity.model import Identity
from gateway.identity.tokens import TokenVerifier
from gateway.policy import rules
from gateway.ratelimit.buckets import Buckets
from gateway.routing.table import RouteTable, Upstream
from mims_shared import errors as e
from mims_shared import http1, identity_headers
from mims_shared.entity_types import type_name
from mims_shared.logs import request_id_var
from mims_shared.web.formats import PROBLEM_TYPE_BASE, problem_slug
from mims_shared.web.problems import InternalError, problem_headers, status_of

audit = logging.getLogger("mims.audit")
log = logging.getLogger("mims.gateway")

# RFC 9110, 7.6.1: connection-specific fields are not forwarded; credentials end here and
# identity fields are set by the gateway alone, never taken from the caller.
_DROP_REQUEST = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
        b"authorization",
        b"x-api-key",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
    }
)
_DROP_RESPONSE = frozenset({b"date", b"server", b"x-request-id", b"proxy-authenticate"})
_IDENTITY_PREFIX = identity_headers.PREFIX.encode()  # only the gateway sets them
#: The entity types the broker may show a consumer (set by the gateway, dropped from clients).
VISIBLE_TYPES = identity_headers.ENTITY_TYPES.encode()
ENTITLED_UNTIL = identity_headers.ENTITLED_UNTIL.encode()
_SUBJECT = identity_headers.SUBJECT.encode()
_AUTH = identity_headers.AUTH.encode()
_ROLES = identity_headers.ROLES.encode()
_TENANTS = identity_headers.TENANTS.encode()
_PARTY = identity_headers.PARTY.encode()
_JSON_INSPECT_MAX = 4 * 1024 * 1024
_SECURITY = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
]
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
_CORS_EXPOSE = (
    b"access-control-expose-headers",
    b"Link, Location, NGSILD-Results-Count, NGSILD-Tenant, X-Total-Count, X-Result-Count, "
    b"X-Request-ID, Retry-After",
)


def _header_value(text: str) -> bytes:
    """A header value from token data: printable ASCII only (no CR/LF injection)."""
    return "".join(c if " " <= c <= "~" else "?" for c in text).encode("ascii")


@dataclass
class Parsed:
    auth: bytes | None = None
    api_key: bytes | None = None
    tenant: bytes | None = None
    origin: bytes | None = None
    length: bytes | None = None
    chunked: bool = False
    preflight: bytes | None = None
    host: bytes | None = None


def _parse(headers: list[tuple[bytes, bytes]]) -> Parsed:
    p = Parsed()
    for k, v in headers:
        if k == b"authorization":
            p.auth = v
        elif k == b"x-api-key":
            p.api_key = v
        elif k == b"ngsild-tenant":
            p.tenant = v
        elif k == b"origin":
            p.origin = v
        elif k == b"content-length":
            p.length = v
        elif k == b"transfer-encoding":
            p.chunked = b"chunked" in v.lower()
        elif k == b"access-control-request-method":
            p.preflight = v
        elif k == b"host":
            p.host = v
    return p


#: The request body has not been read yet.
_UNREAD: bytes = b"<unread>"


class Denied(Exception):
    """A 401/403 decision: answered, and written to the audit log."""

    def __init__(self, error: e.DomainError) -> None:
        super().__init__(error.detail)
        self.error = error
        self.subject: str | None = None


class Gateway:
    """Everything the hot path uses, built once in the lifespan."""

    def __init__(
        self,
        *,
        table: RouteTable,
        pools: dict[str, http1.Pool],
        verifier: TokenVerifier,
        clients: ClientService,
        entitlements: Entitlements,
        buckets: Buckets,
        admin_token: str,
        enforce: bool,
        open_types: frozenset[str],
        max_body_bytes: int,
        retries: int,
        cors_origins: frozenset[str],
        https: bool,
    ) -> None:
        self.table = table
        self.pools = pools
        self.verifier = verifier
        self.clients = clients
        self.entitlements = entitlements
        self.buckets = buckets
        self.admin_token = admin_token.encode()
        self.enforce = enforce
        self.open_types = frozenset(type_name(t) for t in open_types)
        self.max_body_bytes = max_body_bytes
        self.retries = retries
        self.cors_any = "*" in cors_origins
        self.cors_origins = frozenset(o.encode() for o in cors_origins)
        self.security = [*_SECURITY, _HSTS] if https else list(_SECURITY)
        self._identity_cache: dict[int, tuple[Identity, list[tuple[bytes, bytes]]]] = {}

    # --- who -------------------------------------------------------------------------
    async def authenticate(self, p: Parsed, address: str) -> Identity:
        if p.auth is not None:
            scheme, _, cred = p.auth.partition(b" ")
            cred = cred.strip()
            if scheme.lower() == b"bearer" and cred:
                if cred.count(b".") != 2 and hmac.compare_digest(cred, self.admin_token):
                    return Identity(
                        "api-key",
                        "admin",
                        frozenset({model.CITY_ADMIN}),
                        frozenset(),
                        None,
                        "admin",
                    )
                return await self.verifier.verify(cred.decode("latin-1"))
            raise Denied(e.Unauthenticated("The Authorization header must hold a Bearer token"))
        if p.api_key is not None:
            found = await self.clients.by_key(p.api_key.decode("latin-1"))
            if found is None:
                raise Denied(e.Unauthenticated("The API key is unknown or revoked"))
            return found
        return model.anonymous(address) if self.enforce else model.open_access(address)

    # --- may they ------------------------------------------------------------------
    def tenant_of(self, who: Identity, p: Parsed) -> str | None:
        """The tenant the request is for, bound by the caller's tenants."""
        asked = p.tenant.decode("latin-1") if p.tenant is not None else None
        if who.kind == "open" or who.is_admin:
            return asked
        if asked is None:
            return next(iter(who.tenants)) if len(who.tenants) == 1 else None
        if asked not in who.tenants:
            raise Denied(
                e.Forbidden(f"Tenant {asked} is not one of the tenants the caller may use")
            )
        return asked

    async def allowed_types(self, who: Identity, tenant: str | None, action: str) -> set[str]:
        """Every type ``who`` may ``action``: open ones and those the party is entitled to."""
        allowed = set(self.open_types) if tenant is None else set()
        if model.DATA_CONSUMER in who.roles:
            allowed |= await self.entitlements.types(who.party, tenant, action)
        return allowed

    async def refused(
        self, who: Identity, tenant: str | None, action: str, names: set[str]
    ) -> set[str]:
        """The ``names`` that ``who`` may not ``action``; the marketplace is asked only when
        some name is not openly licensed."""
        rest = names - self.open_types if tenant is None else set(names)
        if not rest or model.DATA_CONSUMER not in who.roles:
            return rest
        return rest - await self.entitlements.types(who.party, tenant, action)

    @staticmethod
    def _too_many(wait: float) -> e.TooManyRequests:
        return e.TooManyRequests(
            "The client made more requests than its rate limit allows",
            retry_after_s=max(1, math.ceil(wait)),
        )

    def _check_other(self, who: Identity, need: rules.Need, upstream: Upstream) -> None:
        if need.action == "public":
            return
        if who.kind == "anonymous":
            raise Denied(e.Unauthenticated(f"The {upstream.name} needs credentials for this"))
        if need.action == "provider" and not who.is_provider:
            raise Denied(e.Forbidden(f"Changing the {upstream.name} needs the data-provider role"))

    # --- the request -------------------------------------------------------------------
    async def handle(
        self, scope: Scope, receive: Receive, send: Send, upstream: Upstream, p: Parsed
    ) -> None:
        client = scope.get("client")
        address = client[0] if client else ""
        try:
            who = await self.authenticate(p, address)
        except Denied:
            # Failed credentials count against the caller's address: no free guessing.
            wait = await self.buckets.take(f"ip:{address}")
            if wait > 0:
                raise Denied(self._too_many(wait)) from None
            raise
        try:
            await self._authorised(scope, receive, send, upstream, p, who)
        except Denied as denied:
            denied.subject = who.subject
            raise

    async def _authorised(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        upstream: Upstream,
        p: Parsed,
        who: Identity,
    ) -> None:
        method: str = scope["method"]
        path: str = scope["path"]
        wait = await self.buckets.take(who.limit_key)
        if wait > 0:
            raise Denied(self._too_many(wait))
        tenant = self.tenant_of(who, p)
        query: bytes = scope["query_string"]
        body: bytes | AsyncIterator[bytes] | None = _UNREAD
        check_response = False
        extra: list[tuple[bytes, bytes]] = []
        if upstream.name == "context-broker":
            checked = not (who.kind == "open" or who.is_admin or who.is_provider)
            need = rules.ngsild_need(method, path)
            if checked:
                query, body, check_response, extra = await self._check_ngsild(
                    who, need, tenant, query, receive, p, method
                )
        elif not (who.kind == "open" or who.is_admin):
            self._check_other(who, rules.other_need(upstream.name, method, path), upstream)
        if body is _UNREAD:  # read only once the request is allowed
            body = await self._body(receive, p)
        target = scope.get("raw_path") or path.encode()
        if query:
            target = target + b"?" + query
        headers = self._request_headers(scope, who, tenant, p) + extra
        try:
            resp = await self.pools[upstream.name].send(method, target, headers, body, self.retries)
        except http1.ConnectFailed:
            raise e.ServiceUnavailable(
                f"The {upstream.name} service cannot be reached; try again shortly"
            ) from None
        except http1.TimedOut:
            raise e.UpstreamTimeout(f"The {upstream.name} service did not answer in time") from None
        except http1.UpstreamError as exc:
            raise e.BadGateway(f"The {upstream.name} service answered badly: {exc}") from None
        await self._respond(resp, send, upstream, who if check_response else None, tenant)

    async def _check_ngsild(
        self,
        who: Identity,
        need: rules.Need,
        tenant: str | None,
        query: bytes,
        receive: Receive,
        p: Parsed,
        method: str,
    ) -> tuple[bytes, bytes | AsyncIterator[bytes] | None, bool, list[tuple[bytes, bytes]]]:
        """Roles and entitlements of a caller who is neither administrator nor provider.

        Answers the query string and body to forward, whether the entity's type must also be
        checked in the broker's answer, and the headers that tell the broker what the caller
        may see (:meth:`_visibility`)."""
        body: bytes | AsyncIterator[bytes] | None = _UNREAD
        if need.action == "write":
            if who.kind == "anonymous":
                raise Denied(e.Unauthenticated("Changing NGSI-LD data needs credentials"))
            raise Denied(e.Forbidden("Changing NGSI-LD data needs the data-provider role"))
        if need.action == "meta":
            if who.kind == "anonymous":
                raise Denied(e.Unauthenticated("This NGSI-LD operation needs credentials"))
            # Discovery, the subscriptions list, deleting a subscription: the broker shows a
            # limited caller only the types it may read and the subscriptions it made.
            allowed = await self.allowed_types(who, tenant, "read")
            return query, body, False, self._visibility(allowed)
        action = "subscribe" if need.action == "subscribe" else "read"
        if action == "subscribe" and who.kind == "anonymous":
            raise Denied(e.Unauthenticated("Subscribing needs credentials"))
        allowed = await self.allowed_types(who, tenant, action)
        if need.types_from == "response":
            return query, body, True, self._visibility(allowed)
        if need.types_from == "query":
            names, given = rules.query_types(query)
            if not given:
                if not allowed:
                    raise Denied(e.Forbidden(f"The caller may {action} no entity type here"))
                extra = self._visibility(allowed)
                return rules.restrict_query(query, allowed), body, False, extra
        else:
            body = await self._body(receive, p)
            if body is not None and not isinstance(body, bytes):
                body = await _collect(body)
            try:
                doc = orjson.loads(body) if body else None
            except orjson.JSONDecodeError:
                raise e.InvalidRequest("The request body is not valid JSON") from None
            found = rules.body_types(doc)
            if found is None:
                if method == "PATCH":  # an update that does not touch entities
                    until = await self.entitlements.until(who.party, tenant, action, allowed)
                    return query, body, False, self._visibility(allowed, until)
                raise Denied(e.Forbidden(f"A consumer must name the entity types to {action}"))
            names = found
        refused = sorted(names - allowed)
        if refused and who.kind == "anonymous":
            raise Denied(
                e.Unauthenticated(f"Reading entity type {', '.join(refused)} needs credentials")
            )
        if refused:
            raise Denied(
                e.Forbidden(
                    f"The caller has no entitlement to {action} entity type "
                    f"{', '.join(refused)}" + (f" in tenant {tenant}" if tenant else "")
                )
            )
        until = None
        if action == "subscribe":
            until = await self.entitlements.until(who.party, tenant, action, names)
        return query, body, False, self._visibility(allowed, until)

    @staticmethod
    def _visibility(allowed: set[str], until: float | None = None) -> list[tuple[bytes, bytes]]:
        """What the broker may show the caller: the entity type names, compared there with
        the stored type IRIs so that a consumer's own @context cannot stretch an entitlement
        to other types; for a subscription, when the entitlements behind it end (context
        broker, ngsild/visibility.py)."""
        out = [(VISIBLE_TYPES, _header_value(",".join(sorted(allowed))))]
        if until is not None:
            moment = datetime.fromtimestamp(until, UTC).isoformat().replace("+00:00", "Z")
            out.append((ENTITLED_UNTIL, moment.encode()))
        return out

    async def _body(self, receive: Receive, p: Parsed) -> bytes | AsyncIterator[bytes] | None:
        limit = self.max_body_bytes
        if p.length is not None:
            try:
                declared = int(p.length)
            except ValueError:
                raise e.InvalidRequest("The Content-Length header is not a number") from None
            if declared > limit:
                raise e.PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes")
            if declared == 0:
                return None
            return await _read_whole(receive, limit)
        if p.chunked:
            return _stream(receive, limit)
        return None

    def _request_headers(
        self, scope: Scope, who: Identity, tenant: str | None, p: Parsed
    ) -> list[tuple[bytes, bytes]]:
        out = [
            (k, v)
            for k, v in scope["headers"]
            if k not in _DROP_REQUEST and not k.startswith(_IDENTITY_PREFIX)
        ]
        client = scope.get("client")
        address = client[0].encode() if client else b""
        prior = next((v for k, v in scope["headers"] if k == b"x-forwarded-for"), None)
        out.append((b"x-forwarded-for", prior + b", " + address if prior else address))
        out.append((b"x-forwarded-proto", scope.get("scheme", "http").encode()))
        if p.host is not None:
            out.append((b"x-forwarded-host", p.host))
        if p.tenant is None and tenant is not None:
            out.append((b"ngsild-tenant", tenant.encode("latin-1")))
        rid = request_id_var.get()
        if rid is not None and not any(k == b"x-request-id" for k, _ in out):
            out.append((b"x-request-id", rid.encode("latin-1")))
        if trace.get_current_span().is_recording():
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            out = [(k, v) for k, v in out if k not in (b"traceparent", b"tracestate")]
            out += [(k.encode(), v.encode("latin-1")) for k, v in carrier.items()]
        if who.kind != "open":
            out += self._identity_headers(who)
        return out

    def _identity_headers(self, who: Identity) -> list[tuple[bytes, bytes]]:
        """The identity fields for the services, built once per (cached) identity."""
        hit = self._identity_cache.get(id(who))
        if hit is not None and hit[0] is who:
            return hit[1]
        headers = [
            (_SUBJECT, _header_value(who.subject)),
            (_AUTH, who.kind.encode()),
            (_ROLES, ",".join(sorted(who.roles)).encode()),
        ]
        if who.tenants:
            headers.append((_TENANTS, _header_value(",".join(sorted(who.tenants)))))
        if who.party:
            headers.append((_PARTY, _header_value(who.party)))
        if len(self._identity_cache) >= 10_000:
            self._identity_cache.clear()
        self._identity_cache[id(who)] = (who, headers)
        return headers

    async def _respond(
        self,
        resp: http1.Response,
        send: Send,
        upstream: Upstream,
        check: Identity | None,
        tenant: str | None,
    ) -> None:
        """Stream the answer back; for ``check``, read it first to check the entity's type."""
        headers = [(k, v) for k, v in resp.headers if k not in _DROP_RESPONSE]
        try:
            if check is not None or (resp.length is not None and resp.length <= 262_144):
                try:
                    content = await resp.read(_JSON_INSPECT_MAX)
                except http1.TimedOut:
                    raise e.UpstreamTimeout(
                        f"The {upstream.name} service did not answer in time"
                    ) from None
                except http1.UpstreamError as exc:
                    raise e.BadGateway(
                        f"The {upstream.name} service answered badly: {exc}"
                    ) from None
                if check is not None and 200 <= resp.status < 300:
                    try:
                        kinds = rules.response_types(orjson.loads(content))
                    except orjson.JSONDecodeError:
                        kinds = set()
                    if not kinds or kinds <= await self.refused(check, tenant, "read", kinds):
                        shown = ", ".join(sorted(kinds)) or "unknown"
                        where = f" in tenant {tenant}" if tenant else ""
                        if check.kind == "anonymous":
                            raise Denied(
                                e.Unauthenticated(f"Reading entity type {shown} needs credentials")
                            )
                        raise Denied(
                            e.Forbidden(
                                f"The caller has no entitlement to read entity type {shown}{where}"
                            )
                        )
                headers.append((b"content-length", str(len(content)).encode()))
                await send(
                    {"type": "http.response.start", "status": resp.status, "headers": headers}
                )
                await send({"type": "http.response.body", "body": content})
                return
            if resp.length is not None:
                headers.append((b"content-length", str(resp.length).encode()))
            await send({"type": "http.response.start", "status": resp.status, "headers": headers})
            try:
                async for piece in resp.pieces():
                    await send({"type": "http.response.body", "body": piece, "more_body": True})
            except http1.UpstreamError as exc:
                log.warning("The %s service broke off an answer: %s", upstream.name, exc)
                return  # the client sees a cut answer; the connection is closed
            await send({"type": "http.response.body", "body": b""})
        finally:
            resp.release()


async def _stream(receive: Receive, limit: int) -> AsyncIterator[bytes]:
    total = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise e.InvalidRequest("The client went away while sending the body")
        chunk: bytes = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            raise e.PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def _read_whole(receive: Receive, limit: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise e.InvalidRequest("The client went away while sending the body")
        chunk: bytes = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            raise e.PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes")
        parts.append(chunk)
        if not message.get("more_body", False):
            return parts[0] if len(parts) == 1 else b"".join(parts)


async def _collect(chunks: AsyncIterator[bytes]) -> bytes:
    parts = [c async for c in chunks]
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _problem(error: e.DomainError, path: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    status = status_of(error)
    body = orjson.dumps(
        {
            "type": PROBLEM_TYPE_BASE + problem_slug(error),
            "title": error.title,
            "status": status,
            "detail": error.detail,
            "instance": path,
        }
    )
    headers = [(b"content-type", b"application/problem+json")]
    headers += [(k.lower().encode(), v.encode()) for k, v in problem_headers(error).items()]
    if isinstance(error, e.Unauthenticated):
        headers.append((b"www-authenticate", b'Bearer realm="mims"'))  # RFC 6750, 3
    headers.append((b"content-length", str(len(body)).encode()))
    return status, headers, body


class EdgeMiddleware:
    """Security headers and CORS on every answer; proxied paths served by :class:`Gateway`."""

    def __init__(self, app: ASGIApp, holder: dict[str, Any]) -> None:
        self.app = app
        self.holder = holder

    def _cors(self, gw: Gateway, origin: bytes | None) -> list[tuple[bytes, bytes]]:
        if origin is None or not (gw.cors_any or origin in gw.cors_origins):
            return []
        return [(b"access-control-allow-origin", origin), (b"vary", b"Origin"), _CORS_EXPOSE]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gw: Gateway | None = self.holder.get("gateway")
        if scope["type"] != "http" or gw is None:
            await self.app(scope, receive, send)
            return
        p = _parse(scope["headers"])
        extra = gw.security + self._cors(gw, p.origin)
        if scope["method"] == "OPTIONS" and p.preflight is not None and p.origin is not None:
            await self._preflight(scope, send, extra)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        upstream = gw.table.resolve(scope["path"])
        if upstream is None:
            await self.app(scope, receive, send_with_headers)
            return
        try:
            await gw.handle(scope, receive, send_with_headers, upstream, p)
        except (Denied, e.DomainError) as exc:
            error = exc.error if isinstance(exc, Denied) else exc
            if isinstance(exc, Denied) or isinstance(error, e.Unauthenticated | e.Forbidden):
                audit.warning(
                    "denied",
                    extra={
                        "subject": exc.subject if isinstance(exc, Denied) else None,
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status_of(error),
                        "reason": error.detail,
                        "tenant": p.tenant.decode("latin-1") if p.tenant else None,
                        "address": (scope.get("client") or ("",))[0],
                    },
                )
            if started:
                return
            await self._problem(send_with_headers, error, scope["path"])
        except Exception:
            # Served outside FastAPI's error middleware: an unexpected error is logged here
            # and answered with a generic 500, never with its cause.
            log.exception("Unexpected error while forwarding %s %s", scope["method"], scope["path"])
            if not started:
                await self._problem(
                    send_with_headers, InternalError("Internal error"), scope["path"]
                )

    @staticmethod
    async def _problem(send: Send, error: e.DomainError, path: str) -> None:
        status, headers, body = _problem(error, path)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _preflight(self, scope: Scope, send: Send, extra: list[tuple[bytes, bytes]]) -> None:
        """CORS preflight (Fetch standard, 3.2.2): answered here, never forwarded."""
        headers = list(extra)
        if any(k == b"access-control-allow-origin" for k, _ in extra):
            requested = next(
                (v for k, v in scope["headers"] if k == b"access-control-request-headers"), b""
            )
            headers += [
                (b"access-control-allow-methods", b"GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"),
                (b"access-control-allow-headers", requested or b"*"),
                (b"access-control-max-age", b"600"),
            ]
        headers.append((b"content-length", b"0"))
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
