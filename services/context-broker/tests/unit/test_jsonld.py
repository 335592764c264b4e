"""The compiled @context against pyld, the JSON-LD oracle (ETSI GS CIM 009 V1.8.1, 4.4, 5.5.7).

For each entity and each @context below, the names our pure helpers produce (attribute and
sub-attribute names, entity types, vocab values) must equal what ``pyld.jsonld.expand`` gives
for the same entity with the effective @context ``[user..., core]``, and compacting them back
must give what ``pyld.jsonld.compact`` gives. pyld reads every context from memory.
"""

from __future__ import annotations

import copy
import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from pyld import jsonld as pyld

from context_broker.ngsild import jsonld
from context_broker.ngsild.jsonld import (
    BUNDLED,
    CORE_CONTEXT_URL,
    DEFAULT_VOCAB,
    CompiledContext,
    ContextError,
    ContextNotAvailable,
    bundled_document,
    compact_entity_keys,
    compile_context,
    expand_entity_keys,
    get_compiled,
)

NGSI = "https://uri.etsi.org/ngsi-ld/"
SDM = "https://smartdatamodels.org/"
PARKING_URL = "https://example.org/test-contexts/parking.jsonld"
ALL_URL = "https://example.org/test-contexts/all.jsonld"
UNVERSIONED_CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"

# ---------------------------------------------------------------------------------------------
# Test contexts (written for these tests, shaped like Smart Data Models contexts)

REMOTE: dict[str, dict[str, Any]] = {
    PARKING_URL: {
        "@context": {
            "ParkingSpot": f"{SDM}dataModel.Parking/ParkingSpot",
            "OnStreetParking": f"{SDM}dataModel.Parking/OnStreetParking",
            "availableSpotNumber": f"{SDM}dataModel.Parking/availableSpotNumber",
            "refParkingSite": f"{SDM}dataModel.Parking/refParkingSite",
            "category": f"{SDM}dataModel.Parking/category",
            "name": f"{SDM}name",
            "onstreet": f"{SDM}dataModel.Parking/onstreet",
            "id": "@id",
            "type": "@type",
            "ngsi-ld": NGSI,
        }
    },
    ALL_URL: {
        "@context": [
            PARKING_URL,
            {"env": f"{SDM}dataModel.Environment/", "NO2": "env:NO2", "refDevice": "env:refDevice"},
            UNVERSIONED_CORE,
        ]
    },
}

INLINE: dict[str, Any] = {
    "@vocab": "https://example.org/vocab/",  # shadowed by the core's @vocab (core last)
    "ex": "https://example.org/ns#",
    "sdm": SDM,
    "obs": {"@id": "https://example.org/observations/", "@prefix": True},
    "ParkingSpot": "sdm:dataModel.Parking/ParkingSpot",
    "AirQualityObserved": "sdm:dataModel.Environment/AirQualityObserved",
    "OnStreetParking": "sdm:dataModel.Parking/OnStreetParking",
    "refParkingSite": {"@id": "sdm:dataModel.Parking/refParkingSite", "@type": "@id"},
    "refDevice": {"@id": "sdm:refDevice", "@type": "@id"},
    "dateObserved": {"@id": "sdm:dateObserved", "@type": "https://uri.etsi.org/ngsi-ld/DateTime"},
    "NO2": "sdm:dataModel.Environment/NO2",
    "temperature": "ex:temperature",
    "tmp": "ex:temperature",  # two terms, one IRI: compaction picks the shortest
    "availableSpotNumber": "sdm:dataModel.Parking/availableSpotNumber",
    "reliability": "ex:reliability",
    "onstreet": "sdm:dataModel.Parking/onstreet",
    "battery": "https://example.org/observations/battery",
    "controlledProperty": {"@id": "sdm:controlledProperty", "@type": "@vocab"},
}

OVERRIDE: dict[str, Any] = {  # redefines core terms: the core must win (5.5.7)
    "location": "https://example.org/myLocation",
    "status": f"{SDM}status",
    "Property": "https://example.org/Property",
    "name": "https://schema.org/name",
    "ParkingSpot": f"{SDM}dataModel.Parking/ParkingSpot",
}

