"""Every text shape and tool-call shape of reference §3.2/§4, through the public client
against a loopback server speaking the documented wire format."""

from __future__ import annotations

import json

import pytest

from workersai import RetryPolicy, Usage, WorkersAI
from workersai.testing import Reply, WorkersAIServer

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
USER = [{"role": "user", "content": "What is the weather in London?"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a place",
        "parameters": {
            "type": "object",
            "properties": {
                "latitude": {"type": "number"},
                "longitude": {"type": "number"},
                "days": {"type": "integer"},
                "units": {"type": "string"},
                "hourly": {"type": "boolean"},
                "fields": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["latitude", "longitude"],
        },
    },
}


@pytest.fixture
def client(server: WorkersAIServer, fast_retries: RetryPolicy) -> WorkersAI:
    return WorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)


def test_classic_response_with_usage(server: WorkersAIServer, client: WorkersAI) -> None:
    # §3.2.1
    server.enqueue(
        Reply.result(
            {
                "response": "Sunny, 21°C.",
                "usage": {
                    "prompt_tokens": 12,
                    "completion_tokens": 5,
                    "total_tokens": 17,
                    "prompt_tokens_details": {"cached_tokens": 8},
                },
            }
        )
    )
    result = client.chat(LLAMA, USER)
    assert result.text == "Sunny, 21°C."
    assert result.usage is not None
    assert (
        result.usage.prompt_tokens,
        result.usage.completion_tokens,
        result.usage.total_tokens,
    ) == (12, 5, 17)
    assert result.usage.cached_tokens == 8
    assert result.finish_reason == "stop"
    assert result.tool_calls == []
    assert server.requests[0].json() == {"messages": USER}


def test_bare_string_result(server: WorkersAIServer, client: WorkersAI) -> None:
    # §3.2.6: Llama 3.3's output schema allows a bare string result
    server.enqueue(Reply.result("just text"))
    assert client.chat(LLAMA, USER).text == "just text"


@pytest.mark.parametrize(
    ("response", "text", "parsed"),
    [
        (
            {"name": "India", "capital": "New Delhi"},
            '{"name":"India","capital":"New Delhi"}',
            {"name": "India", "capital": "New Delhi"},
        ),
        (42, "42", 42),
        (None, "", None),
    ],
)
def test_response_object_number_and_null(
    server: WorkersAIServer, client: WorkersAI, response: object, text: str, parsed: object
) -> None:
    # §3.2.4 JSON mode returns an object (or a number); legacy tool calls carry null
    server.enqueue(Reply.result({"response": response}))
    result = client.chat(LLAMA, USER)
    assert json.loads(result.text or "null") == json.loads(text or "null")
    assert result.parsed == parsed


