"""The check registry, the result model, the run loop and the three outputs.

A check is a plain ``async def check(ctx) -> str | None`` registered with :func:`check`. It
passes when it returns (the string, if any, is a note), fails by raising :class:`Failed`
(or any unexpected exception, reported as an error of the target), and skips by raising
:class:`Skipped` with the reason. Each check creates its own data under ``ctx.prefix`` and
removes it in ``finally``; checks never depend on each other.
"""

from __future__ import annotations

import json
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from xml.etree import ElementTree as ET

import httpx

Status = Literal["passed", "failed", "skipped"]
Target = Literal["broker", "catalogue", "marketplace", "gateway"]


class Failed(Exception):
    """The target broke the rule the check is about."""


class Skipped(Exception):
    """The check could not run (target not given, read-only run, optional feature absent)."""


def expect(condition: object, message: str) -> None:
    """Fail the check with ``message`` unless ``condition`` holds."""
    if not condition:
        raise Failed(message)


def show(resp: httpx.Response, limit: int = 300) -> str:
    """``POST /x -> 500: body…`` for failure messages."""
    body = resp.text[:limit].replace("\n", " ")
    return f"{resp.request.method} {resp.request.url.path} -> {resp.status_code}: {body}"


def writable(resp: httpx.Response) -> None:
    """Skip, as on a read-only run, when the target refuses the check's first write with 405
    (the method is not offered) or 403 (not with these credentials): a read-only endpoint."""
    if resp.status_code in (403, 405):
        raise Skipped(f"the target refuses writes, treated as read-only: {show(resp, 160)}")


@dataclass
class Context:
    """What a check gets: the targets, one HTTP client, the run id and the options."""

    urls: dict[str, str]
    client: httpx.AsyncClient
    run_id: str
    token: str | None = None
    tenant: str | None = None
    read_only: bool = False
    receiver_host: str = "127.0.0.1"
    receiver_port: int = 0
    receiver_url: str | None = None
    notification_timeout: float = 10.0
    schemas: dict[str, str] = field(default_factory=dict)
    catalogue_rdf: str | None = None

    def url(self, target: Target) -> str:
        """The base URL of ``target`` or skip: the check is about a target not given."""
        base = self.urls.get(target)
        if not base:
            raise Skipped(f"no --{target} URL given")
        return base.rstrip("/")

    def writing(self) -> None:
        """Skip a check that writes when the run is read-only."""
        if self.read_only:
            raise Skipped("read-only run: this check writes data")

    @property
    def prefix(self) -> str:
        """Unique per run; every name a check creates starts with it."""
        return f"MimsCheck{self.run_id}"

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        h: dict[str, str] = {}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        if self.tenant:
            h["NGSILD-Tenant"] = self.tenant
        h.update(extra or {})
        return h


CheckFn = Callable[[Context], Awaitable[str | None]]


@dataclass(frozen=True)
class Check:
    name: str  # "mim1.entity-crud"
    group: str  # "mim1"
    title: str
    clause: str  # the rule's source, e.g. "ETSI GS CIM 009 V1.8.1 5.6.1"
    fn: CheckFn


REGISTRY: dict[str, Check] = {}
GROUPS = ["mim1", "mim2", "mim3", "catalogue", "mim6"]  # the order of the report


def check(name: str, title: str, clause: str) -> Callable[[CheckFn], CheckFn]:
    """Register ``fn`` as the check ``name`` (``<group>.<check>``)."""

    def register(fn: CheckFn) -> CheckFn:
        group = name.split(".", 1)[0]
        REGISTRY[name] = Check(name, group, title, clause, fn)
        return fn

    return register


@dataclass
class Result:
    check: Check
    status: Status
    message: str
    seconds: float


def select(
    checks: Iterable[Check], only: Sequence[str] = (), skip: Sequence[str] = ()
) -> list[Check]:
    """Checks named (or whose group is named) in ``only`` (all when empty), minus ``skip``."""

    def named(c: Check, names: Sequence[str]) -> bool:
        return any(n in (c.name, c.group) for n in names)

    chosen = [c for c in checks if (not only or named(c, only)) and not named(c, skip)]
    return sorted(chosen, key=lambda c: GROUPS.index(c.group) if c.group in GROUPS else 99)


