"""The marketplace contract is a faithful subset of the official TM Forum v5 specifications.

For every TMF operation we serve (TMF620, TMF622, TMF632, TMF637) the official document
(vendored in contracts/marketplace/reference/) must have
the same path and method, the same operationId (``x-tmf-operationId`` where ours must be
renamed to stay unique), every parameter we declare with the same type, and for request
and success-response bodies every property we declare with the same type (extensions are
marked ``x-mims-extension``), enum values within the official ones, and required members
that do not break a client of the official API: a request may require no more than the
official one, a response must promise at least what the official one promises, and every
member the official schema requires is described.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "contracts/marketplace/openapi.yaml"
REFERENCE = ROOT / "contracts/marketplace/reference"
OFFICIAL = {
    "productCatalogManagement": "TMF620-Product_Catalog_Management-v5.0.0.oas.yaml",
    "productOrderingManagement": "TMF622-ProductOrdering-v5.0.0.oas.yaml",
    "partyManagement": "TMF632-Party_Management-v5.0.0.oas.yaml",
    "productInventory": "TMF637-ProductInventory-v5.0.0.oas.yaml",
}
METHODS = ("get", "post", "patch", "put", "delete")


@cache
def official(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((REFERENCE / name).read_text()))


def deref(doc: dict[str, Any], node: Any) -> Any:
    """``node`` with its ``$ref`` chain followed (local references only)."""
    seen = 0
    while isinstance(node, dict) and "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
        seen += 1
        assert seen < 50, "reference loop"
    return node


def flatten(doc: dict[str, Any], schema: Any) -> dict[str, Any]:
    """Type, properties, required and enum of a schema, ``allOf`` merged."""
    schema = deref(doc, schema)
    out: dict[str, Any] = {"type": schema.get("type"), "properties": {}, "required": set()}
    if "enum" in schema:
        out["enum"] = list(schema["enum"])
    for part in schema.get("allOf", []):
        sub = flatten(doc, part)
        out["properties"].update(sub["properties"])
        out["required"] |= sub["required"]
        out["type"] = out["type"] or sub["type"]
        if "enum" in sub:
            out["enum"] = sub["enum"]
    out["properties"].update(schema.get("properties", {}))
    out["required"] |= set(schema.get("required", []))
    if out["type"] is None and (
        out["properties"] or "oneOf" in schema or "anyOf" in schema or "allOf" in schema
    ):
        out["type"] = "object"
    if out["type"] == "array":
        out["items"] = schema.get("items", {})
    return out


def compare(
    ours_doc: dict[str, Any],
    ours: Any,
    off_doc: dict[str, Any],
    off: Any,
    where: str,
    direction: str,
    depth: int = 0,
) -> list[str]:
    """Breaking differences between our schema and the official one."""
    if depth > 6:
        return []
    a, b = flatten(ours_doc, ours), flatten(off_doc, off)
    found: list[str] = []
    if a["type"] and b["type"] and a["type"] != b["type"]:
        return [f"{where}: type {a['type']} is {b['type']} in the official spec"]
    # Stripped: TMF637 v5.0.0 spells one ProductStatusType value "aborted " (a stray space).
    official_values = {str(v).strip() for v in b.get("enum", [])}
    if "enum" in a and "enum" in b and not set(a["enum"]) <= official_values:
        found.append(f"{where}: enum values {sorted(set(a['enum']) - official_values)} unknown")
    if a["type"] == "array" and b["type"] == "array":
        found += compare(
            ours_doc, a["items"], off_doc, b["items"], where + "[]", direction, depth + 1
        )
    if a["type"] != "object" or not a["properties"]:
        return found
    for name, sub in a["properties"].items():
        if isinstance(sub, dict) and sub.get("x-mims-extension"):
            continue
        if name not in b["properties"]:
            found.append(f"{where}.{name}: not in the official schema")
            continue
        found += compare(
            ours_doc, sub, off_doc, b["properties"][name], f"{where}.{name}", direction, depth + 1
        )
    if direction == "request" and not a["required"] <= b["required"]:
        found.append(f"{where}: requires {sorted(a['required'] - b['required'])} in addition")
    if direction == "response" and not b["required"] <= a["required"]:
        found.append(f"{where}: does not promise {sorted(b['required'] - a['required'])}")
    undescribed = b["required"] - set(a["properties"])
    if undescribed:
        found.append(f"{where}: required members {sorted(undescribed)} are missing")
    return found


def json_schema(doc: dict[str, Any], holder: Any, media: str = "application/json") -> Any:
    content = deref(doc, holder).get("content", {})
    return content.get(media, {}).get("schema")


def differences(contract: dict[str, Any]) -> list[str]:
    found: list[str] = []
    compared = 0
    for path, item in contract["paths"].items():
        if not path.startswith("/tmf-api/"):
            continue
        api, version, *rest = path.removeprefix("/tmf-api/").split("/")
        if api not in OFFICIAL or version != "v5":
            found.append(f"{path}: not an API we claim")
            continue
        doc = official(OFFICIAL[api])
        off_path = "/" + "/".join(rest)
        off_item = doc["paths"].get(off_path)
        if off_item is None:
            found.append(f"{path}: {off_path} is not in {OFFICIAL[api]}")
            continue
        for method in METHODS:
            if method not in item:
                continue
            op, where = item[method], f"{method.upper()} {path}"
            off_op = off_item.get(method)
            if off_op is None:
                found.append(f"{where}: the official spec has no {method.upper()} here")
                continue
            compared += 1
            name = op.get("x-tmf-operationId", op["operationId"])
            if name != off_op["operationId"]:
                found.append(f"{where}: operationId {name} is {off_op['operationId']}")
            off_params = {
                (p["name"], p["in"]): p
                for p in (
                    deref(doc, x)
                    for x in off_item.get("parameters", []) + off_op.get("parameters", [])
                )
            }
            for raw in item.get("parameters", []) + op.get("parameters", []):
                p = deref(contract, raw)
                off_p = off_params.get((p["name"], p["in"]))
                if off_p is None:
                    found.append(f"{where}: parameter {p['name']} is not official")
                    continue
                found += compare(
                    contract, p["schema"], doc, off_p["schema"], f"{where} {p['name']}", "request"
                )
            if "requestBody" in op:
                for media, body in op["requestBody"]["content"].items():
                    off_schema = json_schema(doc, off_op.get("requestBody", {}), media)
                    if off_schema is None:
                        found.append(f"{where}: request media type {media} is not official")
                        continue
                    found += compare(
                        contract, body["schema"], doc, off_schema, f"{where} body", "request"
                    )
            for status, response in op["responses"].items():
                if not status.startswith("2"):
                    continue
                off_response = off_op["responses"].get(status)
                if off_response is None:
                    found.append(f"{where}: status {status} is not official")
                    continue
                ours_schema = json_schema(contract, response)
                off_schema = json_schema(doc, off_response)
                if ours_schema is not None and off_schema is not None:
                    found += compare(
                        contract, ours_schema, doc, off_schema, f"{where} {status}", "response"
                    )
    assert compared >= 40, f"only {compared} operations compared"
    return found


def load() -> dict[str, Any]:
    return dict(yaml.safe_load(CONTRACT.read_text()))


def test_contract_is_a_faithful_subset_of_the_official_specs() -> None:
    assert differences(load()) == []


PO = "/tmf-api/productCatalogManagement/v5/productOffering"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["paths"][PO]["get"].update(operationId="findOfferings"),
            "operationId findOfferings is listProductOffering",
        ),
        (
            lambda d: d["components"]["schemas"]["ProductOffering"]["properties"]["name"].update(
                type="integer"
            ),
            "name: type integer is string in the official spec",
        ),
        (
            lambda d: d["components"]["schemas"]["ProductOffering_FVO"]["required"].append(
                "description"
            ),
            "requires ['description'] in addition",
        ),
        (
            lambda d: d["components"]["schemas"]["Individual"]["required"].remove("@type"),
            "does not promise ['@type']",
        ),
        (
            lambda d: d["components"]["schemas"]["ProductOffering"]["properties"].update(
                colour={"type": "string"}
            ),
            "colour: not in the official schema",
        ),
        (
            lambda d: d["paths"][PO].update(put=d["paths"][PO]["post"]),
            "the official spec has no PUT here",
        ),
    ],
)
def test_breaking_changes_are_caught(change: Any, expected: str) -> None:
    doc = copy.deepcopy(load())
    change(doc)
    found = differences(doc)
    assert any(expected in f for f in found), found
