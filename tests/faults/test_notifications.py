"""Notifications survive what happens to broker processes (issue: reliability of MIM1
subscriptions). Every broker here is a real process on a real PostgreSQL database of its
own; processes are killed with SIGKILL, the receiver is a real HTTP server.

- a change acknowledged to the writer is notified even if the broker dies before it could
  send it (the entity_change outbox is written in the transaction of the write);
- a notification whose delivery failed is taken over and delivered by a new process;
- two broker processes on one database send each notification once, not twice.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import Receiver, free_port
from mims_stack.database import drop, prepare
from mims_stack.services import spec
from mims_stack.supervisor import service_env, start_service, wait_ready

BROKER = spec("context-broker")


@pytest.fixture
def broker_db(pg_server: str) -> Iterator[str]:
    name = f"mims_test_faults_notify_{uuid.uuid4().hex[:8]}"
    urls = asyncio.run(prepare(pg_server, (BROKER,), {BROKER.name: name}))
    yield urls[BROKER.name]
    asyncio.run(drop([urls[BROKER.name]]))


class Brokers:
    """Broker processes started on one database; all are killed at the end."""

    def __init__(self, db_url: str, logs: Path) -> None:
        self.db_url = db_url
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *, notifier: bool = True) -> str:
        port = free_port()
        extra = {
            "BROKER_NOTIFIER": "true" if notifier else "false",
            "BROKER_NOTIFY_LEASE_S": "2",
        }
        env = service_env(BROKER, self.db_url, port, {}, extra)
        with (self.logs / f"broker-{port}.log").open("wb") as log:
            proc = start_service(BROKER, env, "127.0.0.1", port, log.fileno())
        self.procs.append(proc)
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, proc)
        return base

    def kill(self, index: int) -> None:
        proc = self.procs[index]
        proc.kill()  # SIGKILL: no shutdown hook runs
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


@pytest.fixture
def brokers(broker_db: str, tmp_path: Path) -> Iterator[Brokers]:
    b = Brokers(broker_db, tmp_path)
    yield b
    b.stop_all()


def _subscribe(base: str, kind: str, uri: str) -> None:
    body = {
        "type": "Subscription",
        "entities": [{"type": kind}],
        "notificationTrigger": ["entityCreated"],
        "notification": {"endpoint": {"uri": uri}},
    }
    r = httpx.post(f"{base}/ngsi-ld/v1/subscriptions", json=body)
    assert r.status_code == 201, r.text


def _create(base: str, kind: str, n: int) -> str:
    eid = f"urn:ngsi-ld:{kind}:{n}"
    r = httpx.post(f"{base}/ngsi-ld/v1/entities", json={"id": eid, "type": kind})
    assert r.status_code == 201, r.text
    return eid


def _wait_for(receiver: Receiver, n: int, timeout: float) -> list[str]:
    """The entity ids notified, once ``n`` notifications arrived (or the time is up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(receiver.bodies()) < n:
        time.sleep(0.05)
    return [e["id"] for body in receiver.bodies() for e in body["data"]]


def test_acknowledged_change_is_notified_after_the_broker_dies(brokers: Brokers) -> None:
    """The writer's broker runs no notifier and is killed right after the 201: the change
    waits in the outbox and the next broker process notifies it."""
    receiver = Receiver()
    try:
        kind = f"Spot{uuid.uuid4().hex[:6]}"
        writer = brokers.start(notifier=False)
        _subscribe(writer, kind, f"{receiver.url}/n")
        eid = _create(writer, kind, 1)
        brokers.kill(0)
        assert receiver.bodies() == []
        brokers.start()
        assert _wait_for(receiver, 1, 15) == [eid]
    finally:
        receiver.close()


def test_failed_delivery_is_taken_over_by_a_new_process(brokers: Brokers) -> None:
    """The receiver is down while the first broker tries; that broker is killed; the
    receiver comes up and a new broker process delivers the notification."""
    port = free_port()
    kind = f"Spot{uuid.uuid4().hex[:6]}"
    first = brokers.start()
    _subscribe(first, kind, f"http://127.0.0.1:{port}/n")
    eid = _create(first, kind, 1)
    deadline = time.monotonic() + 10
    sub_url = f"{first}/ngsi-ld/v1/subscriptions?limit=1"
    while time.monotonic() < deadline:  # until the first attempt has failed
        note = httpx.get(sub_url).json()[0]["notification"]
        if note.get("timesFailed"):
            break
        time.sleep(0.05)
    assert note.get("status") == "failed"
    brokers.kill(0)
    receiver = Receiver(port)
    try:
        second = brokers.start()
        assert _wait_for(receiver, 1, 20) == [eid]
        time.sleep(1.0)
        note = httpx.get(f"{second}/ngsi-ld/v1/subscriptions?limit=1").json()[0]["notification"]
        assert note["status"] == "ok"
        assert note["timesFailed"] >= 1
        assert len(receiver.bodies()) == 1
    finally:
        receiver.close()


def test_two_brokers_on_one_database_notify_once(brokers: Brokers) -> None:
    """Writes spread over two broker processes that both run a notifier: every change is
    notified exactly once."""
    receiver = Receiver()
    try:
        kind = f"Spot{uuid.uuid4().hex[:6]}"
        a, b = brokers.start(), brokers.start()
        _subscribe(a, kind, f"{receiver.url}/n")
        sent = [_create(a if n % 2 else b, kind, n) for n in range(120)]
        got = _wait_for(receiver, len(sent), 30)
        time.sleep(1.5)  # anything sent twice would arrive by now
        got = [e["id"] for body in receiver.bodies() for e in body["data"]]
        assert Counter(got) == Counter(sent)
    finally:
        receiver.close()
