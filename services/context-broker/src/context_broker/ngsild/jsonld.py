"""A compiled, cached JSON-LD ``@context`` for the broker's hot path.

NGSI-LD expands only a few things with the ``@context`` (ETSI GS CIM 009 V1.8.1, clause 5.5.7):
Entity Type names, Attribute names (at every level) and VocabProperty ``vocab`` values. So
instead of running a generic JSON-LD processor on every request, each distinct ``@context`` is
compiled once into the maps term → IRI and IRI → term (``CompiledContext``), and
``get_compiled`` keeps the compiled contexts in an LRU cache: a request whose ``@context`` was
already seen costs one dict lookup, and each name it expands or compacts another.

How the user ``@context`` and the core ``@context`` combine (clauses 4.4, 5.5.5 and 5.5.7; the
wording was checked in the V1.9.1 text): the core ``@context`` is always implicitly present,
it is protected and cannot be overridden, implementations consider it as if it were in the last
position of the ``@context`` array, and it has absolute precedence whatever its position in
that array. ``compile_context`` therefore processes the user ``@context`` first, with the
JSON-LD 1.1 context processing rules, then the core ``@context`` last, overriding any user
definition of a core term, and the user's ``@vocab`` too: the core's ``@vocab``
(``DEFAULT_VOCAB``) is what a JSON-LD processor given ``[user, core]`` ends up with. A user
``@context`` must not carry scoped contexts (5.5.7): a term definition with ``@context`` is
refused.

The algorithms followed are those of W3C JSON-LD 1.1 Processing Algorithms and API: Context
Processing, Create Term Definition, IRI Expansion (``vocab`` true), Inverse Context Creation,
Term Selection and IRI Compaction (``vocab`` true), specialised to a value that is an NGSI-LD
Attribute (a node object without ``@id``) for keys, and to no value for types.

Deliberate differences from a JSON-LD processor, all in favour of never losing data:
- a term defined as ``null`` is treated as undefined (it expands with ``@vocab``), where
  JSON-LD would drop the member;
- an IRI that could be read as a compact IRI is returned unchanged by ``compact`` instead of
  raising "IRI confused with prefix".

Pure module: no web, database or JSON-LD framework here.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any, Final

import orjson

#: The core @context the broker implies (ETSI GS CIM 009 V1.8.1 = core context v1.8).
CORE_CONTEXT_URL: Final = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
#: The ``@vocab`` of every core @context: where undefined terms land (clause 4.4).
DEFAULT_VOCAB: Final = "https://uri.etsi.org/ngsi-ld/default-context/"

_CONTEXTS_DIR = Path(__file__).parent / "contexts"
_CORE_URL_STEM = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context"

#: Every core @context URL the broker serves from disk (see ``contexts/README.md``).
BUNDLED: dict[str, Path] = {
    f"{_CORE_URL_STEM}-v1.{minor}.jsonld": _CONTEXTS_DIR / f"ngsi-ld-core-context-v1.{minor}.jsonld"
    for minor in range(3, 10)
}
BUNDLED[f"{_CORE_URL_STEM}.jsonld"] = BUNDLED[CORE_CONTEXT_URL]

#: Given a context URL, the parsed JSON document (an object with ``@context``), or it raises
#: ``ContextNotAvailable``.
Resolver = Callable[[str], Any]

#: Size of the LRU cache of ``get_compiled``.
COMPILED_CACHE_SIZE: Final = 512
#: At most this many names are remembered per compiled context and direction.
_MAX_REMEMBERED: Final = 10_000
#: At most this many remote documents are read to compile one @context.
_MAX_DOCUMENTS: Final = 32

#: Members of an entity that are not Attributes: never expanded as names (clause 4.5.1).
ENTITY_MEMBERS: Final = frozenset(
    {"id", "@id", "type", "@type", "scope", "createdAt", "modifiedAt", "deletedAt", "@context"}
)
#: Members of an Attribute instance that are not sub-Attributes (clauses 4.5.2 to 4.5.24).
ATTRIBUTE_MEMBERS: Final = frozenset(
    {
        "type", "@type", "value", "@value", "object", "objectList", "valueList", "languageMap",
        "vocab", "json", "observedAt", "unitCode", "datasetId", "createdAt", "modifiedAt",
        "deletedAt", "instanceId", "lang", "objectType", "previousValue", "previousObject",
        "previousObjectList", "previousValueList", "previousLanguageMap", "previousVocab",
        "previousJson",
    }
)  # fmt: skip
#: Attribute members whose values are vocabulary-relative names (``"@type": "@vocab"`` in the
#: core @context): VocabProperty values and the entity types of ``objectType``.
VOCAB_MEMBERS: Final = frozenset({"vocab", "previousVocab", "objectType"})
_TYPE_MEMBERS: Final = frozenset({"type", "@type"})

_KEYWORDS: Final = frozenset(
    {
        "@base", "@container", "@context", "@direction", "@graph", "@id", "@import", "@included",
        "@index", "@json", "@language", "@list", "@nest", "@none", "@prefix", "@preserve",
        "@propagate", "@protected", "@reverse", "@set", "@type", "@value", "@version", "@vocab",
    }
)  # fmt: skip
#: Keywords of a local context that are settings, not terms.
_CONTEXT_SETTINGS: Final = frozenset(
    {"@base", "@direction", "@import", "@language", "@propagate", "@protected", "@version",
     "@vocab"}
)  # fmt: skip
_TERM_KEYS: Final = frozenset(
    {
        "@id", "@reverse", "@type", "@container", "@language", "@direction", "@context",
        "@index", "@nest", "@prefix", "@protected",
    }
)  # fmt: skip
_CONTAINERS: Final = frozenset({"@list", "@set", "@index", "@language", "@graph", "@id", "@type"})
#: Term selection for a key whose value is an NGSI-LD Attribute (a node object without @id).
_KEY_CONTAINERS: Final = (
    "@id", "@id@set", "@type", "@set@type", "@set", "@none", "@index", "@index@set",
)  # fmt: skip
#: Term selection for an entity type or a vocab value (IRI compaction without a value).
_TYPE_CONTAINERS: Final = ("@set", "@none")
_GEN_DELIMS: Final = frozenset(":/?#[]@")
_ABSOLUTE_IRI: Final = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.\-]*|_):\S*\Z")
_KEYWORD_FORM: Final = re.compile(r"@[A-Za-z]+\Z")
_IRI_FORM_TERM: Final = re.compile(r":[^:]|/")


class ContextError(Exception):
    """An invalid @context (clauses 5.5.4 and 5.5.6): the broker answers BadRequestData."""


class ContextNotAvailable(Exception):
    """A referenced @context cannot be retrieved (5.5.6): the answer is LdContextNotAvailable."""

    def __init__(self, url: str, reason: str = "") -> None:
        self.url = url
        self.reason = reason
        detail = f": {reason}" if reason else ""
        super().__init__(f"The @context {url} could not be retrieved{detail}")


def bundled_document(url: str) -> dict[str, Any] | None:
    """The parsed core @context document served from disk for ``url``, or None.

    The same object is returned on every call: treat it as read-only.
    """
    path = BUNDLED.get(url)
    return None if path is None else _read_document(path)


@cache
def _read_document(path: Path) -> dict[str, Any]:
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):  # pragma: no cover - the vendored files are objects
        raise ContextError(f"{path.name} is not a JSON-LD context document")
    return document


@dataclass(frozen=True, slots=True)
class _Term:
    """A term definition, with what compaction needs to choose between terms."""

    iri: str | None  # None: the term is decoupled from any IRI ("term": null)
    prefix: bool = False
    protected: bool = False
    reverse: bool = False
    type: str | None = None
    container: tuple[str, ...] = ()
    plain: bool = True  # no @type, @language nor @direction
    extras: tuple[tuple[str, str], ...] = ()  # other members, only to compare definitions


@dataclass(slots=True)
class _Pass:
    """The processing of one local context object (a JSON object of term definitions)."""

    local: Mapping[str, Any]
    protected: bool
    core: bool
    override: bool
    defined: dict[str, bool]


def _is_absolute(iri: str) -> bool:
    return _ABSOLUTE_IRI.match(iri) is not None


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


class _Builder:
    """The active context while a @context value is processed (JSON-LD 1.1 Context Processing)."""

    def __init__(self, resolve: Resolver) -> None:
        self.terms: dict[str, _Term] = {}
        self.vocab: str | None = None
        self._resolve = resolve
        self._documents: dict[str, dict[str, Any]] = {}

    def apply(
        self,
        context: Any,
        *,
        stack: tuple[str, ...] = (),
        core: bool = False,
        override: bool = False,
    ) -> None:
        for item in context if isinstance(context, list) else [context]:
            if item is None:
                if not override and any(term.protected for term in self.terms.values()):
                    raise ContextError("A null @context cannot clear protected terms")
                self.terms = {}
                self.vocab = None
            elif isinstance(item, str):
                self._apply_url(item, stack, override)
            elif isinstance(item, dict):
                self._apply_local(item, stack, core=core, override=override)
            else:
                raise ContextError(
                    f"An @context must be a URL, an object, null or an array of those, "
                    f"not {_kind(item)}"
                )

    def document(self, url: str) -> dict[str, Any]:
        """The document at ``url``: bundled, else from the resolver, read once per compilation."""
        document = self._documents.get(url)
        if document is not None:
            return document
        if len(self._documents) >= _MAX_DOCUMENTS:
            raise ContextError(f"The @context references more than {_MAX_DOCUMENTS} documents")
        found = bundled_document(url)
        if found is None:
            found = self._resolve(url)
        if not isinstance(found, dict) or "@context" not in found:
            raise ContextError(f"The document at {url} is not a JSON-LD context: no @context")
        self._documents[url] = found
        return found

    def _apply_url(self, url: str, stack: tuple[str, ...], override: bool) -> None:
        if not _is_absolute(url) or url.startswith("_:"):
            raise ContextError(f"The @context reference {url[:200]!r} is not an absolute URL")
        if url in stack:
            raise ContextError(f"The @context {url} includes itself")
        document = self.document(url)
        self.apply(
            document["@context"], stack=(*stack, url), core=url in BUNDLED, override=override
        )

    def _apply_local(
        self, local: dict[str, Any], stack: tuple[str, ...], *, core: bool, override: bool
    ) -> None:
        if "@import" in local:
            local = self._import(local, stack)
        version = local.get("@version", 1.1)
        if version != 1.1 or isinstance(version, bool):
            raise ContextError(f"@version must be 1.1, not {version!r}")
        for setting in ("@propagate", "@protected"):
            if not isinstance(local.get(setting, False), bool):
                raise ContextError(f"{setting} must be true or false")
        if not isinstance(local.get("@language"), str | None):
            raise ContextError("@language must be a string or null")
        if local.get("@direction") not in (None, "ltr", "rtl"):
            raise ContextError('@direction must be "ltr", "rtl" or null')
        if "@vocab" in local:
            self.vocab = self._vocabulary(local["@vocab"])
        run = _Pass(
            local=local,
            protected=local.get("@protected", False) and not core,
            core=core,
            override=override,
            defined={},
        )
        for term in local:
            if term not in _CONTEXT_SETTINGS:
                self._define(run, term)

    def _import(self, local: dict[str, Any], stack: tuple[str, ...]) -> dict[str, Any]:
        url = local["@import"]
        if not isinstance(url, str) or not _is_absolute(url):
            raise ContextError("@import must be an absolute URL")
        if url in stack:
            raise ContextError(f"The @context {url} imports itself")
        imported = self.document(url)["@context"]
        if not isinstance(imported, dict) or "@import" in imported:
            raise ContextError(f"The @context imported from {url} must be an object, no @import")
        merged = dict(imported)
        merged.update((key, value) for key, value in local.items() if key != "@import")
        return merged

    def _vocabulary(self, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ContextError(f"@vocab must be a string or null, not {_kind(value)}")
        iri = self._expand_iri(value, None)
        if iri is None or not _is_absolute(iri):
            raise ContextError(f"@vocab {value[:200]!r} is not an absolute IRI")
        return iri

    def _define(self, run: _Pass, term: str) -> None:
        state = run.defined.get(term)
        if state is True:
            return
        if state is False:
            raise ContextError(f"The term {term!r} is defined through itself")
        run.defined[term] = False
        value = run.local[term]
        if term == "@type":
            if (
                not isinstance(value, dict)
                or not value
                or not set(value) <= {"@container", "@protected"}
                or value.get("@container", "@set") != "@set"
            ):
                raise ContextError("The keyword @type cannot be redefined")
        elif term in _KEYWORDS:
            raise ContextError(f"The keyword {term} cannot be redefined")
        elif term == "":
            raise ContextError("A term cannot be the empty string")
        elif not _KEYWORD_FORM.match(term):  # reserved "@xyz" forms are ignored (JSON-LD 1.1)
            previous = self.terms.pop(term, None)
            definition = self._definition(run, term, value)
            if definition is None:
                if previous is not None:
                    self.terms[term] = previous
            else:
                if previous is not None and previous.protected and not run.override:
                    definition = replace(definition, protected=True)
                    if definition != previous:
                        raise ContextError(f"The protected term {term!r} cannot be redefined")
                self.terms[term] = definition
        run.defined[term] = True

    def _definition(self, run: _Pass, term: str, value: Any) -> _Term | None:
        """Create Term Definition (JSON-LD 1.1 API); None when it is to be ignored."""
        simple = value is None or isinstance(value, str)
        if simple:
            value = {"@id": value}
        elif not isinstance(value, dict):
            raise ContextError(
                f"The term {term!r} must be defined by a string, an object or null, "
                f"not {_kind(value)}"
            )
        unknown = set(value) - _TERM_KEYS
        if unknown:
            raise ContextError(f"The definition of {term!r} has unknown members {sorted(unknown)}")
        if "@context" in value and not run.core:
            raise ContextError(
                f"The term {term!r} carries a scoped @context, which a user @context must not "
                "(ETSI GS CIM 009, 5.5.7)"
            )
        for key in ("@id", "@reverse"):
            raw = value.get(key)
            if isinstance(raw, str) and raw not in _KEYWORDS and _KEYWORD_FORM.match(raw):
                return None  # reserved "@xyz" forms are ignored, with the term (JSON-LD 1.1)
        iri, prefix, reverse = self._iri_mapping(run, term, value, simple)

        protected = value.get("@protected", run.protected)
        if not isinstance(protected, bool):
            raise ContextError(f"@protected of {term!r} must be true or false")
        if run.core:
            protected = False  # the core is re-applied last anyway (5.5.7)

        type_ = self._type_mapping(run, term, value)
        container = _container_mapping(term, value, reverse)
        if "@type" in container:
            type_ = type_ or "@id"
            if type_ not in ("@id", "@vocab"):
                raise ContextError(f"The @type container of {term!r} needs @type @id or @vocab")

        if "@index" in value and (
            "@index" not in container
            or not isinstance(value["@index"], str)
            or value["@index"].startswith("@")
        ):
            raise ContextError(f"@index of {term!r} needs an @index container and a property name")
        has_language = "@language" in value and "@type" not in value
        if has_language and not isinstance(value["@language"], str | None):
            raise ContextError(f"@language of {term!r} must be a string or null")
        if value.get("@direction") not in (None, "ltr", "rtl"):
            raise ContextError(f'@direction of {term!r} must be "ltr", "rtl" or null')
        nest = value.get("@nest", "@nest")
        if not isinstance(nest, str) or (nest != "@nest" and nest.startswith("@")):
            raise ContextError(f"@nest of {term!r} must be a term or @nest")
        if "@prefix" in value:
            if ":" in term or "/" in term:
                raise ContextError(f"@prefix cannot be used on the compact IRI or IRI {term!r}")
            if iri in _KEYWORDS:
                raise ContextError(f"The keyword alias {term!r} cannot be a prefix")
            if not isinstance(value["@prefix"], bool):
                raise ContextError(f"@prefix of {term!r} must be true or false")
            prefix = value["@prefix"]
        if iri in ("@context", "@preserve"):
            raise ContextError(f"{iri} cannot be aliased (term {term!r})")

        extras = tuple(
            (key, json.dumps(value[key], sort_keys=True))
            for key in ("@language", "@direction", "@index", "@nest", "@context")
            if key in value and (key != "@language" or has_language)
        )
        return _Term(
            iri=iri,
            prefix=prefix,
            protected=protected,
            reverse=reverse,
            type=type_,
            container=container,
            plain=type_ is None and not has_language and "@direction" not in value,
            extras=extras,
        )

    def _iri_mapping(
        self, run: _Pass, term: str, value: dict[str, Any], simple: bool
    ) -> tuple[str | None, bool, bool]:
        """The IRI of a term, whether it may be a prefix, whether it is reverse."""
        if "@reverse" in value:
            if "@id" in value or "@nest" in value:
                raise ContextError(f"The @reverse term {term!r} cannot have @id or @nest")
            reverse = value["@reverse"]
            if not isinstance(reverse, str):
                raise ContextError(f"@reverse of {term!r} must be a string")
            iri = self._expand_iri(reverse, run)
            if iri is None or not _is_absolute(iri):
                raise ContextError(f"@reverse of {term!r} is not an absolute IRI")
            return iri, False, True
        raw = value.get("@id", term)
        if raw is None:
            return None, False, False
        if raw != term:
            if not isinstance(raw, str):
                raise ContextError(f"The IRI of {term!r} must be a string, not {_kind(raw)}")
            iri = self._expand_iri(raw, run)
            if iri is None or not (iri in _KEYWORDS or _is_absolute(iri)):
                raise ContextError(f"The IRI of {term!r} ({raw[:200]!r}) is not an absolute IRI")
            if _IRI_FORM_TERM.search(term):
                run.defined[term] = True  # expand the term itself without recursing into it
                try:
                    own = self._expand_iri(term, run)
                finally:
                    run.defined[term] = False
                if own != iri:
                    raise ContextError(f"The term {term!r} looks like an IRI but maps to {iri}")
            prefix = (
                simple
                and ":" not in term
                and "/" not in term
                and (iri.startswith("_:") or iri[-1] in _GEN_DELIMS)
            )
            return iri, prefix, False
        colon = term.find(":")
        if colon > 0:  # a compact IRI or an IRI used as a term
            head, tail = term[:colon], term[colon + 1 :]
            if head in run.local:
                self._define(run, head)
            parent = self.terms.get(head)
            if parent is not None and parent.iri is not None:
                return parent.iri + tail, False, False
            return term, False, False
        if self.vocab is None:
            raise ContextError(f"The term {term!r} has no IRI: give it an @id or set @vocab")
        return self.vocab + term, False, False

    def _type_mapping(self, run: _Pass, term: str, value: dict[str, Any]) -> str | None:
        if "@type" not in value:
            return None
        raw = value["@type"]
        if not isinstance(raw, str):
            raise ContextError(f"@type of {term!r} must be a string")
        if raw in ("@id", "@vocab", "@json", "@none"):
            return raw
        iri = self._expand_iri(raw, run)
        if iri is None or not _is_absolute(iri) or iri.startswith("_:"):
            raise ContextError(f"@type of {term!r} ({raw[:200]!r}) is not an absolute IRI")
        return iri

    def _expand_iri(self, value: str, run: _Pass | None) -> str | None:
        """IRI Expansion with ``vocab`` true while processing (JSON-LD 1.1 API)."""
        if value in _KEYWORDS:
            return value
        if _KEYWORD_FORM.match(value):
            return None
        if run is not None and value in run.local and run.defined.get(value) is not True:
            self._define(run, value)
        known = self.terms.get(value)
        if known is not None:
            return known.iri
        colon = value.find(":")
        if colon > 0:
            head, tail = value[:colon], value[colon + 1 :]
            if head == "_" or tail.startswith("//"):
                return value
            if run is not None and head in run.local and not run.defined.get(head):
                self._define(run, head)
            parent = self.terms.get(head)
            if parent is not None and parent.prefix and parent.iri is not None:
                return parent.iri + tail
            if _is_absolute(value):
                return value
        if self.vocab is not None:
            return self.vocab + value
        return value


def _container_mapping(term: str, value: dict[str, Any], reverse: bool) -> tuple[str, ...]:
    if "@container" not in value:
        return ()
    raw = value["@container"]
    items = raw if isinstance(raw, list) else [raw]
    if not items or not all(isinstance(item, str) for item in items):
        raise ContextError(f"@container of {term!r} must be a keyword or an array of keywords")
    kinds = set(items)
    if not kinds <= _CONTAINERS or len(kinds) != len(items):
        valid = False
    elif "@list" in kinds:
        valid = len(items) == 1
    elif "@graph" in kinds:
        valid = kinds <= {"@graph", "@id", "@index", "@set"}
    else:
        valid = len(items) <= (2 if "@set" in kinds else 1)
    if not valid:
        raise ContextError(f"@container of {term!r} is not a valid container: {raw!r}")
    if reverse and not kinds <= {"@index", "@set"}:
        raise ContextError(f"The @reverse term {term!r} can only have an @index or @set container")
    return tuple(sorted(items))


def _selection(terms: Mapping[str, _Term], containers: tuple[str, ...]) -> dict[str, str]:
    """IRI → the term Term Selection picks from the inverse context (JSON-LD 1.1 API).

    Terms are ranked shortest first, then lexicographically least; for each IRI the first
    container in ``containers`` that has a usable term wins, a term with ``"@type": "@id"``
    before one without type (``"@type": "@none"`` counts as without). Terms with another
    ``@type`` (a datatype, ``@vocab``, ``@json``) come last (JSON-LD would not use them; NGSI-LD
    brokers do); terms with a language, a direction or a reverse mapping are not used.
    """
    ranked: dict[str, dict[str, dict[str, str]]] = {}
    for name in sorted(terms, key=lambda t: (len(t), t)):
        term = terms[name]
        if term.iri is None or term.reverse:
            continue
        if term.type == "@id":
            slot = "@id"
        elif term.type == "@none" or term.plain:
            slot = "@none"
        else:
            # A typed term (a datatype, @vocab, @json) still names the attribute, as
            # NGSI-LD brokers do: "refDevice" or "dateObserved", not a compact IRI. It only
            # loses to an untyped term for the same IRI. (JSON-LD compaction would skip it.)
            slot = "@typed"
        by_container = ranked.setdefault(term.iri, {})
        by_container.setdefault("".join(term.container) or "@none", {}).setdefault(slot, name)
    chosen: dict[str, str] = {}
    for iri, by_container in ranked.items():
        for container in containers:
            slots = by_container.get(container)
            if slots:
                chosen[iri] = slots.get("@id") or slots.get("@none") or slots["@typed"]
                break
    return chosen


class CompiledContext:
    """One @context (user + core) compiled to term → IRI and IRI → term maps.

    Every direction remembers what it computed: a name seen before costs one dict lookup.
    Instances are shared between requests (``get_compiled``); they only grow their caches.
    """

    __slots__ = (
        "_by_iri_for_keys",
        "_by_iri_for_types",
        "_compacted_keys",
        "_compacted_types",
        "_expanded",
        "_prefix_list",
        "_prefixes",
        "_terms",
        "vocab",
    )

    def __init__(self, terms: Mapping[str, _Term], vocab: str | None) -> None:
        self.vocab = vocab
        self._terms: dict[str, str] = {
            name: term.iri for name, term in terms.items() if term.iri is not None
        }
        self._prefixes: dict[str, str] = {
            name: term.iri
            for name, term in terms.items()
            if term.prefix and term.iri is not None and ":" not in name
        }
        self._prefix_list = sorted(self._prefixes.items())
        self._by_iri_for_keys = _selection(terms, _KEY_CONTAINERS)
        self._by_iri_for_types = _selection(terms, _TYPE_CONTAINERS)
        self._expanded: dict[str, str] = dict(self._terms)
        self._compacted_keys: dict[str, str] = {}
        self._compacted_types: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"<CompiledContext {len(self._terms)} terms, @vocab {self.vocab!r}>"

    def expand(self, term: str) -> str:
        """An Attribute or Entity Type name → its IRI (vocabulary-relative IRI expansion)."""
        iri = self._expanded.get(term)
        if iri is None:
            iri = self._expand(term)
            if len(self._expanded) < _MAX_REMEMBERED:
                self._expanded[term] = iri
        return iri

    def expand_vocab_value(self, value: str) -> str:
        """A VocabProperty ``vocab`` value → its IRI (``"@type": "@vocab"`` in the core)."""
        return self.expand(value)

    def compact(self, iri: str) -> str:
        """An Attribute IRI → the name JSON-LD compaction gives it as a key."""
        name = self._compacted_keys.get(iri)
        if name is None:
            name = self._compact(iri, self._by_iri_for_keys)
            if len(self._compacted_keys) < _MAX_REMEMBERED:
                self._compacted_keys[iri] = name
        return name

    def compact_type(self, iri: str) -> str:
        """An Entity Type IRI → the name JSON-LD compaction gives it as an ``@type`` value."""
        name = self._compacted_types.get(iri)
        if name is None:
            name = self._compact(iri, self._by_iri_for_types)
            if len(self._compacted_types) < _MAX_REMEMBERED:
                self._compacted_types[iri] = name
        return name

    def compact_vocab_value(self, iri: str) -> str:
        """A VocabProperty ``vocab`` IRI → its short name (as an ``@type`` value)."""
        return self.compact_type(iri)

    def _expand(self, value: str) -> str:
        if value in _KEYWORDS or _KEYWORD_FORM.match(value):
            return value
        colon = value.find(":")
        if colon > 0:
            head, tail = value[:colon], value[colon + 1 :]
            if head == "_" or tail.startswith("//"):
                return value
            prefix = self._prefixes.get(head)
            if prefix is not None:
                return prefix + tail
            if _is_absolute(value):
                return value
        if self.vocab is not None:
            return self.vocab + value
        return value

    def _compact(self, iri: str, selection: dict[str, str]) -> str:
        """IRI Compaction with ``vocab`` true (JSON-LD 1.1 API)."""
        name = selection.get(iri)
        if name is not None:
            return name
        vocab = self.vocab
        if vocab is not None and len(iri) > len(vocab) and iri.startswith(vocab):
            suffix = iri[len(vocab) :]
            if suffix not in self._terms:
                return suffix
        best: str | None = None
        for prefix, prefix_iri in self._prefix_list:
            if prefix_iri != iri and iri.startswith(prefix_iri):
                candidate = f"{prefix}:{iri[len(prefix_iri) :]}"
                if candidate not in self._terms and (
                    best is None or (len(candidate), candidate) < (len(best), best)
                ):
                    best = candidate
        return iri if best is None else best


def compile_context(
    context: str | dict[str, Any] | list[Any] | None,
    resolve: Resolver,
    *,
    core: str = CORE_CONTEXT_URL,
) -> CompiledContext:
    """Compile a user @context (a URL, an object, an array of those, or None) with the core.

    The user @context is processed first, resolving URLs (also inside arrays and inside the
    documents they point to) with the bundled core files, then ``resolve``; the core @context
    ``core`` is processed last and wins over any user definition of its terms (ETSI GS CIM
    009 V1.8.1, 4.4 and 5.5.7). Raises ContextError for an invalid @context and lets the
    resolver's ContextNotAvailable through.
    """
    builder = _Builder(resolve)
    if context is not None:
        builder.apply(context)
    builder.apply(builder.document(core)["@context"], core=True, override=True)
    return CompiledContext(builder.terms, builder.vocab)


_compiled: OrderedDict[tuple[Any, str], CompiledContext] = OrderedDict()
_compiled_lock = threading.Lock()


def context_key(context: Any) -> Any:
    """The canonical form of a @context value: a URL or None as is, else canonical JSON bytes."""
    if context is None or isinstance(context, str):
        return context
    try:
        return orjson.dumps(context, option=orjson.OPT_SORT_KEYS)
    except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
        raise ContextError(f"The @context is not JSON: {exc}") from exc


def get_compiled(
    context: str | dict[str, Any] | list[Any] | None,
    resolve: Resolver,
    *,
    core: str = CORE_CONTEXT_URL,
) -> CompiledContext:
    """``compile_context`` through an LRU cache of ``COMPILED_CACHE_SIZE`` contexts.

    The key is the @context value itself (not what its URLs resolve to): call
    ``clear_compiled`` when a stored @context changes. Failures are not cached.
    """
    key = (context_key(context), core)
    found = _compiled.get(key)
    if found is not None:
        with contextlib.suppress(KeyError):  # evicted by another thread meanwhile
            _compiled.move_to_end(key)
        return found
    compiled = compile_context(context, resolve, core=core)
    with _compiled_lock:
        compiled = _compiled.setdefault(key, compiled)
        _compiled.move_to_end(key)
        while len(_compiled) > COMPILED_CACHE_SIZE:
            _compiled.popitem(last=False)
    return compiled


def clear_compiled() -> None:
    """Forget every compiled @context (e.g. after a stored @context was replaced)."""
    with _compiled_lock:
        _compiled.clear()


def expand_entity_keys(entity: Mapping[str, Any], ctx: CompiledContext) -> dict[str, Any]:
    """The entity with Attribute names, sub-Attribute names, types and vocab values expanded.

    Core members (``ENTITY_MEMBERS``, ``ATTRIBUTE_MEMBERS``) keep their names, and values are
    shared with the input, not copied: only the dicts that hold names are new. Two names that
    expand to the same IRI are merged into one multi-attribute (a list of instances).
    """
    return _entity(entity, ctx.expand, ctx.expand, ctx.expand_vocab_value)


def compact_entity_keys(entity: Mapping[str, Any], ctx: CompiledContext) -> dict[str, Any]:
    """The inverse of ``expand_entity_keys``: IRIs back to the names of ``ctx``."""
    return _entity(entity, ctx.compact, ctx.compact_type, ctx.compact_vocab_value)


_Rename = Callable[[str], str]


def _entity(
    entity: Mapping[str, Any], key: _Rename, type_: _Rename, vocab: _Rename
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in entity.items():
        if name in ENTITY_MEMBERS:
            out[name] = _names(value, type_) if name in _TYPE_MEMBERS else value
            continue
        if isinstance(value, dict):
            value = _instance(value, key, vocab)
        elif isinstance(value, list):
            value = [_instance(v, key, vocab) if isinstance(v, dict) else v for v in value]
        renamed = key(name)
        if renamed in out:
            _merge(out, renamed, value)
        else:
            out[renamed] = value
    return out


def _instance(instance: Mapping[str, Any], key: _Rename, vocab: _Rename) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in instance.items():
        if name in ATTRIBUTE_MEMBERS:
            out[name] = _names(value, vocab) if name in VOCAB_MEMBERS else value
            continue
        if isinstance(value, dict):
            value = _instance(value, key, vocab)
        elif isinstance(value, list):
            value = [_instance(v, key, vocab) if isinstance(v, dict) else v for v in value]
        renamed = key(name)
        if renamed in out:
            _merge(out, renamed, value)
        else:
            out[renamed] = value
    return out


def _names(value: Any, rename: _Rename) -> Any:
    if isinstance(value, str):
        return rename(value)
    if isinstance(value, list):
        return [rename(item) if isinstance(item, str) else item for item in value]
    return value


def _merge(out: dict[str, Any], name: str, value: Any) -> None:
    before = out[name]
    out[name] = (before if isinstance(before, list) else [before]) + (
        value if isinstance(value, list) else [value]
    )
