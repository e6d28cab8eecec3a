"""matches() served from compiled patterns answers exactly as the CEL engine's built-in.

The built-in (``common-expression-language``, Rust ``regex``) is the reference: every generated
pattern and text is asked of both, and both must agree on the answer or both refuse.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import cel
import pytest
from _policy_samples import SCHEMAS, activation, policy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aesp.core.policy import PolicySet
from aesp.core.policy import matches as m

_BUILTIN = cel.compile("t.matches(p)")


def builtin(text: object, pattern: object) -> object:
    """The engine's own answer, or the exception type it raised."""
    try:
        return _BUILTIN.execute({"t": text, "p": pattern})
    except Exception as exc:  # noqa: BLE001 - the kind of refusal is what is compared
        return type(exc)


def cached(text: object, pattern: object) -> object:
    try:
        return m.matches(text, pattern)
    except Exception as exc:  # noqa: BLE001
        return type(exc)


# ---------------------------------------------------------------- generated patterns

_CHARS = list("abkKsSAZ09 _-#&~<>/:,é٣ßΣσς\u212a\u017f")  # incl. a non-ASCII digit, case-fold traps
_ESCAPED = [f"\\{c}" for c in "\\.+*?()|[]{}^$"] + ["\\n", "\\t", "\\d", "\\D", "\\s", "\\S"]
_NOT_PORTABLE = [
    "\\w", "\\b", "\\B", "\\W", "\\pL", "\\p{Greek}", "\\x41", "\\<",
    "\\>", "(?i)", "(?i:a)", "(?P<n>a)", "(?<n>a)", "[[:digit:]]", "[a&&b]", "[a--b]",
    "[a~~b]", "{", "}", "]", ")", "*", "a**", "\\A", "\\z", "\\Q", "[]", "[^]", "()", "a|",
    "\\-", "\\/", "\\e", "\\1",
]  # fmt: skip


def _class() -> st.SearchStrategy[str]:
    item = st.one_of(
        st.sampled_from(
            _CHARS + ["\\]", "\\\\", "\\-", "\\^", "$", ".", "*", "(", "|", "\\d", "\\s"]
        ),
        st.tuples(st.sampled_from("aA0é"), st.sampled_from("zZ9ÿ")).map("-".join),
    )
    return st.tuples(
        st.sampled_from(["", "^"]),
        st.lists(item, min_size=1, max_size=4),
        st.sampled_from(["", "-"]),
    ).map(lambda t: f"[{t[0]}{''.join(t[1])}{t[2]}]")


_ATOM = st.one_of(
    st.sampled_from(_CHARS),
    st.sampled_from(_ESCAPED),
    st.just("."),
    _class(),
    st.sampled_from(_NOT_PORTABLE),
)
_QUANT = st.sampled_from(["", "", "*", "+", "?", "{2}", "{1,3}", "{0,}", "{2,1}", "*?", "+?"])


def _extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.lists(inner, min_size=1, max_size=4).map("".join),
        st.lists(inner, min_size=2, max_size=3).map("|".join),
        st.tuples(st.sampled_from(["(", "(?:"]), inner, _QUANT).map(
            lambda t: f"{t[0]}{t[1]}){t[2]}"
        ),
        st.tuples(inner, _QUANT).map("".join),
    )


PATTERNS = st.tuples(
    st.sampled_from(["", "^", "(?i)", "(?i)^"]),
    st.recursive(_ATOM, _extend, max_leaves=8),
    st.sampled_from(["", "$"]),
).map("".join)
TEXTS = st.text(
    alphabet="abkKsSAZ09 _-é٣ßσς\u212a\u017f\u00a0\u2003\x0b\n.*$^[](){}\\", max_size=16
)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PATTERNS, TEXTS)
def test_generated_patterns_answer_as_the_builtin(pattern: str, text: str) -> None:
    assert cached(text, pattern) == builtin(text, pattern), (pattern, text, m.portable(pattern))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab\\.+*?()|[]{}^$-&~:d", max_size=10), TEXTS)
def test_arbitrary_syntax_answers_as_the_builtin(pattern: str, text: str) -> None:
    assert cached(text, pattern) == builtin(text, pattern), (pattern, text)


# ---------------------------------------------------------------- the subset itself


@pytest.mark.parametrize(
    "pattern",
    [
        "^[a-z0-9_]+$",
        "^(select|with) .* from [A-Za-z_.]+",
        "[^@]+@example\\.com$",
        "a{2,5}b?",
        "^\\(x\\)\\[y\\]$",
        "[-a]",
        "[a-]",
        "é+ß",
    ],
)
def test_common_patterns_are_served_by_re2(pattern: str) -> None:
    assert m.portable(pattern)


