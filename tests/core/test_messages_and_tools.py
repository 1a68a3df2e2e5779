"""Outgoing messages and tools: the wire rules of reference §2.3/§3.1/§8.2, tool definitions,
tool_choice, $ref inlining, argument coercion, and the LoRA/raw prompt branch."""

from __future__ import annotations

import base64

import pytest

from workersai import InvalidInputError, RetryPolicy, WorkersAI
from workersai._messages import prepare_messages, render_prompt
from workersai._tools import coerce_arguments, inline_refs, normalize_tool_choice, normalize_tools
from workersai.models import get_model_info
from workersai.testing import Reply, WorkersAIServer

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
SCOUT = "@cf/meta/llama-4-scout-17b-16e-instruct"
PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
DATA_URI = "data:image/png;base64," + base64.b64encode(PNG_1PX).decode()


def test_null_content_becomes_empty_string_and_ids_are_kept() -> None:
    wire = prepare_messages(
        [
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "abc123", "name": "get_weather", "args": {"city": "Paris"}}],
            },
            {
                "role": "tool",
                "tool_call_id": "abc123",
                "content": [{"type": "text", "text": '{"temp": 21}'}],
            },
        ],
        get_model_info(LLAMA),
    )
    assert wire[1] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "abc123",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            }
        ],
    }
    assert wire[2] == {"role": "tool", "content": '{"temp": 21}', "tool_call_id": "abc123"}


def test_text_parts_are_joined_for_text_only_models() -> None:
    # 5006 "'array' not in 'string'" otherwise (§2.3)
    wire = prepare_messages(
        [{"role": "user", "content": [{"type": "text", "text": "a"}, "b"]}], get_model_info(LLAMA)
    )
    assert wire == [{"role": "user", "content": "a\nb"}]


def test_images_need_a_vision_model_and_data_uris() -> None:
    message = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": DATA_URI}},
            ],
        }
    ]
    assert prepare_messages(message, get_model_info(SCOUT))[0]["content"][1] == {
        "type": "image_url",
        "image_url": {"url": DATA_URI},
    }
    with pytest.raises(InvalidInputError, match="does not accept images") as info:
        prepare_messages(message, get_model_info(LLAMA))
    assert info.value.hint is not None and "llama-4-scout" in info.value.hint
    with pytest.raises(InvalidInputError, match="base64 data URIs"):
        prepare_messages(
            [{"role": "user", "content": [{"type": "image_url", "image_url": "ftp://x/y.png"}]}],
            get_model_info(SCOUT),
        )


def test_system_messages_are_merged_first() -> None:
    wire = prepare_messages(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
            {"role": "system", "content": [{"type": "text", "text": "Answer in French."}]},
            {"role": "assistant", "content": "salut"},
        ],
        None,
    )
    assert wire == [
        {"role": "system", "content": "Be brief.\n\nAnswer in French."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "salut"},
    ]


@pytest.mark.parametrize(
    ("messages", "match"),
    [
        ([], "must not be empty"),
        ([{"content": "no role"}], "has no role"),
        ([{"role": "tool", "content": "x"}], "tool_call_id"),
        (
            [{"role": "user", "content": [{"type": "audio", "data": "..."}]}],
            "unsupported content part",
        ),
        (
            [
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [{"id": "x", "function": {"arguments": "{}"}}],
                }
            ],
            "without a name",
        ),
    ],
)
def test_bad_messages_are_clear_errors(messages: list, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        prepare_messages(messages, None)


@pytest.mark.usefixtures("loopback_images")
def test_remote_image_urls_are_fetched_and_inlined_without_the_token(
    server: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    image_host = WorkersAIServer(lambda r: Reply.binary(PNG_1PX, "image/png")).start()
    try:
        url = f"http://127.0.0.1:{image_host.port}/cat.png"
        server.enqueue(Reply.result({"response": "a cat"}))
        client = WorkersAI(
            "acct", "secret-token", base_url=server.base_url, retry_policy=fast_retries
        )
        client.chat(
            SCOUT,
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "?"},
                        {"type": "image_url", "image_url": {"url": url}},
                    ],
                }
            ],
        )
        sent = server.requests[0].json()["messages"][0]["content"][1]
        assert sent == {"type": "image_url", "image_url": {"url": DATA_URI}}
        [fetch] = image_host.requests
        assert fetch.method == "GET" and "authorization" not in fetch.headers
    finally:
        image_host.stop()


