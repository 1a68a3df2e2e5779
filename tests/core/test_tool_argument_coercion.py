"""Tool-argument coercion: every rule of ``coerce_arguments`` against the JSON-schema type
it serves, the cases it must leave alone, and the rules at work in a real tool call.

Llama models send argument values as text — ``"4"``, ``"True"``, ``'["a", "b"]'`` (reference
§3.2.2) — and the client turns each into the type the tool's schema declares, and nothing
else: a value that does not parse to the declared type, or a field that accepts strings,
keeps the value as sent. ``4 == 4.0 == True`` in Python, so results are compared with their
types (:func:`typed`).

Every case runs with both JSON decoders (orjson and the standard library), which must agree.
"""

from __future__ import annotations

import importlib.util
import json
from typing import Any

import pytest

from workersai import WorkersAI, _json
from workersai._tools import coerce_arguments
from workersai.testing import Reply, WorkersAIServer

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
HAVE_ORJSON = importlib.util.find_spec("orjson") is not None


@pytest.fixture(params=["orjson", "stdlib"], autouse=True)
def decoder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "orjson" and not HAVE_ORJSON:
        pytest.skip("orjson is not installed (the `speed` extra)")
    monkeypatch.setattr(_json, "_HAVE_ORJSON", request.param == "orjson")
    return str(request.param)


