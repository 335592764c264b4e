"""Real HTTP servers standing in for the broker and the marketplace at the process edge."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class StandIn:
    """A threaded HTTP server; ``seen`` records (method, path, headers) of every request."""

    def __init__(self, answer: Any) -> None:
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                outer.seen.append((self.command, self.path, headers))
                status, doc = answer(self.command, self.path, headers, body)
                out = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _any

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def broker_answer(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
    """Retrieve Entity answers an entity whose type is named in its id
    (``urn:ngsi-ld:<Type>:<n>``); anything else echoes what it received."""
    parts = urlsplit(path)
    prefix = "/ngsi-ld/v1/entities/"
    if method == "GET" and parts.path.startswith(prefix):
        eid = parts.path[len(prefix) :]
        return 200, {"id": eid, "type": eid.split(":")[2]}
    return 200, {"method": method, "path": path, "headers": headers, "body": body.decode()}


class Marketplace(StandIn):
    """``GET /marketplace/v1/entitlements?party=...`` as the marketplace serves it."""

    def __init__(self) -> None:
        self.entitlements: list[dict[str, Any]] = []

        def answer(method: str, path: str, _h: dict[str, str], _b: bytes) -> tuple[int, Any]:
            parts = urlsplit(path)
            if method != "GET" or parts.path != "/marketplace/v1/entitlements":
                return 404, {"code": "404", "reason": "Not found"}
            party = parse_qs(parts.query).get("party", [None])[0]
            return 200, [e for e in self.entitlements if party is None or e["party"] == party]

        super().__init__(answer)

    def calls(self) -> int:
        return sum(1 for _, p, _ in self.seen if p.startswith("/marketplace/v1/entitlements"))
