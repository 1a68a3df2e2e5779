"""The rules of ``workersai._tools`` one by one: tool definitions, tool_choice, call ids,
argument parsing, calls read from every wire shape, and calls salvaged from text.

Each test pins one rule a mutation of the module broke without any test noticing (issue 18).
The shapes come from the wire reference: tool definitions §3.1 (``tools``, ``tool_choice``),
tool calls §3.2.2–3 and §3.3, calls leaked as text §3.2.8, ids §3.2.9, the checklist §9.4.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from workersai import WorkersAI
from workersai._tools import (
    arguments_fit,
    bound_tool_name,
    coerce_arguments,
    complete_arguments,
    forced_tool,
    inline_refs,
    normalize_tool_choice,
    normalize_tools,
    parse_arguments,
    salvage_tool_calls,
    tool_call_from_wire,
    unique_tool_call_id,
    wire_tool_call_id,
)
from workersai.errors import InvalidInputError
from workersai.testing import Reply, WorkersAIServer

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
USER = [{"role": "user", "content": "What is the weather in London?"}]
GENERATED_ID = re.compile(r"^call_[0-9a-f]{24}$")

WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "days": {"type": "integer"},
    },
    "required": ["city"],
}
SCHEMAS: dict[str, dict[str, Any]] = {"get_weather": WEATHER}


def _client(server: WorkersAIServer) -> WorkersAI:
    return WorkersAI("acct", "tok", base_url=server.base_url, max_retries=0)


def _function(tools: list[dict[str, Any]]) -> dict[str, Any]:
    [tool] = tools
    assert tool["type"] == "function"
    return dict(tool["function"])


# -- call ids (§3.2.2: legacy calls carry no id; §3.2.9: ids made unique, restored on the wire)


@pytest.mark.parametrize("raw_id", [None, "", 7, ["call_1"]], ids=repr)
def test_a_missing_or_unusable_id_is_generated(raw_id: Any) -> None:
    first, second = unique_tool_call_id(raw_id), unique_tool_call_id(raw_id)
    assert GENERATED_ID.match(first) and GENERATED_ID.match(second)
    assert first != second


def test_an_ordinary_id_is_kept_and_goes_back_unchanged() -> None:
    assert unique_tool_call_id("chatcmpl-tool-abc") == "chatcmpl-tool-abc"
    assert wire_tool_call_id("chatcmpl-tool-abc") == "chatcmpl-tool-abc"


def test_a_turn_scoped_id_is_made_unique_and_restored_for_the_wire() -> None:
    # cloudflare/ai#526: Kimi numbers its calls per turn, so "functions.f:0" repeats
    first = unique_tool_call_id("functions.get_weather:0")
    second = unique_tool_call_id("functions.get_weather:0")
    assert first != second
    assert first.startswith("functions.get_weather:0") and first != "functions.get_weather:0"
    assert wire_tool_call_id(first) == wire_tool_call_id(second) == "functions.get_weather:0"


# -- JSON-schema references (Workers AI resolves none) ----------------------------------------


def test_draft_07_definitions_are_inlined_and_dropped() -> None:
    schema = {
        "definitions": {"Unit": {"type": "string", "enum": ["C", "F"]}},
        "type": "object",
        "properties": {"unit": {"$ref": "#/definitions/Unit", "description": "scale"}},
        "required": ["unit"],
    }
    assert inline_refs(schema) == {
        "type": "object",
        "properties": {"unit": {"type": "string", "enum": ["C", "F"], "description": "scale"}},
        "required": ["unit"],
    }


def test_lists_inside_a_schema_with_references_are_kept() -> None:
    schema = {
        "$defs": {"Unit": {"enum": ["C", "F"]}},
        "type": "object",
        "properties": {
            "unit": {"$ref": "#/$defs/Unit"},
            "when": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        "required": ["unit", "when"],
    }
    assert inline_refs(schema) == {
        "type": "object",
        "properties": {
            "unit": {"enum": ["C", "F"]},
            "when": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        "required": ["unit", "when"],
    }


def test_unused_definitions_are_not_sent() -> None:
    schema = {"$defs": {"Unused": {"type": "string"}}, "type": "object", "properties": {}}
    assert inline_refs(schema) == {"type": "object", "properties": {}}


def test_a_schema_without_references_is_returned_as_a_copy() -> None:
    schema = {"type": "object", "properties": {"tags": {"type": "array", "items": {}}}}
    inlined = inline_refs(schema)
    assert inlined == schema
    inlined["properties"]["tags"]["items"]["type"] = "string"
    assert schema["properties"]["tags"]["items"] == {}  # the caller's schema is untouched


def test_an_unknown_reference_names_the_reference() -> None:
    schema = {"type": "object", "properties": {"a": {"$ref": "#/$defs/Missing"}}}
    with pytest.raises(
        InvalidInputError, match=r"cannot resolve JSON-schema reference '#/\$defs/Missing'"
    ):
        inline_refs(schema)


def test_a_recursive_reference_names_the_reference() -> None:
    schema = {
        "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}},
        "$ref": "#/$defs/Node",
    }
    with pytest.raises(
        InvalidInputError, match=r"recursive JSON-schema reference '#/\$defs/Node' cannot be sent"
    ):
        inline_refs(schema)


def test_a_schema_nested_too_deeply_says_to_flatten_it() -> None:
    node: dict[str, Any] = {"type": "string"}
    for _ in range(5000):
        node = {"type": "object", "properties": {"a": node}}
    schema = {"$defs": {"Leaf": {"type": "string"}}, **node}
    with pytest.raises(
        InvalidInputError, match=r"^the JSON schema is nested too deeply to send to Workers AI"
    ) as caught:
        inline_refs(schema)
    assert caught.value.hint is not None and caught.value.hint.startswith("Flatten the schema")


# -- tool definitions (§3.1: legacy flat or OpenAI {type, function}) --------------------------


@pytest.mark.parametrize("tools", ["get_weather", {"name": "get_weather"}, 5], ids=repr)
def test_tools_must_be_a_list(tools: Any) -> None:
    with pytest.raises(
        InvalidInputError,
        match=f"tools must be a list of tool definitions, got {type(tools).__name__}",
    ):
        normalize_tools(tools)


@pytest.mark.parametrize("kind", ["web_search_preview", "retrieval", None])
def test_only_function_tools_are_taken(kind: Any) -> None:
    # §3.1: a tool is legacy flat or {type: "function", function: {...}}; a provider's own
    # tool type (which LangChain passes through unchanged) is refused by name
    tool = {"type": kind, "function": {"name": "f"}}
    with pytest.raises(
        InvalidInputError, match=f"tools\\[0\\] has type {kind!r}; Workers AI takes only function"
    ) as caught:
        normalize_tools([tool])
    assert caught.value.field == "tools.0.type"


def test_each_tool_must_be_a_mapping() -> None:
    with pytest.raises(InvalidInputError, match=r"tools\[1\] must be a mapping") as caught:
        normalize_tools([{"name": "a"}, "b"])
    assert caught.value.field == "tools.1"


def test_an_openai_tool_without_its_type_is_accepted() -> None:
    assert _function(normalize_tools([{"function": {"name": "f", "description": "F."}}])) == {
        "name": "f",
        "description": "F.",
        "parameters": {"type": "object", "properties": {}},
    }


@pytest.mark.parametrize(
    "tool",
    [{"name": ""}, {"name": 5}, {"description": "no name"}, {"function": {"name": ""}}],
    ids=repr,
)
def test_a_tool_needs_a_name(tool: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError, match=r"tools\[0\] has no name") as caught:
        normalize_tools([tool])
    assert caught.value.field == "tools.0.name"


def test_parameters_must_be_a_schema_object() -> None:
    with pytest.raises(InvalidInputError, match=r"tools\[0\]\.parameters must be a JSON schema"):
        normalize_tools([{"name": "f", "parameters": ["city"]}])


@pytest.mark.parametrize("description", ["", None, 5])
def test_an_empty_or_odd_description_is_not_sent(description: Any) -> None:
    function = _function(normalize_tools([{"name": "f", "description": description}]))
    assert "description" not in function


@pytest.mark.parametrize("strict", [True, False])
def test_strict_is_passed_on(strict: bool) -> None:
    function = _function(normalize_tools([{"name": "f", "strict": strict}]))
    assert function["strict"] is strict
    assert "strict" not in _function(normalize_tools([{"name": "f"}]))


# -- tool_choice (§3.1: "auto" | "none" | "required" | {type: function, function: {name}}) ----


def test_a_flat_named_choice_is_sent_in_openai_form() -> None:
    assert normalize_tool_choice({"name": "f"}, ["f", "g"]) == {
        "type": "function",
        "function": {"name": "f"},
    }


def test_an_unknown_choice_lists_what_is_accepted() -> None:
    with pytest.raises(
        InvalidInputError,
        match=r"tool_choice 'c' is neither 'auto', 'none', 'required', 'any' nor the name of a "
        r"bound tool \(a, b\)",
    ):
        normalize_tool_choice("c", ["a", "b"])
    with pytest.raises(InvalidInputError, match=r"\(no tools bound\)"):
        normalize_tool_choice("c", [])


def test_a_named_choice_of_an_unbound_tool_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="tool_choice names 'c', which is not a bound tool"):
        normalize_tool_choice({"type": "function", "function": {"name": "c"}}, ["a"])


@pytest.mark.parametrize("choice", [5, {"type": "function"}, {"function": {"name": 5}}], ids=repr)
def test_an_unsupported_choice_is_refused(choice: Any) -> None:
    with pytest.raises(InvalidInputError, match="unsupported tool_choice"):
        normalize_tool_choice(choice, ["a"])


@pytest.mark.parametrize(
    ("choice", "forced"),
    [
        ("required", True),
        ({"type": "function", "function": {"name": "f"}}, "f"),
        ("auto", False),
        ("none", False),
        (None, False),
        ({"type": "function"}, False),
        ({"function": {"name": 5}}, False),
    ],
    ids=repr,
)
def test_which_choice_forces_a_tool(choice: Any, forced: str | bool) -> None:
    assert forced_tool(choice) == forced
    assert type(forced_tool(choice)) is type(forced)


# -- arguments in every wire form (§3.2.2–3: object, JSON text, double-encoded text) ----------


@pytest.mark.parametrize("raw", [None, "", "null"], ids=repr)
def test_no_arguments_are_an_empty_object(raw: Any) -> None:
    arguments, text, error = parse_arguments(raw)
    assert arguments == {} and error is None
    assert json.loads(text) in ({}, None)


def test_object_arguments_keep_their_json_text() -> None:
    arguments, text, error = parse_arguments({"city": "London", "days": 3})
    assert arguments == {"city": "London", "days": 3} and error is None
    assert json.loads(text) == {"city": "London", "days": 3}


def test_double_encoded_arguments_are_decoded_twice() -> None:
    raw = json.dumps(json.dumps({"city": "London"}))
    assert parse_arguments(raw) == ({"city": "London"}, raw, None)


@pytest.mark.parametrize(
    ("raw", "text", "error"),
    [
        (5, "5", "arguments must be a JSON object, got int"),
        ([1, 2], "[1,2]", "arguments must be a JSON object, got list"),
        ("[1, 2]", "[1, 2]", "arguments must be a JSON object, got list"),
        ('"London"', '"London"', "arguments are not valid JSON"),
        ("{city: London}", "{city: London}", "arguments are not valid JSON"),
    ],
    ids=repr,
)
def test_arguments_that_are_not_an_object_are_an_error(raw: Any, text: str, error: str) -> None:
    arguments, got_text, got_error = parse_arguments(raw)
    assert arguments == {}
    assert got_text.replace(" ", "") == text.replace(" ", "")
    assert got_error is not None and got_error.startswith(error)


def test_a_complete_call_is_coerced_to_its_schema() -> None:
    # §3.3: a native stream may carry a whole call with string-typed values
    assert json.loads(complete_arguments({"city": "Paris", "days": "3"}, WEATHER)) == {
        "city": "Paris",
        "days": 3,
    }
    assert json.loads(complete_arguments('{"days": "3"}', WEATHER)) == {"days": 3}


def test_a_complete_call_is_left_as_sent_without_schema_or_when_unparsable() -> None:
    assert complete_arguments("not json", WEATHER) == "not json"
    assert json.loads(complete_arguments('{"days": "3"}', None)) == {"days": "3"}
    assert json.loads(complete_arguments({"days": "3"}, None)) == {"days": "3"}


# -- coercion rules the parametrised table in test_tool_argument_coercion.py does not reach ----


def test_an_optional_nested_object_is_coerced_whichever_option_comes_first() -> None:
    item = {"type": "object", "properties": {"n": {"type": "integer"}}}
    for key in ("anyOf", "oneOf"):
        for options in ([item, {"type": "null"}], [{"type": "null"}, item]):
            schema = {"properties": {"o": {key: options}}}
            assert coerce_arguments({"o": {"n": "4"}}, schema) == {"o": {"n": 4}}


@pytest.mark.parametrize(
    ("schema", "value"),
    [
        ({"type": "number"}, "[1]"),
        ({"type": "number"}, '{"a": 1}'),
        ({"type": ["integer", "null"]}, "[1]"),
        ({"type": "boolean"}, "no"),
        ({"type": "array", "items": {"type": "string"}}, "abc"),
        ({"anyOf": [{"type": "array", "items": {"type": "string"}}]}, "abc"),
    ],
    ids=repr,
)
def test_text_of_another_type_is_kept(schema: dict[str, Any], value: str) -> None:
    assert coerce_arguments({"v": value}, {"properties": {"v": schema}}) == {"v": value}


def test_an_optional_list_is_coerced_whichever_option_comes_first() -> None:
    array = {"type": "array", "items": {"type": "integer"}}
    for key in ("anyOf", "oneOf"):
        for options in ([array, {"type": "null"}], [{"type": "null"}, array]):
            schema = {"properties": {"v": {key: options}}}
            assert coerce_arguments({"v": ["1", "2"]}, schema) == {"v": [1, 2]}
            assert coerce_arguments({"v": '["3"]'}, schema) == {"v": [3]}


def test_object_text_is_decoded_for_an_object_property() -> None:
    schema = {"properties": {"o": {"type": "object"}}}
    assert coerce_arguments({"o": '{"a": 1}'}, schema) == {"o": {"a": 1}}


# -- calls read from the wire (§3.2.2–3, §9.4) ------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        {"name": "", "arguments": {}},
        {"name": None, "arguments": {}},
        {"id": None, "type": None, "function": {"name": None, "arguments": None}},
        {"function": {"name": 5, "arguments": "{}"}},
    ],
    ids=repr,
)
def test_a_call_without_a_name_is_a_sentinel(raw: dict[str, Any]) -> None:
    # §3.3: the stream ends a call with a null-finalization sentinel
    assert tool_call_from_wire(raw) is None
    assert tool_call_from_wire(raw, SCHEMAS) is None


def test_a_call_of_an_unbound_tool_is_invalid() -> None:
    bound = {"get_weather": WEATHER, "get_news": {"properties": {}}}
    call = tool_call_from_wire({"name": "get_time", "arguments": {"zone": "UTC"}}, bound)
    assert call is not None and not call.is_valid
    assert call.error == "'get_time' is not one of the bound tools (get_weather, get_news)"
    unbound = tool_call_from_wire({"name": "get_time", "arguments": {"zone": "UTC"}})
    assert unbound is not None and unbound.is_valid


LEAK_ERROR = (
    "the arguments hold the control token '<|\"|' where a value belongs (a Workers AI "
    "serving fault, cloudflare/workers-sdk#13333); ask the model again"
)
ITEM = {"properties": {"itemId": {"type": "string"}, "ids": {"type": "array"}}}


@pytest.mark.parametrize(
    "arguments",
    [
        '{"itemId": "<|\\"|"}',  # as reported: the whole value is the token
        '{"itemId": "a1b2<|\\"|>"}',  # the token with its closing ">", inside a value
        '{"ids": ["f9e8", "<|\\"|"]}',  # in a list
        '{"filter": {"itemId": "<|\\"|"}}',  # in a nested object
    ],
)
def test_a_leaked_control_token_makes_the_call_invalid(arguments: str) -> None:
    # cloudflare/workers-sdk#13333: gemma-4 and glm-4.7-flash, on the OpenAI-compatible
    # endpoint (§4), write Gemma's string delimiter where a UUID belongs.
    raw = {"id": "call_1", "type": "function", "function": {"name": "buy", "arguments": arguments}}
    for schemas in ({"buy": ITEM}, None):
        call = tool_call_from_wire(raw, schemas)
        assert call is not None and not call.is_valid
        assert call.error == LEAK_ERROR
        assert call.raw_arguments == arguments or json.loads(call.raw_arguments) == json.loads(
            arguments
        )


@pytest.mark.parametrize(
    "value",
    ["<|endoftext|>", "a < b | c", 'say "<|"', "<|\\'|"],
)
def test_text_near_the_control_token_is_an_ordinary_value(value: str) -> None:
    arguments = {"itemId": value, "count": 2, "gift": False, "note": None}
    call = tool_call_from_wire({"name": "buy", "arguments": arguments}, {"buy": ITEM})
    assert call is not None and call.is_valid and call.arguments == arguments


def test_a_leaked_token_is_reported_in_a_chat_result_and_a_stream(server: WorkersAIServer) -> None:
    leaked = {"id": "call_1", "type": "function"}
    leaked["function"] = {"name": "buy", "arguments": '{"itemId": "<|\\"|"}'}
    tools = [{"type": "function", "function": {"name": "buy", "parameters": ITEM}}]
    server.enqueue(
        Reply.result({"response": None, "tool_calls": [leaked]}),
        Reply.sse(
            [
                {"response": "", "tool_calls": [{"index": 0, **leaked}]},
                {"response": "", "usage": {"prompt_tokens": 9, "completion_tokens": 4}},
            ]
        ),
    )
    result = _client(server).chat(LLAMA, USER, tools=tools)
    streamed = _client(server).stream_chat(LLAMA, USER, tools=tools).result()
    for answer in (result, streamed):
        assert answer.tool_calls == []
        [call] = answer.invalid_tool_calls
        assert (call.id, call.name, call.error) == ("call_1", "buy", LEAK_ERROR)


def test_a_harmony_suffix_is_cut_only_from_a_bound_tool_name() -> None:
    assert bound_tool_name("get_weather<|channel|>commentary", SCHEMAS) == "get_weather"
    assert bound_tool_name("get_weather <|constrain|>json<|message|>", SCHEMAS) == "get_weather"
    assert bound_tool_name("other<|channel|>x", SCHEMAS) == "other<|channel|>x"
    assert bound_tool_name("get_weather<|channel|>x", None) == "get_weather<|channel|>x"
    call = tool_call_from_wire(
        {"function": {"name": "get_weather<|channel|>commentary", "arguments": '{"city": "Oslo"}'}},
        SCHEMAS,
    )
    assert call is not None and call.name == "get_weather" and call.is_valid


def test_llama_parameters_key_is_read_as_the_arguments() -> None:
    call = tool_call_from_wire({"name": "get_weather", "parameters": {"days": "2"}}, SCHEMAS)
    assert call is not None and call.arguments == {"days": 2}
    assert json.loads(call.raw_arguments) == {"days": 2}


# -- which arguments can be a call (decides what text is salvaged, §3.2.8) --------------------


@pytest.mark.parametrize(
    ("arguments", "fits"),
    [
        ({"city": "Oslo"}, True),
        ({"city": "Oslo", "days": 2}, True),
        ({"days": 2}, False),  # the required city is missing
        ({"city": "Oslo", "mood": "sunny"}, False),  # a key the tool does not take
        ({"city": "Oslo", "days": "two"}, False),  # a value of the wrong type
        ({"city": 5}, False),
    ],
    ids=repr,
)
def test_arguments_fit_the_schema(arguments: dict[str, Any], fits: bool) -> None:
    assert arguments_fit(arguments, WEATHER) is fits


@pytest.mark.parametrize(
    ("extra", "allowed"),
    [(True, True), ({}, True), ({"type": "string"}, True), (False, False), (None, False)],
    ids=repr,
)
def test_foreign_keys_fit_when_additional_properties_are_allowed(extra: Any, allowed: bool) -> None:
    # JSON Schema: `{}` (any value) admits other keys as `true` does
    schema = {**WEATHER, "additionalProperties": extra} if extra is not None else WEATHER
    assert arguments_fit({"city": "Oslo", "mood": "sunny"}, schema) is allowed
    assert not arguments_fit({"city": "Oslo", "days": "two"}, schema)


def test_null_fits_only_a_nullable_property() -> None:
    nullable = {"properties": {"days": {"type": ["integer", "null"]}}}
    assert arguments_fit({"days": None}, nullable)
    assert arguments_fit({"days": 3}, nullable)
    assert not arguments_fit({"days": None}, WEATHER | {"required": []})
    assert arguments_fit({"note": None}, {"properties": {"note": {"type": "string"}}}) is False


def test_without_declared_properties_only_no_arguments_fit() -> None:
    assert arguments_fit({}, {"properties": "odd"})
    assert not arguments_fit({"anything": 1}, {"properties": "odd"})


# -- calls salvaged from text (§3.2.8) ---------------------------------------------------------


def _salvaged(text: str, forced: str | bool = False) -> list[tuple[str, dict[str, Any]]]:
    return [(c.name, c.arguments) for c in salvage_tool_calls(text, SCHEMAS, forced=forced)]


def test_an_unforced_call_in_a_code_fence_is_salvaged() -> None:
    text = '```json\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n```'
    assert _salvaged(text) == [("get_weather", {"city": "Oslo"})]
    assert _salvaged(text.replace("```json", "```")) == [("get_weather", {"city": "Oslo"})]


def test_an_unforced_list_of_calls_is_salvaged() -> None:
    text = json.dumps(
        [
            {"name": "get_weather", "arguments": {"city": "Oslo"}},
            {"name": "get_weather", "parameters": {"city": "Rome", "days": "2"}},
        ]
    )
    assert _salvaged(text) == [
        ("get_weather", {"city": "Oslo"}),
        ("get_weather", {"city": "Rome", "days": 2}),
    ]


def test_a_flat_call_with_its_arguments_beside_the_name_is_salvaged() -> None:
    # cloudflare/ai#560: {"name": ..., "city": ...} — the keys beside the name are the arguments
    text = '{"type": "function", "name": "get_weather", "city": "Oslo", "days": "3"}'
    assert _salvaged(text) == [("get_weather", {"city": "Oslo", "days": 3})]


def test_a_call_written_in_openai_form_is_salvaged() -> None:
    text = json.dumps(
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Oslo", "days": "2"}'},
        }
    )
    assert _salvaged(text) == [("get_weather", {"city": "Oslo", "days": 2})]


def test_a_salvaged_call_loses_a_harmony_suffix() -> None:
    text = '{"name": "get_weather<|channel|>commentary", "arguments": {"city": "Oslo"}}'
    assert _salvaged(text) == [("get_weather", {"city": "Oslo"})]


def test_a_call_of_an_unbound_tool_is_not_salvaged() -> None:
    assert _salvaged('{"name": "get_time", "arguments": {}}') == []
    assert _salvaged('{"name": "get_time", "arguments": {}}', forced=True) == []


def test_unforced_prose_around_json_stays_text() -> None:
    assert _salvaged('Calling {"name": "get_weather", "arguments": {"city": "Oslo"}} now') == []


def test_a_forced_call_wrapped_in_prose_is_salvaged() -> None:
    # gpt-oss: "commentary to=functions.get_weather json{...}" — only when a tool was forced
    text = 'commentary to=functions.get_weather json{"city": "Oslo"} done'
    assert _salvaged(text, forced="get_weather") == [("get_weather", {"city": "Oslo"})]
    assert _salvaged("use {x} then " + '{"city": "Oslo"}', forced=True) == [
        ("get_weather", {"city": "Oslo"})
    ]


@pytest.mark.parametrize(
    "text",
    [
        '{"city": "Oslo"} is what I would send.',  # JSON first, then prose
        'x{"city": "Oslo"}',  # JSON right after one character
        'ab{"city": "Oslo"}',
        'note {{"city": "Oslo"}}',  # a brace that starts nothing, then the call
        '{"mood": "sunny"}{"city": "Oslo"}',  # the first value is no call, the next is
        '[1, {"mood": 2}] then {"city": "Oslo"}',
    ],
)
def test_a_forced_call_is_found_wherever_it_sits_in_the_text(text: str) -> None:
    assert _salvaged(text, forced="get_weather") == [("get_weather", {"city": "Oslo"})]


def test_forced_bare_arguments_are_coerced() -> None:
    assert _salvaged('{"city": "Oslo", "days": "4"}', forced="get_weather") == [
        ("get_weather", {"city": "Oslo", "days": 4})
    ]


def test_bare_arguments_count_only_for_a_forced_bound_tool() -> None:
    bare = '{"city": "Oslo"}'
    assert _salvaged(bare) == []
    assert _salvaged(bare, forced="get_time") == []  # forcing an unbound tool forces nothing
    two = {"get_weather": WEATHER, "get_time": {"properties": {}}}
    assert salvage_tool_calls(bare, two, forced=True) == []  # "required" of two tools: which?


def test_from_a_list_the_items_that_are_calls_are_taken() -> None:
    text = '[{"city": "Oslo"}, {"mood": "sunny"}, {"city": "Rome", "days": "2"}]'
    assert _salvaged(text, forced="get_weather") == [
        ("get_weather", {"city": "Oslo"}),
        ("get_weather", {"city": "Rome", "days": 2}),
    ]
    assert _salvaged(text) == []  # unforced, bare arguments name no tool


def test_a_leaked_harmony_channel_is_not_the_forced_call() -> None:
    assert _salvaged('{"name": "analysis"}', forced="get_weather") == []


def test_a_salvaged_call_reaches_the_result(server: WorkersAIServer) -> None:
    # §3.2.8: through the client, a fenced list of calls becomes tool calls and no text
    text = '```json\n[{"name": "get_weather", "arguments": {"city": "Oslo", "days": "2"}}]\n```'
    server.enqueue(Reply.result({"response": text}))
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}}
    with _client(server) as client:
        result = client.chat(LLAMA, USER, tools=[tool])
    assert [(c.name, c.arguments) for c in result.tool_calls] == [
        ("get_weather", {"city": "Oslo", "days": 2})
    ]
    assert result.text == ""
