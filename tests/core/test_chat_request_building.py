"""``build_chat_request`` as a whole: the route, the body (only what was set, §3.1), the
streaming flags of each endpoint (§3.3, §4), what the answer will be read with (tool
schemas, the forced tool, JSON mode, ``max_tokens``) and the bad input refused before any
request."""

from __future__ import annotations

from typing import Any

import pytest

from workersai._chat import ChatRequest, build_chat_request
from workersai.errors import InvalidInputError

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
LORA_BASE = "@cf/mistral/mistral-7b-instruct-v0.2-lora"
EMBEDDER = "@cf/baai/bge-base-en-v1.5"
USER = [{"role": "user", "content": "Hello"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def test_native_defaults() -> None:
    assert build_chat_request(LLAMA, USER) == ChatRequest(
        model=LLAMA,
        endpoint="native",
        route=f"run/{LLAMA}",
        body={"messages": USER},
        stream=False,
        json_mode=False,
        tool_schemas={},
        forced=False,
        max_tokens=256,  # the catalog's default (§3.1): what "length" is inferred against
    )


def test_native_stream_sends_stream_without_stream_options() -> None:
    request = build_chat_request(LLAMA, USER, stream=True, params={"max_tokens": 64})
    assert (request.stream, request.route, request.max_tokens) == (True, f"run/{LLAMA}", 64)
    assert request.body == {"messages": USER, "max_tokens": 64, "stream": True}


def test_openai_stream_names_the_model_and_asks_for_usage() -> None:
    # §4: stream_options.include_usage was sent in every recording
    request = build_chat_request(
        LLAMA,
        USER,
        endpoint="openai",
        stream=True,
        params={"temperature": 0.2, "top_p": None, "stop": []},  # unset and empty: not sent
    )
    assert (request.endpoint, request.route, request.stream) == (
        "openai",
        "v1/chat/completions",
        True,
    )
    assert request.body == {
        "messages": USER,
        "temperature": 0.2,
        "model": LLAMA,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_openai_unstreamed_has_no_stream_fields() -> None:
    request = build_chat_request(LLAMA, USER, endpoint="openai", params={"stop": ["\n\n"]})
    assert request.body == {"messages": USER, "stop": ["\n\n"], "model": LLAMA}
    assert request.stream is False


def test_a_short_name_is_resolved_to_the_full_id() -> None:
    request = build_chat_request("llama-3.3-70b-instruct-fp8-fast", USER)
    assert (request.model, request.route) == (LLAMA, f"run/{LLAMA}")


def test_an_unknown_model_has_no_default_max_tokens() -> None:
    request = build_chat_request("@cf/acme/brand-new-model", USER)
    assert (request.model, request.max_tokens) == ("@cf/acme/brand-new-model", None)


def test_prompt_lora_and_raw_use_the_prompt_branch() -> None:
    # §3.1: lora and raw belong to the Prompt branch
    assert build_chat_request(LLAMA, prompt="Hi").body == {"prompt": "Hi"}
    request = build_chat_request(LORA_BASE, USER, lora="my-adapter")
    assert request.body == {"prompt": "Hello", "lora": "my-adapter"}
    raw = build_chat_request(LLAMA, prompt="<|begin_of_text|>Hi", raw=True).body
    assert raw == {"prompt": "<|begin_of_text|>Hi", "raw": True}
    templated = build_chat_request(LLAMA, USER, raw=True).body
    assert templated["raw"] is True and templated["prompt"].startswith("<|begin_of_text|>")
    assert "raw" not in build_chat_request(LLAMA, prompt="Hi", raw=False).body


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: build_chat_request(LLAMA, USER, endpoint="azure"), "endpoint"),  # type: ignore[arg-type]
        (lambda: build_chat_request(LLAMA, USER, prompt="Hi"), "prompt"),
        (lambda: build_chat_request(LLAMA), "messages"),
        (lambda: build_chat_request(LLAMA, prompt="Hi", endpoint="openai"), "endpoint"),
        (lambda: build_chat_request(LLAMA, USER, lora="x", endpoint="openai"), "endpoint"),
        (lambda: build_chat_request(LLAMA, USER, raw=True, endpoint="openai"), "endpoint"),
        (lambda: build_chat_request(EMBEDDER, USER), "model"),
    ],
)
def test_bad_input_is_refused_before_any_request(call: Any, field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        call()
    assert info.value.field == field


def test_a_model_of_another_task_is_named_with_a_chat_model_to_use() -> None:
    with pytest.raises(InvalidInputError) as info:
        build_chat_request(EMBEDDER, USER)
    assert f"{EMBEDDER} is a Text Embeddings model" in str(info.value)
    assert info.value.hint is not None and LLAMA in info.value.hint


@pytest.mark.parametrize(
    ("tool_choice", "sent", "forced"),
    [
        (None, None, False),
        (False, None, False),
        ("auto", "auto", False),
        ("required", "required", True),
        ("get_weather", {"type": "function", "function": {"name": "get_weather"}}, "get_weather"),
    ],
)
def test_tools_and_tool_choice(tool_choice: Any, sent: Any, forced: str | bool) -> None:
    request = build_chat_request(LLAMA, USER, tools=[WEATHER], tool_choice=tool_choice)
    assert request.body["tools"] == [WEATHER]
    assert request.body.get("tool_choice") == sent
    assert ("tool_choice" in request.body) == (sent is not None)
    assert request.forced == forced
    assert request.tool_schemas == {"get_weather": WEATHER["function"]["parameters"]}


def test_no_tools_sends_no_tools() -> None:
    request = build_chat_request(LLAMA, USER, tools=[])
    assert "tools" not in request.body and request.tool_schemas == {}


@pytest.mark.parametrize(
    ("response_format", "json_mode", "streams"),
    [
        ({"type": "json_object"}, True, False),  # JSON mode cannot stream (§3.2.4, 5023)
        ({"type": "json_schema", "json_schema": {"type": "object"}}, True, False),
        ({"type": "text"}, False, True),
    ],
)
def test_json_mode_is_sent_unstreamed(
    response_format: dict[str, Any], json_mode: bool, streams: bool
) -> None:
    request = build_chat_request(LLAMA, USER, stream=True, response_format=response_format)
    assert request.body["response_format"] == response_format
    assert (request.json_mode, request.stream) == (json_mode, streams)
    assert ("stream" in request.body) == streams


def test_reject_if_busy_is_merged_into_the_callers_options() -> None:
    request = build_chat_request(
        LLAMA, USER, reject_if_busy=True, params={"options": {"returnRawResponse": True}}
    )
    assert request.body["options"] == {"returnRawResponse": True, "rejectIfBusy": True}
    assert build_chat_request(LLAMA, USER, reject_if_busy=True).body["options"] == {
        "rejectIfBusy": True
    }
    assert "options" not in build_chat_request(LLAMA, USER).body


# --------------------------------------------------------------------------------------
# response_format (§3.1, §10.6)
# --------------------------------------------------------------------------------------


def _sent_format(response_format: Any, model: str = LLAMA, endpoint: Any = "native") -> Any:
    request = build_chat_request(model, USER, endpoint=endpoint, response_format=response_format)
    return request.body["response_format"]


def test_a_response_format_that_is_not_a_mapping_names_what_it_got() -> None:
    with pytest.raises(InvalidInputError) as info:
        build_chat_request(LLAMA, USER, response_format=["json_object"])  # type: ignore[arg-type]
    assert info.value.field == "response_format"
    assert "got list" in str(info.value)


def test_a_bare_schema_without_a_type_keyword_is_still_a_bare_schema() -> None:
    # only {schema: {...}} without "type" is the OpenAI envelope
    schema = {"anyOf": [{"type": "string"}, {"type": "integer"}]}
    rf = {"type": "json_schema", "json_schema": schema}
    assert _sent_format(rf) == rf
    assert _sent_format(rf, endpoint="openai") == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": schema},
    }


