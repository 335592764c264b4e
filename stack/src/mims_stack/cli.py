"""``mims-stack``: the commands behind the Makefile.

mims-stack run        database, migrations, every service behind the gateway; Ctrl-C stops all
mims-stack migrate    database and migrations only
mims-stack db-start   start the embedded PostgreSQL and print its URL
mims-stack db-stop    stop the embedded PostgreSQL
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import signal
import sys
import time

from mims_shared.migrations import ensure_database, migrate
from mims_stack.database import DATA_DIR, prepare, server
from mims_stack.embedded import EmbeddedPostgres
from mims_stack.services import SERVICES, spec
from mims_stack.supervisor import start_stack


def _say(msg: str) -> None:
    print(msg, flush=True)


def _port(prefix: str, default: int) -> int:
    return int(os.environ.get(f"{prefix}PORT", default))


def cmd_migrate() -> int:
    url, embedded = server()
    _say(f"PostgreSQL: {'embedded, ' + str(DATA_DIR) if embedded else 'DATABASE_URL'}")
    urls = asyncio.run(prepare(url))
    for name in urls:
        _say(f"  {name}: migrated")
    return 0


def cmd_migrate_service(name: str) -> int:
    svc = spec(name)
    module = importlib.import_module(f"{svc.package}.settings")
    settings_cls = next(
        v
        for k, v in vars(module).items()
        if k.endswith("Settings") and k != "ServiceSettings" and isinstance(v, type)
    )
    url = settings_cls().require_database_url()
    asyncio.run(ensure_database(url))
    applied = asyncio.run(migrate(url, svc.migrations))
    _say(f"{name}: {len(applied)} migration(s) applied")
    return 0


def cmd_run() -> int:
    started = time.monotonic()
    url, embedded = server()
    _say(
        f"PostgreSQL: {'embedded (data in ' + str(DATA_DIR) + ')' if embedded else 'DATABASE_URL'}"
    )
    stack = None

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # SIGINT too: a shell starting us in the background would leave it ignored.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        urls = asyncio.run(prepare(url))
        _say("Migrations applied. Starting services...")
        ports = {s.name: _port(s.env_prefix, s.port) for s in SERVICES}
        stack = start_stack(urls, ports=ports, host=os.environ.get("MIMS_HOST", "127.0.0.1"))
        took = time.monotonic() - started
        _say(f"\nThe MIMs stack is up ({took:.1f}s). Entry point: {stack.urls['gateway']}")
        for svc in SERVICES:
            _say(f"  {svc.name:15} {stack.urls[svc.name]}")
        _say(f"  health          {stack.urls['gateway']}/health")
        _say(f"  API docs        {stack.urls['gateway']}/docs")
        _say("Press Ctrl-C to stop.")
        while True:
            for name, proc in stack.processes.items():
                if proc.poll() is not None:
                    _say(f"{name} exited with status {proc.returncode}; stopping the stack")
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        _say("\nStopping...")
        return 0
    except (RuntimeError, TimeoutError) as exc:
        _say(f"Could not start the stack: {exc}")
        return 1
    finally:
        if stack is not None:
            stack.stop()
        if embedded is not None:
            embedded.stop()
        _say("Stopped.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="mims-stack", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "command",
        choices=["run", "migrate", "migrate-service", "db-start", "db-stop", "load-models"],
    )
    parser.add_argument("service", nargs="?", choices=[s.name for s in SERVICES])
    parser.add_argument(
        "--catalogue",
        default=os.environ.get("MIMS_CATALOGUE_URL", "http://127.0.0.1:8081"),
        help="load-models: the catalogue to register the Smart Data Models starter set in",
    )
    args = parser.parse_args(argv)
    if args.command == "load-models":
        from mims_stack.models import load

        for identifier, what in load(args.catalogue):
            _say(f"{identifier}: {what}")
        return 0
    if args.command == "migrate-service":
        if args.service is None:
            parser.error("migrate-service needs the name of a service")
        return cmd_migrate_service(args.service)
    if args.command == "run":
        return cmd_run()
    if args.command == "migrate":
        return cmd_migrate()
    if args.command == "db-start":
        url, _ = server()
        _say(url)
        return 0
    EmbeddedPostgres(DATA_DIR).stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
