"""Merge the OpenAPI 3.1 documents of several services into one (pure function).

Paths do not collide (each service owns its prefixes); component names may, so every
component of a service is renamed ``<Service>_<Name>`` and its ``$ref``s rewritten.
"""

from __future__ import annotations

from typing import Any

_COMPONENT_KINDS = (
    "schemas",
    "responses",
    "parameters",
    "examples",
    "requestBodies",
    "headers",
    "securitySchemes",
    "links",
    "callbacks",
    "pathItems",
)


def _prefix(service: str) -> str:
    return "".join(part.capitalize() for part in service.replace("_", "-").split("-")) + "_"


def _rewrite(node: Any, prefix: str) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/components/"):
                _, _, kind, name = value.split("/", 3)
                out[key] = f"#/components/{kind}/{prefix}{name}"
            else:
                out[key] = _rewrite(value, prefix)
        return out
    if isinstance(node, list):
        return [_rewrite(v, prefix) for v in node]
    return node


def merge_documents(
    docs: dict[str, dict[str, Any]], *, title: str, version: str, own: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One document holding every path and component of ``docs`` (and ``own``, unprefixed)."""
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": {},
        "components": {},
        "tags": [],
    }
    sources: list[tuple[str, dict[str, Any]]] = []
    if own is not None:
        sources.append(("", own))
    sources += [(_prefix(name), doc) for name, doc in sorted(docs.items())]
    for prefix, doc in sources:
        doc = _rewrite(doc, prefix) if prefix else doc
        for path, item in doc.get("paths", {}).items():
            merged["paths"].setdefault(path, item)
        for kind in _COMPONENT_KINDS:
            for name, value in doc.get("components", {}).get(kind, {}).items():
                merged["components"].setdefault(kind, {})[f"{prefix}{name}"] = value
        for tag in doc.get("tags", []):
            if tag not in merged["tags"]:
                merged["tags"].append(tag)
    return merged
