"""Starting the services as processes, waiting for them, and stopping them all."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from mims_stack.services import SERVICES, ServiceSpec


@dataclass
class Stack:
    """Running service processes and where they listen."""

    urls: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def stop(self, timeout: float = 10.0) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.processes.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.processes.clear()


def service_env(
    svc: ServiceSpec,
    database_url: str,
    port: int,
    upstreams: Mapping[str, str],
    extra: Mapping[str, str] | None = None,
    public_base_url: str | None = None,
) -> dict[str, str]:
    env = dict(os.environ)
    p = svc.env_prefix
    env[f"{p}DATABASE_URL"] = database_url
    env[f"{p}PORT"] = str(port)
    if svc.name == "context-broker" and public_base_url and "BROKER_PUBLIC_BASE_URL" not in env:
        # Hosted @contexts are named by the URL clients see: the gateway's.
        env["BROKER_PUBLIC_BASE_URL"] = public_base_url
    if svc.name == "context-broker" and "catalogue" in upstreams:
        env.setdefault("BROKER_CATALOGUE_URL", upstreams["catalogue"])
    if svc.name == "catalogue" and "context-broker" in upstreams:
        # The catalogue harvests the broker directly; readers reach it through the gateway.
        env.setdefault("CATALOGUE_BROKER_URL", upstreams["context-broker"])
        env.setdefault("CATALOGUE_BROKER_HARVEST_INTERVAL_S", "60")
        if public_base_url:
            env.setdefault("CATALOGUE_BROKER_PUBLIC_URL", public_base_url)
    if svc.name == "gateway":
        env["GATEWAY_BROKER_URL"] = upstreams["context-broker"]
        env["GATEWAY_CATALOGUE_URL"] = upstreams["catalogue"]
        env["GATEWAY_MARKETPLACE_URL"] = upstreams["marketplace"]
        if public_base_url and "GATEWAY_PUBLIC_URL" not in env:
            env["GATEWAY_PUBLIC_URL"] = public_base_url  # the built-in issuer's name
    if svc.name == "marketplace":
        env["MARKET_CATALOGUE_URL"] = upstreams["catalogue"]
    env.update(extra or {})
    return env


def start_service(
    svc: ServiceSpec, env: Mapping[str, str], host: str, port: int, log: int | None = None
) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        svc.factory,
        "--host",
        host,
        "--port",
        str(port),
        "--no-access-log",
        "--timeout-graceful-shutdown",
        "5",
    ]
    return subprocess.Popen(cmd, env=dict(env), stdout=log, stderr=log, preexec_fn=_die_with_parent)


def _die_with_parent() -> None:
    """In the child: ask Linux to send SIGTERM when the supervisor dies, even by SIGKILL,
    so that no service outlives ``make run``. A no-op elsewhere."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with status {proc.returncode}")
        try:
            resp = httpx.get(f"{url}/ready", timeout=1.0)
            if resp.status_code == 200:
                return
            last = f"{resp.status_code} {resp.text[:200]}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.1)
    raise TimeoutError(f"{url} was not ready after {timeout:.0f}s: {last}")


def port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def start_stack(
    database_urls: Mapping[str, str],
    ports: Mapping[str, int] | None = None,
    host: str = "127.0.0.1",
    extra_env: Mapping[str, str] | None = None,
    log_dir: Path | None = None,
) -> Stack:
    """Start every service (upstreams first), each once ready before the next starts.

    Logs go to the terminal, or to ``<log_dir>/<service>.log``.
    """
    stack = Stack()
    ports = ports or {s.name: s.port for s in SERVICES}
    for svc in SERVICES:
        if not port_free(host, ports[svc.name]):
            raise RuntimeError(
                f"Port {ports[svc.name]} of {svc.name} is in use on {host} (is another stack "
                f"running?); free it or set {svc.env_prefix}PORT"
            )
    try:
        for svc in SERVICES:
            port = ports[svc.name]
            url = f"http://{host}:{port}"
            planned = {s.name: f"http://{host}:{ports[s.name]}" for s in SERVICES}
            env = service_env(
                svc,
                database_urls[svc.name],
                port,
                planned,
                extra_env,
                public_base_url=f"http://{host}:{ports['gateway']}",
            )
            log = None
            if log_dir is not None:
                log = os.open(log_dir / f"{svc.name}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            proc = start_service(svc, env, host, port, log)
            if log is not None:
                os.close(log)
            stack.processes[svc.name] = proc
            wait_ready(url, proc)
            stack.urls[svc.name] = url
    except BaseException:
        stack.stop()
        raise
    return stack
