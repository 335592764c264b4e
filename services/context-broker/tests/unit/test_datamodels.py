"""MIM2 validation, pure: the upstream Smart Data Models examples and mutations of them."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from context_broker.datamodels.validation import (
    SDM_DIR,
    CompiledModel,
    bundled_schemas,
    register_bundled_contexts,
)
from context_broker.ngsild.jsonld import ContextNotAvailable, bundled_document, expand_entity_keys
from context_broker.ngsild.jsonld import get_compiled as compiled

register_bundled_contexts()
MODELS = sorted(p.parent.parent for p in SDM_DIR.glob("*/*/examples/example-normalized.jsonld"))


def _resolve(url: str) -> Any:
    doc = bundled_document(url)
    if doc is None:
        raise ContextNotAvailable(url)
    return doc


def _model_and_entity(model_dir: Path) -> tuple[CompiledModel, dict[str, Any]]:
    example = json.loads((model_dir / "examples" / "example-normalized.jsonld").read_text())
    ctx = compiled(example.pop("@context"), _resolve)
    schema = json.loads((model_dir / "schema.json").read_text())
    model = CompiledModel(model_dir.name, "test", schema, ctx, bundled_schemas().__getitem__)
    return model, expand_entity_keys(example, ctx)


def test_the_starter_set_is_complete() -> None:
    assert sorted(m.name for m in MODELS) == sorted(
        [
            "AirQualityObserved",
            "Building",
            "Device",
            "EVChargingStation",
            "OffStreetParking",
            "ParkingSpot",
            "PointOfInterest",
            "Streetlight",
            "TrafficFlowObserved",
            "WasteContainer",
            "WeatherObserved",
        ]
    )


@pytest.mark.parametrize("model_dir", MODELS, ids=lambda p: p.name)
def test_upstream_normalized_examples_conform(model_dir: Path) -> None:
    model, entity = _model_and_entity(model_dir)
    found = model.violations(entity)
    if model_dir.name == "AirQualityObserved":
        # Upstream's own example breaks its schema (see datamodels/sdm/README.md).
        assert {(v.path, v.message) for v in found} == {
            ("$.dateObserved", '"2016-03-15T11:00:00" is not a "date-time"'),
            ("$.windDirection", "186 is greater than the maximum of 180"),
            ("$.tsp", '73.3 is not of type "integer"'),
        }
        fixed = copy.deepcopy(entity)
        fixed[_attr(fixed, "dateObserved")]["value"] = "2016-03-15T11:00:00Z"
        fixed[_attr(fixed, "windDirection")]["value"] = 176
        fixed[_attr(fixed, "tsp")]["value"] = 73
        assert model.violations(fixed) == []
    else:
        assert found == []


def _attr(entity: dict[str, Any], name: str) -> str:
    return next(k for k in entity if k.endswith(("/" + name, "#" + name)))


def test_a_missing_required_attribute_is_named() -> None:
    model, entity = _model_and_entity(SDM_DIR / "dataModel.Parking" / "ParkingSpot")
    del entity[_attr(entity, "location")]
    found = model.violations(entity)
    assert [(v.path, v.message) for v in found] == [("$", '"location" is a required property')]


def test_a_wrong_type_and_an_enum_outside_are_named_with_their_path() -> None:
    model, entity = _model_and_entity(SDM_DIR / "dataModel.Parking" / "ParkingSpot")
    entity[_attr(entity, "status")]["value"] = "flying"
    entity[_attr(entity, "category")]["value"] = "onstreet"  # an array is required
    found = {(v.path, v.message) for v in model.violations(entity)}
    assert ("$.status", '"flying" is not one of "closed", "free" or 2 other candidates') in found
    assert any(p == "$.category" and "array" in m for p, m in found)


def test_nested_paths_are_json_paths() -> None:
    model, entity = _model_and_entity(SDM_DIR / "dataModel.Parking" / "ParkingSpot")
    entity[_attr(entity, "location")]["value"] = {"type": "Point", "coordinates": ["x", 1]}
    assert any(v.path.startswith("$.location") for v in model.violations(entity))


def test_vendored_files_are_the_upstream_bytes() -> None:
    readme = (SDM_DIR / "README.md").read_text()
    rows = re.findall(r"\| `([^`]+)` \|.*\| `([0-9a-f]{16})…` \|", readme)
    assert len(rows) == 46
    for name, prefix in rows:
        digest = hashlib.sha256((SDM_DIR / name).read_bytes()).hexdigest()
        assert digest.startswith(prefix), name


def test_a_multi_attribute_is_checked_once_per_dataset() -> None:
    """A model describes one value per attribute: each datasetId's instance is checked in
    place of the attribute (4.5.5), not the ``dataset`` map of keyValues (4.5.4)."""
    model, entity = _model_and_entity(SDM_DIR / "dataModel.Parking" / "ParkingSpot")
    status = _attr(entity, "status")
    entity[status] = [
        dict(entity[status], value="free"),
        dict(entity[status], value="occupied", datasetId="urn:ngsi-ld:Dataset:camera"),
    ]
    assert model.violations(entity) == []
    entity[status][1]["value"] = "flying"
    found = [(v.path, v.message) for v in model.violations(entity)]
    assert found == [
        (
            "$.status",
            '"flying" is not one of "closed", "free" or 2 other candidates '
            "(datasetId urn:ngsi-ld:Dataset:camera)",
        )
    ]
    entity[status][1]["value"] = "occupied"
    entity[status][0]["value"] = "flying"  # the default instance: no datasetId to name
    found = [(v.path, v.message) for v in model.violations(entity)]
    assert found == [("$.status", '"flying" is not one of "closed", "free" or 2 other candidates')]
    # what every dataset's document shares is reported once, without a datasetId
    del entity[_attr(entity, "location")]
    entity[status][0]["value"] = "free"
    found = [(v.path, v.message) for v in model.violations(entity)]
    assert found == [("$", '"location" is a required property')]
