"""A local mirror of remote @context documents, for brokers that cannot reach the internet.

The operator gives the broker a directory (``BROKER_CONTEXT_MIRROR``) laid out as
``wget --mirror`` lays out what it downloads: the document of
``https://host/some/path.jsonld`` is the file ``<dir>/host/some/path.jsonld`` (a port other
than the scheme's default is part of the first folder: ``<dir>/host:8080/...``; http and
https share the tree). The broker reads a mirrored URL's document from that file where it
would otherwise have fetched it (ETSI GS CIM 009 V1.8.1, 5.5.7 and 5.13.1): the document is
then a Cached @context like any fetched one.

A URL names the file, so this is a security boundary: only what lies under the directory
can ever be read. A URL is mapped to a file only when every part of it can be mapped
safely; otherwise it is not mirrored (``path_of`` answers None) and the broker treats it as
it treats any URL it does not hold. Not mirrored are URLs

- of another scheme than http and https, with user information, or with a query string;
- whose host is not a plain DNS name or IPv4 address (letters, digits, ``-`` and ``.``);
- whose path is empty or ends with ``/`` (a folder), or has an empty, ``.`` or ``..``
  segment, or a segment that decodes (percent-encoding) to one holding ``/``, ``\\`` or
  NUL;
- whose file, its symbolic links followed, lies outside the directory.

The fragment, never sent by HTTP either, is ignored.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

#: The default port of each scheme the mirror serves.
_DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_UNSAFE_IN_SEGMENT = ("/", "\\", "\x00")


def _segments(path: str) -> list[str] | None:
    """The decoded segments of a URL path, or None when one of them cannot name a file
    safely."""
    if not path.startswith("/"):
        return None
    names: list[str] = []
    for raw in path[1:].split("/"):
        try:
            name = unquote(raw, errors="strict")
        except UnicodeDecodeError:
            return None
        if name in ("", ".", "..") or any(c in name for c in _UNSAFE_IN_SEGMENT):
            return None
        names.append(name)
    return names


class ContextMirror:
    """The @context documents of a directory, by the URL they were mirrored from."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def path_of(self, url: str) -> Path | None:
        """The file that holds the document of ``url`` if it is mirrored (whether or not the
        file is there), or None when ``url`` cannot be mapped safely under the directory."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return None
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or parts.query or "@" in parts.netloc:
            return None
        host = parts.hostname
        if not host or not _HOST.fullmatch(host):
            return None
        if port is not None and port != _DEFAULT_PORTS[scheme]:
            host = f"{host}:{port}"
        segments = _segments(parts.path)
        if not segments:
            return None
        path = self.root.joinpath(host, *segments)
        try:
            # Symbolic links are followed (a Kubernetes volume is made of them) as long as
            # they lead to a file under the directory.
            resolved = path.resolve()
        except (OSError, RuntimeError, ValueError):  # ValueError: a name the OS cannot hold
            return None
        return resolved if resolved.is_relative_to(self.root) else None

    def read(self, url: str, limit: int) -> bytes | None:
        """The content of the file mirroring ``url`` (at most ``limit`` bytes), or None when
        ``url`` is not mirrored or its file is not there. Raises OSError when the file is
        there but cannot be read."""
        path = self.path_of(url)
        if path is None:
            return None
        try:
            if not path.is_file():
                return None
        except (OSError, ValueError):  # e.g. a name too long for the file system: no file
            return None
        with path.open("rb") as handle:
            return handle.read(limit)