def test_nothing_is_lifted_out_of_a_bare_schema_into_the_envelope() -> None:
    # a bare schema (it has "type") is sent whole: its own keys — even envelope-like ones,
    # and a "schema" property keyword — are not the envelope's
    schema = {
        "type": "object",
        "description": "A city",
        "name": "City",
        "strict": True,
        "schema": {"type": "string"},
        "properties": {"name": {"type": "string"}},
    }
    rf = {"type": "json_schema", "json_schema": schema}
    assert _sent_format(rf) == rf
    assert _sent_format(rf, endpoint="openai") == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": schema},
    }


@pytest.mark.parametrize("description", ["", None, 8])
@pytest.mark.parametrize("name", ["", None, 7])
def test_an_envelope_without_a_usable_name_or_description(name: Any, description: Any) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    envelope = {"name": name, "description": description, "schema": schema, "strict": None}
    rf = {"type": "json_schema", "json_schema": envelope}
    # native: nothing to fold in (§10.6)
    assert _sent_format(rf) == {"type": "json_schema", "json_schema": schema}
    # OpenAI needs a name: "response" stands in; an empty description and a null strict
    # are left out
    assert _sent_format(rf, endpoint="openai") == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": schema},
    }


def test_an_envelopes_strict_false_is_kept() -> None:
    schema = {"type": "object"}
    rf = {"type": "json_schema", "json_schema": {"name": "X", "schema": schema, "strict": False}}
    assert _sent_format(rf, endpoint="openai")["json_schema"] == {
        "name": "X",
        "schema": schema,
        "strict": False,
    }
