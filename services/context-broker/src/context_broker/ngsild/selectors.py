"""Boolean selector expressions over entity types (4.17) and scopes (4.19).

ETSI GS CIM 009 V1.8.1: ``type=A,B`` or ``A|B`` (any), ``A;B`` (all), parentheses to group;
``scopeQ`` uses the same operators over scope paths, where ``/a/#`` also matches every scope
below ``/a`` and ``/a/+`` the scopes one level below it. One parser serves both; atoms are
checked by the caller's rule. Pure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mims_shared.errors import BadRequestData

MAX_LENGTH = 2048
MAX_DEPTH = 16


@dataclass(frozen=True, slots=True)
class Atom:
    text: str


@dataclass(frozen=True, slots=True)
class AnyOf:
    items: tuple[Selector, ...]


@dataclass(frozen=True, slots=True)
class AllOf:
    items: tuple[Selector, ...]


Selector = Atom | AnyOf | AllOf


def parse_selector(text: str, param: str, atom_ok: Callable[[str], bool]) -> Selector:
    """Parse ``text``; ``atom_ok`` says whether an atom (a type name, a scope) is valid."""
    if not text or len(text) > MAX_LENGTH:
        raise BadRequestData(f"{param} must be 1 to {MAX_LENGTH} characters")
    pos = 0

    def fail(why: str) -> BadRequestData:
        return BadRequestData(f"Invalid {param} at position {pos}: {why}")

    def atom() -> Selector:
        nonlocal pos
        start = pos
        while pos < len(text) and text[pos] not in ",|;()":
            pos += 1
        word = text[start:pos].strip()
        if not word:
            raise fail("a name is missing")
        if not atom_ok(word):
            raise fail(f"{word[:80]!r} is not valid here")
        return Atom(word)

    def primary(depth: int) -> Selector:
        nonlocal pos
        if depth > MAX_DEPTH:
            raise fail("too deeply nested")
        if pos < len(text) and text[pos] == "(":
            pos += 1
            inner = disjunction(depth + 1)
            if pos >= len(text) or text[pos] != ")":
                raise fail("unbalanced parenthesis")
            pos += 1
            return inner
        return atom()

    def conjunction(depth: int) -> Selector:
        nonlocal pos
        items = [primary(depth)]
        while pos < len(text) and text[pos] == ";":
            pos += 1
            items.append(primary(depth))
        return items[0] if len(items) == 1 else AllOf(tuple(items))

    def disjunction(depth: int) -> Selector:
        nonlocal pos
        items = [conjunction(depth)]
        while pos < len(text) and text[pos] in ",|":
            pos += 1
            items.append(conjunction(depth))
        return items[0] if len(items) == 1 else AnyOf(tuple(items))

    result = disjunction(0)
    if pos != len(text):
        raise fail(f"unexpected {text[pos]!r}")
    return result


def map_atoms(selector: Selector, fn: Callable[[str], str]) -> Selector:
    """The same selector with every atom rewritten (e.g. type names expanded to IRIs)."""
    if isinstance(selector, Atom):
        return Atom(fn(selector.text))
    items = tuple(map_atoms(s, fn) for s in selector.items)
    return AnyOf(items) if isinstance(selector, AnyOf) else AllOf(items)


def is_scope_pattern(text: str) -> bool:
    """``/a/b``, ``/a/#``, ``/a/+``, ``/#``: a path of names, optionally ending in # or +."""
    if not text.startswith("/") or (text.endswith("/") and text != "/"):
        return False
    parts = text[1:].split("/")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "+":
            continue
        if part == "#":
            if not last:
                return False
            continue
        if not part or any(c in part for c in " #+\"'<>\\"):
            return False
    return True
