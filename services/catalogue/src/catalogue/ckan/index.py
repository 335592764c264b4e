"""An in-memory search index of the catalogue's datasets, for ``package_search``
(CKAN 2.10 API guide, ``ckan.logic.action.get.package_search``): exact totals and facet
counts, pages in CKAN's sort orders.

What it holds is what PostgreSQL holds, at one write version of the catalogue: each
dataset's lexemes (from its ``tsv`` column, with a weight from their A-D labels), its facet
values (the ``themes``/``orgs``/... columns), its stamps and sort keys. PostgreSQL stays the
truth: the service answers only when the statement that reads the page's packages returns
the version the index was at, and otherwise brings the index up to that version first
(:mod:`catalogue.ckan.live` reads the datasets each version changed), so replicas never
answer from a state older than the one they have read.

Layout, per dataset slot: a boolean ``alive`` mask, stamps as integer microseconds, sort keys
for ``title_string``/``name`` as floats. Per lexeme and per facet value, postings (the
slots that hold it, ascending; weights for lexemes). Per facet, the values of every slot
in compressed-row form and, unless a few slots have many values, as a matrix of one row per
slot, so counting the facets of a match is one gather of its rows and one NumPy
``bincount``, whatever the number of distinct values. A search whose text is a conjunction
of words (or has filters) starts from the shortest postings list and checks the other
conditions on its slots only; other searches evaluate masks of every slot. A changed dataset
gets a new slot (the old one is only marked dead), so a write appends and never rewrites
arrays; :meth:`SearchIndex.compact` renumbers the live datasets in ``name`` order once the
appended part has grown (slots of the compacted part are then their own ``name`` order).
A page of compacted slots is sorted on one integer per match: relevance above the rank of
the other sort columns, computed once per compaction and sort order.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from catalogue.ckan import tsquery

Mask = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]
#: per-slot columns read at random by a search, kept narrow (fewer cache lines touched)
Narrow = npt.NDArray[np.integer[Any]]

#: PostgreSQL's default ``ts_rank`` weights of the labels D, C, B, A (12.3.3), in tenths:
#: whole numbers add up exactly, so equal relevance compares equal.
LABEL_WEIGHTS = {"A": 10.0, "B": 4.0, "C": 2.0, "D": 1.0}


@lru_cache(maxsize=4096)
def label_weight(labels: str) -> float:
    """The weight of a lexeme in a dataset: the sum of its positions' label weights (a
    lexeme without positions counts as D). Relevance is the sum over the query's lexemes:
    a word in the title outranks it in the keywords, which outrank the description."""
    return sum(LABEL_WEIGHTS.get(c, 0.1) for c in labels) or LABEL_WEIGHTS["D"]


@dataclass(slots=True)
class Doc:
    """What the index keeps of one dataset."""

    id: str
    modified: int  # microseconds since the epoch (PostgreSQL's precision)
    issued: int
    title_sort: str
    lexemes: Sequence[str]
    weights: Sequence[float]  # per lexeme: the sum of the label weights of its positions
    facets: dict[str, Sequence[str]]  # facet column -> values


@dataclass(slots=True)
class Query:
    """A search the index answers. ``text`` is None (no text condition) or the tree of a
    tsquery (``None`` inside :attr:`has_text` means the query had only stop words)."""

    has_text: bool = False
    text: tsquery.Node | None = None
    filters: dict[str, list[str]] = field(default_factory=dict)  # column -> all of values
    excludes: dict[str, list[str]] = field(default_factory=dict)  # column -> none of values
    ids: list[str] | None = None
    modified_from: int | None = None
    modified_to: int | None = None


@dataclass(slots=True)
class Result:
    total: int
    page: list[str]
    facets: dict[str, list[tuple[str, int]]]


class _Postings:
    """The slots holding one lexeme or facet value: a frozen array and appended slots."""

    __slots__ = ("_cache", "base", "base_w", "extra", "extra_w")

    def __init__(self) -> None:
        self.base: Ints = np.empty(0, np.int64)
        self.base_w: npt.NDArray[np.float64] = np.empty(0, np.float64)
        self.extra: list[int] = []
        self.extra_w: list[float] = []
        self._cache: tuple[Ints, npt.NDArray[np.float64]] | None = None

    def add(self, slot: int, weight: float = 0.0) -> None:
        self.extra.append(slot)
        self.extra_w.append(weight)
        self._cache = None

    def arrays(self) -> tuple[Ints, npt.NDArray[np.float64]]:
        if not self.extra:
            return self.base, self.base_w
        if self._cache is None:
            self._cache = (
                np.concatenate((self.base, np.array(self.extra, np.int64))),
                np.concatenate((self.base_w, np.array(self.extra_w, np.float64))),
            )
        return self._cache


class _Facet:
    """One facet column: value codes, postings per value, values per slot."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self.values: list[str] = []
        self.postings: list[_Postings] = []
        # compacted part: values of slot s are codes[offsets[s]:offsets[s + 1]]
        self.offsets: Ints = np.zeros(1, np.int64)
        self.flat: Ints = np.empty(0, np.int64)
        # the same, one row per slot: code + 1 of each value, 0 after the last one (None
        # when a few slots with many values would make it much larger than ``flat``)
        self.grid: Narrow | None = None
        self.extra: list[list[int]] = []  # appended slots, from slot len(offsets) - 1

    def code(self, value: str) -> int:
        found = self.codes.get(value)
        if found is None:
            found = self.codes[value] = len(self.values)
            self.values.append(value)
            self.postings.append(_Postings())
        return found

    def count(self, matched: Ints, frozen: int) -> Ints:
        """Occurrences of every value code among the ``matched`` slots (sorted)."""
        cut = int(np.searchsorted(matched, frozen))
        counts: Ints
        if self.grid is not None:
            # one gather of whole rows and one bincount; bin 0 counts the padding
            rows = np.take(self.grid, matched[:cut], axis=0)
            counts = np.bincount(rows.ravel(), minlength=len(self.values) + 1)[1:]
        else:
            codes = _gather(self.offsets, self.flat, matched[:cut])
            counts = np.bincount(codes, minlength=len(self.values))
        for slot in matched[cut:].tolist():
            for c in self.extra[slot - frozen]:
                counts[c] += 1
        return counts


