"""The built-in OAuth 2.0 issuer: discovery, keys and the client-credentials grant."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated
from urllib.parse import parse_qsl, unquote

import orjson
from fastapi import APIRouter, Header, Request
from starlette.responses import Response

from gateway.clients.service import ClientService
from gateway.identity.tokens import BuiltInIssuer
from mims_shared.errors import NotFound

router = APIRouter()

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _issuer(request: Request) -> BuiltInIssuer:
    issuer: BuiltInIssuer | None = request.app.state.issuer
    if issuer is None:
        raise NotFound("The gateway's own token issuer is switched off")
    return issuer


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def _oauth_error(code: str, description: str, status: int = 400) -> Response:
    """RFC 6749, 5.2 error response."""
    headers = dict(_NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="mims"'
    return _json({"error": code, "error_description": description}, status, headers)


@router.get("/.well-known/openid-configuration")
async def discovery(request: Request) -> Response:
    """Issuer metadata (OpenID Connect Discovery 1.0, 4; RFC 8414, 3)."""
    return _json(_issuer(request).discovery())


@router.get("/oauth/jwks")
async def jwks(request: Request) -> Response:
    """The issuer's public signing keys as a JWK Set (RFC 7517, 5)."""
    return _json(_issuer(request).keys.jwks(), headers={"Cache-Control": "max-age=60"})


@router.post("/oauth/token")
async def token(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Response:
    """Client credentials grant (RFC 6749, 4.4): a registered client's id and API key buy
    a short-lived bearer token carrying its roles, tenants and party."""
    issuer = _issuer(request)
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        return _oauth_error("invalid_request", "The body must be application/x-www-form-urlencoded")
    raw = await request.body()
    if len(raw) > 8192:
        return _oauth_error("invalid_request", "The request body is too large")
    try:
        form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        return _oauth_error("invalid_request", "The request body is not UTF-8")
    if form.get("grant_type") != "client_credentials":
        return _oauth_error("unsupported_grant_type", "Only client_credentials is supported")
    client_id, secret = form.get("client_id"), form.get("client_secret")
    if authorization and authorization[:6].lower() == "basic ":
        try:
            pair = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return _oauth_error("invalid_client", "The Basic credentials are malformed", 401)
        user, sep, password = pair.partition(":")
        if not sep:
            return _oauth_error("invalid_client", "The Basic credentials are malformed", 401)
        client_id, secret = unquote(user), unquote(password)  # RFC 6749, 2.3.1
    if not client_id or not secret:
        return _oauth_error("invalid_client", "Client authentication is missing", 401)
    clients: ClientService = request.app.state.clients
    row = await clients.by_credentials(client_id, secret)
    if row is None:
        return _oauth_error(
            "invalid_client", "The client is unknown, revoked or its key wrong", 401
        )
    access = issuer.issue(str(row["id"]), list(row["roles"]), list(row["tenants"]), row["party"])
    body = {"access_token": access, "token_type": "Bearer", "expires_in": issuer.lifetime_s}
    return _json(body, headers=_NO_STORE)
