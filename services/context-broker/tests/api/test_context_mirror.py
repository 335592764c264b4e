"""A mirror of remote @contexts for air-gapped brokers (BROKER_CONTEXT_MIRROR).

A URL whose file is in the mirror is read from it exactly as if it had been fetched: a
Cached @context (ETSI GS CIM 009 V1.8.1, 5.13.1), listed, counted, served and reloaded
(5.13.3-5.13.5) as one, under the same checks. Any other URL is treated as without a mirror:
``offline`` may not fetch, so it answers LdContextNotAvailable; ``online`` fetches through an
``httpx.MockTransport`` that records what it is asked and serves ``REMOTE``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from conftest import serve
from context_broker.app import create_app
from context_broker.contexts.mirror import ContextMirror

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
BASE = "/ngsi-ld/v1/jsonldContexts"
HOST = "contexts.example"
SDM = "https://smartdatamodels.org/dataModel.Parking/"
#: A valid @context outside the mirror that no URL may reach (``outside.jsonld``).
SECRET = {"@context": {"ParkingSpot": "https://secret.example/ParkingSpot"}}
REMOTE: dict[str, dict[str, Any]] = {}
asked: list[str] = []


def parking_context(prefix: str = SDM) -> dict[str, Any]:
    return {"@context": {"ParkingSpot": f"{prefix}ParkingSpot", "width": f"{prefix}width"}}


def link(url: str) -> dict[str, str]:
    return {
        "Link": f'<{url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"',
        "NGSILD-Tenant": f"mirror{uuid.uuid4().hex[:12]}",
    }


def by_url(url: str) -> str:
    return f"{BASE}/{quote(url, safe='')}"


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    top = tmp_path_factory.mktemp("contexts")
    (top / "outside.jsonld").write_text(json.dumps(SECRET))
    root = top / "mirror"
    (root / HOST).mkdir(parents=True)
    return root


def put(mirror: Path, relative: str, content: bytes | dict[str, Any]) -> str:
    """Write a file under the mirror; the https URL it mirrors."""
    path = mirror / HOST / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    return f"https://{HOST}/{relative}"


def unique(name: str) -> str:
    return f"{uuid.uuid4().hex[:8]}/{name}"


@pytest.fixture(scope="module")
async def offline(
    settings_for: Callable[..., object], mirror: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings_for("context-broker", context_mirror=mirror, fetch_remote_contexts=False)
    async with serve(create_app(settings)) as client:  # type: ignore[arg-type]
        yield client


@pytest.fixture(scope="module")
async def online(
    settings_for: Callable[..., object], mirror: Path
) -> AsyncIterator[httpx.AsyncClient]:
    def remote(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        doc = REMOTE.get(str(request.url))
        return httpx.Response(500) if doc is None else httpx.Response(200, json=doc)

    app = create_app(settings_for("context-broker", context_mirror=mirror))  # type: ignore[arg-type]
    async with serve(app) as client:
        contexts = app.state.contexts
        await contexts.client.aclose()
        contexts.client = httpx.AsyncClient(transport=httpx.MockTransport(remote))
        yield client
        await contexts.client.aclose()


async def create_spot(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    entity = {
        "id": f"urn:ngsi-ld:ParkingSpot:{uuid.uuid4().hex}",
        "type": "ParkingSpot",
        "width": {"type": "Property", "value": 2.5},
    }
    return await client.post("/ngsi-ld/v1/entities", json=entity, headers=headers)


async def test_a_mirrored_context_is_a_cached_context(
    offline: httpx.AsyncClient, mirror: Path
) -> None:
    url = put(mirror, unique("parking.jsonld"), parking_context())
    headers = link(url)
    created = await create_spot(offline, headers)
    assert created.status_code == 201, created.text
    # Expanded with the mirrored @context, compacted back with it.
    types = await offline.get("/ngsi-ld/v1/types", headers=headers)
    assert types.json()["typeList"] == ["ParkingSpot"]
    core = await offline.get(
        "/ngsi-ld/v1/types", headers={"NGSILD-Tenant": headers["NGSILD-Tenant"]}
    )
    assert core.json()["typeList"] == [f"{SDM}ParkingSpot"]

    # Listed, counted and served as a fetched @context is (5.13.3, 5.13.4).
    assert url in (await offline.get(BASE, params={"kind": "Cached"})).json()
    assert url not in (await offline.get(BASE, params={"kind": "Hosted"})).json()
    details = (await offline.get(by_url(url), params={"details": "true"})).json()
    assert details["kind"] == "Cached"
    assert details["URL"] == url
    assert details["numberOfHits"] == 2
    assert details["lastUsage"] >= details["createdAt"]
    listed = (await offline.get(BASE, params={"details": "true", "kind": "Cached"})).json()
    assert next(c for c in listed if c["URL"] == url) == details
    by_id = await offline.get(f"{BASE}/{details['localId']}", params={"details": "true"})
    assert by_id.json()["URL"] == url
    content = await offline.get(by_url(url))
    assert content.status_code == 422
    assert content.json()["type"] == f"{ERR}OperationNotSupported"


async def test_reload_and_delete_read_the_mirror_again(
    offline: httpx.AsyncClient, mirror: Path
) -> None:
    relative = unique("parking.jsonld")
    url = put(mirror, relative, parking_context())
    headers = link(url)
    assert (await create_spot(offline, headers)).status_code == 201

    # Reload (5.13.5) reads the file again: its new terms name what is stored.
    put(mirror, relative, parking_context("https://other.example/"))
    assert (await offline.delete(by_url(url), params={"reload": "true"})).status_code == 204
    types = await offline.get("/ngsi-ld/v1/types", headers=headers)
    assert types.json()["typeList"] == [f"{SDM}ParkingSpot"]

    # A reload that fails keeps the copy the broker has.
    (mirror / HOST / relative).unlink()
    failed = await offline.delete(by_url(url), params={"reload": "true"})
    assert failed.status_code == 504
    assert failed.json()["type"] == f"{ERR}LdContextNotAvailable"
    assert (await offline.get("/ngsi-ld/v1/types", headers=headers)).status_code == 200

    # Deleted, it is forgotten; used again, it is read again, or is not available.
    assert (await offline.delete(by_url(url))).status_code == 204
    assert url not in (await offline.get(BASE)).json()
    gone = await offline.get("/ngsi-ld/v1/types", headers=headers)
    assert gone.status_code == 504
    put(mirror, relative, parking_context())
    again = await offline.get("/ngsi-ld/v1/types", headers=headers)
    assert again.json()["typeList"] == ["ParkingSpot"]
    details = (await offline.get(by_url(url), params={"details": "true"})).json()
    assert details["numberOfHits"] == 1


async def test_a_url_without_a_file_is_not_available_offline(
    offline: httpx.AsyncClient,
) -> None:
    url = f"https://{HOST}/{unique('absent.jsonld')}"
    resp = await create_spot(offline, link(url))
    assert resp.status_code == 504
    assert resp.json()["type"] == f"{ERR}LdContextNotAvailable"
    assert url not in (await offline.get(BASE)).json()


async def test_mirrored_contexts_are_named_by_hosted_ones_and_by_each_other(
    offline: httpx.AsyncClient, mirror: Path
) -> None:
    terms = put(mirror, unique("terms.jsonld"), parking_context())
    outer = put(mirror, unique("outer.jsonld"), {"@context": [terms, {"x": "https://x.example/x"}]})
    # Add @context (5.13.2): the URLs it names are had now and kept as Cached ones.
    added = await offline.post(BASE, json={"@context": [outer]})
    assert added.status_code == 201, added.text
    cached = (await offline.get(BASE, params={"kind": "Cached"})).json()
    assert outer in cached and terms in cached
    hosted = "http://localhost:1026" + added.headers["location"]
    assert (await create_spot(offline, link(hosted))).status_code == 201


async def test_a_file_that_cannot_be_read_is_not_available(
    offline: httpx.AsyncClient, mirror: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = put(mirror, unique("locked.jsonld"), parking_context())

    def refused(self: ContextMirror, url: str, limit: int) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(ContextMirror, "read", refused)
    resp = await create_spot(offline, link(url))
    assert resp.status_code == 504
    assert resp.json()["type"] == f"{ERR}LdContextNotAvailable"
    assert (
        resp.json()["detail"] == f"The @context {url} could not be read from this broker's mirror"
    )


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"x" * (512 * 1024 + 1), "larger than 512 KB"),
        (b"{not json", "not JSON"),
        (b'["@context"]', "holds no @context"),
        (b'{"context": {}}', "holds no @context"),
    ],
)
async def test_a_mirrored_file_is_checked_as_a_fetched_document(
    offline: httpx.AsyncClient, mirror: Path, content: bytes, why: str
) -> None:
    url = put(mirror, unique("bad.jsonld"), content)
    resp = await create_spot(offline, link(url))
    assert resp.status_code == 504
    assert resp.json()["type"] == f"{ERR}LdContextNotAvailable"
    assert why in resp.json()["detail"]


async def test_a_context_of_the_largest_size_is_read(
    offline: httpx.AsyncClient, mirror: Path
) -> None:
    doc = json.dumps(parking_context()).encode()
    padded = doc[:-1] + b" " * (512 * 1024 - len(doc)) + b"}"
    url = put(mirror, unique("large.jsonld"), padded)
    assert (await create_spot(offline, link(url))).status_code == 201


async def test_http_and_ports(offline: httpx.AsyncClient, mirror: Path) -> None:
    relative = unique("plain.jsonld")
    put(mirror, relative, parking_context())
    plain = f"http://{HOST}/{relative}"
    assert (await create_spot(offline, link(plain))).status_code == 201
    ported_file = mirror / f"{HOST}:8088" / relative
    ported_file.parent.mkdir(parents=True)
    ported_file.write_text(json.dumps(parking_context()))
    assert (await create_spot(offline, link(f"http://{HOST}:8088/{relative}"))).status_code == 201
    elsewhere = await create_spot(offline, link(f"http://{HOST}:8089/{relative}"))
    assert elsewhere.status_code == 504


ESCAPES = [
    f"https://{HOST}/../outside.jsonld",
    f"https://{HOST}/%2e%2e/outside.jsonld",
    f"https://{HOST}/x/..%2f..%2foutside.jsonld",
    f"https://{HOST}/..%5coutside.jsonld",
    "https://../outside.jsonld",
    "https://%2e%2e/outside.jsonld",
    f"https://{HOST}//outside.jsonld",
    f"https://{HOST}/escape.jsonld",  # a symbolic link to outside.jsonld
    f"https://{HOST}/escape.jsonld?x=1",
    f"https://user@{HOST}/escape.jsonld",
    "file:///outside.jsonld",
]


@pytest.fixture(scope="module")
def escape_link(mirror: Path) -> None:
    escape = mirror / HOST / "escape.jsonld"
    if not escape.is_symlink():
        escape.symlink_to(mirror.parent / "outside.jsonld")


@pytest.mark.parametrize("url", ESCAPES)
@pytest.mark.usefixtures("escape_link")
async def test_nothing_outside_the_mirror_is_read(offline: httpx.AsyncClient, url: str) -> None:
    headers = link(url)
    resp = await create_spot(offline, headers)
    assert resp.status_code in (400, 504), resp.text
    assert "secret" not in resp.text
    assert (await offline.get("/ngsi-ld/v1/types", headers=headers)).status_code in (400, 504)
    assert url not in (await offline.get(BASE)).json()
    listed = (await offline.get(BASE, params={"details": "true"})).text
    assert "secret" not in listed


async def test_online_a_url_without_a_file_is_fetched(
    online: httpx.AsyncClient, mirror: Path
) -> None:
    fetched = f"https://{HOST}/{unique('fetched.jsonld')}"
    REMOTE[fetched] = parking_context()
    mirrored = put(mirror, unique("mirrored.jsonld"), parking_context())
    REMOTE[mirrored] = parking_context("https://network.example/")
    asked.clear()
    assert (await create_spot(online, link(fetched))).status_code == 201
    assert (await create_spot(online, link(mirrored))).status_code == 201
    assert asked == [fetched]  # the mirror's file wins: the network is not asked for it
    cached = (await online.get(BASE, params={"kind": "Cached", "details": "true"})).json()
    kinds = {c["URL"]: (c["kind"], c["numberOfHits"]) for c in cached}
    assert kinds[fetched] == kinds[mirrored] == ("Cached", 1)


@pytest.mark.usefixtures("escape_link")
async def test_online_a_url_that_is_not_mirrored_goes_to_the_network(
    online: httpx.AsyncClient,
) -> None:
    url = f"https://{HOST}/escape.jsonld?x=1"
    asked.clear()
    resp = await create_spot(online, link(url))
    assert resp.status_code == 504
    assert asked == [url]
    assert "secret" not in resp.text