@pytest.mark.usefixtures("loopback_images")
def test_a_remote_non_image_is_rejected_before_the_model_is_called(server: WorkersAIServer) -> None:
    image_host = WorkersAIServer(
        lambda r: Reply(200, {"content-type": "text/html"}, b"<html/>")
    ).start()
    try:
        client = WorkersAI("acct", "tok", base_url=server.base_url)
        with pytest.raises(InvalidInputError, match="is not an image"):
            client.chat(
                SCOUT,
                [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "image_url",
                                "image_url": {"url": f"http://127.0.0.1:{image_host.port}/x"},
                            }
                        ],
                    }
                ],
            )
        assert server.requests == []
    finally:
        image_host.stop()


# -- tools -------------------------------------------------------------------------------


def test_tools_are_normalised_and_refs_inlined() -> None:
    pydantic_style = {
        "type": "function",
        "function": {
            "name": "add_person",
            "description": "Add a person",
            "parameters": {
                "$defs": {
                    "Address": {"type": "object", "properties": {"city": {"type": "string"}}}
                },
                "type": "object",
                "properties": {
                    "home": {"$ref": "#/$defs/Address", "description": "Where they live"},
                    "age": {"type": "integer"},
                },
            },
        },
    }
    legacy = {"name": "ping", "parameters": {"type": "object", "properties": {}}}
    tools = normalize_tools([pydantic_style, legacy])
    assert tools[0]["function"]["parameters"] == {
        "type": "object",
        "properties": {
            "home": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "description": "Where they live",
            },
            "age": {"type": "integer"},
        },
    }
    assert tools[1] == {
        "type": "function",
        "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}},
    }


def test_recursive_refs_are_rejected() -> None:
    with pytest.raises(InvalidInputError, match="recursive"):
        inline_refs(
            {
                "$defs": {
                    "Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}
                },
                "$ref": "#/$defs/Node",
            }
        )


def test_duplicate_tool_names_are_rejected() -> None:
    with pytest.raises(InvalidInputError, match="unique"):
        normalize_tools([{"name": "a"}, {"type": "function", "function": {"name": "a"}}])


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        ("any", "required"),
        (True, {"type": "function", "function": {"name": "only"}}),
        ("only", {"type": "function", "function": {"name": "only"}}),
        (
            {"type": "function", "function": {"name": "only"}},
            {"type": "function", "function": {"name": "only"}},
        ),
        (None, None),
        (False, None),
    ],
)
def test_tool_choice_mapping(choice: object, expected: object) -> None:
    assert normalize_tool_choice(choice, ["only"]) == expected


def test_tool_choice_true_with_several_tools_is_required_and_unknown_names_fail() -> None:
    assert normalize_tool_choice(True, ["a", "b"]) == "required"
    with pytest.raises(InvalidInputError, match="neither"):
        normalize_tool_choice("c", ["a", "b"])


def test_argument_coercion_follows_the_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer"},
            "x": {"anyOf": [{"type": "number"}, {"type": "null"}]},
            "flag": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "integer"}},
            "name": {"type": "string"},
            "nested": {"type": "object", "properties": {"k": {"type": "integer"}}},
        },
    }
    raw = {
        "n": "4",
        "x": "2.5",
        "flag": "false",
        "tags": '[1, "2"]',
        "name": 1054,
        "nested": {"k": "7"},
        "extra": "keep",
    }
    assert coerce_arguments(raw, schema) == {
        "n": 4,
        "x": 2.5,
        "flag": False,
        "tags": [1, 2],
        "name": "1054",
        "nested": {"k": 7},
        "extra": "keep",
    }
    # values that do not parse to the declared type stay as sent
    assert coerce_arguments({"n": "four"}, schema) == {"n": "four"}


def test_tools_and_choice_on_the_wire(server: WorkersAIServer) -> None:
    server.enqueue(Reply.result({"response": "ok"}))
    WorkersAI("acct", "tok", base_url=server.base_url).chat(
        LLAMA,
        [{"role": "user", "content": "hi"}],
        tools=[{"name": "ping", "description": "Ping"}],
        tool_choice="any",
    )
    body = server.requests[0].json()
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "ping",
                "parameters": {"type": "object", "properties": {}},
                "description": "Ping",
            },
        }
    ]
    assert body["tool_choice"] == "required"


