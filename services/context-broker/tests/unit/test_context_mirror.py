"""Which file a mirrored @context URL names (contexts/mirror.py, BROKER_CONTEXT_MIRROR).

The URL comes from a request, so the mapping is a security boundary: nothing outside the
mirror's directory may ever be named. The broker's behaviour with a mirror is checked end to
end in tests/api/test_context_mirror.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from context_broker.contexts.mirror import ContextMirror
from context_broker.settings import BrokerSettings


@pytest.fixture
def mirror(tmp_path: Path) -> ContextMirror:
    root = tmp_path / "mirror"
    root.mkdir()
    return ContextMirror(root)


@pytest.mark.parametrize(
    ("url", "relative"),
    [
        (
            "https://fiware.github.io/NGSI-LD_TestSuite/ldContext/testContext.jsonld",
            "fiware.github.io/NGSI-LD_TestSuite/ldContext/testContext.jsonld",
        ),
        ("http://fiware.github.io/a.jsonld", "fiware.github.io/a.jsonld"),
        ("HTTPS://Contexts.Example/a.jsonld", "contexts.example/a.jsonld"),
        ("https://contexts.example:443/a.jsonld", "contexts.example/a.jsonld"),
        ("http://contexts.example:80/a.jsonld", "contexts.example/a.jsonld"),
        ("https://contexts.example:8443/a.jsonld", "contexts.example:8443/a.jsonld"),
        ("http://127.0.0.1:8088/ctx/a.jsonld", "127.0.0.1:8088/ctx/a.jsonld"),
        ("https://contexts.example/a%20b.jsonld", "contexts.example/a b.jsonld"),
        ("https://contexts.example/%252e%252e/a", "contexts.example/%2e%2e/a"),  # decoded once
        ("https://contexts.example/a.jsonld#part", "contexts.example/a.jsonld"),
        ("https://contexts.example/a.jsonld?", "contexts.example/a.jsonld"),
        ("https://contexts.example/.well-known/a", "contexts.example/.well-known/a"),
    ],
)
def test_a_url_names_its_file_under_the_directory(
    mirror: ContextMirror, url: str, relative: str
) -> None:
    assert mirror.path_of(url) == mirror.root / relative


@pytest.mark.parametrize(
    "url",
    [
        # dot segments, plain or percent-encoded, anywhere in the path
        "https://contexts.example/../outside.jsonld",
        "https://contexts.example/a/../../outside.jsonld",
        "https://contexts.example/./a.jsonld",
        "https://contexts.example/%2e%2e/outside.jsonld",
        "https://contexts.example/%2E%2E/outside.jsonld",
        "https://contexts.example/.%2e/outside.jsonld",
        # encoded separators and NUL
        "https://contexts.example/..%2f..%2foutside.jsonld",
        "https://contexts.example/a%2Fb.jsonld",
        "https://contexts.example/..%5c..%5coutside.jsonld",
        "https://contexts.example/a%00.jsonld",
        "https://contexts.example/%ff.jsonld",  # not UTF-8
        # empty segments: an absolute path, a folder, nothing at all
        "https://contexts.example//etc/passwd",
        "https://contexts.example/a//b.jsonld",
        "https://contexts.example/a/",
        "https://contexts.example/",
        "https://contexts.example",
        # hosts that are not a plain name
        "https://../outside.jsonld",
        "https://%2e%2e/outside.jsonld",
        "https://..%2f/outside.jsonld",
        "https://./a.jsonld",
        "https://a..b/a.jsonld",
        "https://-a/a.jsonld",
        "https://[::1]/a.jsonld",
        "https://under_score.example/a.jsonld",
        "https:///etc/passwd",
        # query strings, user information, other schemes, bad ports
        "https://contexts.example/a.jsonld?x=1",
        "https://contexts.example/a.jsonld?../../outside.jsonld",
        "https://user:secret@contexts.example/a.jsonld",
        "https://@contexts.example/a.jsonld",
        "file:///etc/passwd",
        "ftp://contexts.example/a.jsonld",
        "urn:x:contexts.example/a.jsonld",
        "/ngsi-ld/v1/jsonldContexts/a",
        "https://contexts.example:99999/a.jsonld",
        "https://contexts.example:x/a.jsonld",
    ],
)
def test_a_url_that_cannot_be_mapped_safely_is_not_mirrored(
    mirror: ContextMirror, url: str
) -> None:
    assert mirror.path_of(url) is None
    assert mirror.read(url, 1024) is None


def test_symbolic_links_are_followed_only_inside_the_directory(
    mirror: ContextMirror, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.jsonld"
    outside.write_text('{"@context": {}}')
    host = mirror.root / "contexts.example"
    host.mkdir()
    (host / "escape.jsonld").symlink_to(outside)
    (host / "escape-dir").symlink_to(tmp_path)
    # As a Kubernetes volume lays out its files: links to a hidden folder beside them.
    data = mirror.root / "..data" / "contexts.example"
    data.mkdir(parents=True)
    (data / "inside.jsonld").write_text('{"@context": {"a": "https://a.example/"}}')
    (host / "inside.jsonld").symlink_to(data / "inside.jsonld")

    assert mirror.path_of("https://contexts.example/escape.jsonld") is None
    assert mirror.read("https://contexts.example/escape.jsonld", 1024) is None
    assert mirror.read("https://contexts.example/escape-dir/outside.jsonld", 1024) is None
    inside = mirror.read("https://contexts.example/inside.jsonld", 1024)
    assert inside == b'{"@context": {"a": "https://a.example/"}}'


def test_read(mirror: ContextMirror) -> None:
    folder = mirror.root / "contexts.example" / "models"
    folder.mkdir(parents=True)
    (folder / "a.jsonld").write_bytes(b"0123456789")
    assert mirror.read("https://contexts.example/models/a.jsonld", 4) == b"0123"
    assert mirror.read("https://contexts.example/models/a.jsonld", 100) == b"0123456789"
    assert mirror.read("https://contexts.example/models/b.jsonld", 100) is None
    assert mirror.read("https://contexts.example/models", 100) is None  # a folder
    assert mirror.read("https://contexts.example/models/a.jsonld/x", 100) is None
    assert mirror.read("https://contexts.example/" + "x" * 300, 100) is None  # name too long


def test_a_file_that_is_there_but_cannot_be_read_is_an_error(
    mirror: ContextMirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = mirror.root / "contexts.example"
    folder.mkdir()
    (folder / "locked.jsonld").write_text("{}")

    def refused(*_: object, **__: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", refused)  # as for a mode 000 file (root reads those)
    with pytest.raises(PermissionError):
        mirror.read("https://contexts.example/locked.jsonld", 100)


def test_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BROKER_CONTEXT_MIRROR", raising=False)
    assert BrokerSettings().context_mirror is None
    monkeypatch.setenv("BROKER_CONTEXT_MIRROR", str(tmp_path))
    assert BrokerSettings().context_mirror == tmp_path
    for blank in ("", "  "):  # not the working directory
        monkeypatch.setenv("BROKER_CONTEXT_MIRROR", blank)
        assert BrokerSettings().context_mirror is None
    monkeypatch.setenv("BROKER_CONTEXT_MIRROR", str(tmp_path / "missing"))
    with pytest.raises(ValidationError, match="context_mirror"):
        BrokerSettings()
