"""The embedded PostgreSQL of ``make run``/``make test``: ``pgserver`` from PyPI.

Why pgserver: it is the one pip-installable PostgreSQL (16) that ships its own binaries
and runs both as a normal user and as root (it then creates an unprivileged ``pgserver``
system user to own the data folder). It listens on a unix socket only, so it never takes a
port from a PostgreSQL already on the machine. The data folder survives restarts.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import warnings
from pathlib import Path
from typing import Any

logging.getLogger("pgserver").setLevel(logging.WARNING)


def _pgserver() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # XDG_RUNTIME_DIR not set, on import
        import pgserver
        import pgserver.postgres_server
    return pgserver


class EmbeddedPostgres:
    """One data folder and the server that runs on it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self._server: Any = None
        self.started_here = False

    def is_running(self) -> bool:
        pg = _pgserver()
        info = pg.utils.PostmasterInfo.read_from_pgdata(self.data_dir)
        return bool(info is not None and info.is_running())

    def start(self) -> str:
        """Initialise the folder if new, start the server if stopped; its URL."""
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.started_here = not self.is_running()
        pg = _pgserver()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._server = pg.get_server(self.data_dir, cleanup_mode=None)
        # We stop the server ourselves; pgserver's exit hook would only log into closed streams.
        atexit.unregister(self._server._cleanup)
        return str(self._server.get_uri())

    def stop(self) -> None:
        """Stop the server (fast shutdown); nothing happens if it is not running."""
        if not self.is_running():
            return
        pg = _pgserver()
        user = "pgserver" if _is_root() else None
        with contextlib.suppress(Exception):
            pg._commands.pg_ctl(["-m", "fast", "-w", "stop"], pgdata=self.data_dir, user=user)
        # pgserver caches one handle per folder; drop it so that start() starts again.
        pg.postgres_server.PostgresServer._instances.pop(self.data_dir, None)


def _is_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0