CONTEXTS: dict[str, Any] = {
    "core-only": None,
    "inline-terms-prefixes-vocab": INLINE,
    "url-and-inline": [PARKING_URL, {"extra": "https://example.org/extra", "Building": f"{SDM}B"}],
    "nested-urls-with-core": ALL_URL,
    "user-redefines-core": OVERRIDE,
}

# ---------------------------------------------------------------------------------------------
# Test entities (shaped like Smart Data Models normalized examples)

PARKING_SPOT: dict[str, Any] = {
    "id": "urn:ngsi-ld:ParkingSpot:santander:daoiz_velarde_1_5:3",
    "type": "ParkingSpot",
    "name": {"type": "Property", "value": "A-13"},
    "location": {
        "type": "GeoProperty",
        "value": {"type": "Point", "coordinates": [-3.80356167695194, 43.46296641666926]},
    },
    "status": {"type": "Property", "value": "free", "observedAt": "2018-09-21T12:00:00Z"},
    "category": {"type": "VocabProperty", "vocab": ["onstreet", "blueZone"]},
    "refParkingSite": {
        "type": "Relationship",
        "object": "urn:ngsi-ld:OnStreetParking:santander:daoiz_velarde_1_5",
        "objectType": "OnStreetParking",
    },
    "dateModified": {
        "type": "Property",
        "value": {"@type": "DateTime", "@value": "2018-09-21T12:00:00Z"},
    },
    "availableSpotNumber": {
        "type": "Property",
        "value": 132,
        "observedAt": "2018-09-21T12:00:00Z",
        "reliability": {"type": "Property", "value": 0.9},
        "providedBy": {"type": "Relationship", "object": "urn:ngsi-ld:Device:1"},
    },
    "temperature": [
        {"type": "Property", "value": 21.1, "unitCode": "CEL", "datasetId": "urn:ngsi-ld:ds:a"},
        {"type": "Property", "value": 20, "unitCode": "CEL", "datasetId": "urn:ngsi-ld:ds:b"},
    ],
    "description": {"type": "LanguageProperty", "languageMap": {"en": "Spot 3", "es": "Plaza 3"}},
    "config": {"type": "JsonProperty", "json": {"rate": 2, "zones": ["a", "b"]}},
}

AIR_QUALITY: dict[str, Any] = {
    "id": "urn:ngsi-ld:AirQualityObserved:Madrid-AmbientObserved-28079004",
    "type": ["AirQualityObserved", "ex:Observation"],
    "dateObserved": {
        "type": "Property",
        "value": {"@type": "DateTime", "@value": "2016-03-15T11:00:00Z"},
    },
    "NO2": {
        "type": "Property",
        "value": 22,
        "unitCode": "GQ",
        "measurementMethod": {"type": "Property", "value": "chemiluminescence"},
        "obs:quality": {"type": "Property", "value": "validated"},
    },
    "refDevice": {"type": "Relationship", "object": "urn:ngsi-ld:Device:dev-01"},
    "ex:humidity": {"type": "Property", "value": 0.54},
    "https://other.example.org/attrs/pressure": {"type": "Property", "value": 1013},
    "address": {
        "type": "Property",
        "value": {"addressLocality": "Madrid", "streetAddress": "Plaza de España"},
    },
    "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [-3.71, 40.42]}},
}

DEVICE: dict[str, Any] = {
    "id": "urn:ngsi-ld:Device:dev-01",
    "type": "Device",
    "controlledProperty": {"type": "VocabProperty", "vocab": "temperature"},
    "battery": {"type": "Property", "value": 0.75, "observedAt": "2020-01-01T00:00:00Z"},
    "obs:signal": {"type": "Property", "value": -70, "unitCode": "2N"},
    "owner": {
        "type": "ListRelationship",
        "objectList": [{"object": "urn:ngsi-ld:Person:1"}, {"object": "urn:ngsi-ld:Person:2"}],
    },
    "deviceState": {"type": "Property", "value": "ok", "tmp": {"type": "Property", "value": 40}},
}

ENTITIES = {"ParkingSpot": PARKING_SPOT, "AirQualityObserved": AIR_QUALITY, "Device": DEVICE}

# ---------------------------------------------------------------------------------------------
# The oracle: pyld with every document served from memory


def _document(url: str) -> dict[str, Any] | None:
    return bundled_document(url) or REMOTE.get(url)


