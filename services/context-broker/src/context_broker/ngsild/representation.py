"""Entity representations on output (ETSI GS CIM 009 V1.8.1, 4.5 and 5.2.4): normalized,
concise and simplified (keyValues); system attributes only with ``options=sysAttrs``.

Works on an entity whose keys are already compacted; pure.
"""

from __future__ import annotations

from typing import Any, Literal

from context_broker.ngsild.attributes import INSTANCE_MEMBERS, VALUE_MEMBER
from context_broker.ngsild.ids import is_valid_name
from mims_shared.errors import BadRequestData, InvalidRequest

Format = Literal["normalized", "concise", "simplified"]
_SYS = ("createdAt", "modifiedAt", "deletedAt")
ENTITY_CORE = frozenset({"id", "type", "scope", "createdAt", "modifiedAt", "deletedAt", "@context"})


def parse_options(options: str | None, format_: str | None) -> tuple[Format, bool]:
    """``(format, sysAttrs)`` from the ``options`` and ``format`` parameters (6.3.7)."""
    fmt: Format = "normalized"
    sys_attrs = False
    chosen: list[str] = []
    for opt in (o.strip() for o in (options or "").split(",") if o.strip()):
        if opt == "sysAttrs":
            sys_attrs = True
        elif opt in ("keyValues", "simplified", "concise", "normalized"):
            chosen.append(opt)
        elif opt in (
            "noOverwrite",
            "update",
            "replace",
            "temporalValues",
            "audit",
            "aggregatedValues",
        ):
            continue  # options of other operations: not an error here
        else:
            raise InvalidRequest(f"Unknown option {opt[:40]!r} in the options parameter")
    if format_:
        if format_ not in ("keyValues", "simplified", "concise", "normalized"):
            raise InvalidRequest(f"Unknown format {format_[:40]!r}")
        chosen = [format_]
    if len(set(chosen)) > 1:
        raise InvalidRequest("The options ask for more than one representation")
    if chosen:
        fmt = {
            "keyValues": "simplified",
            "simplified": "simplified",
            "concise": "concise",
            "normalized": "normalized",
        }[chosen[0]]  # type: ignore[assignment]
    return fmt, sys_attrs


