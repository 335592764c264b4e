"""The catalogue read by ``ckanapi`` (the CKAN project's own client) over real HTTP,
unchanged: it POSTs each action as JSON and maps CKAN's error envelope to exceptions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import ckanapi
import httpx
import pytest

from catalogue.app import create_app

from .helpers import city, uid
from .servers import http_server


@pytest.fixture(scope="module")
async def served(
    settings_for: Callable[..., object],
) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    app = create_app(settings_for("catalogue"))  # type: ignore[arg-type]
    async with http_server(app) as url, httpx.AsyncClient(base_url=url) as client:
        yield url, client


def call(url: str, action: str, **params: Any) -> Any:
    with ckanapi.RemoteCKAN(url, user_agent="mims-tests/1") as remote:
        return remote.call_action(action, params)


async def test_ckanapi_reads_the_catalogue(served: tuple[str, httpx.AsyncClient]) -> None:
    url, client = served
    word = uid("ckanapi").replace("-", "")
    ids = await city(client, word)
    found = await asyncio.to_thread(
        call, url, "package_search", q=word, **{"facet.field": ["groups", "res_format"]}
    )
    assert found["count"] == 1 and found["results"][0]["name"] == ids["ds"]
    assert found["facets"]["res_format"] == {"JSON_LD": 1}
    pkg = await asyncio.to_thread(call, url, "package_show", id=ids["ds"])
    assert pkg["resources"][0]["format"] == "JSON_LD"
    assert ids["ds"] in await asyncio.to_thread(call, url, "package_list")
    org = await asyncio.to_thread(call, url, "organization_show", id=ids["agent"])
    assert org["package_count"] == 1
    assert (await asyncio.to_thread(call, url, "status_show"))["ckan_version"].startswith("2.")
    with pytest.raises(ckanapi.NotFound):
        await asyncio.to_thread(call, url, "package_show", id="no-such-dataset")
    with pytest.raises(ckanapi.ValidationError):
        await asyncio.to_thread(call, url, "package_search", rows="many")
    with pytest.raises(ckanapi.SearchQueryError):
        await asyncio.to_thread(call, url, "package_search", fq="secret:x")
