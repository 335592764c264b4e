"""MIM2 validation of entities against their data model (Smart Data Models publish a JSON
Schema 2020-12 of the key-values form); pure.

An entity is stored expanded (IRIs). To validate it, it is compacted in the model's
@context, rendered in key-values (ETSI GS CIM 009 V1.8.1, 4.5.4 simplified), typed literals
``{"@type": ..., "@value": v}`` reduced to ``v``, and checked by a compiled validator
(jsonschema-rs: compiled once per model version, microseconds per entity). ``$ref``s
resolve only to documents the broker holds (the vendored Smart Data Models schemas and the
schemas of registered models), never over the network.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs

from context_broker.ngsild.jsonld import BUNDLED, CompiledContext, compact_entity_keys
from context_broker.ngsild.representation import ENTITY_CORE, render

SDM_DIR = Path(__file__).parent / "sdm"
_GITHUB = "https://smart-data-models.github.io/"
_RAW = "https://raw.githubusercontent.com/smart-data-models/"


@dataclass(frozen=True, slots=True)
class Violation:
    """One way an entity breaks its model: where (a JSON path in the key-values form) and
    what the schema says."""

    path: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


@cache
def bundled_schemas() -> dict[str, Any]:
    """The vendored JSON Schemas by every URL they are known under ($id, and the raw
    GitHub URL of their file in the subject repository)."""
    out: dict[str, Any] = {}
    for path in sorted(SDM_DIR.rglob("*.json")):
        if "examples" in path.parts:
            continue
        doc = json.loads(path.read_text(encoding="utf-8"))
        rel = path.relative_to(SDM_DIR).as_posix()
        repo, _, inner = rel.partition("/")
        urls = {f"{_GITHUB}{rel}", f"{_RAW}{repo}/master/{inner}"}
        if isinstance(doc.get("$id"), str):
            urls.add(doc["$id"])
        for url in urls:
            out[url] = doc
    return out


@cache
def bundled_contexts() -> dict[str, Path]:
    """The vendored Smart Data Models @context documents by the URLs models name them by."""
    out: dict[str, Path] = {}
    for path in sorted(SDM_DIR.glob("dataModel.*/context.jsonld")):
        repo = path.parent.name
        out[f"{_RAW}{repo}/master/context.jsonld"] = path
        out[f"{_GITHUB}{repo}/context.jsonld"] = path
    return out


def register_bundled_contexts() -> None:
    """Make the Smart Data Models @contexts resolve from disk, like the core ones."""
    BUNDLED.update(bundled_contexts())


def _path(parts: list[str | int]) -> str:
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def _plain(value: Any) -> Any:
    """Typed JSON-LD literals (``{"@type": "DateTime", "@value": ...}``) as their value."""
    if isinstance(value, dict):
        if "@value" in value and set(value) <= {"@value", "@type", "@language"}:
            return value["@value"]
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _key_values(compacted: Mapping[str, Any]) -> dict[str, Any]:
    out = render(dict(compacted), "simplified", False)
    out.pop("scope", None)
    return {k: _plain(v) for k, v in out.items()}


def key_values(entity: Mapping[str, Any], ctx: CompiledContext) -> list[tuple[str, dict[str, Any]]]:
    """An expanded entity (id, type, attributes) in key-values, names in ``ctx``, as the
    documents its data model describes: one, or, when it has multi-attributes (4.5.5), one
    per datasetId among them, each multi-attribute there as its instance of that datasetId
    (else its default instance, else its first). Each with its datasetId (``@none``: the
    default); a model describes one value per attribute, and the simplified representation
    of a multi-attribute (a ``dataset`` map, 4.5.4) is no value it could check."""
    compacted = compact_entity_keys(entity, ctx)
    multi = {
        k: {i.get("datasetId", "@none"): i for i in v if isinstance(i, dict)}
        for k, v in compacted.items()
        if k not in ENTITY_CORE and isinstance(v, list) and len(v) > 1
    }
    if not multi:
        return [("@none", _key_values(compacted))]
    out = []
    for dataset in dict.fromkeys(ds for instances in multi.values() for ds in instances):
        one = dict(compacted)
        for name, instances in multi.items():
            one[name] = (
                instances.get(dataset) or instances.get("@none") or next(iter(instances.values()))
            )
        out.append((dataset, _key_values(one)))
    return out


class CompiledModel:
    """A data model ready to validate: its compiled schema and its @context."""

    def __init__(
        self,
        model_id: str,
        version: str,
        schema: Any,
        ctx: CompiledContext,
        resolve: Callable[[str], Any],
    ) -> None:
        self.id = model_id
        self.version = version
        self.ctx = ctx

        def retrieve(uri: str) -> Any:
            return resolve(uri.split("#", 1)[0])

        self._validator = jsonschema_rs.validator_for(
            schema, retriever=retrieve, validate_formats=True
        )

    def violations(self, entity: Mapping[str, Any], limit: int = 20) -> list[Violation]:
        """What is wrong with ``entity`` (expanded), at most ``limit`` items; [] if valid."""
        documents = key_values(entity, self.ctx)
        first = documents[0][1]
        # The attributes whose value differs between the documents: a multi-attribute's
        # instances, reported with their datasetId; the others once, from the first.
        varying = {
            k
            for _, doc in documents[1:]
            for k in doc.keys() | first.keys()
            if doc.get(k) != first.get(k)
        }
        found: list[Violation] = []
        for n, (dataset, doc) in enumerate(documents):
            if self._validator.is_valid(doc):
                continue
            for error in self._validator.iter_errors(doc):
                where = list(error.instance_path)
                root = str(where[0]) if where else None
                message = error.message
                if root in varying:
                    if dataset != "@none":
                        message += f" (datasetId {dataset})"
                elif n:
                    continue
                found.append(Violation(_path(where), message))
                if len(found) >= limit:
                    return found
        return found
