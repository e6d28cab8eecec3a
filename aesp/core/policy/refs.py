"""Find what a CEL condition reads, with a small tokenizer instead of a CEL type checker.

Why: ``common-expression-language`` compiles (parses) but does not type-check, and reports a
missing attribute only when the expression runs (notes/dependencies.md §F). Worse, CEL's
heterogeneous equality makes ``request.args.amount == "5"`` silently *false* for an INTEGER
argument, so a DENY policy with a wrong type never fires. The compiler
(:mod:`aesp.core.policy.compile`) therefore needs every ``request.…`` and ``organization.…``
path the condition reads, and how each value is used, to check them against C-33 and the
tools' parameter schemas before the policy can run.

How (every step runs only on source that ``cel.compile`` already accepted):

1. Tokenise: whitespace and ``//`` comments are skipped; every CEL string form (``'…'``,
   ``"…"``, triple-quoted, ``r``/``b`` prefixes) is one token, so text inside a string literal
   never looks like a reference.
2. A *root* is the identifier ``request`` or ``organization`` not preceded by ``.``.
3. Its chain is followed through ``.field`` (not followed by ``(``: that is a method call),
   ``["literal"]`` and ``[integer]`` (recorded as ``[]``, an array element). Any other index
   (``request.args[k]``) ends the chain as *dynamic*: the value at the chain is needed whole.
4. The chain's :class:`Usage` is read from its immediate neighbours, in CEL precedence order: a
   method or function applied to it (``.startsWith(…)``, ``size(…)``, ``.exists(…)``,
   ``.getHours()``), arithmetic with a literal (``+ 1``, ``2.0 *``), a relation with a literal
   on its left (``"x" ==``, ``"x" in``; relations are left-associative, so what follows
   applies to that relation's result), a relation with a literal on its right (``== "x"``,
   ``> -5``, ``in ["a", "b"]``), or a logical operand (``&&``, ``||``, ``!``, ``?``).

What it does **not** catch: the type of a value compared with another reference or a computed
expression (``request.args.a == request.args.b``, ``request.args.n == size(x)``); uses through a
comprehension variable (``request.args.items.exists(i, i.price > 5)``: ``price`` is not
checked); a comprehension variable named ``request`` or ``organization`` (treated as the root:
conservative for pruning, may yield a spurious check error). Anything not caught still fails
closed at run time (``POLICY_EVALUATION_FAILED``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, NamedTuple

__all__ = [
    "MACROS",
    "ROOTS",
    "Reference",
    "Scan",
    "Usage",
    "scan",
    "tokenize",
]

ROOTS: Final = frozenset({"request", "organization"})  # the activation of C-33
MACROS: Final = frozenset({"all", "exists", "exists_one", "map", "filter"})
COMPARISONS: Final = frozenset({"==", "!=", "<", "<=", ">", ">="})
ARITHMETIC: Final = frozenset({"+", "-", "*", "/", "%"})
_LOGIC_AROUND: Final = frozenset({"&&", "||", "!", "?"})
_BINDING: Final = COMPARISONS | ARITHMETIC | {"in"}

_RAW = r"(?:[bB]?[rR]|[rR][bB])"
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>//[^\n]*)
  | (?P<raw>"""
    + _RAW
    + r"""(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|"[^"\r\n]*"|'[^'\r\n]*'))
  | (?P<str>[bB]?(?:\"\"\"(?:\\[\s\S]|[^\\])*?\"\"\"|'''(?:\\[\s\S]|[^\\])*?'''
        |"(?:\\.|[^\\"\r\n])*"|'(?:\\.|[^\\'\r\n])*'))
  | (?P<double>\d*\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)
  | (?P<int>0[xX][0-9a-fA-F]+[uU]?|\d+[uU]?)
  | (?P<ident>[_a-zA-Z][_a-zA-Z0-9]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||[<>!+\-*/%?:.,\[\](){}])
    """,
    re.VERBOSE,
)
_ESCAPE = re.compile(r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)", re.S)
_SIMPLE_ESCAPES: Final = {
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
    "\\": "\\", "?": "?", '"': '"', "'": "'", "`": "`",
}  # fmt: skip