def typed(value: Any) -> Any:
    """``value`` with the type of every leaf spelled out, so ``4``, ``4.0`` and ``True``
    (equal in Python) compare unequal."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value).__name__, value)


def coerced(schema: dict[str, Any], value: Any) -> Any:
    """``value`` as the argument ``v`` of a tool whose parameter ``v`` has ``schema``."""
    arguments = coerce_arguments({"v": value}, {"type": "object", "properties": {"v": schema}})
    return arguments["v"]


INTEGER = {"type": "integer"}
NUMBER = {"type": "number"}
BOOLEAN = {"type": "boolean"}
STRING = {"type": "string"}
ITEM = {
    "type": "object",
    "properties": {"sku": STRING, "qty": INTEGER, "gift": BOOLEAN, "price": NUMBER},
}

# (schema, value as sent, value expected)
RULES = [
    # integer: integral text and integral floats become ints
    pytest.param(INTEGER, "4", 4, id="integer-from-text"),
    pytest.param(INTEGER, " 7 ", 7, id="integer-from-padded-text"),
    pytest.param(INTEGER, "-3", -3, id="integer-negative"),
    pytest.param(INTEGER, "4.0", 4, id="integer-from-integral-float-text"),
    pytest.param(INTEGER, "1e2", 100, id="integer-from-exponent-text"),
    pytest.param(INTEGER, 4.0, 4, id="integer-from-integral-float"),
    pytest.param(INTEGER, 5, 5, id="integer-already-right"),
    # number: numeric text becomes a number; an integral float stays a float
    pytest.param(NUMBER, "2.5", 2.5, id="number-from-text"),
    pytest.param(NUMBER, "-0.1278", -0.1278, id="number-negative"),
    pytest.param(NUMBER, "3", 3, id="number-from-integer-text"),
    pytest.param(NUMBER, "1e3", 1000.0, id="number-from-exponent-text"),
    pytest.param(NUMBER, 4.0, 4.0, id="number-keeps-integral-float"),
    pytest.param(NUMBER, 2.5, 2.5, id="number-already-right"),
    # boolean: JSON's lower case, and the capitalised forms Llama models write
    pytest.param(BOOLEAN, "true", True, id="boolean-true"),
    pytest.param(BOOLEAN, "false", False, id="boolean-false"),
    pytest.param(BOOLEAN, "True", True, id="boolean-True"),
    pytest.param(BOOLEAN, "False", False, id="boolean-False"),
    pytest.param(BOOLEAN, "TRUE", True, id="boolean-TRUE"),
    pytest.param(BOOLEAN, " False ", False, id="boolean-padded-False"),
    pytest.param(BOOLEAN, True, True, id="boolean-already-true"),
    pytest.param(BOOLEAN, False, False, id="boolean-already-false"),
    # string: numbers written as numbers become text
    pytest.param(STRING, 1054, "1054", id="string-from-integer"),
    pytest.param(STRING, 2.5, "2.5", id="string-from-float"),
    pytest.param(STRING, "London", "London", id="string-already-right"),
    # array from JSON text, items coerced to the item schema
    pytest.param({"type": "array", "items": INTEGER}, '[1, "2", 3.0]', [1, 2, 3], id="array-text"),
    pytest.param(
        {"type": "array", "items": BOOLEAN}, '["True", "false"]', [True, False], id="array-bools"
    ),
    pytest.param({"type": "array", "items": INTEGER}, ["3", "4"], [3, 4], id="array-items"),
    pytest.param({"type": "array", "items": STRING}, '["temp", "wind"]', ["temp", "wind"]),
    pytest.param({"type": "array"}, '["a", 1]', ["a", 1], id="array-without-items"),
    pytest.param({"type": "array", "items": INTEGER}, "[]", [], id="array-empty"),
    pytest.param(
        {"type": "array", "items": {"type": "array", "items": INTEGER}},
        '[[1, "2"], ["3"]]',
        [[1, 2], [3]],
        id="array-of-arrays",
    ),
    pytest.param(
        {"type": "array", "items": ITEM},
        '[{"sku": "A1", "qty": "2", "gift": "True", "price": "9.5"}]',
        [{"sku": "A1", "qty": 2, "gift": True, "price": 9.5}],
        id="array-of-objects-from-text",
    ),
    pytest.param(
        {"type": "array", "items": ITEM},
        [{"sku": "B2", "qty": "1", "gift": "False"}, {"sku": 7, "qty": 3.0}],
        [{"sku": "B2", "qty": 1, "gift": False}, {"sku": "7", "qty": 3}],
        id="array-of-objects",
    ),
    # object from JSON text, properties coerced to their schemas
    pytest.param(ITEM, '{"sku": "A1", "qty": "2"}', {"sku": "A1", "qty": 2}, id="object-text"),
    pytest.param(ITEM, {"qty": "2", "gift": "True"}, {"qty": 2, "gift": True}, id="object"),
    pytest.param({"type": "object"}, '{"a": "1"}', {"a": "1"}, id="object-without-properties"),
    pytest.param(
        {"type": "object", "properties": {"item": ITEM, "note": STRING}},
        {"item": {"qty": "5", "gift": "False"}, "note": "True", "extra": "4"},
        {"item": {"qty": 5, "gift": False}, "note": "True", "extra": "4"},
        id="nested-objects",
    ),
    # nullable and union types: coerced to whichever non-string type fits
    pytest.param({"type": ["integer", "null"]}, "5", 5, id="nullable-integer"),
    pytest.param({"type": ["integer", "null"]}, 4.0, 4, id="nullable-integer-from-float"),
    pytest.param({"type": ["boolean", "null"]}, "False", False, id="nullable-boolean"),
    pytest.param({"type": ["integer", "null"]}, "null", None, id="nullable-integer-null-word"),
    pytest.param({"anyOf": [ITEM, {"type": "null"}]}, " null ", None, id="anyOf-object-null-word"),
    pytest.param({"anyOf": [INTEGER, {"type": "null"}]}, "5", 5, id="anyOf-integer-null"),
    pytest.param({"anyOf": [NUMBER, {"type": "null"}]}, "2.5", 2.5, id="anyOf-number-null"),
    pytest.param({"oneOf": [BOOLEAN, {"type": "null"}]}, "True", True, id="oneOf-boolean-null"),
    pytest.param({"anyOf": [INTEGER, BOOLEAN]}, "True", True, id="anyOf-integer-boolean-bool"),
    pytest.param({"anyOf": [INTEGER, BOOLEAN]}, "7", 7, id="anyOf-integer-boolean-int"),
    pytest.param({"anyOf": [INTEGER, NUMBER]}, 4.0, 4.0, id="anyOf-number-keeps-float"),
    pytest.param(
        {"anyOf": [ITEM, {"type": "null"}]},
        {"qty": "2", "gift": "True"},
        {"qty": 2, "gift": True},
        id="anyOf-object-null",
    ),
    pytest.param(
        {"anyOf": [ITEM, {"type": "null"}]},
        '{"qty": "2"}',
        {"qty": 2},
        id="anyOf-object-null-from-text",
    ),
    pytest.param(
        {"anyOf": [{"type": "array", "items": INTEGER}, {"type": "null"}]},
        '["1", "2"]',
        [1, 2],
        id="anyOf-array-null",
    ),
    pytest.param(
        {"anyOf": [{"type": "array", "items": ITEM}, {"type": "null"}]},
        [{"qty": "2", "gift": "True"}],
        [{"qty": 2, "gift": True}],
        id="anyOf-array-of-objects-null",
    ),
    pytest.param({"type": "null"}, None, None, id="null-already-right"),
]

# Values the rules must leave exactly as sent.
UNTOUCHED = [
    # a field that takes strings keeps text that looks like something else
    pytest.param(STRING, "true", id="string-true"),
    pytest.param(STRING, "True", id="string-True"),
    pytest.param(STRING, "4", id="string-4"),
    pytest.param(STRING, "2.5", id="string-2.5"),
    pytest.param(STRING, "[1, 2]", id="string-array-text"),
    pytest.param(STRING, '{"a": 1}', id="string-object-text"),
    pytest.param(STRING, "null", id="string-null"),
    pytest.param({"type": ["integer", "string"]}, "4", id="integer-or-string"),
    pytest.param({"anyOf": [NUMBER, STRING]}, "2.5", id="anyOf-number-string"),
    pytest.param({"oneOf": [BOOLEAN, STRING]}, "True", id="oneOf-boolean-string"),
    # text that is not the declared type stays text
    pytest.param(INTEGER, "four", id="integer-word"),
    pytest.param(INTEGER, "", id="integer-empty"),
    pytest.param(INTEGER, "2.5", id="integer-fraction"),
    pytest.param(INTEGER, "0x10", id="integer-hex"),
    pytest.param(INTEGER, "true", id="integer-bool-text"),
    pytest.param(INTEGER, '"4"', id="integer-json-string"),
    pytest.param(INTEGER, "[4]", id="integer-array-text"),
    pytest.param(NUMBER, "abc", id="number-word"),
    pytest.param(NUMBER, "NaN", id="number-nan"),
    pytest.param(NUMBER, "Infinity", id="number-infinity"),
    pytest.param(NUMBER, "-Infinity", id="number-minus-infinity"),
    pytest.param(BOOLEAN, "1", id="boolean-1"),
    pytest.param(BOOLEAN, "0", id="boolean-0"),
    pytest.param(BOOLEAN, "yes", id="boolean-yes"),
    pytest.param(BOOLEAN, "Truth", id="boolean-Truth"),
    pytest.param({"type": "array", "items": INTEGER}, "5", id="array-scalar-text"),
    pytest.param({"type": "array"}, '{"a": 1}', id="array-object-text"),
    pytest.param({"type": "array", "items": BOOLEAN}, "True", id="array-bool-text"),
    pytest.param({"type": "array"}, "not a list", id="array-prose"),
    pytest.param({"type": "object"}, "[1]", id="object-array-text"),
    pytest.param({"type": "object"}, "{broken", id="object-broken-text"),
    # values of another type are not forced into the declared one
    pytest.param(INTEGER, True, id="integer-bool"),
    pytest.param(INTEGER, 4.5, id="integer-fraction-float"),
    pytest.param(BOOLEAN, 1, id="boolean-int"),
    # "null" is the word where the field takes strings, and is kept where null is not allowed
    pytest.param({"type": ["string", "null"]}, "null", id="nullable-string-null-word"),
    pytest.param(INTEGER, "null", id="integer-null-word"),
    # no type declared: nothing to coerce to
    pytest.param({}, "4", id="no-type"),
    pytest.param({"description": "anything"}, "True", id="description-only"),
]


@pytest.mark.parametrize(("schema", "value", "expected"), RULES)
def test_rule(schema: dict[str, Any], value: Any, expected: Any) -> None:
    assert typed(coerced(schema, value)) == typed(expected)


@pytest.mark.parametrize(("schema", "value"), UNTOUCHED)
def test_left_as_sent(schema: dict[str, Any], value: Any) -> None:
    assert typed(coerced(schema, value)) == typed(value)


def test_a_whole_call_with_every_rule_at_once() -> None:
    schema = {
        "type": "object",
        "properties": {
            "hour": INTEGER,
            "minutes": INTEGER,
            "volume": NUMBER,
            "repeat": BOOLEAN,
            "snooze": BOOLEAN,
            "label": STRING,
            "code": STRING,
            "days": {"type": "array", "items": STRING},
            "items": {"type": "array", "items": ITEM},
            "owner": {"anyOf": [ITEM, {"type": "null"}]},
        },
    }
    sent = {
        "hour": "7",
        "minutes": 30.0,
        "volume": "0.8",
        "repeat": "True",
        "snooze": "False",
        "label": "true",
        "code": 4,
        "days": '["mon", "tue"]',
        "items": '[{"sku": "A1", "qty": "2", "gift": "True"}]',
        "owner": {"qty": "1"},
        "unknown": "True",
    }
    assert typed(coerce_arguments(sent, schema)) == typed(
        {
            "hour": 7,
            "minutes": 30,
            "volume": 0.8,
            "repeat": True,
            "snooze": False,
            "label": "true",
            "code": "4",
            "days": ["mon", "tue"],
            "items": [{"sku": "A1", "qty": 2, "gift": True}],
            "owner": {"qty": 1},
            "unknown": "True",  # not in the schema: kept as sent
        }
    )


def test_without_a_usable_schema_arguments_are_returned_as_they_are() -> None:
    arguments = {"n": "4", "flag": "True"}
    assert coerce_arguments(arguments, None) is arguments
    assert coerce_arguments(arguments, {}) is arguments
    assert coerce_arguments(arguments, {"type": "object"}) is arguments
    assert coerce_arguments(arguments, {"type": "object", "properties": "n"}) is arguments
    assert coerce_arguments(arguments, {"type": "object", "properties": {"n": "integer"}}) == (
        arguments
    )


# -- the rules at work in a tool call --------------------------------------------------------

ALARM_TOOL = {
    "type": "function",
    "function": {
        "name": "set_alarm",
        "description": "Set an alarm.",
        "parameters": {
            "type": "object",
            "properties": {
                "hour": INTEGER,
                "repeat": BOOLEAN,
                "snooze": BOOLEAN,
                "label": STRING,
                "days": {"type": "array", "items": STRING},
            },
            "required": ["hour"],
        },
    },
}
LLAMA_ARGUMENTS = {
    "hour": "7",
    "repeat": "True",
    "snooze": "False",
    "label": "True",
    "days": '["mon", "tue"]',
}
COERCED = {
    "hour": 7,
    "repeat": True,
    "snooze": False,
    "label": "True",
    "days": ["mon", "tue"],
}


def _client(server: WorkersAIServer) -> WorkersAI:
    return WorkersAI("acct", "tok", base_url=server.base_url, max_retries=0)


def test_llama_legacy_tool_call_is_coerced(server: WorkersAIServer) -> None:
    # §3.2.2: {"response": null, "tool_calls": [{"name", "arguments": {...strings...}}]}
    server.enqueue(
        Reply.result(
            {"response": None, "tool_calls": [{"name": "set_alarm", "arguments": LLAMA_ARGUMENTS}]}
        )
    )
    messages = [{"role": "user", "content": "Wake me at 7 on Mondays and Tuesdays."}]
    with _client(server) as client:
        [call] = client.chat(LLAMA, messages, tools=[ALARM_TOOL]).tool_calls
    assert typed(call.arguments) == typed(COERCED)
    assert typed(json.loads(call.raw_arguments)) == typed(COERCED)


def test_streamed_whole_call_is_coerced(server: WorkersAIServer) -> None:
    # §3.3: a native stream may carry a whole call in the flat {name, arguments} form
    server.enqueue(
        Reply.sse(
            [
                {"tool_calls": [{"name": "set_alarm", "arguments": LLAMA_ARGUMENTS}]},
                {"response": "", "usage": {"prompt_tokens": 9, "total_tokens": 9}},
            ]
        )
    )
    messages = [{"role": "user", "content": "Wake me at 7 on Mondays and Tuesdays."}]
    with _client(server) as client, client.stream_chat(LLAMA, messages, tools=[ALARM_TOOL]) as s:
        chunks = list(s)
        result = s.result()
    streamed = "".join(c.arguments for chunk in chunks for c in chunk.tool_calls)
    assert typed(json.loads(streamed)) == typed(COERCED)
    [call] = result.tool_calls
    assert typed(call.arguments) == typed(COERCED)