def unknown_names(names: Sequence[str]) -> list[str]:
    groups = {c.group for c in REGISTRY.values()}
    return [n for n in names if n not in REGISTRY and n not in groups]


async def run_one(c: Check, ctx: Context) -> Result:
    start = time.monotonic()
    try:
        note = await c.fn(ctx)
        status: Status = "passed"
        message = note or ""
    except Skipped as exc:
        status, message = "skipped", str(exc)
    except Failed as exc:
        status, message = "failed", str(exc)
    except httpx.HTTPError as exc:
        status, message = "failed", f"HTTP error: {type(exc).__name__}: {exc}"
    except Exception as exc:
        status = "failed"
        message = f"unexpected {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
    return Result(c, status, message, time.monotonic() - start)


async def run(checks: Sequence[Check], ctx: Context) -> list[Result]:
    """Run the checks one after the other (they share nothing but the client)."""
    return [await run_one(c, ctx) for c in checks]


def new_run_id() -> str:
    return uuid.uuid4().hex[:10]


# -- outputs -------------------------------------------------------------------------------

_MARK = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}


def summary(results: Sequence[Result]) -> str:
    """The terminal report: one line per check, the reasons of failures and skips, totals."""
    lines = []
    for r in results:
        lines.append(f"{_MARK[r.status]}  {r.check.name:<34} {r.seconds:6.2f}s  {r.check.title}")
        if r.message:
            shown = r.message.strip().splitlines()
            for part in shown[:6] if r.status != "passed" else shown[:1]:
                lines.append(f"        {part}")
    counts = {s: sum(1 for r in results if r.status == s) for s in _MARK}
    lines.append(
        f"\n{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped"
        f" in {sum(r.seconds for r in results):.1f}s"
    )
    return "\n".join(lines)


def to_json(results: Sequence[Result], run_id: str, urls: dict[str, str]) -> dict[str, Any]:
    return {
        "runId": run_id,
        "targets": urls,
        "summary": {s: sum(1 for r in results if r.status == s) for s in _MARK},
        "checks": [
            {
                "name": r.check.name,
                "group": r.check.group,
                "title": r.check.title,
                "clause": r.check.clause,
                "status": r.status,
                "message": r.message,
                "seconds": round(r.seconds, 3),
            }
            for r in results
        ],
    }


def to_junit(results: Sequence[Result]) -> str:
    """JUnit XML: one ``testsuite`` per group, one ``testcase`` per check."""
    root = ET.Element("testsuites", name="mims-check")
    groups: dict[str, list[Result]] = {}
    for r in results:
        groups.setdefault(r.check.group, []).append(r)
    for group, items in groups.items():
        suite = ET.SubElement(
            root,
            "testsuite",
            name=group,
            tests=str(len(items)),
            failures=str(sum(1 for r in items if r.status == "failed")),
            skipped=str(sum(1 for r in items if r.status == "skipped")),
            errors="0",
            time=f"{sum(r.seconds for r in items):.3f}",
        )
        for r in items:
            case = ET.SubElement(
                suite, "testcase", classname=f"mims_check.{group}", name=r.check.name
            )
            case.set("time", f"{r.seconds:.3f}")
            if r.status == "failed":
                fail = ET.SubElement(case, "failure", message=r.message.splitlines()[0][:500])
                fail.text = f"{r.check.title} ({r.check.clause})\n{r.message}"
            elif r.status == "skipped":
                ET.SubElement(case, "skipped", message=r.message)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def write_outputs(
    results: Sequence[Result],
    run_id: str,
    urls: dict[str, str],
    junit: str | None,
    json_path: str | None,
) -> None:
    if junit:
        with open(junit, "w", encoding="utf-8") as f:
            f.write(to_junit(results))
    if json_path:
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump(to_json(results, run_id, urls), f, indent=2)
