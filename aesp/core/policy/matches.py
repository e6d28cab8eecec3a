"""CEL ``matches()`` with each pattern compiled once, and exactly the engine's answers.

Why: ``common-expression-language`` compiles the regular expression on *every* evaluation of
``s.matches(p)`` (Rust ``regex::Regex::new`` per call, about 50 µs), which alone exceeds the
policy budget of DESIGN §12 (p99 ≤ 100 µs per decision). Conditions are rewritten at compile
time (:func:`rename_matches`) to call :data:`FUNCTION` instead, which this module serves from a
cache of compiled patterns.

Exactness is the rule, because a ``matches()`` inside a DENY condition that answered
differently would let a call through. Two engines are used:

* A pattern inside :func:`portable`'s subset (literals, ``.``, ``^``, ``$``, groups,
  alternation, bounded repetition, plain bracket classes, escapes of metacharacters) is run
  by RE2 (``google-re2``). On that subset RE2 and Rust's ``regex`` crate, which the CEL engine
  uses, share syntax and meaning: ``$`` is the end of the text, ``.`` any character but
  ``\\n``, classes are sets of code points, both search without anchoring, and both run in
  linear time (no ReDoS from a caller's arguments).
* Anything else (Perl classes such as ``\\d`` or ``\\w``, whose Unicode meaning differs
  between the two, flags, named groups, Unicode classes, word boundaries, set operations,
  non-string arguments, invalid patterns) goes to the engine's own ``matches`` through a
  program compiled once: the same answer and the same error as before, only without the cache.

``tests/unit/policy/test_matches.py`` compares both paths with the engine's built-in
``matches`` on generated patterns and texts.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from aesp.core.policy._cel import cel as _cel

if TYPE_CHECKING:
    import cel

__all__ = [
    "FUNCTION",
    "PATTERN_CACHE_SIZE",
    "matches",
    "portable",
    "rename_matches",
    "translate",
]

FUNCTION: Final = "aesp__matches"  # what rewritten conditions call (never a variable name)
PATTERN_CACHE_SIZE: Final = 1024  # compiled patterns kept (patterns may come from arguments)
MAX_PATTERN_LENGTH: Final = 1000
MAX_REPEAT: Final = 100  # largest bound of {n,m} accepted for RE2
MAX_WEIGHT: Final = 1_000  # atoms x repetition bounds: far below either engine's size limit
MAX_DEPTH: Final = 20  # nested groups

_META: Final = frozenset("\\.+*?()|[]{}^$")
_CONTROL_ESCAPES: Final = {"n": "\\n", "t": "\\t", "r": "\\r"}
# Unicode White_Space, which Rust's \s means (RE2's \s is ASCII only); a test checks the set.
_SPACE: Final = (
    "\\x{9}-\\x{D}\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}"
    "\\x{202F}\\x{205F}\\x{3000}"
)
# Rust's \d is Unicode Nd as its tables have it (Unicode 16; RE2's \d is ASCII only, and its
# \p{Nd} is an older Unicode). Read from the engine; a test checks it against every code point.
_DIGIT_RANGES: Final = (  # noqa: SIM905 - a table, read as one
    "30-39 660-669 6F0-6F9 7C0-7C9 966-96F 9E6-9EF A66-A6F AE6-AEF B66-B6F BE6-BEF "
    "C66-C6F CE6-CEF D66-D6F DE6-DEF E50-E59 ED0-ED9 F20-F29 1040-1049 1090-1099 "
    "17E0-17E9 1810-1819 1946-194F 19D0-19D9 1A80-1A89 1A90-1A99 1B50-1B59 1BB0-1BB9 "
    "1C40-1C49 1C50-1C59 A620-A629 A8D0-A8D9 A900-A909 A9D0-A9D9 A9F0-A9F9 AA50-AA59 "
    "ABF0-ABF9 FF10-FF19 104A0-104A9 10D30-10D39 10D40-10D49 11066-1106F 110F0-110F9 "
    "11136-1113F 111D0-111D9 112F0-112F9 11450-11459 114D0-114D9 11650-11659 116C0-116C9 "
    "116D0-116E3 11730-11739 118E0-118E9 11950-11959 11BF0-11BF9 11C50-11C59 11D50-11D59 "
    "11DA0-11DA9 11F50-11F59 16130-16139 16A60-16A69 16AC0-16AC9 16B50-16B59 16D70-16D79 "
    "1CCF0-1CCF9 1D7CE-1D7FF 1E140-1E149 1E2F0-1E2F9 1E4F0-1E4F9 1E5F1-1E5FA 1E950-1E959 "
    "1FBF0-1FBF9 "
).split()
_DIGITS: Final = "".join("\\x{{{}}}-\\x{{{}}}".format(*r.split("-")) for r in _DIGIT_RANGES)
_CLASS_ESCAPES: Final = {
    "d": f"[{_DIGITS}]",
    "D": f"[^{_DIGITS}]",
    "s": f"[{_SPACE}]",
    "S": f"[^{_SPACE}]",
}
_IN_CLASS_ESCAPES: Final = {"d": _DIGITS, "s": _SPACE}
_QUANTIFIERS: Final = ("*", "+", "?", "{")


class _NotPortable(Exception):
    """The pattern is outside the subset both engines read alike."""


class _Translator:
    """Recursive descent over the portable subset, writing the RE2 spelling of the pattern.

    Raises _NotPortable at the first doubt. Case-insensitive patterns (a leading ``(?i)``) must
    be ASCII: ASCII letters fold alike in every Unicode version (``k`` with KELVIN SIGN, ``s``
    with LONG S), other letters may not.
    """

    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0
        self.out: list[str] = []
        self.fold = False
        self.weight = 0  # atoms, times the bounds of the repetitions around them
        self.consuming = 0  # atoms that match a character (assertions do not)

    def peek(self) -> str:
        return self.p[self.i] if self.i < len(self.p) else ""

    def take(self) -> str:
        ch = self.peek()
        if not ch:
            raise _NotPortable
        self.i += 1
        return ch

    def translate(self) -> str:
        if self.p.startswith("(?i)"):
            self.fold = True
            self.i = 4
            self.out.append("(?i)")
        self.alternation(depth=0)
        if self.i != len(self.p):  # an unmatched ')'
            raise _NotPortable
        return "".join(self.out)

    def alternation(self, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise _NotPortable
        self.concat(depth)
        while self.peek() == "|":
            self.i += 1
            self.out.append("|")
            self.concat(depth)

    def concat(self, depth: int) -> None:
        pieces = 0
        while self.peek() not in ("", "|", ")"):
            self.piece(depth)
            pieces += 1
        if pieces == 0:  # an empty branch or group: legal in both, left to the engine
            raise _NotPortable

    def piece(self, depth: int) -> None:
        ch = self.peek()
        if ch in ("^", "$"):
            self.i += 1
            self.out.append(ch)
            if self.peek() in _QUANTIFIERS:
                raise _NotPortable  # a repeated assertion
            return
        before, consuming = self.weight, self.consuming
        self.atom(depth)
        if self.peek() in _QUANTIFIERS:
            if self.consuming == consuming:
                raise _NotPortable  # a repeated group of assertions only
            # the repeated atom counts once per copy the engines may build
            self.weight = before + (self.weight - before) * self.quantifier()
            if self.weight > MAX_WEIGHT:
                raise _NotPortable

    def quantifier(self) -> int:
        ch = self.take()
        if ch in ("*", "+", "?"):
            self.out.append(ch)
            bound = 1 if ch == "?" else 2  # unbounded loops cost one copy plus a back edge
        else:
            low = self.number()
            high = low
            text = f"{{{low}"
            if self.peek() == ",":
                self.i += 1
                if self.peek() == "}":  # {n,}: n copies and a loop
                    high, text = low + 1, text + ","
                else:
                    high = self.number()
                    text += f",{high}"
                if high < low:
                    raise _NotPortable
            if self.take() != "}":
                raise _NotPortable
            self.out.append(text + "}")
            bound = max(high, 1)
        if self.peek() == "?":  # lazy: the same language, so the same is_match
            self.i += 1
            self.out.append("?")
        if self.peek() in _QUANTIFIERS:
            raise _NotPortable  # stacked or possessive repetition
        return bound

    def number(self) -> int:
        digits = ""
        while self.peek().isascii() and self.peek().isdigit():
            digits += self.take()
        if not digits or len(digits) > 3 or int(digits) > MAX_REPEAT:
            raise _NotPortable
        return int(digits)

    def atom(self, depth: int) -> None:
        ch = self.take()
        if ch == "(":
            if self.p.startswith("?:", self.i):
                self.i += 2
                self.out.append("(?:")
            elif self.peek() == "?":
                raise _NotPortable  # flags, named groups, look-around
            else:
                self.out.append("(")
            self.alternation(depth + 1)
            if self.take() != ")":
                raise _NotPortable
            self.out.append(")")
            return
        self.weight += 1
        self.consuming += 1
        if self.weight > MAX_WEIGHT:
            raise _NotPortable
        if ch == "[":
            self.bracket()
        elif ch == "\\":
            self.out.append(self.escape(in_class=False)[1])
        elif ch == ".":
            self.out.append(ch)
        elif ch in _META or not self.literal(ch):
            raise _NotPortable  # a quantifier with nothing to repeat, ')' , ']' , '}'
        else:
            self.out.append(ch)

    def literal(self, ch: str) -> bool:
        return not (ch < " " or ch == "\x7f" or (self.fold and not ch.isascii()))

    def escape(self, *, in_class: bool) -> tuple[str | None, str]:
        """(the character, or None for a class; its RE2 spelling) after a backslash."""
        ch = self.take()
        if ch in _META or (in_class and ch == "-"):
            return ch, "\\" + ch
        if ch in _CONTROL_ESCAPES:
            return _CONTROL_ESCAPES[ch], _CONTROL_ESCAPES[ch]
        spelled = (_IN_CLASS_ESCAPES if in_class else _CLASS_ESCAPES).get(ch)
        if spelled is None:
            raise _NotPortable  # \w \b \p{..} \x.. \< and the rest: left to the engine
        return None, spelled

    def bracket(self) -> None:
        self.out.append("[")
        if self.peek() == "^":
            self.i += 1
            self.out.append("^")
        items = 0
        while True:
            ch = self.take()
            if ch == "]" and items:
                self.out.append("]")
                return
            if ch in ("[", "]", "&", "~") or not self.literal(ch):
                raise _NotPortable  # nested classes, POSIX classes, set operations
            if ch == "-":
                if items and self.peek() != "]":
                    raise _NotPortable  # '-' only first or last
                self.out.append("\\-")
                items += 1
                continue
            low, spelled = self.escape(in_class=True) if ch == "\\" else (ch, _in_class(ch))
            self.out.append(spelled)
            if self.peek() == "-" and self.p[self.i + 1 : self.i + 2] not in ("", "]"):
                self.i += 1
                nxt = self.take()
                if low is None or nxt in ("[", "]", "&", "~", "-") or not self.literal(nxt):
                    raise _NotPortable
                high, spelled = self.escape(in_class=True) if nxt == "\\" else (nxt, _in_class(nxt))
                if high is None or high < low:
                    raise _NotPortable
                self.out.append("-" + spelled)
            items += 1


def _in_class(ch: str) -> str:
    """``ch`` spelled for an RE2 class: ASCII punctuation escaped, letters and digits not."""
    return "\\" + ch if ch.isascii() and not ch.isalnum() and ch != " " else ch


def translate(pattern: str) -> str | None:
    """The RE2 spelling of ``pattern`` when it is in the subset where both engines agree."""
    if len(pattern) > MAX_PATTERN_LENGTH or not pattern:
        return None
    try:
        return _Translator(pattern).translate()
    except _NotPortable:
        return None


def portable(pattern: str) -> bool:
    """Whether RE2 answers for ``pattern`` (see :func:`translate`)."""
    return translate(pattern) is not None


class _Compiled:
    """Bounded cache: pattern -> compiled RE2 search, or None for "ask the engine"."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, Any] = OrderedDict()
        self._local = threading.local()  # the fallback program's context is per thread

    def search(self, pattern: str) -> Callable[[str], bool] | None:
        with self._lock:
            found = self._entries.get(pattern, _MISSING)
            if found is not _MISSING:
                self._entries.move_to_end(pattern)
                return found
        spelled = translate(pattern)
        compiled = _re2_search(spelled) if spelled is not None else None
        with self._lock:
            self._entries[pattern] = compiled
            if len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return compiled

    def native(self, text: object, pattern: object) -> object:
        """The engine's own ``text.matches(pattern)``: its answer, or its error."""
        context: cel.Context | None = getattr(self._local, "context", None)
        if context is None:
            context = self._local.context = _cel().Context()
        context.add_variable("text", text)
        context.add_variable("pattern", pattern)
        return _native_program().execute(context)


