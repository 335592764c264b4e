"""The service's OpenAPI contract: the hand-written document in ``contracts/`` is served as is.

Code follows the contract, not the reverse: ``/openapi.json`` serves the file, and a test
fails when a route is served that the contract does not describe, or the reverse.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
import yaml

ENV_CONTRACTS_DIR = "MIMS_CONTRACTS_DIR"


def contracts_dir() -> Path:
    """``$MIMS_CONTRACTS_DIR``, else the ``contracts/`` folder of the source tree."""
    configured = os.environ.get(ENV_CONTRACTS_DIR)
    if configured:
        return Path(configured)
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "contracts"
        if (candidate / "README.md").exists():
            return candidate
    raise FileNotFoundError(f"No contracts folder found; set {ENV_CONTRACTS_DIR}")


@lru_cache(maxsize=8)
def load_contract(service: str) -> dict[str, Any]:
    """The parsed OpenAPI document of ``service`` (e.g. ``context-broker``)."""
    path = contracts_dir() / service / "openapi.yaml"
    with path.open(encoding="utf-8") as fh:
        doc = yaml.safe_load(fh)
    if not isinstance(doc, dict) or not str(doc.get("openapi", "")).startswith("3.1"):
        raise ValueError(f"{path} is not an OpenAPI 3.1 document")
    return doc


@lru_cache(maxsize=8)
def contract_json(service: str) -> bytes:
    return orjson.dumps(load_contract(service))


HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def contract_operations(doc: dict[str, Any]) -> set[tuple[str, str]]:
    """``{(METHOD, path)}`` of every operation the contract describes."""
    ops: set[tuple[str, str]] = set()
    for path, item in doc.get("paths", {}).items():
        for method in HTTP_METHODS:
            if method in item:
                ops.add((method.upper(), path))
    return ops