def _narrow(top: int) -> type[np.uint8] | type[np.uint16] | type[np.int32]:
    """The narrowest type that holds 0..``top``."""
    return np.uint8 if top < 1 << 8 else np.uint16 if top < 1 << 16 else np.int32


def _grid(offsets: Ints, flat: Ints, values: int) -> Narrow | None:
    """The values of every slot as the rows of a matrix (see :attr:`_Facet.grid`)."""
    n = len(offsets) - 1
    lengths = np.diff(offsets)
    width = int(lengths.max()) if n else 0
    if n * width > 2 * len(flat) + n:
        return None
    grid: Narrow = np.zeros((n, max(1, width)), _narrow(values))
    rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
    columns = np.arange(len(flat), dtype=np.int64) - np.repeat(offsets[:-1], lengths)
    grid[rows, columns] = flat[: offsets[-1]] + 1
    return grid


def _member(slots: Ints, postings: Ints, size: int) -> Mask:
    """Which of ``slots`` are among ``postings``."""
    mask = np.zeros(size, np.bool_)
    mask[postings] = True
    found: Mask = mask[slots]
    return found


def _conjuncts(node: tsquery.Node, plus: list[str], minus: list[str]) -> bool:
    """Collect the words and negated words of a conjunction; False for other trees."""
    if isinstance(node, tsquery.Term):
        plus.append(node.lexeme)
        return True
    if isinstance(node, tsquery.Not):
        if isinstance(node.arg, tsquery.Term):
            minus.append(node.arg.lexeme)
            return True
        return False
    if isinstance(node, tsquery.And):
        return _conjuncts(node.left, plus, minus) and _conjuncts(node.right, plus, minus)
    return False