_MISSING: Final = object()


def _re2_search(pattern: str) -> Callable[[str], bool] | None:
    """An unanchored RE2 search for ``pattern``; None when RE2 refuses it."""
    import re2  # noqa: PLC0415 - loaded with the first portable pattern, like cel itself

    options = re2.Options()
    options.log_errors = False
    options.never_capture = True  # only "is there a match" is asked: no spans to build
    # NOTE: the binding's own module: its public search() builds a match object with
    # character offsets, five times the cost of the search itself.
    regexp = re2._re2.RE2(pattern.encode(), options)
    if not regexp.ok():
        return None  # whatever RE2 refuses, the engine decides (and reports)
    run, anchor = regexp.Match, re2._Anchor.UNANCHORED

    def search(text: str) -> bool:
        data = text.encode()
        return run(anchor, data, 0, len(data))[0][0] >= 0

    return search


@functools.cache
def _native_program() -> cel.Program:
    """``text.matches(pattern)`` with the engine's own ``matches``, compiled once."""
    return _cel().compile("text.matches(pattern)")


_CACHE = _Compiled(PATTERN_CACHE_SIZE)


def matches(text: object, pattern: object) -> object:
    """``text.matches(pattern)`` as the CEL engine answers it (see the module docstring).

    Raises:
        Exception: The engine's own error for what it refuses (a pattern that is not valid,
            arguments that are not strings); the policy then fails closed.
    """
    if type(text) is str and type(pattern) is str:
        search = _CACHE.search(pattern)
        if search is not None:
            try:
                return search(text)
            except UnicodeEncodeError:
                pass  # a lone surrogate: the engine decides
    return _CACHE.native(text, pattern)


def rename_matches(source: str) -> str | None:
    """``source`` with every ``.matches(`` member call renamed to :data:`FUNCTION`.

    Only tokens are renamed (string literals and comments are never touched). None when the
    condition calls no ``matches``.
    """
    from aesp.core.policy.refs import tokenize  # noqa: PLC0415 - refs imports nothing from here

    toks = tokenize(source)
    starts = [
        toks[k].start
        for k in range(1, len(toks) - 1)
        if toks[k].kind == "ident"
        and toks[k].text == "matches"
        and toks[k - 1].text == "."
        and toks[k + 1].text == "("
    ]
    if not starts:
        return None
    out = source
    for start in reversed(starts):
        out = out[:start] + FUNCTION + out[start + len("matches") :]
    return out