def resolve(url: str) -> dict[str, Any]:
    document = _document(url)
    if document is None:
        raise ContextNotAvailable(url, "not in the test registry")
    return document


def _pyld_loader(url: str, options: Any = None) -> dict[str, Any]:
    document = _document(url)
    if document is None:
        raise pyld.JsonLdError("not in memory", "jsonld.LoadDocumentError", {"url": url})
    return {
        "contentType": "application/ld+json",
        "contextUrl": None,
        "documentUrl": url,
        "document": copy.deepcopy(document),
    }


PYLD_OPTIONS = {"documentLoader": _pyld_loader}


def effective(user: Any, core: str = CORE_CONTEXT_URL) -> list[Any]:
    """The @context array a JSON-LD processor sees: the user's, then the core (4.4)."""
    if user is None:
        return [core]
    return [*(user if isinstance(user, list) else [user]), core]


def pyld_expand(entity: dict[str, Any], user: Any) -> dict[str, Any]:
    expanded = pyld.expand({**entity, "@context": effective(user)}, PYLD_OPTIONS)
    assert len(expanded) == 1
    node: dict[str, Any] = expanded[0]
    return node


def pyld_compact(node: dict[str, Any], user: Any) -> dict[str, Any]:
    compacted: dict[str, Any] = pyld.compact(node, {"@context": effective(user)}, PYLD_OPTIONS)
    return compacted


# Members of NGSI-LD entities and attributes, written out here independently of the module.
ENTITY_CORE = {"id", "@id", "type", "@type", "scope", "createdAt", "modifiedAt", "@context"}
ATTRIBUTE_CORE = {
    "type", "value", "object", "objectList", "valueList", "languageMap", "vocab", "json",
    "observedAt", "unitCode", "datasetId", "createdAt", "modifiedAt", "lang", "objectType",
}  # fmt: skip
VOCAB_VALUED = {"vocab", "objectType"}
_MEMBER_SAMPLES: dict[str, Any] = {"languageMap": {"en": "x"}, "json": {"a": 1}}


def _member_iris() -> dict[str, str]:
    """IRI → member name for the attribute members, as pyld expands them with the core."""
    iris = {}
    for member in ATTRIBUTE_CORE - {"type"}:
        sample = _MEMBER_SAMPLES.get(member, "urn:x:1")
        node = pyld_expand({"id": "urn:x:0", "type": "T", member: sample}, None)
        (iri,) = set(node) - {"@id", "@type"}
        iris[iri] = member
    return iris


MEMBER_IRIS = _member_iris()


