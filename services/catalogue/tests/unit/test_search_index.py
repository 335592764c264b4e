"""The in-memory search index against a plain Python model of the same datasets: totals,
facet counts and pages, through additions, replacements, removals and compactions, for
every way the index evaluates a search (conjunctions from their shortest postings list,
other trees as masks; facet counts from a matrix of values per dataset, or gathered when a
few datasets have many values)."""

from __future__ import annotations

import functools
import random
from typing import Any

import numpy as np
import pytest

from catalogue.ckan import tsquery
from catalogue.ckan.index import Doc, Query, SearchIndex

WORDS = [f"w{i}" for i in range(40)]
COLUMNS = ["themes", "formats", "tags"]
ORDERS = [
    [("id", False)],
    [("modified", True)],
    [("title_sort", False)],
    [("issued", False), ("id", True)],
    [("title_sort", True), ("modified", False)],
    [("score", True), ("modified", True)],
    [("score", False), ("title_sort", False)],
]


def _doc(rnd: random.Random, tags: int = 3) -> Doc:
    lexemes = rnd.sample(WORDS, rnd.randint(0, 6))
    return Doc(
        id=f"d{rnd.randint(0, 3000):05d}",
        modified=rnd.randint(0, 30),
        issued=rnd.randint(0, 30),
        title_sort=rnd.choice(["alpha", "beta", "gamma", ""]),
        lexemes=lexemes,
        weights=[rnd.choice([10.0, 4.0, 2.0, 12.0]) for _ in lexemes],
        facets={
            "themes": rnd.sample(["T1", "T2", "T3", "T4"], rnd.randint(0, 2)),
            "formats": [rnd.choice(["CSV", "JSON"])],
            "tags": rnd.sample(WORDS[:15], rnd.randint(0, tags)),
        },
    )


def _holds(node: tsquery.Node, lexemes: set[str]) -> bool:
    if isinstance(node, tsquery.Term):
        return node.lexeme in lexemes
    if isinstance(node, tsquery.Not):
        return not _holds(node.arg, lexemes)
    if isinstance(node, tsquery.And):
        return _holds(node.left, lexemes) and _holds(node.right, lexemes)
    return _holds(node.left, lexemes) or _holds(node.right, lexemes)


def _expected(
    docs: dict[str, Doc], q: Query, order: list[tuple[str, bool]]
) -> tuple[list[str], dict[str, list[tuple[str, int]]]]:
    found = [
        d
        for d in docs.values()
        if (not q.has_text or (q.text is not None and _holds(q.text, set(d.lexemes))))
        and all(set(v) <= set(d.facets[c]) for c, v in q.filters.items())
        and not any(set(v) & set(d.facets[c]) for c, v in q.excludes.items())
        and (q.ids is None or d.id in q.ids)
        and (q.modified_from is None or d.modified >= q.modified_from)
        and (q.modified_to is None or d.modified <= q.modified_to)
    ]
    keys = [*order, ("id", False)] if all(c != "id" for c, _ in order) else order
    positive = set(tsquery.positive_terms(q.text)) if q.has_text else set()

    def score(d: Doc) -> float:
        return sum(w for lx, w in zip(d.lexemes, d.weights, strict=True) if lx in positive)

    def cmp(a: Doc, b: Doc) -> int:
        for column, desc in keys:
            x: Any = score(a) if column == "score" else getattr(a, column)
            y: Any = score(b) if column == "score" else getattr(b, column)
            if x != y:
                return (-1 if x < y else 1) * (-1 if desc else 1)
        return 0

    ordered = [d.id for d in sorted(found, key=functools.cmp_to_key(cmp))]
    facets = {}
    for column in COLUMNS:
        counts: dict[str, int] = {}
        for d in found:
            for v in set(d.facets[column]):
                counts[v] = counts.get(v, 0) + 1
        facets[column] = sorted(counts.items(), key=lambda vc: (-vc[1], vc[0]))[:3]
    return ordered, facets


def _query(rnd: random.Random, ids: list[str]) -> Query:
    a, b, c = rnd.sample(WORDS, 3)
    text = rnd.choice(
        [
            f"'{a}'",
            f"'{a}' & '{b}'",
            f"'{a}' | !'{b}'",
            f"!'{a}'",
            "",
            f"'{a}' & !'{b}'",
            f"!'{a}' & '{b}' & '{c}'",
            f"'{a}' & ( '{b}' | '{c}' )",
        ]
    )
    filters: dict[str, list[str]] = {}
    if rnd.random() < 0.5:
        filters["themes"] = rnd.sample(["T1", "T2", "T3", "T5"], rnd.choice([1, 1, 2]))
    if rnd.random() < 0.2:
        filters["tags"] = [rnd.choice(WORDS[:15])]
    excludes: dict[str, list[str]] = {}
    if rnd.random() < 0.3:
        excludes["formats"] = ["CSV"]
    if rnd.random() < 0.2:
        excludes["tags"] = rnd.sample(WORDS[:15], 2)
    bounds = sorted(rnd.sample(range(31), 2))
    return Query(
        has_text=rnd.random() < 0.8,
        text=tsquery.parse(text),
        filters=filters,
        excludes=excludes,
        ids=[*rnd.sample(ids, min(len(ids), 300)), "d-unknown"] if rnd.random() < 0.1 else None,
        modified_from=bounds[0] if rnd.random() < 0.15 else None,
        modified_to=bounds[1] if rnd.random() < 0.15 else None,
    )