def _gather(offsets: Ints, flat: Ints, slots: Ints) -> Ints:
    """``flat[offsets[s]:offsets[s + 1]]`` for every slot in ``slots``, concatenated."""
    starts = offsets[slots]
    lengths = offsets[slots + 1] - starts
    heads = np.cumsum(lengths) - lengths
    return flat[np.repeat(starts - heads, lengths) + np.arange(int(lengths.sum()))]


class SearchIndex:
    """The datasets of the catalogue at :attr:`version`, searchable in memory."""

    def __init__(self, version: int, facets: Iterable[str]) -> None:
        self.version = version
        self.slot: dict[str, int] = {}  # live dataset id -> slot
        self.ids: list[str] = []
        self.titles: list[str] = []
        self.frozen = 0  # slots below are compacted (ordered by id)
        self._size = 0
        self.alive: Mask = np.zeros(0, np.bool_)
        self.modified: Ints = np.zeros(0, np.int64)
        self.issued: Ints = np.zeros(0, np.int64)
        self.id_key: npt.NDArray[np.float64] = np.zeros(0, np.float64)
        self.title_key: npt.NDArray[np.float64] = np.zeros(0, np.float64)
        self.terms: dict[str, _Postings] = {}
        self.facets = {f: _Facet() for f in facets}
        # compacted ids and titles, sorted and distinct, for the sort keys of appended slots
        self._sorted_ids: list[str] = []
        self._sorted_titles: list[str] = []
        self._ranks: dict[tuple[tuple[str, bool], ...], npt.NDArray[np.int32]] = {}

    # --- writing -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.slot)

    @property
    def appended(self) -> int:
        return self._size - self.frozen

    def _grow(self, need: int) -> None:
        if need <= len(self.alive):
            return
        cap = max(1024, need, 2 * len(self.alive))
        for name in ("alive", "modified", "issued", "id_key", "title_key"):
            old = getattr(self, name)
            new = np.zeros(cap, old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def remove(self, did: str) -> None:
        slot = self.slot.pop(did, None)
        if slot is not None:
            self.alive[slot] = False

    def add(self, doc: Doc) -> None:
        """Index ``doc`` (replacing the dataset of the same id)."""
        self.remove(doc.id)
        slot = self._size
        self._size += 1
        self._grow(self._size)
        self.slot[doc.id] = slot
        self.ids.append(doc.id)
        self.titles.append(doc.title_sort)
        self.alive[slot] = True
        self.modified[slot] = doc.modified
        self.issued[slot] = doc.issued
        for lexeme, weight in zip(doc.lexemes, doc.weights, strict=True):
            postings = self.terms.get(lexeme)
            if postings is None:
                postings = self.terms[lexeme] = _Postings()
            postings.add(slot, weight)
        for column, facet in self.facets.items():
            codes = [facet.code(v) for v in dict.fromkeys(doc.facets.get(column, ()))]
            for c in codes:
                facet.postings[c].add(slot)
            facet.extra.append(codes)

    def finish(self, version: int) -> None:
        """Done with the changes of ``version``: sort keys of the appended slots."""
        self.version = version
        tail = range(self.frozen, self._size)
        self.id_key[tail] = _keys(self._sorted_ids, [self.ids[s] for s in tail])
        self.title_key[tail] = _keys(self._sorted_titles, [self.titles[s] for s in tail])

    def compact(self) -> None:
        """Renumber the live datasets in ``name`` order and freeze every array."""
        live = sorted(self.slot.values(), key=lambda s: self.ids[s])
        old = np.array(live, np.int64)
        n = len(live)
        remap = np.full(max(self._size, 1), -1, np.int64)
        remap[old] = np.arange(n, dtype=np.int64)
        self.ids = [self.ids[s] for s in live]
        self.titles = [self.titles[s] for s in live]
        self.slot = {did: s for s, did in enumerate(self.ids)}
        cap = max(1024, n)
        self.alive = np.zeros(cap, np.bool_)
        self.alive[:n] = True
        for name in ("modified", "issued"):
            column = np.zeros(cap, np.int64)
            column[:n] = getattr(self, name)[old]
            setattr(self, name, column)
        self.id_key = np.zeros(cap, np.float64)
        self.id_key[:n] = np.arange(n, dtype=np.float64)
        self._sorted_ids = list(self.ids)
        self._sorted_titles = sorted(set(self.titles))
        self._ranks = {}
        self.title_key = np.zeros(cap, np.float64)
        self.title_key[:n] = _keys(self._sorted_titles, self.titles)
        for lexeme in list(self.terms):
            p = self.terms[lexeme]
            slots, weights = p.arrays()
            new = remap[slots]
            keep = new >= 0
            if not keep.any():
                del self.terms[lexeme]
                continue
            # in slot order, as every postings list (appended slots come after)
            ordered = np.argsort(new[keep], kind="stable")
            p.base, p.base_w = new[keep][ordered], weights[keep][ordered]
            p.extra, p.extra_w, p._cache = [], [], None
        for facet in self.facets.values():
            _compact_facet(facet, remap, old)
        self._size = self.frozen = n

    # --- reading -------------------------------------------------------------------------

    def _mask(self, postings: _Postings | None) -> Mask:
        mask = np.zeros(self._size, np.bool_)
        if postings is not None:
            mask[postings.arrays()[0]] = True
        return mask

    def _text(self, node: tsquery.Node) -> Mask:
        if isinstance(node, tsquery.Term):
            return self._mask(self.terms.get(node.lexeme))
        if isinstance(node, tsquery.Not):
            return ~self._text(node.arg)
        if isinstance(node, tsquery.And):
            return self._text(node.left) & self._text(node.right)
        return self._text(node.left) | self._text(node.right)

    def _score(self, node: tsquery.Node | None) -> npt.NDArray[np.float64]:
        score = np.zeros(self._size, np.float64)
        for lexeme in dict.fromkeys(tsquery.positive_terms(node)):
            postings = self.terms.get(lexeme)
            if postings is not None:
                slots, weights = postings.arrays()
                score[slots] += weights
        return score

    def match(self, q: Query) -> Mask:
        mask = self.alive[: self._size].copy()
        if q.has_text:
            if q.text is None:
                return np.zeros(self._size, np.bool_)
            mask &= self._text(q.text)
        for column, values in q.filters.items():
            facet = self.facets[column]
            for v in values:
                code = facet.codes.get(v)
                mask &= self._mask(None if code is None else facet.postings[code])
        for column, values in q.excludes.items():
            facet = self.facets[column]
            for v in values:
                code = facet.codes.get(v)
                if code is not None:
                    mask &= ~self._mask(facet.postings[code])
        if q.ids is not None:
            wanted = np.zeros(self._size, np.bool_)
            wanted[[self.slot[i] for i in q.ids if i in self.slot]] = True
            mask &= wanted
        if q.modified_from is not None:
            mask &= self.modified[: self._size] >= q.modified_from
        if q.modified_to is not None:
            mask &= self.modified[: self._size] <= q.modified_to
        return mask

    def matched(self, q: Query) -> Ints:
        """The slots that match ``q``, ascending."""
        found = self._conjunction(q)
        return np.flatnonzero(self.match(q)) if found is None else found

    def _conjunction(self, q: Query) -> Ints | None:
        """The matches of a query whose text is a conjunction of words and negated words,
        with at least one word or filter value: the other conditions are checked on the
        slots of the shortest postings list only. None for other queries."""
        plus: list[str] = []
        minus: list[str] = []
        if q.has_text and (q.text is None or not _conjuncts(q.text, plus, minus)):
            return None
        lists: list[_Postings | None] = [self.terms.get(t) for t in plus]
        for column, values in q.filters.items():
            facet = self.facets[column]
            for v in values:
                code = facet.codes.get(v)
                lists.append(None if code is None else facet.postings[code])
        if not lists:
            return None
        arrays = [p.arrays()[0] if p is not None else None for p in lists]
        if any(a is None for a in arrays):
            return np.empty(0, np.int64)
        present = [a for a in arrays if a is not None]
        present.sort(key=len)
        found: Ints = present[0][self.alive[present[0]]]
        for other in present[1:]:
            found = found[_member(found, other, self._size)]
        absent = [self.terms.get(t) for t in minus]
        for column, values in q.excludes.items():
            facet = self.facets[column]
            absent += [facet.postings[facet.codes[v]] for v in values if v in facet.codes]
        for p in absent:
            if p is not None:
                found = found[~_member(found, p.arrays()[0], self._size)]
        if q.ids is not None:
            wanted = np.array([self.slot[i] for i in q.ids if i in self.slot], np.int64)
            found = found[_member(found, wanted, self._size)]
        if q.modified_from is not None:
            found = found[self.modified[found] >= q.modified_from]
        if q.modified_to is not None:
            found = found[self.modified[found] <= q.modified_to]
        return found

    def search(
        self,
        q: Query,
        *,
        order: Sequence[tuple[str, bool]],
        start: int,
        rows: int,
        facets: Sequence[str],
        facet_limit: int,
        facet_mincount: int,
    ) -> Result:
        """Total, the ids of one page and the counts of ``facets`` (columns) of a search.

        ``order`` is ``[(column, descending)]`` over ``score``, ``modified``, ``issued``,
        ``title_sort`` and ``id``; ties are broken by ``id`` as in the SQL search. Facet
        values are ordered by count (descending), then value, as Solr's ``facet.sort=count``.
        """
        matched = self.matched(q)
        total = len(matched)
        page: list[str] = []
        if rows > 0 and start < total:
            slots = self._page(q, matched, order, start + rows)[start:].tolist()
            page = [self.ids[s] for s in slots]
        counts: dict[str, list[tuple[str, int]]] = {}
        for column in facets:
            facet = self.facets[column]
            per_value = facet.count(matched, self.frozen)
            counts[column] = _top(facet.values, per_value, facet_limit, facet_mincount)
        return Result(total, page, counts)

    def _column(self, column: str) -> npt.NDArray[np.float64] | Ints:
        if column == "id":
            return self.id_key
        if column == "title_sort":
            return self.title_key
        key: Ints = getattr(self, column)
        return key

    def _rank(self, order: tuple[tuple[str, bool], ...]) -> npt.NDArray[np.int32]:
        """The rank of every compacted slot in ``order`` (static columns), ties by name:
        computed once per compaction, then a page sorts one integer per match."""
        found = self._ranks.get(order)
        if found is None:
            n = self.frozen
            keys = [self._column(c)[:n] for c, _ in order]
            signed = [-k if desc else k for k, (_, desc) in zip(keys, order, strict=True)]
            # lexsort is stable and slots are numbered by name: ties stay in name order
            ranked = np.lexsort(tuple(reversed(signed)))
            found = np.empty(n, np.int32)
            found[ranked] = np.arange(n, dtype=np.int32)
            if len(self._ranks) >= 16:
                self._ranks.clear()
            self._ranks[order] = found
        return found

    def _page(self, q: Query, matched: Ints, order: Sequence[tuple[str, bool]], upto: int) -> Ints:
        if len(matched) and matched[-1] >= self.frozen:
            return self._page_appended(q, matched, order, upto)
        # Only compacted slots match: one integer key per match, relevance (a whole number
        # of tenths) above the rank of the static columns.
        by_score = order[0][0] == "score"
        rest = tuple(order[1:] if by_score else order)
        key: Ints | npt.NDArray[np.int32]
        key = self._rank(rest)[matched] if rest else matched
        if by_score:
            score = np.rint(self._score(q.text if q.has_text else None)[matched]).astype(np.int64)
            key = (-score if order[0][1] else score) * (1 << 32) + key
        if 4 * upto < len(key):
            top = np.argpartition(key, upto - 1)[:upto]
            ordered = top[np.argsort(key[top])]
        else:
            ordered = np.argsort(key)[:upto]
        page: Ints = matched[ordered]
        return page

    def _page_appended(
        self, q: Query, matched: Ints, order: Sequence[tuple[str, bool]], upto: int
    ) -> Ints:
        """A page when appended slots match: every column a key, ties by name."""
        columns = list(order)
        if all(c != "id" for c, _ in columns):
            columns.append(("id", False))
        keys: list[npt.NDArray[np.float64] | Ints] = []
        for column, desc in columns:
            key: npt.NDArray[np.float64] | Ints
            if column == "score":
                key = self._score(q.text if q.has_text else None)[matched]
            else:
                key = self._column(column)[matched]
            keys.append(-key if desc else key)
        candidates = matched
        if len(matched) > 4 * upto + 1024:
            # only rows up to the page's last primary key can be on the page
            bound = np.partition(keys[0], upto - 1)[upto - 1]
            keep = keys[0] <= bound
            candidates = matched[keep]
            keys = [k[keep] for k in keys]
        ordered = np.lexsort(tuple(reversed(keys)))[:upto]
        page: Ints = candidates[ordered]
        return page


def _compact_facet(facet: _Facet, remap: Ints, old: Ints) -> None:
    """Values per slot and postings per value of ``facet`` in the new numbering."""
    appended = [np.array(c, np.int64) for c in facet.extra]
    lengths = np.concatenate(
        (np.diff(facet.offsets), np.array([len(c) for c in appended], np.int64))
    )
    offsets = np.concatenate((np.zeros(1, np.int64), np.cumsum(lengths)))
    flat = np.concatenate([facet.flat[: facet.offsets[-1]], *appended])
    facet.flat = _gather(offsets, flat, old)
    facet.offsets = np.concatenate((np.zeros(1, np.int64), np.cumsum(lengths[old])))
    facet.grid = _grid(facet.offsets, facet.flat, len(facet.values))
    facet.extra = []
    for p in facet.postings:
        slots, _ = p.arrays()
        new = remap[slots]
        p.base = np.sort(new[new >= 0])
        p.base_w = np.zeros(len(p.base), np.float64)
        p.extra, p.extra_w, p._cache = [], [], None


def _keys(ordered: list[str], values: list[str]) -> npt.NDArray[np.float64]:
    """Sort keys of ``values``, equal for equal values: the position in ``ordered`` (sorted,
    distinct) of a value found there; for another value, a fraction of the gap it falls
    in, ordered among the other values of that gap."""
    new = sorted({v for v in values if not _has(ordered, v)})
    fraction = {v: (rank + 1) / (len(new) + 1) / 2 for rank, v in enumerate(new)}
    return np.array(
        [
            bisect.bisect_left(ordered, v) - (0.5 - fraction[v] if v in fraction else 0.0)
            for v in values
        ],
        np.float64,
    )


def _has(ordered: list[str], value: str) -> bool:
    at = bisect.bisect_left(ordered, value)
    return at < len(ordered) and ordered[at] == value


def _top(values: Sequence[str], counts: Ints, limit: int, mincount: int) -> list[tuple[str, int]]:
    codes = np.flatnonzero(counts >= max(1, mincount))
    if len(codes) > limit:
        floor = np.partition(counts[codes], len(codes) - limit)[len(codes) - limit]
        codes = codes[counts[codes] >= floor]
    pairs = [(values[c], int(counts[c])) for c in codes.tolist()]
    ranked = sorted(pairs, key=lambda vc: (-vc[1], vc[0]))
    return ranked[:limit]
