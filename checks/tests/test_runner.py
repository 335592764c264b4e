"""The runner and the command line: selection, outputs, exit status."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from checks.tests.fakes import catalogue_app
from checks.tests.servers import LiveServer, Resp, Saboteur
from mims_check import cli
from mims_check.runner import REGISTRY, Check, Result, select, summary, to_json, to_junit

Live = Callable[..., LiveServer]


def test_select_by_group_and_name() -> None:
    checks = list(REGISTRY.values())
    mim1 = select(checks, only=["mim1"])
    assert mim1 and all(c.group == "mim1" for c in mim1)
    some = select(checks, only=["mim1"], skip=["mim1.temporal"])
    assert {c.name for c in some} == {c.name for c in mim1} - {"mim1.temporal"}
    assert [c.name for c in select(checks, only=["mim6.tls"])] == ["mim6.tls"]
    assert len(select(checks)) == len(checks)


def _results() -> list[Result]:
    c: dict[str, Check] = {
        n: REGISTRY[n] for n in ("mim1.geo-query", "mim6.tls", "mim6.unauthenticated-refused")
    }
    return [
        Result(c["mim1.geo-query"], "failed", "georel=within must select [a], got []", 0.5),
        Result(c["mim6.tls"], "passed", "", 0.1),
        Result(c["mim6.unauthenticated-refused"], "skipped", "no --token given", 0.0),
    ]


def test_junit_json_and_summary() -> None:
    results = _results()
    root = ET.fromstring(to_junit(results).split("\n", 1)[1])  # noqa: S314 (our own XML)
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"mim1", "mim6"}
    assert suites["mim1"].get("failures") == "1" and suites["mim6"].get("skipped") == "1"
    failure = suites["mim1"].find("testcase/failure")
    assert failure is not None and "georel=within" in (failure.get("message") or "")
    skipped = suites["mim6"].find("testcase[@name='mim6.unauthenticated-refused']/skipped")
    assert skipped is not None and skipped.get("message") == "no --token given"
    doc = to_json(results, "run1", {"broker": "http://x"})
    assert doc["summary"] == {"passed": 1, "failed": 1, "skipped": 1}
    assert doc["checks"][0]["status"] == "failed" and doc["checks"][0]["clause"]
    text = summary(results)
    assert "FAIL  mim1.geo-query" in text and "georel=within" in text
    assert "1 passed, 1 failed, 1 skipped" in text


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--url", "http://127.0.0.1:9", "--only", "mim9"]) == 2
    assert "unknown check or group: mim9" in capsys.readouterr().err
    assert cli.main([]) == 2


def test_exit_status_and_files(
    live: Live, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = live(catalogue_app())
    junit, report = tmp_path / "j.xml", tmp_path / "r.json"
    args = [
        "--catalogue",
        good.url,
        "--only",
        "catalogue",
        "--junit",
        str(junit),
        "--json",
        str(report),
    ]
    assert cli.main(args) == 0
    assert json.loads(report.read_text())["summary"] == {"passed": 2, "failed": 0, "skipped": 0}
    assert "testsuite" in junit.read_text()

    bad = Saboteur(catalogue_app())
    bad.on_response = lambda req, resp: Resp(500, {"content-type": "text/plain"}, b"boom")
    args[1] = live(bad).url
    assert cli.main(args) == 1
    assert json.loads(report.read_text())["summary"]["failed"] == 2
    assert "FAIL  catalogue.ckan-api" in capsys.readouterr().out


def test_read_only_run_says_so(live: Live, capsys: pytest.CaptureFixture[str]) -> None:
    server = live(catalogue_app())
    assert cli.main(["--broker", server.url, "--only", "mim1.entity-crud", "--read-only"]) == 0
    out = capsys.readouterr().out
    assert "SKIP  mim1.entity-crud" in out and "read-only" in out


def test_the_tool_imports_none_of_the_services() -> None:
    # It must judge any vendor the same way and run where no service is installed; the
    # bundled Smart Data Models are read as package data, by name, when present.
    src = Path(__file__).parents[1] / "src" / "mims_check"
    pattern = re.compile(
        r"^\s*(from|import)\s+(context_broker|catalogue|marketplace|gateway|mims_shared|mims_stack)\b",
        re.M,
    )
    for file in src.glob("*.py"):
        assert not pattern.search(file.read_text()), file