def _strip_sys(inst: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in inst.items():
        if k in _SYS:
            continue
        if k not in INSTANCE_MEMBERS and isinstance(v, dict):
            v = _strip_sys(v)
        out[k] = v
    return out


def _concise(inst: dict[str, Any]) -> Any:
    kind = inst.get("type")
    rest = {k: v for k, v in inst.items() if k != "type"}
    for k, v in list(rest.items()):
        if k not in INSTANCE_MEMBERS and isinstance(v, dict):
            rest[k] = _concise(v)
    if kind == "GeoProperty" and list(rest) == ["value"]:
        return rest["value"]
    if kind == "Property" and list(rest) == ["value"] and not isinstance(rest["value"], dict):
        return rest["value"]
    return rest


def _simple(inst: dict[str, Any]) -> Any:
    member = VALUE_MEMBER.get(str(inst.get("type")), "value")
    return inst.get(member)


def dataset_map(value: Any) -> dict[str, Any] | None:
    """The ``datasetId -> value`` map of a multi-attribute in the simplified representation
    (``{"dataset": {...}}``, 4.5.4), or None when ``value`` is not one."""
    if isinstance(value, dict) and len(value) == 1 and isinstance(value.get("dataset"), dict):
        datasets: dict[str, Any] = value["dataset"]
        return datasets
    return None


def _datasets(instances: list[dict[str, Any]]) -> dict[str, Any]:
    """The simplified representation of a multi-attribute (4.5.4): ``{"dataset": {datasetId:
    simplified value}}``, the default instance under the JSON-LD keyword ``@none``."""
    return {"dataset": {i.get("datasetId", "@none"): _simple(i) for i in instances}}


def render(entity: dict[str, Any], fmt: Format, sys_attrs: bool) -> dict[str, Any]:
    """The entity in the asked representation."""
    out: dict[str, Any] = {}
    for key, value in entity.items():
        if key in ENTITY_CORE:
            if key in _SYS and not sys_attrs:
                continue
            out[key] = value
            continue
        instances = value if isinstance(value, list) else [value]
        if not sys_attrs:
            instances = [_strip_sys(i) for i in instances]
        if fmt == "simplified":
            out[key] = _simple(instances[0]) if len(instances) == 1 else _datasets(instances)
        elif fmt == "concise":
            vals = [_concise(i) for i in instances]
            out[key] = vals[0] if len(vals) == 1 else vals
        else:
            out[key] = instances[0] if len(instances) == 1 else instances
    return out


#: A ``pick``/``omit`` projection (4.21): each name, with the projection of the entity it
#: links to (empty when the name has no ``{...}``).
ProjectionTree = dict[str, "ProjectionTree"]


def parse_projection(text: str, param: str) -> frozenset[str]:
    """The top-level names of a ``pick``/``omit`` projection (ETSI GS CIM 009 V1.8.1, 4.21)."""
    return frozenset(parse_projection_tree(text, param))


def parse_projection_tree(text: str, param: str) -> ProjectionTree:
    """A ``pick``/``omit`` projection (ETSI GS CIM 009 V1.8.1, 4.21): names separated by
    ``,`` or ``|``, each optionally followed by ``{...}`` projecting the linked entity."""
    root: ProjectionTree = {}
    stack = [root]
    last = ""
    token = ""
    expect_name = True
    for pos, ch in enumerate(text + ","):
        if ch in ",|{}":
            if ch == "{" and (not token or len(stack) > 32):
                raise BadRequestData(f"{param} at position {pos}: '{{' must follow a name")
            if token:
                if not is_valid_name(token):
                    raise BadRequestData(f"{param}: {token[:60]!r} is not a valid name")
                stack[-1].setdefault(token, {})
                last = token
                token = ""
                expect_name = False
            elif ch in ",|" and expect_name:
                raise BadRequestData(f"{param} at position {pos}: a name is missing")
            if ch == "{":
                stack.append(stack[-1][last])
                expect_name = True
            elif ch == "}":
                if len(stack) == 1 or expect_name:
                    raise BadRequestData(f"{param} at position {pos}: unbalanced '}}'")
                stack.pop()
            else:
                expect_name = ch in ",|"
        elif ch.isspace():
            raise BadRequestData(f"{param} at position {pos}: spaces are not allowed")
        else:
            token += ch
    if len(stack) != 1:
        raise BadRequestData(f"{param}: a '{{' is not closed")
    if not root:
        raise BadRequestData(f"{param} names nothing")
    return root


def pick_language(language_map: dict[str, Any], lang: str) -> tuple[str | None, Any]:
    """The (tag, text) a ``lang`` parameter selects from a languageMap (4.15): the first
    requested tag present, ``*`` for any; else ``@none``, else the first entry."""
    for tag in (t.split(";")[0].strip() for t in lang.split(",")):
        if tag == "*" and language_map:
            first = next(iter(language_map))
            return first, language_map[first]
        if tag in language_map:
            return tag, language_map[tag]
    if "@none" in language_map:
        return "@none", language_map["@none"]
    for tag, text in language_map.items():
        return tag, text
    return None, None


def apply_language(entity: dict[str, Any], lang: str) -> dict[str, Any]:
    """LanguageProperties reduced to one language: ``{"type": "Property", "value": text,
    "lang": tag}`` (normalized form, before the representation is chosen)."""
    out: dict[str, Any] = {}
    for key, value in entity.items():
        if key in ENTITY_CORE:
            out[key] = value
            continue
        insts = value if isinstance(value, list) else [value]
        shaped = []
        for inst in insts:
            if isinstance(inst, dict) and inst.get("type") == "LanguageProperty":
                tag, text = pick_language(inst.get("languageMap") or {}, lang)
                inst = {k: v for k, v in inst.items() if k not in ("type", "languageMap")}
                inst = {"type": "Property", "value": text, **inst}
                if tag is not None and tag != "@none":
                    inst["lang"] = tag
            shaped.append(inst)
        out[key] = shaped if isinstance(value, list) else shaped[0]
    return out
