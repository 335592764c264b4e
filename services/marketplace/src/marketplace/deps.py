"""Dependencies the routers use: parsed bodies and the JSON response."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from starlette.responses import Response

from mims_shared.web.body import json_body

#: A create body (TMF630: ``application/json``).
Json = Annotated[Any, json_body("application/json")]
#: A patch body: JSON Merge Patch (RFC 7386); plain JSON is read as a merge patch too.
MergePatch = Annotated[Any, json_body("application/merge-patch+json", "application/json")]


def json_response(
    body: object, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")
