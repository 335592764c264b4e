"""MIM6: security of the entry point. Requests without credentials are refused, the
credentials the city gave are accepted, and production traffic runs over TLS.

The refusal check needs ``--token``: a city that gives one says the deployment is protected;
without one there is nothing to tell an open test deployment from a protected one, and the
check skips saying so.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from mims_check.runner import Context, Failed, Skipped, check, expect, show

# Reads every MIM deployment protects: (target, path, query).
PROTECTED = [
    ("broker", "/ngsi-ld/v1/entities", {"type": "MimsCheckProbe"}),
    ("marketplace", "/tmf-api/partyManagement/v5/organization", {"limit": "1"}),
]


def _targets(ctx: Context) -> list[tuple[str, str, dict[str, str]]]:
    out = []
    for target, path, params in PROTECTED:
        base = ctx.urls.get("gateway") or ctx.urls.get(target)
        if base:
            out.append((base.rstrip("/") + path, target, params))
    return out


@check(
    "mim6.unauthenticated-refused",
    "Requests without or with a wrong token are refused (401 + WWW-Authenticate); the token works",
    "RFC 6750 3, RFC 9110 11.6.1",
)
async def unauthenticated_refused(ctx: Context) -> str | None:
    targets = _targets(ctx)
    if not targets:
        raise Skipped("no --gateway, --broker or --marketplace URL given")
    if not ctx.token:
        raise Skipped("no --token given: the run treats the deployment as open (test set-up)")
    accepted = 0
    for url, _, params in targets:
        with_token = await ctx.client.get(url, params=params, headers=ctx.headers())
        expect(
            with_token.status_code != 401,
            f"the token given is not accepted (401), so refusals prove nothing: {show(with_token)}",
        )
        # 403: authenticated, but this token may not read this resource (a consumer's token).
        accepted += with_token.status_code != 403
        for label, headers in [
            ("no credentials", {}),
            ("a wrong bearer token", {"Authorization": f"Bearer {ctx.token}x"}),
        ]:
            if ctx.tenant:
                headers["NGSILD-Tenant"] = ctx.tenant
            r = await ctx.client.get(url, params=params, headers=headers)
            expect(
                r.status_code in (401, 403),
                f"a request with {label} must be refused with 401: {show(r)}",
            )
            if r.status_code == 401:
                expect(
                    "www-authenticate" in r.headers,
                    f"a 401 must carry WWW-Authenticate (RFC 9110 11.6.1): {show(r)}",
                )
            expect(
                not r.text.lstrip().startswith("["),
                f"a refused request must not carry data: {show(r)}",
            )
    expect(
        accepted > 0,
        "the token given was refused (403) everywhere, so refusals prove nothing",
    )
    return None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@check(
    "mim6.tls",
    "Targets other than this machine are reached over TLS (https)",
    "MIM6, RFC 9110 4.2.2",
)
async def tls(ctx: Context) -> str | None:
    if not ctx.urls:
        raise Skipped("no target URL given")
    plain, local = [], []
    for name, url in sorted(ctx.urls.items()):
        parts = urlsplit(url)
        if parts.scheme == "https":
            r = await ctx.client.get(url.rstrip("/") + "/", headers=ctx.headers())
            if r.url.scheme != "https":
                raise Failed(f"{name}: https redirected to plain http: {r.url}")
            continue
        if _loopback(parts.hostname or ""):
            local.append(name)
        else:
            plain.append(f"{name} ({url})")
    if plain:
        raise Failed("TLS expected in production; plain http to " + ", ".join(plain))
    if local and len(local) == len(ctx.urls):
        raise Skipped("every target is on this machine (loopback): TLS not required for tests")
    return None
