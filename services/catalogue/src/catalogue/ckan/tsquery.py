"""PostgreSQL ``tsquery`` text (PostgreSQL 16 manual, 8.11.2 "tsquery") read into a tree
that the in-memory search index evaluates.

PostgreSQL itself turns the user's words into a ``tsquery`` (``websearch_to_tsquery`` with
the language's configuration: stemming and stop words stay PostgreSQL's); the index only
evaluates the result. It evaluates ``&``, ``|`` and ``!`` over lexemes; a query that uses
phrase distance (``<->``, ``<N>``), prefixes (``:*``) or weight labels (``:AB``) is
:class:`Unsupported`, and the caller asks PostgreSQL instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class Unsupported(ValueError):
    """A tsquery the index does not evaluate (phrases, prefixes, weights)."""


@dataclass(frozen=True, slots=True)
class Term:
    lexeme: str


@dataclass(frozen=True, slots=True)
class Not:
    arg: Node


@dataclass(frozen=True, slots=True)
class And:
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Or:
    left: Node
    right: Node


Node = Term | Not | And | Or

_TOKEN = re.compile(r"\s*(?:'((?:[^']|'')*)'(:[A-Da-d*]+)?|(<\d*-?>)|([!&|()]))")


def _tokens(text: str) -> list[str | Term]:
    out: list[str | Term] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise Unsupported(f"Unexpected tsquery text at {pos}: {text[pos : pos + 20]!r}")
        pos = m.end()
        if m[1] is not None:
            if m[2]:
                raise Unsupported("Prefix and weight labels are evaluated by PostgreSQL")
            out.append(Term(m[1].replace("''", "'")))
        elif m[3]:
            raise Unsupported("Phrase distance is evaluated by PostgreSQL")
        else:
            out.append(m[4])
    return out


def parse(text: str) -> Node | None:
    """The tree of a tsquery's text; None for the empty query (only stop words), which
    matches nothing. Precedence as in PostgreSQL: ``!`` over ``&`` over ``|``."""
    tokens = _tokens(text)
    if not tokens:
        return None
    pos = 0

    def peek() -> str | Term | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str | Term:
        nonlocal pos
        if pos >= len(tokens):
            raise Unsupported("Unexpected end of tsquery")
        pos += 1
        return tokens[pos - 1]

    def primary() -> Node:
        tok = take()
        if isinstance(tok, Term):
            return tok
        if tok == "!":
            return Not(primary())
        if tok == "(":
            node = disjunction()
            if take() != ")":
                raise Unsupported("Unbalanced parentheses in tsquery")
            return node
        raise Unsupported(f"Unexpected {tok!r} in tsquery")

    def conjunction() -> Node:
        node = primary()
        while peek() == "&":
            take()
            node = And(node, primary())
        return node

    def disjunction() -> Node:
        node = conjunction()
        while peek() == "|":
            take()
            node = Or(node, conjunction())
        return node

    tree = disjunction()
    if pos != len(tokens):
        raise Unsupported("Trailing tokens in tsquery")
    return tree


def positive_terms(node: Node | None) -> list[str]:
    """The lexemes a match may be ranked by (those not under ``!``)."""
    if node is None or isinstance(node, Not):
        return []
    if isinstance(node, Term):
        return [node.lexeme]
    return positive_terms(node.left) + positive_terms(node.right)