def test_json_schema_response_format_is_bare_on_native_and_an_envelope_on_openai(
    server: WorkersAIServer,
) -> None:
    # examples/json_mode_json_schema_response_is_object.json: native wants the bare schema
    schema = {
        "$defs": {"L": {"type": "string"}},
        "type": "object",
        "properties": {"lang": {"$ref": "#/$defs/L"}},
    }
    envelope = {
        "type": "json_schema",
        "json_schema": {"name": "Country", "schema": schema, "strict": True},
    }
    server.enqueue(
        Reply.result({"response": {"lang": "hi"}}),
        Reply.json(
            {"choices": [{"message": {"content": '{"lang":"hi"}'}, "finish_reason": "stop"}]}
        ),
    )
    client = WorkersAI("acct", "tok", base_url=server.base_url)
    client.chat(LLAMA, [{"role": "user", "content": "x"}], response_format=envelope)
    client.chat(
        LLAMA, [{"role": "user", "content": "x"}], response_format=envelope, endpoint="openai"
    )
    inlined = {"type": "object", "properties": {"lang": {"type": "string"}}}
    assert server.requests[0].json()["response_format"] == {
        "type": "json_schema",
        "json_schema": {**inlined, "title": "Country"},  # the name kept (§10.6)
    }
    assert server.requests[1].json()["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "Country", "schema": inlined, "strict": True},
    }


# -- prompt branch (LoRA / raw) ------------------------------------------------------------

CONVERSATION = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello."},
    {"role": "user", "content": "Name a colour."},
]


def test_lora_uses_the_prompt_branch(server: WorkersAIServer) -> None:
    server.enqueue(Reply.result({"response": "Blue."}))
    WorkersAI("acct", "tok", base_url=server.base_url).chat(
        "@cf/mistral/mistral-7b-instruct-v0.2-lora", CONVERSATION, lora="my-adapter", max_tokens=20
    )
    body = server.requests[0].json()
    assert "messages" not in body and body["lora"] == "my-adapter" and body["max_tokens"] == 20
    assert (
        body["prompt"]
        == "System: You are terse.\n\nUser: Hi\n\nAssistant: Hello.\n\nUser: Name a colour.\n\nAssistant:"
    )


def test_single_turn_prompt_is_sent_as_is() -> None:
    assert render_prompt([{"role": "user", "content": "Hi"}], LLAMA, raw=False) == "Hi"


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (
            LLAMA,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nName a colour.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
        ),
        (
            "@cf/mistral/mistral-7b-instruct-v0.2-lora",
            "<s>[INST] You are terse.\n\nHi [/INST] Hello. </s><s>[INST] Name a colour. [/INST]",
        ),
        (
            "@cf/meta/llama-2-7b-chat-fp16",
            "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi [/INST] Hello. </s><s>[INST] Name a colour. [/INST]",
        ),
        (
            "@cf/google/gemma-7b-it-lora",
            "<start_of_turn>user\nYou are terse.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n<start_of_turn>user\nName a colour.<end_of_turn>\n<start_of_turn>model\n",
        ),
        (
            "@cf/qwen/qwen2.5-coder-32b-instruct",
            "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nName a colour.<|im_end|>\n<|im_start|>assistant\n",
        ),
    ],
)
def test_raw_prompts_use_the_family_template(model: str, expected: str) -> None:
    assert render_prompt(CONVERSATION, model, raw=True) == expected


def test_raw_request_on_the_wire(server: WorkersAIServer) -> None:
    server.enqueue(Reply.result({"response": "Blue."}))
    WorkersAI("acct", "tok", base_url=server.base_url).chat(LLAMA, CONVERSATION, raw=True)
    body = server.requests[0].json()
    assert body["raw"] is True and body["prompt"].startswith("<|begin_of_text|>")


def test_lora_needs_the_native_endpoint() -> None:
    with pytest.raises(InvalidInputError, match="native endpoint"):
        WorkersAI("acct", "tok").chat(LLAMA, CONVERSATION, lora="x", endpoint="openai")


def _wire_arguments(arguments: object) -> object:
    wire = prepare_messages(
        [
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": arguments},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        ],
        get_model_info(LLAMA),
    )
    return wire[1]["tool_calls"][0]["function"]["arguments"]


@pytest.mark.parametrize(
    ("arguments", "sent"),
    [
        ('{"city": "Paris"}', '{"city": "Paris"}'),  # valid JSON text goes byte for byte
        ({"city": "Paris"}, '{"city":"Paris"}'),
        ('{"city": Paris', "{}"),  # what the model sent, unparseable
        ("", "{}"),
        ("null", "{}"),
        ('["Paris"]', "{}"),  # JSON, but not an object
        ('"{\\"city\\": \\"Paris\\"}"', '{"city":"Paris"}'),  # double-encoded
    ],
)
def test_tool_call_arguments_in_history_are_always_a_json_object(
    arguments: object, sent: str
) -> None:
    # "Assistant tool call function.arguments must be valid JSON." (400, per reference §2.3)
    assert _wire_arguments(arguments) == sent
