"""Values on the wire (``workersai._json``): one error type for a body that is not JSON,
whichever decoder is installed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from workersai import InvalidInputError, _json


@pytest.mark.parametrize("orjson", [True, False], ids=["orjson", "stdlib"])
def test_a_body_that_is_not_json_raises_json_decode_error(
    orjson: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if orjson and not _json._HAVE_ORJSON:  # pragma: no cover - the dev group installs orjson
        pytest.fail("orjson is part of the dev group")
    monkeypatch.setattr(_json, "_HAVE_ORJSON", orjson)
    # an HTML error page cut inside a multi-byte character: not JSON, not even UTF-8
    with pytest.raises(json.JSONDecodeError) as err:
        _json.loads(b"<html>Bad gateway \xe2\x80")
    assert type(err.value) is json.JSONDecodeError
    assert err.value.doc.startswith("<html>Bad gateway")


@pytest.mark.parametrize("orjson", [True, False], ids=["orjson", "stdlib"])
def test_the_error_says_what_is_wrong_and_where(
    orjson: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_json, "_HAVE_ORJSON", orjson)
    with pytest.raises(json.JSONDecodeError) as err:
        _json.loads(b'{"response": x}')
    assert err.value.pos == 13  # the x
    assert "value" in err.value.msg.lower()  # "expected a JSON value" / "Expecting value"
    assert err.value.doc == '{"response": x}'


def test_the_fallback_encoder_is_as_compact_as_orjson() -> None:
    # orjson refuses non-string keys; the stdlib takes over with the same separators
    assert _json.dumps({1: [1, 2], "a": "é"}) == '{"1":[1,2],"a":"é"}'.encode()


@pytest.mark.parametrize("orjson", [True, False], ids=["orjson", "stdlib"])
@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"x": -Infinity}'])
def test_nan_and_infinity_are_refused_by_both_decoders(
    orjson: bool, text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_json, "_HAVE_ORJSON", orjson)
    with pytest.raises(json.JSONDecodeError):
        _json.loads(text)


def test_a_lone_surrogate_is_refused_with_what_to_do() -> None:
    # what bytes.decode(errors="surrogateescape") leaves: no UTF-8 encoding exists for it
    with pytest.raises(InvalidInputError) as err:
        _json.dumps({"text": "caf\udce9"})
    assert err.value.message == (
        "The request holds text that is not valid Unicode ('\\udce9' is a lone surrogate)"
        " and cannot be sent as UTF-8."
    )
    assert err.value.hint == (
        "Decode bytes with errors='replace' (not 'surrogateescape') before passing them."
    )


def test_nesting_too_deep_to_encode_is_refused_with_what_to_do() -> None:
    value: list[Any] = []
    for _ in range(100_000):
        value = [value]
    with pytest.raises(InvalidInputError) as err:
        _json.dumps({"messages": value})
    assert err.value.message == "The request is nested too deeply to be encoded as JSON."
    assert err.value.hint == "Flatten deeply nested values (tool schemas, metadata)."


def test_bytes_that_are_not_utf8_are_named_in_the_stdlib_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_json, "_HAVE_ORJSON", False)
    with pytest.raises(json.JSONDecodeError) as err:
        _json.loads(b'{"a": "\xff"}')
    assert "can't decode byte 0xff" in err.value.msg
    assert err.value.pos == 7