def test_legacy_tool_calls_without_id_and_string_values(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    # §3.2.2: response null, no id, argument values as strings (even JSON-encoded lists)
    server.enqueue(
        Reply.result(
            {
                "response": None,
                "tool_calls": [
                    {
                        "name": "get_weather",
                        "arguments": {
                            "latitude": "51.5074",
                            "longitude": "-0.1278",
                            "days": "3",
                            "units": "metric",
                            "hourly": "true",
                            "fields": '["temp", "wind"]',
                        },
                    }
                ],
                "usage": {"prompt_tokens": 40, "completion_tokens": 20, "total_tokens": 60},
            }
        )
    )
    result = client.chat(LLAMA, USER, tools=[WEATHER_TOOL])
    [call] = result.tool_calls
    assert call.name == "get_weather"
    assert call.id.startswith("call_") and len(call.id) == 29
    assert call.arguments == {
        "latitude": 51.5074,
        "longitude": -0.1278,
        "days": 3,
        "units": "metric",
        "hourly": True,
        "fields": ["temp", "wind"],
    }
    assert json.loads(call.raw_arguments) == call.arguments
    assert result.finish_reason == "tool_calls"
    assert result.text == ""


def test_legacy_tool_call_without_a_schema_keeps_values(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    # No tool schema known: nothing to coerce against, values stay as sent.
    server.enqueue(
        Reply.result({"response": None, "tool_calls": [{"name": "f", "arguments": {"n": "4"}}]})
    )
    [call] = client.chat(LLAMA, USER).tool_calls
    assert call.arguments == {"n": "4"}


def test_openai_tool_calls_inside_native_result(server: WorkersAIServer, client: WorkersAI) -> None:
    # §3.2.3: {id, type, function{name, arguments: JSON string}}
    server.enqueue(
        Reply.result(
            {
                "response": "",
                "tool_calls": [
                    {
                        "id": "chatcmpl-tool-4d6e8f0a1b2c3d4e5f60718293a4b5c6",
                        "type": "function",
                        "function": {
                            "name": "get_weather",
                            "arguments": '{"latitude": 51.5, "longitude": -0.12}',
                        },
                    }
                ],
            }
        )
    )
    [call] = client.chat(LLAMA, USER, tools=[WEATHER_TOOL]).tool_calls
    assert call.id == "chatcmpl-tool-4d6e8f0a1b2c3d4e5f60718293a4b5c6"
    assert call.arguments == {"latitude": 51.5, "longitude": -0.12}


def test_llama4_scout_arguments_as_object(server: WorkersAIServer, client: WorkersAI) -> None:
    # §3.2.3: Llama-4-Scout's schema declares function.arguments as an object
    server.enqueue(
        Reply.result(
            {
                "response": "",
                "tool_calls": [
                    {
                        "id": "call_a1",
                        "type": "function",
                        "function": {
                            "name": "get_weather",
                            "arguments": {"latitude": 1, "longitude": 2},
                        },
                    }
                ],
            }
        )
    )
    [call] = client.chat(
        "@cf/meta/llama-4-scout-17b-16e-instruct", USER, tools=[WEATHER_TOOL]
    ).tool_calls
    assert call.arguments == {"latitude": 1, "longitude": 2}
    assert json.loads(call.raw_arguments) == {"latitude": 1, "longitude": 2}


def test_invalid_arguments_become_invalid_tool_calls(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    server.enqueue(
        Reply.result(
            {
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"latitude": 51.5,'},
                    }
                ]
            }
        )
    )
    result = client.chat(LLAMA, USER, tools=[WEATHER_TOOL])
    assert result.tool_calls == []
    [bad] = result.invalid_tool_calls
    assert bad.name == "get_weather" and bad.raw_arguments == '{"latitude": 51.5,' and bad.error


def test_openai_chat_completion_on_ai_run_with_reasoning(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    # §3.2.5: gpt-oss returns a chat.completion object on /ai/run
    server.enqueue(
        Reply.result(
            {
                "id": "chatcmpl-abc",
                "object": "chat.completion",
                "created": 1760000000,
                "model": "@cf/openai/gpt-oss-20b",
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": "4",
                            "reasoning_content": "2+2 is 4.",
                        },
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": 70,
                    "completion_tokens": 20,
                    "total_tokens": 90,
                    "completion_tokens_details": {"reasoning_tokens": 15},
                },
            }
        )
    )
    result = client.chat("@cf/openai/gpt-oss-20b", [{"role": "user", "content": "2+2?"}])
    assert (result.text, result.reasoning, result.id, result.model) == (
        "4",
        "2+2 is 4.",
        "chatcmpl-abc",
        "@cf/openai/gpt-oss-20b",
    )
    assert result.usage is not None and result.usage.reasoning_tokens == 15


def test_openai_compatible_endpoint_has_no_envelope(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    # §1.3: /ai/v1/chat/completions answers a plain OpenAI object
    server.enqueue(
        Reply.json(
            {
                "id": "id-1760000000000",
                "object": "chat.completion",
                "model": "@cf/meta/llama-3.1-8b-instruct-fast",
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": None,
                            "tool_calls": [
                                {
                                    "id": "call_1",
                                    "type": "function",
                                    "function": {
                                        "name": "get_weather",
                                        "arguments": '{"latitude":1,"longitude":2}',
                                    },
                                }
                            ],
                        },
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
            }
        )
    )
    result = client.chat(
        "@cf/meta/llama-3.1-8b-instruct-fast",
        USER,
        endpoint="openai",
        tools=[WEATHER_TOOL],
        tool_choice="any",
    )
    request = server.requests[0]
    assert request.path == "/client/v4/accounts/acct/ai/v1/chat/completions"
    assert request.json()["model"] == "@cf/meta/llama-3.1-8b-instruct-fast"
    assert request.json()["tool_choice"] == "required"
    # cloudflare/ai#192: "stop" reported next to a tool call is corrected
    assert result.finish_reason == "tool_calls"
    assert result.tool_calls[0].arguments == {"latitude": 1, "longitude": 2}