@pytest.mark.parametrize(("seed", "wide"), [(1, False), (2, False), (3, False), (4, True)])
def test_index_matches_the_model_through_writes_and_compactions(seed: int, wide: bool) -> None:
    rnd = random.Random(seed)  # noqa: S311 (reproducible data)
    index, docs = SearchIndex(0, COLUMNS), {}
    for step, (writes, compact) in enumerate([(400, True), (200, False), (200, False), (5, True)]):
        for _ in range(writes):
            if docs and rnd.random() < 0.15:
                gone = rnd.choice(list(docs))
                index.remove(gone)
                del docs[gone]
            else:
                doc = _doc(rnd)
                index.add(doc)
                docs[doc.id] = doc
        if wide:  # a dataset with many tags: the tags are then counted by gathering
            doc = _doc(rnd)
            doc.id, doc.facets["tags"] = "d-wide", WORDS[:15]
            index.add(doc)
            docs[doc.id] = doc
        index.finish(step + 1)
        if compact:
            index.compact()
            assert (index.facets["tags"].grid is None) == wide
            assert index.facets["themes"].grid is not None
        assert len(index) == len(docs)
        for _ in range(120):
            q, order, start = _query(rnd, list(docs)), rnd.choice(ORDERS), rnd.randint(0, 12)
            got = index.search(
                q, order=order, start=start, rows=7, facets=COLUMNS, facet_limit=3, facet_mincount=1
            )
            ordered, facets = _expected(docs, q, order)
            slots = index.matched(q)
            assert (slots[1:] > slots[:-1]).all() and len(slots) == len(ordered)
            assert got.total == len(ordered)
            assert got.page == ordered[start : start + 7], (q, order, start)
            assert got.facets == facets


def test_relevance_ranks_title_over_description() -> None:
    index = SearchIndex(0, COLUMNS)
    for did, weight in (("a", 0.2), ("b", 1.0), ("c", 0.4)):
        index.add(Doc(did, 0, 0, did, ["park"], [weight * 10], {}))
    index.finish(1)
    q = Query(has_text=True, text=tsquery.parse("'park'"))
    got = index.search(
        q, order=[("score", True)], start=0, rows=10, facets=[], facet_limit=1, facet_mincount=1
    )
    assert got.page == ["b", "c", "a"]


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("'park' & !'bus' | 'tram'", "Or(And(park, Not(bus)), tram)"),
        ("'it''s'", "it's"),
        ("", "None"),
    ],
)
def test_tsquery_text(text: str, tree: str) -> None:
    def show(n: tsquery.Node | None) -> str:
        if n is None:
            return "None"
        if isinstance(n, tsquery.Term):
            return n.lexeme
        if isinstance(n, tsquery.Not):
            return f"Not({show(n.arg)})"
        return f"{type(n).__name__}({show(n.left)}, {show(n.right)})"

    assert show(tsquery.parse(text)) == tree


@pytest.mark.parametrize("text", ["'a' <-> 'b'", "'a':*", "'a':AB", "'a' <2> 'b'"])
def test_tsquery_the_index_leaves_to_postgresql(text: str) -> None:
    with pytest.raises(tsquery.Unsupported):
        tsquery.parse(text)


def test_facet_counts_with_many_values() -> None:
    """More values than a byte holds: the matrix of values per dataset is wider."""
    index = SearchIndex(0, COLUMNS)
    for n in range(300):
        tags = [f"t{n:03d}", "shared"] if n % 2 else [f"t{n:03d}"]
        index.add(Doc(f"d{n:03d}", n, n, "", ["w"], [1.0], {"tags": tags}))
    index.finish(1)
    index.compact()
    grid = index.facets["tags"].grid
    assert grid is not None and grid.dtype == np.uint16
    q = Query(has_text=True, text=tsquery.parse("'w'"), filters={"tags": ["shared"]})
    got = index.search(
        q, order=[("id", True)], start=0, rows=2, facets=["tags"], facet_limit=4, facet_mincount=1
    )
    assert got.total == 150 and got.page == ["d299", "d297"]
    assert got.facets["tags"] == [("shared", 150), ("t001", 1), ("t003", 1), ("t005", 1)]