def _listify(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def name_tree(entity: dict[str, Any]) -> dict[str, Any]:
    """The names of an NGSI-LD shaped entity: types, attributes, sub-attributes, vocab values."""
    return {
        "type": _listify(entity.get("type", entity.get("@type"))),
        "attrs": {
            name: [_instance_tree(item) for item in _listify(value)]
            for name, value in entity.items()
            if name not in ENTITY_CORE
        },
    }


def _instance_tree(instance: dict[str, Any]) -> dict[str, Any]:
    return {
        "vocab": {m: _listify(instance[m]) for m in sorted(VOCAB_VALUED) if m in instance},
        "attrs": {
            name: [_instance_tree(item) for item in _listify(value)]
            for name, value in instance.items()
            if name not in ATTRIBUTE_CORE
        },
    }


def pyld_tree(node: dict[str, Any]) -> dict[str, Any]:
    """The same names read from pyld's expanded form."""
    return {
        "type": node.get("@type", []),
        "attrs": {
            iri: [_pyld_instance_tree(item) for item in values]
            for iri, values in node.items()
            if not iri.startswith("@")
        },
    }


def _pyld_instance_tree(instance: dict[str, Any]) -> dict[str, Any]:
    vocab = {
        MEMBER_IRIS[iri]: [item["@id"] for item in values]
        for iri, values in instance.items()
        if MEMBER_IRIS.get(iri) in VOCAB_VALUED
    }
    return {
        "vocab": dict(sorted(vocab.items())),
        "attrs": {
            iri: [_pyld_instance_tree(item) for item in values]
            for iri, values in instance.items()
            if not iri.startswith("@") and iri not in MEMBER_IRIS
        },
    }


# ---------------------------------------------------------------------------------------------
# Expansion and compaction against pyld


@pytest.mark.parametrize("entity_name", sorted(ENTITIES))
@pytest.mark.parametrize("context_name", list(CONTEXTS))
def test_expanded_names_equal_pyld(context_name: str, entity_name: str) -> None:
    user, entity = CONTEXTS[context_name], ENTITIES[entity_name]
    ours = expand_entity_keys(entity, compile_context(user, resolve))
    assert name_tree(ours) == pyld_tree(pyld_expand(entity, user))


@pytest.mark.parametrize("entity_name", sorted(ENTITIES))
@pytest.mark.parametrize("context_name", list(CONTEXTS))
def test_compacted_names_equal_pyld(context_name: str, entity_name: str) -> None:
    user, entity = CONTEXTS[context_name], ENTITIES[entity_name]
    ctx = compile_context(user, resolve)
    ours = compact_entity_keys(expand_entity_keys(entity, ctx), ctx)
    # Our names may differ from pyld's where a term is typed (we keep "refDevice" where
    # JSON-LD would write "sdm:refDevice", as NGSI-LD brokers do), but they must mean the
    # same IRIs: pyld expands what we compacted to what it expands from the input.
    again = pyld_expand({**ours, "@context": user} if user else ours, user)
    assert pyld_tree(again) == pyld_tree(pyld_expand(entity, user))


@pytest.mark.parametrize("version", ["1.3", "1.4", "1.5", "1.6", "1.7", "1.8"])
def test_every_bundled_core_version_against_pyld(version: str) -> None:
    core = f"https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v{version}.jsonld"
    ctx = compile_context(INLINE, resolve, core=core)
    for entity in ENTITIES.values():
        ours = expand_entity_keys(entity, ctx)
        node = pyld.expand({**entity, "@context": effective(INLINE, core)}, PYLD_OPTIONS)[0]
        assert name_tree(ours)["attrs"].keys() == pyld_tree(node)["attrs"].keys()
        assert name_tree(ours)["type"] == pyld_tree(node)["type"]


@pytest.mark.parametrize(
    ("user", "name", "iri"),
    [
        (None, "temperature", f"{DEFAULT_VOCAB}temperature"),
        (None, "location", f"{NGSI}location"),
        (None, "attributeCount", f"{DEFAULT_VOCAB}attributeCount"),
        (None, "ngsi-ld:foo", f"{NGSI}foo"),
        (None, "urn:x:y", "urn:x:y"),
        (None, "https://ex.org/a", "https://ex.org/a"),
        (INLINE, "ex:humidity", "https://example.org/ns#humidity"),
        (INLINE, "obs:battery", "https://example.org/observations/battery"),
        (INLINE, "unknown", f"{DEFAULT_VOCAB}unknown"),  # the user @vocab is shadowed
        (OVERRIDE, "location", f"{NGSI}location"),  # the core wins
        (OVERRIDE, "name", "https://schema.org/name"),  # not a core term in v1.8
        ({"t": "ex:t"}, "t", "ex:t"),  # undefined prefix: an absolute IRI with scheme "ex"
        ({"n": {"@id": "https://ex.org/ns/", "@type": "@id"}}, "n:x", "n:x"),  # not a prefix
        ({"n": {"@id": "https://ex.org/ns", "@prefix": True}}, "n:x", "https://ex.org/nsx"),
        ({"a": "https://ex.org/a", "b": "a"}, "b", "https://ex.org/a"),  # term to term
    ],
)
def test_expand_single_names(user: Any, name: str, iri: str) -> None:
    assert compile_context(user, resolve).expand(name) == iri
    node = pyld_expand({"id": "urn:x:0", "type": "T", name: {"type": "Property", "value": 1}}, user)
    assert set(node) - {"@id", "@type"} == {iri}


@pytest.mark.parametrize(
    ("user", "iri", "key", "type_"),
    [
        (None, f"{DEFAULT_VOCAB}temperature", "temperature", "temperature"),
        (None, f"{NGSI}location", "location", "location"),
        (None, f"{NGSI}createdAt", "createdAt", "createdAt"),  # a typed term is used too
        (None, "https://other.org/x", "https://other.org/x", "https://other.org/x"),
        (INLINE, "https://example.org/ns#temperature", "tmp", "tmp"),
        (INLINE, f"{SDM}dateObserved", "dateObserved", "dateObserved"),
        (INLINE, f"{SDM}refDevice", "refDevice", "refDevice"),
        (INLINE, f"{SDM}controlledProperty", "controlledProperty", "controlledProperty"),
        ({"a": "https://ex.org/x", "bb": {"@id": "https://ex.org/x", "@type": "@id"}},
         "https://ex.org/x", "bb", "bb"),  # @type @id is preferred for node values
        ({"zz": "https://ex.org/x", "aa": "https://ex.org/x", "abc": "https://ex.org/x"},
         "https://ex.org/x", "aa", "aa"),  # shortest, then least
        ({"s": {"@id": "https://ex.org/x", "@container": "@set"}, "t": "https://ex.org/x"},
         "https://ex.org/x", "s", "s"),  # @set comes before no container
        ({"i": {"@id": "https://ex.org/x", "@container": "@id"}, "t": "https://ex.org/x"},
         "https://ex.org/x", "i", "t"),  # id maps only for keys
        ({"p": "https://ex.org/p/", "q": "https://ex.org/p/q/"}, "https://ex.org/p/q/r",
         "p:q/r", "p:q/r"),  # shortest compact IRI
        ({"x": "https://ex.org/p/x", "p": "https://ex.org/p/"}, "https://ex.org/p/x",
         "x", "x"),
    ],
)  # fmt: skip
def test_compact_single_iris(user: Any, iri: str, key: str, type_: str) -> None:
    ctx = compile_context(user, resolve)
    assert (ctx.compact(iri), ctx.compact_type(iri)) == (key, type_)
    definition = user.get(key) if isinstance(user, dict) else None
    if isinstance(definition, dict) and "@container" in definition:
        return  # a container term changes how pyld reads the value; names checked above
    # pyld is the oracle for what the names mean: expanding ours gives the IRI back.
    again = pyld.expand(
        {
            "@context": effective(user),
            "@id": "urn:x:0",
            "@type": type_,
            key: {"type": "Property", "value": 1},
        },
        PYLD_OPTIONS,
    )[0]
    assert again["@type"] == [iri]
    assert set(again) - {"@id", "@type"} == {iri}


# ---------------------------------------------------------------------------------------------
# The entity helpers


def test_expand_entity_keys_renames_and_shares_values() -> None:
    ctx = compile_context(INLINE, resolve)
    out = expand_entity_keys(PARKING_SPOT, ctx)
    assert out["id"] == PARKING_SPOT["id"]
    assert out["type"] == f"{SDM}dataModel.Parking/ParkingSpot"
    assert out[f"{NGSI}location"]["value"] is PARKING_SPOT["location"]["value"]
    assert out[f"{DEFAULT_VOCAB}config"]["json"] is PARKING_SPOT["config"]["json"]
    assert out[f"{DEFAULT_VOCAB}dateModified"]["value"] == {
        "@type": "DateTime",
        "@value": "2018-09-21T12:00:00Z",
    }
    spots = out[f"{SDM}dataModel.Parking/availableSpotNumber"]
    assert set(spots) == {
        "type", "value", "observedAt", "https://example.org/ns#reliability",
        f"{DEFAULT_VOCAB}providedBy",
    }  # fmt: skip
    assert out["https://example.org/ns#temperature"][1]["datasetId"] == "urn:ngsi-ld:ds:b"
    assert out[f"{DEFAULT_VOCAB}category"]["vocab"] == [
        f"{SDM}dataModel.Parking/onstreet",
        f"{DEFAULT_VOCAB}blueZone",
    ]
    assert out[f"{SDM}dataModel.Parking/refParkingSite"]["objectType"] == (
        f"{SDM}dataModel.Parking/OnStreetParking"
    )
    assert PARKING_SPOT["type"] == "ParkingSpot"  # the input is untouched


def test_compact_entity_keys_round_trips_with_simple_names() -> None:
    ctx = compile_context(None, resolve)
    assert compact_entity_keys(expand_entity_keys(PARKING_SPOT, ctx), ctx) == PARKING_SPOT


def test_names_expanding_to_one_iri_merge_into_a_multi_attribute() -> None:
    ctx = compile_context(INLINE, resolve)
    a = {"type": "Property", "value": 1, "datasetId": "urn:a"}
    b = {"type": "Property", "value": 2}
    out = expand_entity_keys({"id": "urn:x:1", "type": "T", "temperature": a, "tmp": b}, ctx)
    assert out["https://example.org/ns#temperature"] == [a, b]


def test_non_object_values_are_left_alone() -> None:
    ctx = compile_context(None, resolve)
    entity = {"id": "urn:x:1", "type": ["A", "B"], "scope": "/a", "p": 3, "pq": [1, {"r": 2}]}
    assert expand_entity_keys(entity, ctx) == {
        "id": "urn:x:1",
        "type": [f"{DEFAULT_VOCAB}A", f"{DEFAULT_VOCAB}B"],
        "scope": "/a",
        f"{DEFAULT_VOCAB}p": 3,
        f"{DEFAULT_VOCAB}pq": [1, {f"{DEFAULT_VOCAB}r": 2}],
    }


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    "context",
    [
        42,
        True,
        [["https://example.org/nested-array.jsonld"]],
        {"t": 5},
        {"t": True},
        {"t": ["https://ex.org/t"]},
        {"": "https://ex.org/t"},
        {"@id": "https://ex.org/t"},
        {"t": {"@id": "https://ex.org/t", "@context": {"u": "https://ex.org/u"}}},
        {"t": {"@id": "https://ex.org/t", "@unknown": 1}},
        {"t": {"@id": 7}},
        {"t": {"@id": "https://ex.org/t", "@type": "not an iri"}},
        {"t": {"@id": "https://ex.org/t", "@container": "@bag"}},
        {"t": {"@id": "https://ex.org/t", "@container": ["@list", "@set"]}},
        {"t": {"@id": "https://ex.org/t", "@prefix": "yes"}},
        {"t": {"@type": "@id"}},  # no @id and no @vocab yet
        {"a": "b:x", "b": "a:y"},  # cyclic
        {"@version": 1.0},
        {"@vocab": 5},
        {"@protected": "yes"},
        "relative/context.jsonld",
        "",
        [{"@protected": True, "t": "https://ex.org/a"}, {"t": "https://ex.org/b"}],
        [{"@protected": True, "t": "https://ex.org/a"}, None],
        {"@import": 3},
    ],
)
def test_invalid_contexts_raise_context_error(context: Any) -> None:
    with pytest.raises(ContextError):
        compile_context(context, resolve)


