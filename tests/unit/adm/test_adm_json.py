"""canonical_json, parse_json and content_digest (SPEC §1.1, C-21), with property tests."""

from __future__ import annotations

import json
import math
import pickle
from collections import OrderedDict
from types import MappingProxyType
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aesp.adm import AdmError, canonical_json, content_digest, parse_json, validate_json_value

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5)
    ),
    max_leaves=40,
)


@given(json_values)
def test_canonical_json_is_a_fixed_point_of_parse(value: Any) -> None:
    once = canonical_json(value)
    assert canonical_json(parse_json(once)) == once


@given(json_values)
def test_canonical_json_is_parseable_by_the_stdlib(value: Any) -> None:
    assert canonical_json(json.loads(canonical_json(value).decode("utf-8"))) == canonical_json(
        value
    )


@given(st.dictionaries(st.text(), json_values, min_size=1, max_size=8), st.randoms())
def test_digest_is_stable_under_key_reordering(value: dict[str, Any], rnd: Any) -> None:
    items = list(value.items())
    rnd.shuffle(items)
    assert content_digest(dict(items)) == content_digest(value)


def test_canonical_form_examples() -> None:
    assert canonical_json({"b": 1, "a": [1.5, None, True, False, "é"], "c": 1e-07}) == (
        '{"a":[1.5,null,true,false,"é"],"b":1,"c":1e-07}'.encode()
    )
    assert canonical_json('\u2028\x7f\x01"\\') == b'"\xe2\x80\xa8\x7f\\u0001\\"\\\\"'
    assert canonical_json(2**63 - 1) == b"9223372036854775807"
    assert canonical_json(3.0) == b"3.0"


def test_keys_sort_by_utf16_code_units_like_rfc_8785() -> None:
    # U+1F600 is encoded as surrogates D83D DE00, which sort before U+FF5E in UTF-16.
    assert canonical_json({"\uff5e": 1, "\U0001f600": 2}) == '{"\U0001f600":2,"\uff5e":1}'.encode()


def test_canonical_json_accepts_mappings_and_tuples() -> None:
    value = MappingProxyType({"z": (1, 2), "a": OrderedDict(b=1)})
    assert canonical_json(value) == b'{"a":{"b":1},"z":[1,2]}'


def test_digest_format() -> None:
    digest = content_digest({"a": 1})
    assert digest.startswith("sha256:")
    assert len(digest) == len("sha256:") + 64
    assert digest == "sha256:015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862"


@pytest.mark.parametrize(
    ("value", "path", "match"),
    [
        pytest.param(math.nan, "$", "NaN and Infinity are refused", id="nan"),
        pytest.param({"a": [1, math.inf]}, "$.a[1]", "NaN and Infinity", id="nested-inf"),
        pytest.param({1: "x"}, "$[1]", "keys must be strings", id="int-key"),
        pytest.param({"s": {1, 2}}, "$.s", "Python set", id="set"),
        pytest.param({"b": b"x"}, "$.b", "Python bytes", id="bytes"),
        pytest.param({"k": "\ud800"}, "$.k", "lone UTF-16 surrogate", id="lone-surrogate"),
    ],
)
def test_canonical_json_refuses_non_json(value: object, path: str, match: str) -> None:
    with pytest.raises(AdmError, match=match) as info:
        canonical_json(value)
    assert info.value.path == path
    with pytest.raises(AdmError, match=match):
        validate_json_value(value)


def test_canonical_json_refuses_cycles() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(
        AdmError, match="deeper than 256 levels \\(or the value is cyclic\\)"
    ) as info:
        canonical_json(cyclic)
    assert info.value.path.startswith("$[0][0]")


@pytest.mark.parametrize(
    ("data", "match"),
    [
        pytest.param(b'{"a":1,"a":2}', "duplicate object key 'a'", id="duplicate-key"),
        pytest.param(b'[{"x":{"k":1,"k":1}}]', "duplicate object key 'k'", id="nested-duplicate"),
        pytest.param(b"NaN", "NaN is not valid JSON", id="nan"),
        pytest.param(b"[Infinity]", "Infinity is not valid JSON", id="infinity"),
        pytest.param(b"-Infinity", "-Infinity is not valid JSON", id="minus-infinity"),
        pytest.param(b"1e400", "outside the IEEE-754 double range", id="overflow"),
        pytest.param(b'"\xff"', "not valid UTF-8", id="bad-utf8"),
        pytest.param('"x"'.encode("utf-16"), "not valid UTF-8|byte order mark", id="utf16"),
        pytest.param(b"\xef\xbb\xbf{}", "byte order mark", id="bom"),
        pytest.param(b"{} {}", "Extra data", id="trailing-data"),
        pytest.param(b'{"a":}', "line 1 column 6", id="syntax"),
        pytest.param(b'"a\x01b"', "Invalid control character", id="control-char"),
        pytest.param(b'"\\ud800"', "lone UTF-16 surrogate", id="lone-surrogate-escape"),
        pytest.param(b"[" * 5000 + b"]" * 5000, "nested too deeply", id="deep"),
    ],
)
def test_parse_json_is_strict(data: bytes, match: str) -> None:
    with pytest.raises(AdmError, match=match) as info:
        parse_json(data)
    assert info.value.path.startswith("$")


def test_parse_json_accepts_valid_documents() -> None:
    assert parse_json(b'{"a":[1,2.5,-0,1E3,true,null,"\\u00e9\\ud83d\\ude00"]}') == {
        "a": [1, 2.5, 0, 1000.0, True, None, "é\U0001f600"]
    }
    assert parse_json(" 42 ") == 42
    assert parse_json(bytearray(b"[]")) == []


def test_parse_json_rejects_non_text_input() -> None:
    with pytest.raises(TypeError, match="bytes or str"):
        parse_json(cast(Any, 42))


def test_adm_error_formats_and_pickles() -> None:
    error = AdmError("args.x", "expected STRING, got integer", rule="4.2#16")
    assert str(error) == "args.x: expected STRING, got integer"
    assert isinstance(error, ValueError)
    clone = pickle.loads(pickle.dumps(error))
    assert (clone.path, clone.reason, clone.rule) == (
        "args.x",
        "expected STRING, got integer",
        "4.2#16",
    )
