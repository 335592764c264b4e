"""The access log: whole JSON lines with the request's fields, written in batches."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator

import pytest

from mims_shared.logs import AccessLog, request_id_var


@pytest.fixture(autouse=True)
def info_level() -> Iterator[None]:
    """As configure_logging sets it for a service (tests run at the default WARNING)."""
    logger = logging.getLogger("mims.access")
    logger.setLevel(logging.INFO)
    yield
    logger.setLevel(logging.NOTSET)


async def test_lines_are_batched_then_written_whole(capsys: pytest.CaptureFixture[str]) -> None:
    log = AccessLog()
    log.service = "broker"
    token = request_id_var.set("req-1")
    try:
        log.write("GET", "/ngsi-ld/v1/entities/x", 200, 1.25)
        log.write("POST", "/ngsi-ld/v1/entities", 201, 3.5)
    finally:
        request_id_var.reset(token)
    assert capsys.readouterr().err == ""  # not yet: one write for the batch
    await asyncio.sleep(AccessLog.FLUSH_S + 0.1)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(ln["msg"], ln["duration_ms"]) for ln in lines] == [
        ("GET /ngsi-ld/v1/entities/x 200", 1.25),
        ("POST /ngsi-ld/v1/entities 201", 3.5),
    ]
    first = lines[0]
    assert first["level"] == "INFO" and first["logger"] == "mims.access"
    assert first["service"] == "broker" and first["request_id"] == "req-1"
    assert first["ts"].endswith("+00:00")


def test_a_full_batch_is_written_at_once_and_the_level_is_obeyed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = AccessLog()
    for n in range(AccessLog.MAX_LINES):  # no event loop: written at once, in order
        log.write("GET", f"/p/{n}", 200, 0.1)
    out = capsys.readouterr().err.splitlines()
    assert len(out) == AccessLog.MAX_LINES and json.loads(out[-1])["msg"].startswith("GET /p/255")
    logging.getLogger("mims.access").setLevel(logging.WARNING)
    log.write("GET", "/quiet", 200, 0.1)
    log.flush()
    assert capsys.readouterr().err == ""