def test_protected_term_may_be_redefined_identically() -> None:
    ctx = compile_context(
        [{"@protected": True, "t": "https://ex.org/a"}, {"t": "https://ex.org/a"}], resolve
    )
    assert ctx.expand("t") == "https://ex.org/a"


def test_user_protected_term_still_loses_to_the_core() -> None:
    ctx = compile_context({"@protected": True, "location": "https://ex.org/l"}, resolve)
    assert ctx.expand("location") == f"{NGSI}location"


def test_core_inside_the_user_array_does_not_protect_against_the_user() -> None:
    ctx = compile_context([CORE_CONTEXT_URL, {"location": "https://ex.org/l"}], resolve)
    assert ctx.expand("location") == f"{NGSI}location"


def test_import_merges_the_imported_context_first() -> None:
    ctx = compile_context({"@import": PARKING_URL, "name": "https://ex.org/name"}, resolve)
    assert ctx.expand("name") == "https://ex.org/name"
    assert ctx.expand("ParkingSpot") == f"{SDM}dataModel.Parking/ParkingSpot"


def test_a_document_without_context_is_invalid() -> None:
    def resolver(url: str) -> Any:
        return {"terms": {}}

    with pytest.raises(ContextError, match="no @context"):
        compile_context("https://example.org/not-a-context.jsonld", resolver)