@pytest.mark.parametrize(
    "pattern",
    [
        "",
        "\\w",
        "\\bword\\b",
        "a(?i)b",
        "(?i)é",
        "[\\S]",
        "[^\\D]",
        "(?P<x>a)",
        "[[:alpha:]]",
        "[a-z&&[^aeiou]]",
        "a{101}",
        "(a{100}){100}",
        "\\<word",
        "a|",
        "^*",
        "(^)*",
        "[z-a]",
        "a{3,2}",
        "x" * 1001,
    ],
)
def test_uncertain_patterns_go_to_the_engine(pattern: str) -> None:
    assert not m.portable(pattern)


def test_unicode_perl_classes_keep_the_engine_meaning() -> None:
    # Rust's \d is Unicode (ARABIC-INDIC DIGIT THREE matches); RE2's would not be.
    assert builtin("٣", "^\\d$") is True
    assert cached("٣", "^\\d$") is True


def _members(answer: Callable[[str], object], low: int, high: int) -> list[int]:
    """The code points in [low, high] that ``answer`` finds a match among (bisection)."""
    text = "".join(chr(c) for c in range(low, high + 1) if not 0xD800 <= c <= 0xDFFF)
    if not text or answer(text) is not True:
        return []
    if low == high:
        return [low]
    mid = (low + high) // 2
    return _members(answer, low, mid) + _members(answer, mid + 1, high)


@pytest.mark.parametrize("pattern", ["\\d", "\\s", "(?i)[a-z]", "(?i)k", "(?i)s", "[\\d\\s]"])
def test_translated_classes_hold_exactly_the_engine_characters(pattern: str) -> None:
    # Every Unicode code point: the classes RE2 is given (\p{Nd}, White_Space, ASCII case
    # folding) hold the very characters the engine's Rust regex does.
    assert m.portable(pattern)
    expected = _members(lambda t: builtin(t, pattern), 0, 0x10FFFF)
    assert expected, pattern
    assert _members(lambda t: cached(t, pattern), 0, 0x10FFFF) == expected


def test_end_anchor_is_the_end_of_the_text() -> None:
    assert cached("abc\n", "abc$") is False is builtin("abc\n", "abc$")


def test_invalid_and_non_string_arguments_are_refused_like_the_builtin() -> None:
    for text, pattern in [("a", "a("), ("a", "[z-a]"), (1, "a"), ("a", 1), ("a", "a{2,1}")]:
        assert isinstance(builtin(text, pattern), type)
        assert cached(text, pattern) == builtin(text, pattern)


def test_catastrophic_patterns_run_in_linear_time() -> None:
    text = "a" * 20_000 + "!"
    assert m.portable("(a+)+$") and m.portable("(a|aa)*b")
    started = time.perf_counter()
    assert cached(text, "(a+)+$") is False
    assert cached(text, "(a|aa)*b") is False
    assert time.perf_counter() - started < 1.0


def test_pattern_cache_is_bounded() -> None:
    cache = m._Compiled(8)
    for i in range(50):
        cache.search(f"x{i}y")
    assert len(cache._entries) == 8


# ---------------------------------------------------------------- through the policy engine


def test_rename_touches_calls_only() -> None:
    source = "request.args.q.matches('.matches(') && 'x.matches(y)' != request.args.q // .matches("
    renamed = m.rename_matches(source)
    assert renamed == source.replace("q.matches(", f"q.{m.FUNCTION}(", 1)
    assert m.rename_matches("request.args.q.startsWith('matches')") is None


def _decide(condition: str, q: str) -> tuple[str, str]:
    policies = PolicySet.compile(
        [policy(condition, applies_to=("search",))], contract_schemas=SCHEMAS, version=1
    )
    outcome = policies.evaluate(activation(tool="search", args={"q": q}))
    return outcome.code, outcome.reason


def test_policy_runs_the_cached_function_and_denies_as_before() -> None:
    condition = (
        "request.args.q.matches('(?:^|;)\\\\s*(drop|truncate)\\\\b') || "
        "request.args.q.matches('^delete from [a-z_]+$')"
    )
    assert _decide(condition, "select 1")[0] == ""
    assert _decide(condition, "select 1; drop table users")[0] == "POLICY_VIOLATION"
    assert _decide(condition, "delete from users")[0] == "POLICY_VIOLATION"
    assert _decide(condition, "delete from users where 1")[0] == ""


def test_bad_dynamic_pattern_fails_closed_and_names_matches() -> None:
    code, reason = _decide("'abc'.matches(request.args.q)", "a(")
    assert code == "POLICY_EVALUATION_FAILED"
    assert m.FUNCTION not in reason and "matches" in reason
