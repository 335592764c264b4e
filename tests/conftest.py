"""Cross-service fixtures: every service started as a real process on free ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import free_port
from mims_stack.services import SERVICES
from mims_stack.supervisor import Stack, start_stack


@pytest.fixture(scope="session")
def stack_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stack-logs")


@pytest.fixture(scope="session")
def stack(databases: dict[str, str], stack_logs: Path) -> Iterator[Stack]:
    """The four services, each in its own uvicorn process, talking over real HTTP."""
    ports = {s.name: free_port() for s in SERVICES}
    running = start_stack(
        databases, ports=ports, log_dir=stack_logs, extra_env={"GATEWAY_ENVIRONMENT": "test"}
    )
    yield running
    running.stop()
