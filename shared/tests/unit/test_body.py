from __future__ import annotations

import random
from typing import Any

import orjson
import pytest
from starlette.requests import Request

from mims_shared.errors import InvalidRequest
from mims_shared.web.body import contains_nul, json_depth_exceeds, media_type_of, read_json


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("application/json", "application/json"),
        ("Application/LD+JSON; charset=utf-8", "application/ld+json"),
        (" text/plain ;q=1", "text/plain"),
    ],
)
def test_media_type_of(header: str | None, expected: str | None) -> None:
    assert media_type_of(header) == expected


def nest(depth: int) -> Any:
    value: Any = 1
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


@pytest.mark.parametrize(
    ("value", "limit", "exceeds"),
    [
        (1, 1, False),
        ({}, 1, False),
        (nest(3), 3, False),
        (nest(4), 3, True),
        ({"a": [1, 2, {"b": {}}], "c": "x"}, 4, False),
        ({"a": [1, 2, {"b": {}}], "c": "x"}, 3, True),
        ({"a": [1, 2, {"b": {"c": []}}]}, 3, True),
        (nest(500), 64, True),
    ],
)
def test_json_depth(value: Any, limit: int, exceeds: bool) -> None:
    assert json_depth_exceeds(value, limit) is exceeds


def _depth(value: Any) -> int:
    """The nesting depth by its definition (a scalar is 0, an empty array or object 1)."""
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def test_json_depth_agrees_with_the_definition_on_random_documents() -> None:
    rng = random.Random(7)  # noqa: S311 - test data, not secrets

    def grow(budget: int) -> Any:
        roll = rng.random()
        if budget == 0 or roll < 0.25:
            return rng.choice([1, "s", None, 2.5, True])
        children = [grow(budget - 1) for _ in range(rng.randint(0, 3))]
        if roll < 0.6:
            return children
        return {f"k{i}": c for i, c in enumerate(children)}

    for _ in range(2000):
        value = grow(rng.randint(0, 9))
        depth = _depth(value)
        for limit in range(1, 11):
            assert json_depth_exceeds(value, limit) is (depth > limit), (value, limit)


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ({"a": "b"}, False),
        ({"a": "b\x00"}, True),
        ({"a\x00": 1}, True),
        ([1, 2, ["x", {"y": "\x00"}]], True),
        ("plain", False),
        ([], False),
    ],
)
def test_contains_nul(value: Any, found: bool) -> None:
    assert contains_nul(value) is found


def _request(body: bytes) -> Request:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(b"content-type", b"application/json")],
    }
    return Request(scope, receive)


@pytest.mark.parametrize(
    ("body", "refused"),
    [
        (nest(4), False),
        (nest(5), True),
        ({"a": "[[[[[[[[{{{{{{{{"}, False),  # brackets in strings count, nesting does not
        ([["[", "{"], ["[[", "{{"]], False),
    ],
)
async def test_read_json_refuses_only_what_nests_too_deep(body: Any, refused: bool) -> None:
    raw = orjson.dumps(body)
    if refused:
        with pytest.raises(InvalidRequest, match="nests deeper than 4"):
            await read_json(_request(raw), max_bytes=10_000, max_depth=4)
    else:
        assert await read_json(_request(raw), max_bytes=10_000, max_depth=4) == body
