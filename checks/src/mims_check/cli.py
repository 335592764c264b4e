"""``mims-check``: run the MIMs conformance checks against a deployment.

Exit status: 0 when no check failed, 1 when one did, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

import httpx

from mims_check import catalogue, mim1, mim2, mim3, mim6  # noqa: F401  (they register checks)
from mims_check.runner import (
    REGISTRY,
    Context,
    Result,
    new_run_id,
    run,
    select,
    summary,
    unknown_names,
    write_outputs,
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mims-check",
        description="Check that a deployment speaks the Living-in.EU MIMs (NGSI-LD, Smart Data "
        "Models, TM Forum, DCAT-AP, security). Exits non-zero when a check fails.",
    )
    t = p.add_argument_group("targets (base URLs; a gateway URL serves for every API behind it)")
    t.add_argument("--broker", help="NGSI-LD broker, e.g. https://city.example/ (…/ngsi-ld/v1)")
    t.add_argument("--catalogue", help="catalogue (DCAT-AP RDF, CKAN action API)")
    t.add_argument("--marketplace", help="TM Forum APIs (…/tmf-api/…)")
    t.add_argument("--gateway", help="the public entry point (MIM6 checks)")
    t.add_argument(
        "--url", help="one URL for every target not given (a gateway in front of everything)"
    )
    p.add_argument("--token", help="bearer token sent with every request (or MIMS_CHECK_TOKEN)")
    p.add_argument("--tenant", help="NGSI-LD tenant (NGSILD-Tenant header)")
    p.add_argument("--read-only", action="store_true", help="skip every check that writes data")
    p.add_argument(
        "--only", action="append", default=[], metavar="NAME", help="run only this group or check"
    )
    p.add_argument(
        "--skip", action="append", default=[], metavar="NAME", help="leave out this group or check"
    )
    p.add_argument("--junit", metavar="FILE", help="write JUnit XML here")
    p.add_argument("--json", metavar="FILE", help="write the results as JSON here")
    p.add_argument("--list", action="store_true", help="list the checks and exit")
    r = p.add_argument_group("notification receiver (the target must reach it)")
    r.add_argument("--receiver-host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    r.add_argument("--receiver-port", type=int, default=0, help="port (default: any free one)")
    r.add_argument("--receiver-url", help="URL the target posts to, if not http://host:port")
    r.add_argument("--notification-timeout", type=float, default=10.0, metavar="SECONDS")
    p.add_argument(
        "--schema",
        action="append",
        default=[],
        metavar="TYPE=FILE_OR_URL",
        help="MIM2: the JSON Schema of an entity type (else the Smart Data Models bundled)",
    )
    p.add_argument("--catalogue-rdf", metavar="URL", help="the RDF catalogue (default: probed)")
    p.add_argument("--timeout", type=float, default=15.0, help="HTTP timeout in seconds")
    p.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    return p


async def _main(args: argparse.Namespace) -> list[Result]:
    import os

    urls = {
        name: value
        for name in ("broker", "catalogue", "marketplace", "gateway")
        if (value := getattr(args, name) or args.url)
    }
    schemas = {}
    for item in args.schema:
        name, _, where = item.partition("=")
        schemas[name] = where
    run_id = new_run_id()
    checks = select(REGISTRY.values(), args.only, args.skip)
    async with httpx.AsyncClient(timeout=args.timeout, verify=not args.insecure) as client:
        ctx = Context(
            urls=urls,
            client=client,
            run_id=run_id,
            token=args.token or os.environ.get("MIMS_CHECK_TOKEN") or None,
            tenant=args.tenant,
            read_only=args.read_only,
            receiver_host=args.receiver_host,
            receiver_port=args.receiver_port,
            receiver_url=args.receiver_url,
            notification_timeout=args.notification_timeout,
            schemas=schemas,
            catalogue_rdf=args.catalogue_rdf,
        )
        results = await run(checks, ctx)
    write_outputs(results, run_id, urls, args.junit, args.json)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.list:
        for c in select(REGISTRY.values()):
            print(f"{c.name:<34} {c.title}  [{c.clause}]")
        return 0
    bad = unknown_names([*args.only, *args.skip])
    if bad:
        print(f"mims-check: unknown check or group: {', '.join(bad)} (see --list)", file=sys.stderr)
        return 2
    if not any(getattr(args, n) for n in ("broker", "catalogue", "marketplace", "gateway", "url")):
        print("mims-check: give at least one target URL (see --help)", file=sys.stderr)
        return 2
    results = asyncio.run(_main(args))
    print(summary(results))
    if args.read_only:
        print("read-only run: checks that write data were skipped")
    return 1 if any(r.status == "failed" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
