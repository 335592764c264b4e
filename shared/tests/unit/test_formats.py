"""Each error format, rendered for representative errors (whole bodies)."""

from __future__ import annotations

import orjson
import pytest
from starlette.requests import Request

from mims_shared import errors as e
from mims_shared.web.formats import render_ngsild_problem, render_problem_json, render_tmf_error
from mims_shared.web.problems import status_of


def request(path: str = "/x") -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": path,
            "headers": [],
            "query_string": b"",
            "scheme": "http",
            "server": ("t", 80),
        }
    )


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (e.InvalidRequest("x"), 400),
        (e.BadRequestData("x"), 400),
        (e.Unauthenticated("x"), 401),
        (e.Forbidden("x"), 403),
        (e.NotFound("x"), 404),
        (e.MethodNotAllowed("x"), 405),
        (e.NotAcceptable("x"), 406),
        (e.AlreadyExists("x"), 409),
        (e.Conflict("x"), 409),
        (e.PayloadTooLarge("x"), 413),
        (e.UnsupportedMediaType("x"), 415),
        (e.OperationNotSupported("x"), 422),
        (e.TooManyRequests("x"), 429),
        (e.BadGateway("x"), 502),
        (e.ServiceUnavailable("x"), 503),
        (e.UpstreamTimeout("x"), 504),
    ],
)
def test_status_of_every_error(error: e.DomainError, status: int) -> None:
    assert status_of(error) == status


def test_a_subclass_takes_its_parents_status() -> None:
    class LdContextNotAvailable(e.ServiceUnavailable):
        pass

    assert status_of(LdContextNotAvailable("x")) == 503


def test_problem_json() -> None:
    resp = render_problem_json(e.NotFound("Dataset d1 does not exist"), 404, request("/d/d1"))
    assert resp.status_code == 404
    assert resp.media_type == "application/problem+json"
    assert orjson.loads(resp.body) == {
        "type": "urn:mims:problem:not-found",
        "title": "Resource not found",
        "status": 404,
        "detail": "Dataset d1 does not exist",
        "instance": "/d/d1",
    }


def test_problem_json_carries_extra_members_and_headers() -> None:
    error = e.TooManyRequests("Slow down", retry_after_s=7)
    resp = render_problem_json(error, 429, request())
    assert resp.headers["retry-after"] == "7"
    error2 = e.BadRequestData("Invalid", extra={"violations": [{"path": "$.a"}]})
    assert orjson.loads(render_problem_json(error2, 400, request()).body)["violations"] == [
        {"path": "$.a"}
    ]


def test_ngsild_problem_details() -> None:
    resp = render_ngsild_problem(
        e.AlreadyExists("Entity urn:a:1 already exists"), 409, request("/ngsi-ld/v1/entities")
    )
    assert resp.media_type == "application/json"
    assert orjson.loads(resp.body) == {
        "type": "https://uri.etsi.org/ngsi-ld/errors/AlreadyExists",
        "title": "Already exists",
        "status": 409,
        "detail": "Entity urn:a:1 already exists",
        "instance": "/ngsi-ld/v1/entities",
    }


def test_ngsild_error_type_can_be_named_by_the_error() -> None:
    class LdContextNotAvailable(e.ServiceUnavailable):
        ngsild_type = "LdContextNotAvailable"

    body = orjson.loads(render_ngsild_problem(LdContextNotAvailable("x"), 504, request()).body)
    assert body["type"] == "https://uri.etsi.org/ngsi-ld/errors/LdContextNotAvailable"


def test_tmf_error() -> None:
    resp = render_tmf_error(e.MethodNotAllowed("no", allowed=["GET", "POST"]), 405, request())
    assert resp.headers["allow"] == "GET, POST"
    assert orjson.loads(resp.body) == {
        "@type": "Error",
        "code": "MethodNotAllowed",
        "reason": "Method not allowed",
        "message": "no",
        "status": "405",
    }
