"""Gateway scenarios (issue #7): Retrieve Entity through the gateway with a valid token.

A client is registered through the administration API and buys a token from the built-in
issuer (client-credentials grant), so each request carries a real RS256 JWT that the
gateway verifies (once per token, then from its cache), rate-limits, authorises and
forwards. Two callers: a data provider (role and tenant checks) and a data consumer reading
an openly licensed type (``GATEWAY_OPEN_TYPES``), whose answer the gateway reads to check
the entity's type.
"""

from __future__ import annotations

from bench.loadgen import RequestFactory, Result, cpu_seconds, run

#: What the gateway process is started with for the benchmark: limits far above the load
#: (the bucket is still taken on every request) and the bench type openly licensed.
GATEWAY_ENV = {
    "GATEWAY_RATE_LIMIT_PER_S": "1000000",
    "GATEWAY_RATE_LIMIT_BURST": "1000000",
    "GATEWAY_OPEN_TYPES": "ParkingSpot",
}


def token(gateway_url: str, role: str) -> str:
    import httpx

    admin = {"Authorization": "Bearer dev-admin-token"}
    created = httpx.post(
        f"{gateway_url}/gateway/v1/clients",
        json={"name": f"bench-{role}", "roles": [role]},
        headers=admin,
    ).json()
    resp = httpx.post(
        f"{gateway_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(created["id"], created["apiKey"]),
    )
    resp.raise_for_status()
    return str(resp.json()["access_token"])


def with_token(make: RequestFactory, bearer: str) -> RequestFactory:
    auth = {"Authorization": f"Bearer {bearer}"}

    def build(n: int) -> tuple[str, str, dict[str, str], bytes]:
        method, path, headers, body = make(n)
        return method, path, {**headers, **auth}, body

    return build


def gateway_scenarios(
    host: str,
    port: int,
    retrieve: RequestFactory,
    connections: int,
    duration: float,
    gateway_pid: int,
) -> dict[str, Result]:
    """Each scenario's result; the gateway's own CPU time per request is printed, a figure
    that holds on a machine shared with other work (throughput ratios do not)."""
    url = f"http://{host}:{port}"
    out = {}
    for role, name in (
        ("data-provider", "gateway -> broker Retrieve Entity (provider JWT)"),
        ("data-consumer", "gateway -> broker Retrieve Entity (consumer JWT)"),
    ):
        make = with_token(retrieve, token(url, role))
        before = cpu_seconds(gateway_pid)
        out[name] = r = run(host, port, make, connections=connections, duration=duration)
        spent = cpu_seconds(gateway_pid) - before  # includes the 1 s warm-up's requests
        per = spent / max(1, r.requests + round(r.rps))
        print(f"{name}: gateway CPU {per * 1e6:.0f} us per request", flush=True)
    return out