def test_gpt_oss_forced_tool_call_leaked_as_text_is_salvaged(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    # §3.2.8 / cloudflare/ai#560: forced call comes back as JSON text, empty tool_calls, stop
    server.enqueue(
        Reply.result(
            {
                "object": "chat.completion",
                "choices": [
                    {
                        "message": {
                            "role": "assistant",
                            "content": '{"name":"get_weather","arguments":{"latitude":"48.85","longitude":2.35}}',
                            "tool_calls": [],
                        },
                        "finish_reason": "stop",
                    }
                ],
            }
        )
    )
    result = client.chat(
        "@cf/openai/gpt-oss-120b", USER, tools=[WEATHER_TOOL], tool_choice="get_weather"
    )
    assert server.requests[0].json()["tool_choice"] == {
        "type": "function",
        "function": {"name": "get_weather"},
    }
    [call] = result.tool_calls
    assert call.arguments == {"latitude": 48.85, "longitude": 2.35}
    assert result.text == "" and result.finish_reason == "tool_calls"


def test_forced_tool_bare_arguments_and_code_fences_are_salvaged(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    server.enqueue(
        Reply.result({"response": 'Sure:\n```json\n{"latitude": 1, "longitude": 2}\n```'})
    )
    result = client.chat(LLAMA, USER, tools=[WEATHER_TOOL], tool_choice="get_weather")
    assert [c.arguments for c in result.tool_calls] == [{"latitude": 1, "longitude": 2}]


def test_prose_mentioning_json_is_not_a_tool_call_when_nothing_was_forced(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    text = 'The API returns {"latitude": 1} for London.'
    server.enqueue(Reply.result({"response": text}))
    result = client.chat(LLAMA, USER, tools=[WEATHER_TOOL])
    assert result.tool_calls == [] and result.text == text


def test_llama_parameters_key_is_accepted(server: WorkersAIServer, client: WorkersAI) -> None:
    # §3.2.8: Llama sometimes writes {"name": ..., "parameters": {...}} as the whole answer
    server.enqueue(
        Reply.result(
            {
                "response": '{"name": "get_weather", "parameters": {"latitude": "1", "longitude": "2"}}'
            }
        )
    )
    [call] = client.chat(LLAMA, USER, tools=[WEATHER_TOOL]).tool_calls
    assert call.arguments == {"latitude": 1, "longitude": 2}


def test_kimi_turn_scoped_ids_are_unique_and_restored_on_the_wire(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    # cloudflare/ai#526: "functions.get_weather:0" repeats every turn
    kimi = "@cf/moonshotai/kimi-k2.6"
    answer = {
        "object": "chat.completion",
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "id": "functions.get_weather:0",
                            "type": "function",
                            "function": {
                                "name": "get_weather",
                                "arguments": '{"latitude":1,"longitude":2}',
                            },
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
    }
    server.enqueue(Reply.result(answer), Reply.result(answer), Reply.result({"response": "done"}))
    first = client.chat(kimi, USER, tools=[WEATHER_TOOL]).tool_calls[0]
    second = client.chat(kimi, USER, tools=[WEATHER_TOOL]).tool_calls[0]
    assert first.id != second.id
    assert first.id.startswith("functions.get_weather:0")
    history = [
        *USER,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": first.id,
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": first.raw_arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": first.id, "content": "sunny"},
    ]
    client.chat(kimi, history, tools=[WEATHER_TOOL])
    sent = server.requests[2].json()["messages"]
    assert sent[1] == {
        "role": "assistant",
        "content": "",  # §2.3: null content is rejected
        "tool_calls": [
            {
                "id": "functions.get_weather:0",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"latitude":1,"longitude":2}'},
            }
        ],
    }
    assert sent[2] == {
        "role": "tool",
        "tool_call_id": "functions.get_weather:0",
        "content": "sunny",
    }


def test_responses_api_object(server: WorkersAIServer, client: WorkersAI) -> None:
    # §5: gpt-oss Responses output
    server.enqueue(
        Reply.result(
            {
                "id": "resp_1",
                "object": "response",
                "output": [
                    {
                        "type": "reasoning",
                        "content": [{"type": "reasoning_text", "text": "thinking"}],
                    },
                    {
                        "type": "message",
                        "content": [{"type": "output_text", "text": "Open source is great."}],
                    },
                ],
                "usage": {"input_tokens": 9, "output_tokens": 6, "total_tokens": 15},
            }
        )
    )
    result = client.chat("@cf/openai/gpt-oss-120b", prompt="Talk to me about open source")
    assert (result.text, result.reasoning) == ("Open source is great.", "thinking")
    assert result.usage is not None and result.usage.prompt_tokens == 9


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        ("model_length", "length"),
        ("length", "length"),
        # "tool_calls" with no call in the answer is its text (cloudflare/ai#561, §10.5)
        ("tool_calls", "stop"),
        ("eos", "stop"),
    ],
)
def test_finish_reasons_are_normalised(
    server: WorkersAIServer, client: WorkersAI, reported: str, expected: str
) -> None:
    server.enqueue(Reply.result({"response": "x", "finish_reason": reported}))
    assert client.chat(LLAMA, USER).finish_reason == expected


