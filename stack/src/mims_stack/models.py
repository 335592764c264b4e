"""``mims-stack load-models``: register the Smart Data Models starter set (vendored with the
broker, CC-BY-4.0) as MIM2 data models in the catalogue, over its HTTP API.

Idempotent: a model already there is updated in place. The broker picks the models up from
the catalogue by itself (BROKER_MODELS_REFRESH_S).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from context_broker.datamodels.validation import SDM_DIR

RAW = "https://raw.githubusercontent.com/smart-data-models/"


def starter_set(root: Path = SDM_DIR) -> list[dict[str, Any]]:
    """One catalogue data model record per vendored Smart Data Model."""
    records = []
    for schema_path in sorted(root.glob("dataModel.*/*/schema.json")):
        schema = json.loads(schema_path.read_text(encoding="utf-8"))
        name = schema_path.parent.name
        repo = schema_path.parent.parent.name
        description = str(schema.get("description") or schema.get("title") or name)
        records.append(
            {
                "identifier": f"sdm-{name.lower()}",
                "title": {"en": f"Smart Data Model {name}"},
                "description": {"en": description[:9000]},
                "version": str(schema.get("$schemaVersion") or "0.0.0"),
                "schema": schema["$id"],
                "context": f"{RAW}{repo}/master/context.jsonld",
                "entityTypes": [name],
                "documentation": f"https://github.com/smart-data-models/{repo}/tree/master/{name}",
                "keyword": ["Smart Data Models", repo.removeprefix("dataModel.")],
            }
        )
    return records


def load(catalogue_url: str, client: httpx.Client | None = None) -> list[tuple[str, str]]:
    """Create or update each starter model; (identifier, 'created' | 'updated') per model."""
    own = client is None
    client = client or httpx.Client(timeout=30)
    base = f"{catalogue_url.rstrip('/')}/catalogue/v1/data-models"
    done = []
    try:
        for record in starter_set():
            r = client.post(base, json=record)
            if r.status_code == 409:
                body = {k: v for k, v in record.items() if k != "identifier"}
                u = client.put(f"{base}/{record['identifier']}", json=body)
                u.raise_for_status()
                done.append((record["identifier"], "updated"))
                continue
            r.raise_for_status()
            done.append((record["identifier"], "created"))
    finally:
        if own:
            client.close()
    return done
