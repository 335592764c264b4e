"""MIM1 checks: each passes against the real broker and fails when one rule is broken."""

from __future__ import annotations

import json
import re

import pytest

from checks.tests.conftest import Outcome
from checks.tests.servers import Req, Resp, Saboteur

Broker = tuple[str, Saboteur]

MIM1 = [
    "mim1.entity-crud",
    "mim1.query-language",
    "mim1.geo-query",
    "mim1.subscriptions",
    "mim1.context",
    "mim1.errors-read",
    "mim1.errors-write",
]


@pytest.mark.parametrize("name", MIM1)
async def test_passes_against_the_broker(broker: Broker, outcome: Outcome, name: str) -> None:
    result = await outcome(name, broker=broker[0])
    assert result.status == "passed", result.message


@pytest.mark.parametrize("name", [n for n in MIM1 if n != "mim1.errors-read"])
async def test_writing_checks_skip_on_a_read_only_run(
    broker: Broker, outcome: Outcome, name: str
) -> None:
    result = await outcome(name, broker=broker[0], read_only=True)
    assert result.status == "skipped" and "read-only" in result.message


async def test_no_broker_given_skips(outcome: Outcome) -> None:
    result = await outcome("mim1.entity-crud")
    assert result.status == "skipped" and "--broker" in result.message


def _entities_post(req: Req) -> bool:
    return req.method == "POST" and req.path.rstrip("/").endswith("/entities")


def _drop_location(req: Req, resp: Resp) -> Resp | None:
    if _entities_post(req):
        resp.headers.pop("location", None)
    return resp


def _keep_deleted_attribute(req: Req) -> Req | None:
    # DELETE of an attribute answers 204 but removes nothing.
    if req.method == "DELETE" and "/attrs/" in req.path:
        req.method, req.path = "GET", "/health"
    return req


def _fake_204(req: Req, resp: Resp) -> Resp | None:
    return Resp(204) if req.path == "/health" else resp


def _lose_one_query_result(req: Req, resp: Resp) -> Resp | None:
    if req.method == "GET" and req.path.endswith("/entities") and "q=" in req.query:
        items = json.loads(resp.body)
        resp.body = json.dumps(items[:-1] if len(items) > 1 else items).encode()
    return resp


def _ignore_geo(req: Req) -> Req | None:
    req.query = re.sub(r"&?(georel|geometry|coordinates)=[^&]*", "", req.query)
    return req


def _misdirect_notifications(req: Req) -> Req | None:
    if req.method == "POST" and req.path.endswith("/subscriptions"):
        body = json.loads(req.body)
        body["notification"]["endpoint"]["uri"] = "http://127.0.0.1:9/nowhere"
        req.body = json.dumps(body).encode()
    return req


def _jsonld_as_json(req: Req, resp: Resp) -> Resp | None:
    if req.headers.get("accept") == "application/ld+json":
        resp.headers["content-type"] = "application/json"
    return resp


def _plain_404(req: Req, resp: Resp) -> Resp | None:
    if resp.status == 404:
        return Resp(404, {"content-type": "text/plain"}, b"Not Found")
    return resp


def _accept_any_media_type(req: Req) -> Req | None:
    if req.headers.get("content-type") == "text/plain":
        req.headers["content-type"] = "application/json"
    return req


CASES = [
    ("mim1.entity-crud", None, _drop_location, "Location"),
    ("mim1.entity-crud", _keep_deleted_attribute, _fake_204, "deleted attribute"),
    ("mim1.query-language", None, _lose_one_query_result, "must select"),
    ("mim1.geo-query", _ignore_geo, None, "georel="),
    ("mim1.subscriptions", _misdirect_notifications, None, "no notification"),
    ("mim1.context", None, _jsonld_as_json, "application/ld+json"),
    ("mim1.errors-read", None, _plain_404, "ProblemDetails"),
    ("mim1.errors-write", _accept_any_media_type, None, "415"),
]


@pytest.mark.parametrize(("name", "on_request", "on_response", "says"), CASES)
async def test_fails_when_the_rule_is_broken(
    broker: Broker, outcome: Outcome, name: str, on_request: object, on_response: object, says: str
) -> None:
    url, saboteur = broker
    saboteur.on_request = on_request  # type: ignore[assignment]
    saboteur.on_response = on_response  # type: ignore[assignment]
    result = await outcome(name, broker=url, notification_timeout=3.0)
    assert result.status == "failed", result.message
    assert says in result.message


async def test_a_broker_refusing_writes_is_treated_as_read_only(
    broker: Broker, outcome: Outcome
) -> None:
    url, saboteur = broker

    def refuse(req: Req, resp: Resp) -> Resp:
        if req.method in ("POST", "PATCH", "DELETE"):
            return Resp(405, {"content-type": "application/json"}, b"{}")
        return resp

    saboteur.on_response = refuse
    for name in ("mim1.entity-crud", "mim1.query-language", "mim1.subscriptions"):
        result = await outcome(name, broker=url)
        assert result.status == "skipped" and "refuses writes" in result.message, name
    errors = await outcome("mim1.errors-read", broker=url)
    assert errors.status == "passed", errors.message