def test_a_context_including_itself_is_invalid() -> None:
    def resolver(url: str) -> Any:
        return {"@context": [url]}

    with pytest.raises(ContextError, match="includes itself"):
        compile_context("https://example.org/loop.jsonld", resolver)


@pytest.mark.parametrize(
    "context",
    [
        "https://example.org/missing.jsonld",
        [PARKING_URL, "https://example.org/missing.jsonld"],
        {"@import": "https://example.org/missing.jsonld"},
    ],
)
def test_unreachable_contexts_raise_context_not_available(context: Any) -> None:
    with pytest.raises(ContextNotAvailable) as caught:
        compile_context(context, resolve)
    assert caught.value.url == "https://example.org/missing.jsonld"


def test_nested_unreachable_context() -> None:
    def resolver(url: str) -> Any:
        if url == "https://example.org/outer.jsonld":
            return {"@context": ["https://example.org/inner.jsonld"]}
        raise ContextNotAvailable(url)

    with pytest.raises(ContextNotAvailable, match=r"inner\.jsonld"):
        compile_context("https://example.org/outer.jsonld", resolver)


# ---------------------------------------------------------------------------------------------
# Cache and bundled files


def test_get_compiled_returns_the_same_object_for_the_same_context() -> None:
    first = get_compiled({"a": "https://ex.org/a", "b": "https://ex.org/b"}, resolve)
    again = get_compiled({"b": "https://ex.org/b", "a": "https://ex.org/a"}, resolve)
    assert first is again
    assert get_compiled(PARKING_URL, resolve) is get_compiled(PARKING_URL, resolve)
    assert get_compiled(None, resolve) is get_compiled(None, resolve)
    assert get_compiled({"a": "https://ex.org/other"}, resolve) is not first
    assert isinstance(first, CompiledContext)