class Token(NamedTuple):
    """One lexical token: kind is ident, string, bytes, int, uint, double, bool, null, op or eof."""

    kind: str
    text: str
    value: str | None
    start: int  # 0-based offset in the source

    @property
    def end(self) -> int:
        """Offset just after the token."""
        return self.start + len(self.text)


_EOF = Token("eof", "", None, -1)


def _unescape(body: str) -> str | None:
    def one(match: re.Match[str]) -> str:
        esc = match.group()[1:]
        if esc[0] in "xuU":
            return chr(int(esc[1:], 16))
        if esc[0] in "01234567":
            return chr(int(esc, 8))
        if esc in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[esc]
        raise ValueError(esc)

    try:
        return _ESCAPE.sub(one, body)
    except ValueError:
        return None


def _string_token(text: str, start: int, *, raw: bool) -> Token:
    prefix = len(text) - len(text.lstrip("rRbB"))
    is_bytes = "b" in text[:prefix].lower()
    quote = 3 if text[prefix : prefix + 3] in ('"""', "'''") else 1
    body = text[prefix + quote : len(text) - quote]
    value = body if raw else _unescape(body)
    return Token("bytes" if is_bytes else "string", text, None if is_bytes else value, start)


def tokenize(source: str) -> list[Token]:
    """Split CEL source into tokens (comments and whitespace dropped), ending with an eof token.

    Raises:
        ValueError: A character no CEL token starts with (the message gives its column).
    """
    out: list[Token] = []
    pos = 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None:
            raise ValueError(f"unexpected character {source[pos]!r} at column {pos + 1}")
        kind, text = match.lastgroup or "", match.group()
        pos = match.end()
        if kind in ("ws", "comment"):
            continue
        start = match.start()
        if kind in ("raw", "str"):
            out.append(_string_token(text, start, raw=kind == "raw"))
        elif kind == "int":
            out.append(Token("uint" if text[-1] in "uU" else "int", text, text, start))
        elif kind == "ident" and text in ("true", "false"):
            out.append(Token("bool", text, text, start))
        elif kind == "ident" and text == "null":
            out.append(Token("null", text, None, start))
        elif kind == "ident" and text == "in":
            out.append(Token("op", text, None, start))
        else:
            out.append(Token(kind, text, text if kind == "double" else None, start))
    out.append(Token("eof", "", None, len(source)))
    return out


