"""The controlled vocabularies DCAT-AP 3.0.1 asks for (section 8), as the catalogue accepts
them: each term's code, official URI and English label."""

from __future__ import annotations

import orjson
from fastapi import APIRouter
from starlette.responses import Response

from catalogue.dcat.vocab import MIMS, VOCABULARIES
from mims_shared.errors import NotFound

router = APIRouter(prefix="/catalogue/v1/vocabularies")


def _vocabulary(name: str) -> dict[str, object]:
    v = VOCABULARIES[name]
    return {
        "id": name,
        "name": v.name,
        "scheme": v.base.rstrip("/"),
        "class": v.rdf_class,
        "terms": [{"code": c, "uri": v.uri(c), "label": label} for c, label in v.terms.items()],
    }


_ALL = orjson.dumps(
    [_vocabulary(n) for n in VOCABULARIES]
    + [{"id": "mims", "name": "MIM", "terms": [{"code": c, "label": t} for c, t in MIMS.items()]}]
)


@router.get("")
async def list_vocabularies() -> Response:
    """The controlled vocabularies and their terms (DCAT-AP 3.0.1, section 8)."""
    return Response(_ALL, media_type="application/json")


@router.get("/{name}")
async def retrieve_vocabulary(name: str) -> Response:
    """One controlled vocabulary and its terms (DCAT-AP 3.0.1, section 8)."""
    if name not in VOCABULARIES:
        raise NotFound(f"Vocabulary {name[:100]} does not exist; see /catalogue/v1/vocabularies")
    return Response(orjson.dumps(_vocabulary(name)), media_type="application/json")
