"""Validation against the official DCAT-AP 3.0.1 SHACL shapes (vendored in ``shapes/``).

The shapes are loaded once. Upstream's ``ranges.ttl`` lists five property shapes under
``sh:property`` that neither file defines (no ``sh:path``); pySHACL refuses such a shapes
graph, so those dangling links are dropped in memory (the files stay byte for byte).
The shapes are harvested once too: pySHACL's ``validate()`` would rebuild its shapes
from the shapes graph on every call (half the time of a small record's validation); here
one harvested ``ShapesGraph`` serves every validation, one at a time (a lock: pySHACL's
shapes are not meant to be shared between threads). A record's own graph validates in
about 10-20 ms.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from pyshacl.graph_abstraction import DataGraph
from pyshacl.rdfutil.load import load_from_source
from pyshacl.shapes_graph import ShapesGraph
from pyshacl.validator import Validator
from rdflib import Graph
from rdflib.namespace import SH

SHAPES = Path(__file__).parent / "shapes"


@lru_cache(maxsize=1)
def shapes_graph() -> Graph:
    g = Graph()
    g.parse(SHAPES / "dcat-ap-SHACL.ttl", format="turtle")
    g.parse(SHAPES / "ranges.ttl", format="turtle")
    for s, o in list(g.subject_objects(SH.property)):
        if (o, SH.path, None) not in g:
            g.remove((s, SH.property, o))
    return g


@lru_cache(maxsize=1)
def _prepared() -> tuple[Graph, ShapesGraph]:
    loaded = load_from_source(shapes_graph(), multigraph=True)
    shapes = ShapesGraph(loaded)
    shapes.shapes  # noqa: B018 (the property harvests the shapes once)
    return loaded, shapes


_LOCK = threading.Lock()
_OPTIONS = {"inference": "none", "advanced": False, "allow_warnings": True}


def violations(data: Graph) -> list[dict[str, Any]]:
    """The DCAT-AP violations of ``data`` (empty when it conforms), most useful first."""
    loaded, shapes = _prepared()
    with _LOCK:
        validator = Validator(
            DataGraph.from_rdflib(data), shacl_graph=loaded, options=dict(_OPTIONS)
        )
        validator.shacl_graph = shapes
        conforms, report, _ = validator.run()  # type: ignore[no-untyped-call]
    if conforms:
        return []
    assert isinstance(report, Graph)
    out: list[dict[str, Any]] = []
    for result in report.subjects(SH.resultSeverity, SH.Violation):
        path = report.value(result, SH.resultPath)
        focus = report.value(result, SH.focusNode)
        message = report.value(result, SH.resultMessage)
        value = report.value(result, SH.value)
        shape = report.value(result, SH.sourceShape)
        entry: dict[str, Any] = {
            "focusNode": str(focus),
            "path": str(path) if path is not None else None,
            "message": str(message) if message is not None else "constraint violated",
            "shape": str(shape) if shape is not None else None,
        }
        if value is not None:
            entry["value"] = str(value)
        out.append(entry)
    return sorted(out, key=lambda v: (v["focusNode"], v["path"] or "", v["message"]))