def test_get_compiled_evicts_the_least_recently_used(monkeypatch: pytest.MonkeyPatch) -> None:
    jsonld.clear_compiled()
    monkeypatch.setattr(jsonld, "COMPILED_CACHE_SIZE", 2)
    a = get_compiled({"a": "https://ex.org/a"}, resolve)
    b = get_compiled({"b": "https://ex.org/b"}, resolve)
    assert get_compiled({"a": "https://ex.org/a"}, resolve) is a  # a is now the most recent
    get_compiled({"c": "https://ex.org/c"}, resolve)  # evicts b
    assert get_compiled({"a": "https://ex.org/a"}, resolve) is a
    assert get_compiled({"b": "https://ex.org/b"}, resolve) is not b


def test_get_compiled_does_not_cache_failures() -> None:
    calls: list[str] = []

    def flaky(url: str) -> Any:
        calls.append(url)
        if len(calls) == 1:
            raise ContextNotAvailable(url, "timeout")
        return {"@context": {"t": "https://ex.org/t"}}

    url = "https://example.org/flaky.jsonld"
    with pytest.raises(ContextNotAvailable):
        get_compiled(url, flaky)
    assert get_compiled(url, flaky).expand("t") == "https://ex.org/t"


def test_names_are_remembered_per_compiled_context() -> None:
    ctx = compile_context(None, resolve)
    assert ctx.expand("speed") is ctx.expand("speed")
    assert ctx.compact(f"{DEFAULT_VOCAB}speed") is ctx.compact(f"{DEFAULT_VOCAB}speed")


def test_bundled_urls_and_documents() -> None:
    # Beside the core contexts, the app bundles the Smart Data Models ones (datamodels/).
    core = {u for u in BUNDLED if u.startswith("https://uri.etsi.org/")}
    assert core == {
        *(
            f"https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.{n}.jsonld"
            for n in range(3, 10)
        ),
        UNVERSIONED_CORE,
    }
    assert all("smart-data-models" in u for u in set(BUNDLED) - core)
    assert bundled_document(UNVERSIONED_CORE) is bundled_document(CORE_CONTEXT_URL)
    assert bundled_document("https://example.org/other.jsonld") is None
    for url in core:
        document = bundled_document(url)
        assert document is not None
        assert document["@context"]["@vocab"] == DEFAULT_VOCAB


def test_bundled_files_are_the_vendored_bytes() -> None:
    readme = (Path(jsonld.__file__).parent / "contexts" / "README.md").read_text()
    row = r"\| `(ngsi-ld-core-context-v1\.\d\.jsonld)` \|.*\| `([0-9a-f]{64})` \|"
    table = dict(re.findall(row, readme))
    assert len(table) == 7
    for path in {p for u, p in BUNDLED.items() if u.startswith("https://uri.etsi.org/")}:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == table[path.name]


def test_core_v19_compiles_without_following_its_scoped_context() -> None:
    core = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld"
    ctx = compile_context(None, resolve, core=core)
    assert ctx.expand("ngsildproof") == f"{NGSI}ngsildproof"
    assert ctx.compact(f"{NGSI}location") == "location"
