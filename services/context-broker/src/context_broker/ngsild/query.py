"""The NGSI-LD Query Language (ETSI GS CIM 009 V1.8.1, clause 4.9), compiled to SQL/JSON path.

``parse_q`` turns the text of a ``q`` parameter (already URL-decoded) into a small AST;
``q_to_jsonpath`` turns that AST into ONE PostgreSQL (16) SQL/JSON path, in the default lax
mode, for the ``attrs`` document of an entity row: an object whose keys are attribute IRIs and
whose values are one attribute instance or an array of instances (multi-attributes).

Nothing from the input is ever spliced into the path except through :func:`jsonpath_string`,
which writes a double-quoted jsonpath string literal (``"`` and ``\\`` escaped, control
characters as ``\\uXXXX``): keys become ``."<iri>"`` member accessors, values literals, regular
expressions the string operand of ``like_regex``. So no input can leave a literal.

Supported: every production of the 4.9 grammar but ``LinkedEntityRelation`` (``a{b}``),
which is refused. Extensions, all unambiguous: a quoted regular expression (``a~="x|y"``, a
JSON string), a bare term as a value (``gender==Male``, example 12), ``null``. An unquoted
regular expression runs to the first ``;``, ``|`` or ``)`` outside its own groups and
brackets (``a~=x|y`` is ``a~=x`` OR ``y``: quote it to keep the ``|``); an unquoted value
to the first ``;``, ``|``, ``)``, ``,`` or space (quote URIs that hold them). No spaces
between tokens: the grammar has none.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import partial
from typing import Literal

from context_broker.ngsild.attributes import STAMP_MEMBERS
from mims_shared.errors import BadRequestData

#: Longest ``q`` accepted, in characters (after URL-decoding).
MAX_LENGTH = 4096
#: Deepest nesting of parentheses.
MAX_DEPTH = 32
#: Most query terms in one expression, and most values in one list.
MAX_TERMS = 100
MAX_VALUES = 100

#: Members of an attribute instance that an attribute path may address after a dot
#: (``speed.observedAt``); any other name after a dot is a sub-attribute.
META_MEMBERS = frozenset(
    {"observedAt", "unitCode", "datasetId", "createdAt", "modifiedAt", "deletedAt", "objectType"}
)

Op = Literal["==", "!=", "<", "<=", ">", ">="]
_OPERATORS = ("!~=", "==", "!=", "~=", ">=", "<=", ">", "<")


# --- the AST ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AttrPath:
    """``names[0]`` the attribute, then sub-attributes or one final instance member
    (``META_MEMBERS``); ``trailing`` the member path into the value (``a[b.c]``), or ()."""

    names: tuple[str, ...]
    trailing: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Number:
    text: str  # a JSON number, as written


@dataclass(frozen=True, slots=True)
class String:
    value: str  # a quoted string, decoded


@dataclass(frozen=True, slots=True)
class Boolean:
    value: bool


@dataclass(frozen=True, slots=True)
class Null:
    pass


@dataclass(frozen=True, slots=True)
class Uri:
    value: str  # an unquoted URI, or a bare term (to be matched as written, or expanded)


@dataclass(frozen=True, slots=True)
class DateTime:
    value: datetime  # aware, UTC, microseconds at most


@dataclass(frozen=True, slots=True)
class Date:
    value: date


@dataclass(frozen=True, slots=True)
class Time:
    value: time  # naive: a ``Z`` suffix and no suffix mean the same


Value = Number | String | Boolean | Null | Uri | DateTime | Date | Time
_COMPARABLE = (Number, String, DateTime, Date, Time)


@dataclass(frozen=True, slots=True)
class Range:
    low: Value
    high: Value


@dataclass(frozen=True, slots=True)
class ValueList:
    values: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class Exists:
    path: AttrPath


@dataclass(frozen=True, slots=True)
class Compare:
    path: AttrPath
    op: Op
    value: Value | Range | ValueList


@dataclass(frozen=True, slots=True)
class Pattern:
    path: AttrPath
    regex: str
    negated: bool = False


@dataclass(frozen=True, slots=True)
class And:
    terms: tuple[QExpr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    terms: tuple[QExpr, ...]


QExpr = Exists | Compare | Pattern | And | Or


def reads_stamps(expr: QExpr) -> bool:
    """Whether ``q`` reads an instance's createdAt or modifiedAt (``speed.modifiedAt>...``):
    such a query is tested on the document with every stamp in place."""
    if isinstance(expr, And | Or):
        return any(reads_stamps(t) for t in expr.terms)
    return any(name in STAMP_MEMBERS for name in expr.path.names[1:])


# --- parsing ---------------------------------------------------------------------------
_NAME = re.compile(r"[^\W\d][\w\-]*(?::[^\W\d][\w\-]*)?")
_SEGMENT = re.compile(r"[^\W\d][\w\-]*|\*")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?(\d+))?")
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?"
)
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_TIME = re.compile(r"(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?Z?")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`\x00-\x1f\x7f]+")
#: Characters that end an unquoted value.
_VALUE_END = frozenset(';|),",') | frozenset(" \t\r\n")


def _fail(why: str, pos: int | None = None) -> BadRequestData:
    where = "" if pos is None else f" at position {pos}"
    return BadRequestData(f"Invalid q{where}: {why}")


def parse_q(text: str) -> QExpr:
    """The AST of an NGSI-LD query (4.9), or BadRequestData saying where and what is wrong.

    Positions in messages are 0-based offsets into ``text``. ``;`` (AND) binds tighter than
    ``|`` (OR); parentheses nest (example 6 of 4.9) up to ``MAX_DEPTH``.
    """
    if not isinstance(text, str) or not text.strip():
        raise _fail("the expression is empty")
    if len(text) > MAX_LENGTH:
        raise _fail(f"the expression is longer than {MAX_LENGTH} characters")
    for i, ch in enumerate(text):
        if ch == "\x00" or "\ud800" <= ch <= "\udfff":
            raise _fail("the expression holds a NUL or a lone surrogate character", i)
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.depth = 0
        self.terms = 0

    # helpers
    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.s[j] if j < len(self.s) else ""

    def at_end(self) -> bool:
        return self.i >= len(self.s)

    def describe(self) -> str:
        return "the end" if self.at_end() else repr(self.s[self.i])

    # grammar
    def parse(self) -> QExpr:
        expr = self.parse_or()
        if not self.at_end():
            if self.peek() == ")":
                raise _fail("unbalanced parenthesis: ')' without '('", self.i)
            raise _fail(f"expected ';', '|' or the end, found {self.describe()}", self.i)
        return expr

    def parse_or(self) -> QExpr:
        terms = [self.parse_and()]
        while self.peek() == "|":
            self.i += 1
            terms.append(self.parse_and())
        return terms[0] if len(terms) == 1 else Or(tuple(terms))

    def parse_and(self) -> QExpr:
        terms = [self.parse_primary()]
        while self.peek() == ";":
            self.i += 1
            terms.append(self.parse_primary())
        return terms[0] if len(terms) == 1 else And(tuple(terms))

    def parse_primary(self) -> QExpr:
        if self.peek() == "(":
            start = self.i
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _fail(f"parentheses nest deeper than {MAX_DEPTH} levels", start)
            self.i += 1
            expr = self.parse_or()
            if self.peek() != ")":
                if self.at_end():
                    raise _fail(f"unbalanced parenthesis: the '(' at {start} is not closed", self.i)
                raise _fail(f"expected ';', '|' or ')', found {self.describe()}", self.i)
            self.i += 1
            self.depth -= 1
            return expr
        return self.parse_term()

    def parse_term(self) -> QExpr:
        if self.at_end() or self.peek() in ";|)":
            before = self.s[self.i - 1] if self.i else ""
            after = f" after {before!r}" if before else ""
            raise _fail(f"a query term is expected{after}, found {self.describe()}", self.i)
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise _fail(f"more than {MAX_TERMS} query terms", self.i)
        path = self.parse_path()
        if self.at_end() or self.peek() in ";|)":
            return Exists(path)
        start = self.i
        run = ""
        while self.peek() and self.peek() in "=!<>~":
            run += self.peek()
            self.i += 1
        if not run:
            raise _fail(
                f"forbidden character {self.describe()} after the attribute path {_show(path)!r}",
                start,
            )
        if run not in _OPERATORS:
            raise _fail(f"unknown operator {run!r}", start)
        if run in ("~=", "!~="):
            return Pattern(path, self.parse_regex(run), negated=run == "!~=")
        op: Op = run  # type: ignore[assignment]
        return Compare(path, op, self.parse_operand(op))

    def parse_name(self, what: str) -> str:
        m = _NAME.match(self.s, self.i)
        if not m:
            raise _fail(f"{what} is expected, found {self.describe()}", self.i)
        self.i = m.end()
        return m.group()

    def parse_path(self) -> AttrPath:
        start = self.i
        names = [self.parse_name("an attribute name or '('")]
        while self.peek() == ".":
            self.i += 1
            names.append(self.parse_name("a sub-attribute name after '.'"))
        trailing: list[str] = []
        if self.peek() == "[":
            self.i += 1
            while True:
                m = _SEGMENT.match(self.s, self.i)
                if not m:
                    raise _fail(
                        f"a member name is expected in '[...]', found {self.describe()}", self.i
                    )
                trailing.append(m.group())
                self.i = m.end()
                if self.peek() != ".":
                    break
                self.i += 1
            if self.peek() != "]":
                raise _fail(f"']' is expected, found {self.describe()}", self.i)
            self.i += 1
            if self.peek() == "[":
                raise _fail("only one trailing path is allowed: write a[b.c], not a[b][c]", self.i)
        if self.peek() == "{":
            raise _fail("linked entity queries (a{b}) are not supported", self.i)
        for k, name in enumerate(names[1:], start=1):
            if name in META_MEMBERS and (k < len(names) - 1 or trailing):
                raise _fail(f"{name} is a member of an attribute and ends the path", start)
        return AttrPath(tuple(names), tuple(trailing))

    # values
    def parse_operand(self, op: Op) -> Value | Range | ValueList:
        start = self.i
        first = self.parse_value(op)
        if self.s.startswith("..", self.i):
            self.i += 2
            high = self.parse_value("..")
            if op not in ("==", "!="):
                raise _fail(f"a range is only allowed with == and !=, not {op}", start)
            if not isinstance(first, _COMPARABLE) or type(first) is not type(high):
                raise _fail(
                    "the bounds of a range must be two numbers, strings, "
                    "DateTimes, Dates or Times of the same kind",
                    start,
                )
            result: Value | Range | ValueList = Range(first, high)
        elif self.peek() == ",":
            values = [first]
            while self.peek() == ",":
                self.i += 1
                values.append(self.parse_value(","))
                if len(values) > MAX_VALUES:
                    raise _fail(f"a list holds more than {MAX_VALUES} values", start)
            if op not in ("==", "!="):
                raise _fail(f"a list of values is only allowed with == and !=, not {op}", start)
            result = ValueList(tuple(values))
        else:
            if op not in ("==", "!=") and not isinstance(first, _COMPARABLE):
                raise _fail(
                    f"{op} compares numbers, strings, DateTimes, Dates or Times, "
                    f"not {self.s[start : self.i]!r}",
                    start,
                )
            result = first
        if not (self.at_end() or self.peek() in ";|)"):
            raise _fail(f"unexpected {self.describe()} after the value", self.i)
        return result

    def parse_value(self, after: str) -> Value:
        start = self.i
        if self.peek() == '"':
            return String(self.parse_string())
        j = self.i
        while j < len(self.s) and self.s[j] not in _VALUE_END:
            # ".." ends a comparable value (a range), not a URI that holds it.
            if self.s.startswith("..", j) and _comparable_token(self.s[self.i : j]):
                break
            j += 1
        token = self.s[self.i : j]
        if not token:
            raise _fail(f"a value is expected after {after!r}, found {self.describe()}", start)
        self.i = j
        value = _classify(token, start)
        if value is None:
            raise _fail(f"invalid value {token[:80]!r}", start)
        return value

    def parse_string(self) -> str:
        start = self.i
        j = self.i + 1
        while j < len(self.s):
            ch = self.s[j]
            if ch == "\\":
                j += 2
                continue
            if ch == '"':
                break
            j += 1
        else:
            raise _fail("unterminated string", start)
        raw = self.s[start : j + 1]
        try:
            value = json.loads(raw)
        except ValueError:
            raise _fail(
                'invalid string: use JSON escapes only (\\" \\\\ \\/ \\b \\f \\n '
                "\\r \\t \\uXXXX) and no raw control characters",
                start,
            ) from None
        if not isinstance(value, str) or any(
            ch == "\x00" or "\ud800" <= ch <= "\udfff" for ch in value
        ):
            raise _fail("the string holds a NUL or a lone surrogate character", start)
        self.i = j + 1
        return value

    def parse_regex(self, op: str) -> str:
        start = self.i
        pattern = self.parse_string() if self.peek() == '"' else self.scan_regex()
        if not pattern:
            raise _fail(f"a regular expression is expected after {op!r}", start)
        problem = regex_problem(pattern)
        if problem:
            raise _fail(f"invalid regular expression: {problem}", start)
        if not (self.at_end() or self.peek() in ";|)"):
            raise _fail(f"unexpected {self.describe()} after the regular expression", self.i)
        return pattern

    def scan_regex(self) -> str:
        """An unquoted RegExp: up to the first ``;``, ``|`` or ``)`` that is not inside its
        own parentheses or brackets, nor escaped."""
        j, depth, n = self.i, 0, len(self.s)
        while j < n:
            ch = self.s[j]
            if ch == "\\":
                j += 2
                continue
            if ch == "[":
                j = _bracket_end(self.s, j)
                continue
            if ch == "(":
                depth += 1
            elif ch == ")":
                if depth == 0:
                    break
                depth -= 1
            elif ch in ";|" and depth == 0:
                break
            j += 1
        j = min(j, n)
        pattern = self.s[self.i : j]
        self.i = j
        return pattern


def _bracket_end(s: str, j: int) -> int:
    """The index just past the bracket expression opening at ``s[j]`` (or len(s))."""
    k = j + 1
    if k < len(s) and s[k] == "^":
        k += 1
    if k < len(s) and s[k] == "]":
        k += 1
    while k < len(s):
        if s[k] == "\\":
            k += 2
        elif s.startswith(("[:", "[.", "[="), k):
            end = s.find(s[k + 1] + "]", k + 2)
            k = len(s) if end < 0 else end + 2
        elif s[k] == "]":
            return k + 1
        else:
            k += 1
    return len(s)


def _comparable_token(token: str) -> bool:
    return bool(
        _NUMBER.fullmatch(token)
        or _DATETIME.fullmatch(token)
        or _DATE.fullmatch(token)
        or _TIME.fullmatch(token)
    )


def _micro(fraction: str | None) -> int:
    return int((fraction or "0")[:6].ljust(6, "0"))


_KEYWORDS: dict[str, Value] = {"true": Boolean(True), "false": Boolean(False), "null": Null()}


def _classify(token: str, pos: int) -> Value | None:
    """The value an unquoted token stands for, or None when it is none."""
    if token in _KEYWORDS:
        return _KEYWORDS[token]
    m = _NUMBER.fullmatch(token)
    if m:
        if len(token) > 100 or (m.group(1) and int(m.group(1)) > 1000):
            raise _fail(f"the number {token[:40]!r} is out of range", pos)
        return Number(token)
    try:
        m = _DATETIME.fullmatch(token)
        if m:
            y, mo, d, h, mi, s, frac, zone = m.groups()
            tz: timezone = UTC
            if zone and zone != "Z":
                sign = -1 if zone[0] == "-" else 1
                digits = zone[1:].replace(":", "")
                tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0)))
            dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0), _micro(frac), tz)
            return DateTime(dt.astimezone(UTC))
        m = _DATE.fullmatch(token)
        if m:
            return Date(date(*(int(g) for g in m.groups())))
        m = _TIME.fullmatch(token)
        if m:
            h, mi, s, frac = m.groups()
            return Time(time(int(h), int(mi), int(s or 0), _micro(frac)))
    except (ValueError, OverflowError) as exc:
        raise _fail(f"invalid date or time {token[:40]!r}: {exc}", pos) from None
    if _URI.fullmatch(token) or _NAME.fullmatch(token):
        return Uri(token)
    return None


def _show(path: AttrPath) -> str:
    text = ".".join(path.names)
    return f"{text}[{'.'.join(path.trailing)}]" if path.trailing else text


# --- regular expressions (PostgreSQL ARE, the flavour of like_regex) -------------------
_CLASSES = frozenset(
    {
        "alnum",
        "alpha",
        "blank",
        "cntrl",
        "digit",
        "graph",
        "lower",
        "print",
        "punct",
        "space",
        "upper",
        "xdigit",
        "word",
    }
)
_ATOM_ESCAPES = frozenset("abBefnrtvdDsSwW")
_CONSTRAINT_ESCAPES = frozenset("AmMyYZ")
_CLASS_ESCAPES = frozenset("dDsSwW")
_HEX = frozenset("0123456789abcdefABCDEF")
_MAX_REPEAT = 255


def regex_problem(pattern: str) -> str | None:
    """Why PostgreSQL would refuse ``pattern`` in ``like_regex``, or None.

    A conservative check of the Advanced Regular Expression syntax (PostgreSQL 16, 9.7.3.1):
    balanced parentheses and brackets, known escapes and classes, quantifiers with an
    operand, repetition counts up to 255, ordered ranges, back references to closed groups,
    embedded options only at the start. What it lets through PostgreSQL may still refuse
    (SQLSTATE 2201B); what it refuses PostgreSQL refuses too (bar octal escapes such as
    ``\\12`` written before twelve groups, which are refused here as back references).
    """
    p = pattern
    if p.startswith("***="):
        return None
    if p.startswith("***:"):
        p = p[4:]
    i, n = 0, len(p)
    m = re.match(r"\(\?([A-Za-z]*)\)", p)
    if m:
        opts = m.group(1)
        if not opts or any(c not in "bceimnpqstwx" for c in opts):
            return "invalid embedded option"
        if set(opts) & set("bqe"):
            return None  # basic, literal or extended syntax: not checked here
        i = m.end()
    groups: list[str] = []  # open groups: "capture", "group" or "lookaround"
    closed = 0  # capturing groups closed so far
    quantifiable = False  # the previous item is an atom a quantifier may follow
    while i < n:
        c = p[i]
        if c == "(":
            if p.startswith(("(?=", "(?!"), i):
                groups.append("lookaround")
                i += 3
            elif p.startswith(("(?<=", "(?<!"), i):
                groups.append("lookaround")
                i += 4
            elif p.startswith("(?:", i):
                groups.append("group")
                i += 3
            elif p.startswith("(?", i):
                return "invalid group '(?'"
            else:
                groups.append("capture")
                i += 1
            quantifiable = False
        elif c == ")":
            if not groups:
                return "parentheses () not balanced"
            kind = groups.pop()
            closed += kind == "capture"
            quantifiable = kind != "lookaround"
            i += 1
        elif c == "|":
            quantifiable = False
            i += 1
        elif c in "*+?" or (c == "{" and i + 1 < n and p[i + 1].isdigit()):
            if not quantifiable:
                return "quantifier operand invalid"
            if c == "{":
                bound = re.match(r"\{(\d+)(,(\d*))?\}", p[i:])
                if not bound:
                    return "braces {} not balanced"
                low = int(bound.group(1))
                high = (
                    low
                    if bound.group(2) is None
                    else (int(bound.group(3)) if bound.group(3) else None)
                )
                if low > _MAX_REPEAT or (high is not None and (high > _MAX_REPEAT or low > high)):
                    return "invalid repetition count(s)"
                i += bound.end()
            else:
                i += 1
            if i < n and p[i] == "?":
                i += 1
            quantifiable = False
        elif c == "[":
            problem, i = _bracket_problem(p, i)
            if problem:
                return problem
            quantifiable = True
        elif c == "\\":
            if i + 1 >= n:
                return "invalid escape \\ sequence"
            e = p[i + 1]
            if e.isdigit() and e != "0":
                if int(e) > closed:
                    return "invalid backreference number"
                i += 2
            elif e in _CONSTRAINT_ESCAPES:
                i += 2
                quantifiable = False
                continue
            else:
                problem, i = _entry_escape(p, i)
                if problem:
                    return problem
            quantifiable = True
        else:
            quantifiable = c not in "^$"
            i += 1
    if groups:
        return "parentheses () not balanced"
    return None


def _entry_escape(p: str, i: int) -> tuple[str | None, int]:
    """Check the character or class escape at ``p[i]`` (a backslash); (problem, index past)."""
    n = len(p)
    if i + 1 >= n:
        return "invalid escape \\ sequence", n
    e = p[i + 1]
    k = i + 2
    if not e.isalnum() or e in _ATOM_ESCAPES:
        return None, k
    if e == "c":
        return (None, k + 1) if k < n else ("invalid escape \\ sequence", n)
    if e in "uUx":
        want = {"u": 4, "U": 8, "x": 1}[e]
        j = k
        while j < n and p[j] in _HEX and (e == "x" or j - k < want):
            j += 1
        return (None, j) if j - k >= want else ("invalid escape \\ sequence", n)
    if e == "0":
        j = k
        while j < n and j - k < 2 and p[j] in "01234567":
            j += 1
        return None, j
    return "invalid escape \\ sequence", n


def _bracket_problem(p: str, i: int) -> tuple[str | None, int]:
    """Check the bracket expression opening at ``p[i]``; (problem or None, index past it)."""
    n = len(p)
    k = i + 1
    if k < n and p[k] == "^":
        k += 1
    first = True
    while True:
        if k >= n:
            return "brackets [] not balanced", n
        if p[k] == "]" and not first:
            return None, k + 1
        first = False
        problem, k, low = _bracket_element(p, k)
        if problem:
            return problem, n
        if k + 1 < n and p[k] == "-" and p[k + 1] != "]":
            if low is None:
                return "invalid character range", n
            problem, k, high = _bracket_element(p, k + 1)
            if problem:
                return problem, n
            if high is None:
                return "invalid character range", n
            if low and high and ord(low) > ord(high):
                return "invalid character range", n


def _bracket_element(p: str, k: int) -> tuple[str | None, int, str | None]:
    """One element of a bracket expression at ``p[k]``: (problem, index past it, its
    character: "" when not worked out here, None when it is a class)."""
    n = len(p)
    if p.startswith(("[:", "[.", "[="), k):
        kind = p[k + 1]
        end = p.find(kind + "]", k + 2)
        if end < 0:
            return "brackets [] not balanced", n, None
        inner = p[k + 2 : end]
        if kind == ":":
            return (None if inner in _CLASSES else "invalid character class"), end + 2, None
        if kind == "=":
            return None, end + 2, None
        return None, end + 2, inner if len(inner) == 1 else ""
    if p[k] == "\\":
        if k + 1 >= n:
            return "brackets [] not balanced", n, None
        e = p[k + 1]
        if e in _CLASS_ESCAPES:
            return None, k + 2, None
        if not e.isalnum():
            return None, k + 2, e
        problem, j = _entry_escape(p, k)
        return problem, j, ""
    return None, k + 1, p[k]


# --- compiling to SQL/JSON path --------------------------------------------------------
def jsonpath_string(text: str) -> str:
    """``text`` as a double-quoted SQL/JSON path string literal that nothing can leave.

    ``"`` and ``\\`` are escaped, control characters written ``\\uXXXX``; every other
    character is kept (the path travels as UTF-8 text). NUL and lone surrogates, which
    PostgreSQL text cannot hold, are refused (parse_q never lets them through).
    """
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif code == 0 or 0xD800 <= code <= 0xDFFF:
            raise ValueError("NUL and lone surrogates cannot appear in a jsonpath string")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _template(fmt: str) -> str:
    return f"@.datetime({jsonpath_string(fmt)})"


# Which stored strings hold a DateTime, a Date or a Time, and how PostgreSQL reads each:
# (guard regex, item expression, whether the query literal is written with "+00:00").
# ``.datetime()`` alone does not read a "Z" suffix, hence the templates; guards keep
# ``.datetime()`` from meeting other strings (comparing a timestamp with a timestamptz is
# an error PostgreSQL does not suppress).
_DATETIME_FORMS = (
    (r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", _template('yyyy-mm-dd"T"HH24:MI:SS"Z"'), False),
    (
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{1,6}Z$",
        _template('yyyy-mm-dd"T"HH24:MI:SS.US"Z"'),
        False,
    ),
    (r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?[+-]\d\d(:\d\d)?$", "@.datetime()", True),
    (r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?$", "@.datetime()", False),
)
_TIME_FORMS = (
    (r"^\d\d:\d\d:\d\d(\.\d{1,6})?$", "@.datetime()"),
    (r"^\d\d:\d\d:\d\dZ$", _template('HH24:MI:SS"Z"')),
    (r"^\d\d:\d\d:\d\d\.\d{1,6}Z$", _template('HH24:MI:SS.US"Z"')),
)
_DATE_FORM = r"^\d{4}-\d\d-\d\d$"

Family = Literal["value", "json", "lang", "object", "vocab", "meta"]


def q_to_jsonpath(
    expr: QExpr,
    expand: Callable[[str], str],
    expand_vocab: Callable[[str], str] | None = None,
) -> str:
    """The SQL/JSON path (PostgreSQL 16, lax mode) selecting an ``attrs`` document that
    matches ``expr``: a filter on the root, ``$ ? (...)``, to use with ``@?``::

        SELECT ... FROM entity WHERE attrs @? $1::jsonpath    -- $1 = q_to_jsonpath(...)

    It returns the document when it matches and nothing otherwise, never NULL: every
    query term compiles to an ``exists(...)``, errors inside (type mismatches, strings
    that are not dates) are suppressed by lax mode and ``@?``. Equality on an attribute
    value is written ``accessors == constant`` inside ``exists``, which a GIN index on
    ``attrs`` (``jsonb_path_ops`` or ``jsonb_ops``) serves; a LanguageProperty branch is
    guarded by ``@.type == "LanguageProperty"`` so that ``jsonb_path_ops`` (which cannot
    follow ``.*``) still can. A regular expression PostgreSQL refuses although
    :func:`regex_problem` passed it fails the cast with SQLSTATE 2201B.

    ``expand`` maps an attribute or sub-attribute name of the query to its IRI (the keys of
    ``attrs`` and of instances); members after ``[`` are JSON keys of the value, used as
    written. The target of a comparison, in each instance of the attribute (any instance
    of a multi-attribute may match): ``value`` (and its ``@value`` when typed),
    ``valueList`` elements, ``json``, any ``languageMap`` value (``a[en]``: that language),
    ``vocab``, ``object`` and ``objectList`` elements; relationships only with ``==`` and
    ``!=``, language maps, vocab and relationships only against strings and URIs.
    ``expand_vocab``, when given, is applied to string values compared with ``vocab``: both
    the value as written and its expansion match (4.9, example 12).

    Semantics per operator (4.9): ``==`` some target value equals (or an array value
    includes) one of the values, or lies in the range (bounds included); ``!=`` an instance
    holds the target and none of its values equals / lies in the range, values of another
    type count as unequal, a missing attribute never matches; ``<``, ``<=``, ``>``, ``>=``
    compare values of the same type (numbers, strings by code point, DateTimes, Dates,
    Times in time order); ``~=`` some string target matches the regular expression
    anywhere (PostgreSQL's ARE flavour, ``(?i)`` at the start for case-insensitivity);
    ``!~=`` an instance holds a string target and none matches.
    """
    body = _Compiler(expand, expand_vocab).expr(expr)
    return f"$ ? {body}" if isinstance(expr, And | Or) else f"$ ? ({body})"


class _Compiler:
    def __init__(
        self, expand: Callable[[str], str], expand_vocab: Callable[[str], str] | None
    ) -> None:
        self.expand = expand
        self.expand_vocab = expand_vocab

    def expr(self, e: QExpr) -> str:
        if isinstance(e, And):
            return "(" + " && ".join(self.expr(t) for t in e.terms) + ")"
        if isinstance(e, Or):
            return "(" + " || ".join(self.expr(t) for t in e.terms) + ")"
        instances, targets = self.target_paths(e.path)
        if isinstance(e, Exists):
            if not e.path.trailing and targets[0][1] != "meta":  # the element is there
                return f"exists({instances})"
            return f"exists({instances} ? ({self.has(targets)}))"
        if isinstance(e, Pattern):
            string_targets = [t for t in targets if t[1] != "object"]
            regex = f"@ like_regex {jsonpath_string(e.regex)}"
            found = self.any_of(string_targets, lambda family: regex)
            if not e.negated:
                return f"exists({instances} ? ({found}))"
            strings = " || ".join(
                f'exists({path} ? (@.type() == "string"))' for path, _ in string_targets
            )
            return f"exists({instances} ? (({strings}) && !({found})))"
        ordering = e.op not in ("==", "!=") or isinstance(e.value, Range)
        usable = [t for t in targets if not (ordering and t[1] == "object")]
        op = "==" if e.op == "!=" else e.op
        found = self.any_of(usable, lambda family: self.item(op, e.value, family))
        if e.op != "!=":
            return f"exists({instances} ? ({found}))"
        return f"exists({instances} ? (({self.has(usable)}) && !({found})))"

    def target_paths(self, path: AttrPath) -> tuple[str, list[tuple[str, Family]]]:
        """The path of the target element's instances, and the target values in each
        instance (relative to ``@``) with their family."""
        names = path.names
        meta = names[-1] if len(names) > 1 and names[-1] in META_MEMBERS else None
        elements = names[:-1] if meta else names
        instances = "$" + "".join("." + jsonpath_string(self.expand(n)) for n in elements)
        if meta:
            return instances, [("@." + jsonpath_string(meta), "meta")]
        trail = "".join(".*" if s == "*" else "." + jsonpath_string(s) for s in path.trailing)
        typed = "." + jsonpath_string("@value")
        targets: list[tuple[str, Family]] = [
            ("@.value" + trail, "value"),
            ("@.value" + trail + typed, "value"),
            ("@.valueList" + trail, "value"),
            ("@.valueList" + trail + typed, "value"),
            ("@.json" + trail, "json"),
        ]
        if len(path.trailing) <= 1:
            targets.append(("@.languageMap" + (trail or ".*"), "lang"))
        if not path.trailing:
            targets += [
                ("@.vocab", "vocab"),
                ("@.object", "object"),
                ("@.objectList", "object"),
                ("@.objectList.object", "object"),
            ]
        return instances, targets

    @staticmethod
    def has(targets: list[tuple[str, Family]]) -> str:
        """The instance ``@`` holds one of the targets."""
        paths = [p for p, _ in targets if not p.endswith('."@value"')]
        return " || ".join(f"exists({p})" for p in dict.fromkeys(paths))

    @staticmethod
    def any_of(targets: list[tuple[str, Family]], cond: Callable[[Family], str | None]) -> str:
        """Some value of some target of the instance ``@`` meets ``cond``."""
        parts = []
        for path, family in targets:
            c = cond(family)
            if c is None:
                continue
            part = f"exists({path} ? ({c}))"
            if family == "lang":
                part = f'(@.type == "LanguageProperty" && {part})'
            parts.append(part)
        assert parts, "values and regular expressions always have a value target"
        return " || ".join(parts)

    def item(self, op: str, value: Value | Range | ValueList, family: Family) -> str | None:
        """The condition on one target value ``@``, or None when ``family`` never matches.

        Values of one kind share one condition: ``@ == 1 || @ == 2``, and for DateTimes,
        Dates and Times one guard per stored form around all the comparisons.
        """
        alternatives: list[list[tuple[str, Value]]]
        if isinstance(value, Range):
            alternatives = [[(">=", value.low), ("<=", value.high)]]
        else:
            values = value.values if isinstance(value, ValueList) else (value,)
            alternatives = [[(op, v)] for v in values]
        groups: dict[str, list[list[tuple[str, Value]]]] = {}
        for alt in alternatives:
            sample = alt[0][1]
            kind = type(sample).__name__ if isinstance(sample, DateTime | Date | Time) else ""
            groups.setdefault(kind, []).append(alt)
        conds = [c for alts in groups.values() if (c := self.group(alts, family)) is not None]
        return " || ".join(conds) if conds else None

    def group(self, alts: list[list[tuple[str, Value]]], family: Family) -> str | None:
        """One of ``alts`` (each: all its (operator, value) checks) holds for ``@``."""
        if family in ("lang", "vocab", "object"):  # they hold strings only
            alts = [alt for alt in alts if isinstance(alt[0][1], String | Uri)]
            if not alts:
                return None
        sample = alts[0][0][1]
        if isinstance(sample, DateTime | Date | Time):
            branches = []
            for guard, item, render in _temporal_forms(sample):
                either = " || ".join(
                    " && ".join(f"{item} {op} {render(v)}" for op, v in alt) for alt in alts
                )
                if len(alts) > 1:
                    either = f"({either})"
                branches.append(f"(@ like_regex {jsonpath_string(guard)} && {either})")
            return " || ".join(branches)
        conds = []
        for alt in alts:
            checks = []
            for op, v in alt:
                if (
                    family == "vocab"
                    and op == "=="
                    and self.expand_vocab is not None
                    and isinstance(v, String | Uri)
                    and self.expand_vocab(v.value) != v.value
                ):
                    checks.append(
                        f"@ == {jsonpath_string(v.value)} || "
                        f"@ == {jsonpath_string(self.expand_vocab(v.value))}"
                    )
                else:
                    checks.append(f"@ {op} {_literal(v)}")
            conds.append(" && ".join(checks))
        return " || ".join(conds)


def _temporal_forms(sample: Value) -> list[tuple[str, str, Callable[[Value], str]]]:
    """(guard regex, item expression, how a query value is written) per stored form."""
    if isinstance(sample, DateTime):
        return [
            (guard, item, partial(_datetime_literal, aware=aware))
            for guard, item, aware in _DATETIME_FORMS
        ]
    if isinstance(sample, Time):
        return [(guard, item, _time_literal) for guard, item in _TIME_FORMS]
    # Dates in their one ISO form compare as strings.
    return [(_DATE_FORM, "@", lambda v: jsonpath_string(_iso(v)))]


def _iso(value: Value) -> str:
    assert isinstance(value, DateTime | Date | Time)
    return value.value.isoformat()


def _datetime_literal(value: Value, aware: bool) -> str:
    assert isinstance(value, DateTime)
    naive = value.value.replace(tzinfo=None).isoformat()
    return jsonpath_string(naive + "+00:00" if aware else naive) + ".datetime()"


def _time_literal(value: Value) -> str:
    return jsonpath_string(_iso(value)) + ".datetime()"


def _literal(value: Value) -> str:
    if isinstance(value, Number):
        return value.text
    if isinstance(value, String | Uri):
        return jsonpath_string(value.value)
    if isinstance(value, Boolean):
        return "true" if value.value else "false"
    if isinstance(value, Null):
        return "null"
    raise AssertionError(f"not a plain literal: {value!r}")