_LITERAL_KINDS: Final = {
    "string": "STRING", "bytes": "BYTES", "int": "INT", "uint": "UINT",
    "double": "DOUBLE", "bool": "BOOL", "null": "NULL",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Usage:
    """How a chain's value is used.

    Attributes:
        kind: ``compare``, ``in_list`` (chain in [literals]), ``contains`` (literal in chain),
            ``arith``, ``method`` (method or function applied to it) or ``logic``.
        operator: The operator, or the method/function name.
        literal_types: CEL kinds of the literal operand(s): STRING, BYTES, INT, UINT, DOUBLE,
            BOOL, NULL; empty when the operand is not a literal (unary minus, methods, logic).
        values: String literal values, for enum checks.
        has_arguments: For ``method``: whether it is called with arguments.
    """

    kind: str
    operator: str
    literal_types: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    has_arguments: bool = False


@dataclass(frozen=True, slots=True)
class Reference:
    """One chain rooted at ``request`` or ``organization``.

    Attributes:
        root: ``request`` or ``organization``.
        path: Field names after the root; ``[]`` marks an array element.
        dynamic: The chain continued with a non-literal index: the value at ``path`` is needed
            whole and nothing below it is checked.
        in_has: The chain is the argument of ``has()`` (a presence test).
        usage: How the value is used, when the neighbours tell.
        start: Offset of the root in the source.
        ends: Offset just after the root (``ends[0]``) and after each path element
            (``ends[k]`` after ``path[k-1]``), so a prefix of the chain can be rewritten.
    """

    root: str
    path: tuple[str, ...]
    dynamic: bool
    in_has: bool
    usage: Usage | None
    start: int
    ends: tuple[int, ...]

    @property
    def text(self) -> str:
        """The chain as written canonically, e.g. ``request.args["my-key"]``."""
        out = self.root
        for part in self.path:
            if part == "[]":
                out += "[n]"
            elif re.fullmatch(r"[_a-zA-Z][_a-zA-Z0-9]*", part):
                out += f".{part}"
            else:
                out += f"[{part!r}]"
        return out


@dataclass(frozen=True, slots=True)
class Scan:
    """Everything :func:`scan` found."""

    references: tuple[Reference, ...]
    binders: frozenset[str]  # comprehension variables (the x of .exists(x, ...))
    max_nesting: int  # deepest nesting of comprehension macros
    patterns: tuple[str, ...] = field(default=())  # source text of literal matches() patterns


def _literal_after(toks: Sequence[Token], k: int) -> tuple[str, str | None, int] | None:
    """The literal starting at ``k`` (a unary minus before a number included) and the index after."""
    tok = toks[k]
    if tok.text == "-" and toks[k + 1].kind in ("int", "double"):
        return _LITERAL_KINDS[toks[k + 1].kind], None, k + 2
    if tok.kind in _LITERAL_KINDS:
        return _LITERAL_KINDS[tok.kind], tok.value, k + 1
    return None


def _literal_before(toks: Sequence[Token], k: int) -> tuple[str, str | None, int] | None:
    """The literal ending at ``k`` and the index where it starts."""
    tok = toks[k] if k >= 0 else _EOF
    if tok.kind not in _LITERAL_KINDS:
        return None
    start = k
    if tok.kind in ("int", "double") and k >= 1 and toks[k - 1].text == "-":
        before = toks[k - 2] if k >= 2 else None
        if before is None or before.kind == "op" and before.text not in (")", "]", "}"):
            start = k - 1
    return _LITERAL_KINDS[tok.kind], tok.value, start


def _terminated(tok: Token) -> bool:
    """Whether a literal followed by ``tok`` stands alone (no method call or index on it)."""
    return tok.text not in (".", "[", "(") and tok.text not in COMPARISONS


def _list_literal(toks: Sequence[Token], k: int) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """``[lit, lit, ...]`` starting at ``k``: its literal kinds and string values."""
    if toks[k].text != "[":
        return None
    kinds: list[str] = []
    values: list[str] = []
    k += 1
    while toks[k].text != "]":
        lit = _literal_after(toks, k)
        if lit is None:
            return None
        kinds.append(lit[0])
        if lit[1] is not None and lit[0] == "STRING":
            values.append(lit[1])
        k = lit[2]
        if toks[k].text == ",":
            k += 1
        elif toks[k].text != "]":
            return None
    if not kinds or toks[k + 1].text in (".", "[", "("):
        return None
    return tuple(kinds), tuple(values)


def _usage(toks: Sequence[Token], start: int, end: int) -> Usage | None:
    """Infer the use of the chain occupying ``toks[start:end]`` (see the module docstring)."""
    nxt = toks[end]
    prv = toks[start - 1] if start > 0 else None
    # A method on the chain: request.args.s.startsWith("a"), request.time.getHours().
    if nxt.text == "." and toks[end + 1].kind == "ident" and toks[end + 2].text == "(":
        return Usage("method", toks[end + 1].text, has_arguments=toks[end + 3].text != ")")
    # A function applied to it: size(request.args.s), matches(request.args.s, "re").
    applied = prv is not None and prv.text == "(" and start >= 2 and toks[start - 2].kind == "ident"
    if applied and (start < 3 or toks[start - 3].text != ".") and nxt.text in (",", ")"):
        return Usage("method", toks[start - 2].text, has_arguments=nxt.text == ",")
    # Arithmetic binds tighter than any relation: look there first (right, then left).
    if nxt.text in ARITHMETIC:
        lit = _literal_after(toks, end + 1)
        if lit is not None:
            return Usage("arith", nxt.text, (lit[0],), _values(lit))
    if prv is not None and prv.text in ARITHMETIC:
        lit = _literal_before(toks, start - 2)
        if lit is not None:
            return Usage("arith", prv.text, (lit[0],), _values(lit))
        if prv.text == "-" and (start < 2 or toks[start - 2].kind == "op"):
            return Usage("arith", "-")  # unary minus
        return None
    if nxt.text in ARITHMETIC:
        return None  # an operand of arithmetic with a computed value
    # Relations are left-associative: a relation on the left takes the chain as its right
    # operand, and whatever follows applies to that relation's result, not to the chain.
    if prv is not None and prv.text in COMPARISONS | {"in"}:
        lit = _literal_before(toks, start - 2)
        if lit is None or (lit[2] >= 1 and toks[lit[2] - 1].text in COMPARISONS | {".", "in"}):
            return None
        kind = "contains" if prv.text == "in" else "compare"
        return Usage(kind, prv.text, (lit[0],), _values(lit))
    if nxt.text in COMPARISONS:
        lit = _literal_after(toks, end + 1)
        if lit is not None and _terminated(toks[lit[2]]):
            return Usage("compare", nxt.text, (lit[0],), _values(lit))
        return None
    if nxt.text == "in":
        listed = _list_literal(toks, end + 1)
        return None if listed is None else Usage("in_list", "in", *listed)
    around = {prv.text if prv else "", nxt.text}
    if around & _LOGIC_AROUND or (prv is None and nxt.kind == "eof"):
        return Usage("logic", (around & _LOGIC_AROUND or {"&&"}).pop())
    return None


def _values(lit: tuple[str, str | None, int]) -> tuple[str, ...]:
    return (lit[1],) if lit[0] == "STRING" and lit[1] is not None else ()


def _chain(toks: Sequence[Token], i: int) -> tuple[list[str], list[int], bool, int]:
    """Follow the chain rooted at ``toks[i]``: (path, end offsets, dynamic, index after it)."""
    path: list[str] = []
    ends = [toks[i].end]
    j = i + 1
    while True:
        tok = toks[j]
        if tok.text == "." and toks[j + 1].kind == "ident" and toks[j + 2].text != "(":
            path.append(toks[j + 1].text)
            j += 2
        elif tok.text == "[" and toks[j + 2].text == "]" and toks[j + 1].kind == "string":
            if toks[j + 1].value is None:
                return path, ends, True, j
            path.append(toks[j + 1].value or "")
            j += 3
        elif tok.text == "[" and toks[j + 2].text == "]" and toks[j + 1].kind in ("int", "uint"):
            path.append("[]")
            j += 3
        else:
            return path, ends, tok.text == "[", j
        ends.append(toks[j - 1].end)


def scan(source: str) -> Scan:
    """Tokenise ``source`` and collect its references, comprehension variables and calls.

    Raises:
        ValueError: The source holds a character no CEL token starts with.
    """
    toks = tokenize(source)
    refs: list[Reference] = []
    binders: set[str] = set()
    patterns: list[str] = []
    depth = 0
    macro_depths: list[int] = []
    deepest = 0
    for i, tok in enumerate(toks):
        if tok.text == "(":
            depth += 1
        elif tok.text == ")":
            if macro_depths and macro_depths[-1] == depth:
                macro_depths.pop()
            depth -= 1
        after_dot = i > 0 and toks[i - 1].text == "."
        if tok.kind == "ident" and toks[i + 1].text == "(":
            if tok.text == "matches":
                patterns.extend(_matches_pattern(toks, i, method=after_dot))
            if after_dot and tok.text in MACROS:
                macro_depths.append(depth + 1)
                deepest = max(deepest, len(macro_depths))
                if toks[i + 2].kind == "ident" and toks[i + 3].text == ",":
                    binders.add(toks[i + 2].text)
        if tok.kind != "ident" or tok.text not in ROOTS or after_dot:
            continue
        path, ends, dynamic, end = _chain(toks, i)
        in_has = i >= 2 and toks[i - 2].text == "has" and toks[i - 1].text == "("
        in_has = in_has and toks[end].text == ")" and not dynamic
        usage = None if dynamic or in_has else _usage(toks, i, end)
        refs.append(
            Reference(tok.text, tuple(path), dynamic, in_has, usage, tok.start, tuple(ends))
        )
    return Scan(tuple(refs), frozenset(binders), deepest, tuple(patterns))


def _matches_pattern(toks: Sequence[Token], i: int, *, method: bool) -> list[str]:
    """The literal pattern of ``x.matches('p')`` or ``matches(x, 'p')`` at ``toks[i]``."""
    k = i + 2
    if not method:  # skip the first argument: a flat run of tokens up to the top-level comma
        depth = 0
        while toks[k].kind != "eof" and not (depth == 0 and toks[k].text == ","):
            depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(toks[k].text, 0)
            if depth < 0:
                return []
            k += 1
        k += 1
    if toks[k].kind == "string" and toks[k + 1].text == ")":
        return [toks[k].text]
    return []