def test_length_is_inferred_when_completion_hits_max_tokens(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    server.enqueue(
        Reply.result(
            {
                "response": "a b c",
                "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6},
            }
        )
    )
    assert client.chat(LLAMA, USER, max_tokens=3).finish_reason == "length"


def test_gateway_cache_status_is_surfaced(server: WorkersAIServer, client: WorkersAI) -> None:
    server.enqueue(
        Reply.result(
            {"response": "cached"}, headers={"cf-aig-cache-status": "HIT", "cf-aig-log-id": "log-1"}
        )
    )
    assert client.chat(LLAMA, USER).gateway == {"cache_status": "HIT", "log_id": "log-1"}


def test_success_false_with_http_200_is_an_error(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    from workersai import APIError

    server.enqueue(
        Reply.json(
            {
                "result": None,
                "success": False,
                "errors": [{"code": 5006, "message": "AiError: Bad input"}],
                "messages": [],
            }
        )
    )
    with pytest.raises(APIError) as info:
        client.chat(LLAMA, USER)
    assert info.value.code == 5006


JSON_MODE = {"type": "json_object"}


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "India", "capital": "New Delhi"}',
        '```json\n{"name": "India", "capital": "New Delhi"}\n```',
        '  ```\n{"name": "India", "capital": "New Delhi"}\n```  ',
    ],
)
def test_json_mode_text_answers_are_parsed_fences_included(
    server: WorkersAIServer, client: WorkersAI, text: str
) -> None:
    # §3.2.4 says JSON mode answers an object; models on the OpenAI-shaped path (and some
    # native ones) send it as text instead, often in a Markdown code fence.
    server.enqueue(Reply.result({"response": text}))
    result = client.chat(LLAMA, USER, response_format=JSON_MODE)
    assert result.text == text  # the text stays what the model wrote
    assert result.parsed == {"name": "India", "capital": "New Delhi"}


def test_json_mode_parse_on_the_openai_endpoint_and_in_a_replayed_stream(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    answer = {
        "id": "id-1",
        "object": "chat.completion",
        "model": LLAMA,
        "choices": [
            {"index": 0, "message": {"content": '```json\n{"a": 1}\n```'}, "finish_reason": "stop"}
        ],
    }
    server.enqueue(Reply.json(answer), Reply.json(answer))
    assert client.chat(LLAMA, USER, endpoint="openai", response_format=JSON_MODE).parsed == {"a": 1}
    with client.stream_chat(LLAMA, USER, endpoint="openai", response_format=JSON_MODE) as stream:
        list(stream)
    assert "stream" not in server.requests[1].json()  # JSON mode cannot stream (§3.2.4)
    assert stream.result().parsed == {"a": 1}


@pytest.mark.parametrize(
    ("response_format", "text"),
    [
        (None, '{"a": 1}'),  # not JSON mode: text that looks like JSON stays text
        (JSON_MODE, "Sorry, I cannot answer in JSON."),
        (JSON_MODE, '```json\n{"a": 1\n```'),
    ],
)
def test_text_that_is_not_a_json_answer_is_not_parsed(
    server: WorkersAIServer, client: WorkersAI, response_format: object, text: str
) -> None:
    server.enqueue(Reply.result({"response": text}))
    options = {"response_format": response_format} if response_format else {}
    result = client.chat(LLAMA, USER, **options)
    assert result.text == text
    assert result.parsed is None


def test_usage_counts_sent_as_unicode_digits_are_ignored_not_a_crash() -> None:
    # "¹" passes str.isdigit() but int() refuses it (found by tests/core/test_fuzz.py)
    usage = Usage.from_wire({"prompt_tokens": "¹", "completion_tokens": "3"})
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (0, 3, 3)
