"""The less common answer shapes, field by field: the Responses-API object (§5), the
Anthropic Messages shape (§10.7), ``chat.completion`` metadata (§3.2.5, §4) and the value
types ``response``/``content`` can take (§3.2.4) — read by ``parse_chat_response``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from workersai._chat import ChatRequest, build_chat_request, parse_chat_response
from workersai.results import ToolCall, Usage

GPT_OSS = "@cf/openai/gpt-oss-120b"
LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
CLAUDE = "anthropic/claude-sonnet-4.5"
USER = [{"role": "user", "content": "Weather in Rome and Paris?"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}


def _tools_request(model: str = GPT_OSS) -> ChatRequest:
    return build_chat_request(model, USER, tools=[WEATHER])


def _call(call_id: str, city: str, days: int | None = None) -> ToolCall:
    arguments: dict[str, Any] = {"city": city} if days is None else {"city": city, "days": days}
    return ToolCall(
        id=call_id,
        name="get_weather",
        arguments=arguments,
        raw_arguments=json.dumps(arguments, separators=(",", ":")),
    )


# --------------------------------------------------------------------------------------
# Responses API (§5): {id, object: "response", output: [...], output_text, usage}
# --------------------------------------------------------------------------------------

RESPONSES_WITH_CALLS = {
    "id": "resp_67ccd2bed1ec8190",
    "object": "response",
    "model": GPT_OSS,
    "output": [
        "not an output item",  # skipped, the rest still read
        {
            "type": "reasoning",
            "content": [
                {"type": "reasoning_text", "text": "Two cities, "},
                "not a part",
                {"type": "reasoning_text"},  # no text: contributes nothing
            ],
            "summary": [{"type": "summary_text", "text": "two lookups."}],
        },
        {
            "type": "message",
            "role": "assistant",
            "content": [
                {"type": "output_text", "text": "Checking "},
                {"type": "refusal", "refusal": "not text"},
                {"type": "output_text"},
                {"type": "text", "text": "both."},
            ],
        },
        {
            "type": "function_call",
            "call_id": "call_rome",
            "id": "fc_rome",
            "name": "get_weather",
            "arguments": '{"city": "Rome", "days": "2"}',
        },
        {
            "type": "function_call",
            "id": "fc_paris",
            "name": "get_weather",
            "arguments": '{"city": "Paris"}',
        },
        {"type": "web_search_call", "id": "ws_1", "name": "get_weather", "status": "completed"},
    ],
    "usage": {"input_tokens": 40, "output_tokens": 12, "total_tokens": 52},
}


def test_responses_object_text_reasoning_and_function_calls() -> None:
    result = parse_chat_response(RESPONSES_WITH_CALLS, _tools_request())
    assert result.text == "Checking both."
    # reasoning items: their content, then their summary
    assert result.reasoning == "Two cities, two lookups."
    # call_id is the id a tool result must answer; the item id only when there is none
    assert result.tool_calls == [_call("call_rome", "Rome", 2), _call("fc_paris", "Paris")]
    assert result.invalid_tool_calls == []
    assert result.finish_reason == "tool_calls"
    assert (result.id, result.model) == ("resp_67ccd2bed1ec8190", GPT_OSS)
    assert result.usage == Usage(40, 12, 52)


def test_responses_object_without_a_message_item_falls_back_to_output_text() -> None:
    body = {
        "id": "resp_2",
        "object": "response",
        "output": [{"type": "reasoning", "summary": [{"type": "summary_text", "text": "hm"}]}],
        "output_text": "Open source is great.",
    }
    result = parse_chat_response(body, build_chat_request(GPT_OSS, USER))
    assert (result.text, result.reasoning) == ("Open source is great.", "hm")
    assert result.finish_reason == "stop"
    assert result.model == GPT_OSS  # the request's model when the answer names none


@pytest.mark.parametrize("output_text", [None, ""])
def test_responses_object_with_only_calls_has_no_text(output_text: str | None) -> None:
    body: dict[str, Any] = {
        "object": "response",
        "output": [
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": '{"city": "Rome"}',
            }
        ],
    }
    if output_text is not None:
        body["output_text"] = output_text
    result = parse_chat_response(body, _tools_request())
    assert result.text == ""
    assert result.reasoning is None
    assert result.tool_calls == [_call("call_1", "Rome")]


# --------------------------------------------------------------------------------------
# Anthropic Messages (§10.7)
# --------------------------------------------------------------------------------------


def test_anthropic_message_text_thinking_and_tool_use() -> None:
    body = {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [
            {"type": "thinking", "thinking": "Rome first, ", "signature": "sig"},
            {"type": "thinking", "thinking": None},
            {"type": "thinking", "thinking": "then Paris."},
            "not a block",
            {"type": "text", "text": "Let me "},
            {"type": "text", "text": None},
            {"type": "text", "text": "look."},
            {"type": "redacted_thinking", "data": "…"},
            {
                "type": "tool_use",
                "id": "toolu_rome",
                "name": "get_weather",
                "input": {"city": "Rome", "days": "3"},
            },
            {
                "type": "tool_use",
                "id": "toolu_paris",
                "name": "get_weather",
                "input": {"city": "Paris"},
            },
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 30, "output_tokens": 20},
    }
    result = parse_chat_response(body, _tools_request(CLAUDE))
    assert result.text == "Let me look."
    assert result.reasoning == "Rome first, then Paris."
    assert result.tool_calls == [_call("toolu_rome", "Rome", 3), _call("toolu_paris", "Paris")]
    assert result.finish_reason == "tool_calls"
    assert (result.id, result.model) == ("msg_01XFDUDYJgAACzvnptvVoYEL", "claude-sonnet-4-5")
    assert result.usage == Usage(30, 20, 50)


@pytest.mark.parametrize(
    ("stop_reason", "expected"), [("max_tokens", "length"), ("end_turn", "stop")]
)
def test_anthropic_message_stop_reason(stop_reason: str, expected: str) -> None:
    body = {
        "type": "message",
        "content": [{"type": "text", "text": "Hi"}],
        "stop_reason": stop_reason,
    }
    result = parse_chat_response(body, build_chat_request(CLAUDE, USER))
    assert (result.text, result.reasoning, result.finish_reason) == ("Hi", None, expected)
    assert result.model == CLAUDE


def test_a_message_typed_object_without_content_blocks_is_not_anthropic() -> None:
    # {"type": "message"} with a string "content" is not the Messages shape: read as native
    body = {"type": "message", "content": "hello", "response": "the answer"}
    assert parse_chat_response(body).text == "the answer"


# --------------------------------------------------------------------------------------
# chat.completion (§3.2.5, §4): id, model, reasoning, content parts, odd choices
# --------------------------------------------------------------------------------------


def test_chat_completion_metadata_reasoning_and_usage() -> None:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "@cf/openai/gpt-oss-20b",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hi", "reasoning": "greet back"},
                "finish_reason": "length",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }
    result = parse_chat_response(body, build_chat_request(GPT_OSS, USER))
    assert (result.text, result.reasoning, result.finish_reason) == ("Hi", "greet back", "length")
    assert (result.id, result.model, result.usage) == (
        "chatcmpl-1",
        "@cf/openai/gpt-oss-20b",
        Usage(3, 1, 4),
    )


@pytest.mark.parametrize(
    "choices",
    [[], ["not a choice"], [{"message": "not a message"}], [{"message": {"content": None}}]],
)
def test_chat_completion_without_a_readable_message_is_an_empty_answer(choices: list[Any]) -> None:
    body = {"id": "chatcmpl-2", "object": "chat.completion", "choices": choices}
    result = parse_chat_response(body, build_chat_request(LLAMA, USER))
    assert (result.text, result.reasoning, result.tool_calls) == ("", None, [])
    assert (result.finish_reason, result.id, result.model) == ("stop", "chatcmpl-2", LLAMA)


def test_content_parts_are_joined_into_the_text() -> None:
    # newer models answer content as parts (§3.1: content-part arrays)
    parts = [{"type": "text", "text": "Rome "}, {"type": "output_text", "text": "is sunny"}]
    body = {"choices": [{"message": {"content": [*parts, {"type": "text"}]}}]}
    result = parse_chat_response(body)
    assert (result.text, result.parsed) == ("Rome is sunny", None)


def test_a_list_that_is_not_text_parts_is_a_json_value() -> None:
    content = [{"type": "text", "text": "a"}, {"type": "image_url", "image_url": "https://x/a.png"}]
    result = parse_chat_response({"choices": [{"message": {"content": content}}]})
    assert (result.text, result.parsed) == (json.dumps(content, separators=(",", ":")), content)


@pytest.mark.parametrize(
    ("response", "text"),
    [(True, "true"), (False, "false"), (2.5, "2.5"), (0, "0"), ([1, 2], "[1,2]"), ({}, "{}")],
)
def test_json_mode_scalars_and_arrays_are_text_and_parsed(response: Any, text: str) -> None:
    # §3.2.4: JSON mode answers a JSON value in "response", not always an object
    result = parse_chat_response({"result": {"response": response}, "success": True})
    assert (result.text, result.parsed) == (text, response)


def test_a_bare_number_result_is_text_and_parsed() -> None:
    result = parse_chat_response({"result": 42, "success": True, "errors": []})
    assert (result.text, result.parsed, result.finish_reason) == ("42", 42, "stop")
    assert (result.reasoning, result.tool_calls, result.id) == (None, [], None)


def test_a_bare_string_result_is_the_text() -> None:
    # §3.2 item 6: Llama 3.3's output schema allows a bare string result
    result = parse_chat_response({"result": "Paris.", "success": True, "errors": []})
    assert (result.text, result.parsed, result.reasoning) == ("Paris.", None, None)
    # read like any text: JSON mode parses it, inline reasoning is split off (§10.10)
    json_mode = build_chat_request(LLAMA, USER, response_format={"type": "json_object"})
    body = {"result": '{"city": "Paris"}', "success": True, "errors": []}
    assert parse_chat_response(body, json_mode).parsed == {"city": "Paris"}
    qwq = build_chat_request("@cf/qwen/qwq-32b", USER)
    body = {"result": "Easy.\n</think>\n\nParis.", "success": True, "errors": []}
    assert (parse_chat_response(body, qwq).text, parse_chat_response(body, qwq).reasoning) == (
        "Paris.",
        "Easy.",
    )


def test_a_null_result_is_an_empty_answer() -> None:
    result = parse_chat_response({"result": None, "success": True, "errors": []})
    assert (result.text, result.parsed, result.reasoning) == ("", None, None)
    assert (result.tool_calls, result.finish_reason) == ([], "stop")


def test_native_reasoning_in_either_spelling_and_reported_finish() -> None:
    for key in ("reasoning_content", "reasoning"):
        body = {"response": "4", key: "2+2", "finish_reason": "max_tokens"}
        result = parse_chat_response(body, build_chat_request(LLAMA, USER))
        assert (result.text, result.reasoning, result.finish_reason) == ("4", "2+2", "length")
        assert (result.model, result.id) == (LLAMA, None)


def test_reasoning_that_is_not_text_is_dropped() -> None:
    result = parse_chat_response({"response": "4", "reasoning": {"steps": 2}})
    assert (result.text, result.reasoning) == ("4", None)


@pytest.mark.parametrize(
    "body",
    [
        {"object": "chat.completion", "choices": [{"message": {"content": "Hi"}}]},
        {"object": "response", "output_text": "Hi"},
        {"type": "message", "content": [{"type": "text", "text": "Hi"}]},
    ],
    ids=["chat.completion", "Responses API", "Anthropic"],
)
def test_the_answers_own_model_name_wins_over_the_requests(body: dict[str, Any]) -> None:
    # the model that answered (an alias resolved, a fallback) is what the result reports
    served = {**body, "model": "@cf/test/served-model"}
    result = parse_chat_response(served, build_chat_request(LLAMA, USER))
    assert (result.text, result.model) == ("Hi", "@cf/test/served-model")
    assert result.raw == served  # the body as it came, for what the result does not read
    assert parse_chat_response(body, build_chat_request(LLAMA, USER)).model == LLAMA
