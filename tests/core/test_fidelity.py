"""Shapes other Workers AI clients met (issues 16 and 17), each handled once in the core.

Every test names the shape's source: a thread of cloudflare/ai (Cloudflare's own TypeScript
providers), another client's issue, or a section of the wire reference (``docs/
workers-ai-api.md`` §10 collects them). The answers are scripted on the loopback server in
those exact shapes, and read through the public client.
"""

from __future__ import annotations

import json
import logging
from datetime import date
from typing import Any

import pytest

from workersai import (
    APIError,
    AsyncWorkersAI,
    AuthenticationError,
    BadRequestError,
    CapacityExceededError,
    ChatChunk,
    ContentFlaggedError,
    ContextLengthExceededError,
    DailyLimitExceededError,
    InternalServerError,
    InvalidInputError,
    ModelInputError,
    ModelRetiredError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    RetryPolicy,
    StreamTruncatedError,
    UnexpectedResponseError,
    Usage,
    WorkersAI,
)
from workersai.models import (
    ModelCatalog,
    ModelInfo,
    Retirement,
    get_catalog,
    get_model_info,
    resolve_model,
    suggest_models,
    warn_if_retired,
)
from workersai.testing import Reply, WorkersAIServer, envelope

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
GLM = "@cf/zai-org/glm-4.7-flash"
GPT_OSS = "@cf/openai/gpt-oss-120b"
GEMMA = "@cf/google/gemma-4-26b-a4b-it"
USER = [{"role": "user", "content": "What is on today?"}]


def _tool(name: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": name.replace("_", " "),
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


SEARCH = _tool(
    "search_events",
    {"date_from": {"type": "string"}, "date_to": {"type": "string"}},
    ["date_from"],
)
READ = _tool("read_skill_resource", {"path": {"type": "string"}}, ["path"])
WEATHER = _tool(
    "get_weather", {"latitude": {"type": "number"}, "longitude": {"type": "number"}}, ["latitude"]
)


@pytest.fixture
def client(server: WorkersAIServer, fast_retries: RetryPolicy) -> WorkersAI:
    return WorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)


@pytest.fixture
def aclient(server: WorkersAIServer, fast_retries: RetryPolicy) -> AsyncWorkersAI:
    return AsyncWorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)


def _final(chunks: list[ChatChunk]) -> ChatChunk:
    assert chunks[-1].is_final and all(not c.is_final for c in chunks[:-1])
    return chunks[-1]


def _delta(call: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    """An OpenAI-shaped stream chunk carrying one tool-call delta (GLM on /ai/run)."""
    return {
        "id": "id-1778000000000",
        "object": "chat.completion.chunk",
        "model": GLM,
        "choices": [{"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": finish}],
    }


def _completion(content: str, finish: str = "stop", **message: Any) -> dict[str, Any]:
    return {
        "id": "id-1778000000001",
        "object": "chat.completion",
        "model": GPT_OSS,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, **message},
                "finish_reason": finish,
            }
        ],
        "usage": {"prompt_tokens": 50, "completion_tokens": 12, "total_tokens": 62},
    }


# ==============================================================================================
# Issue 17.1 — tool-call arguments that stream before the tool's name (cloudflare/ai#523)
# ==============================================================================================

STREAM_END = {
    "id": "id-1778000000000",
    "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}],
    "usage": {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70},
}


def test_arguments_before_the_name_are_kept_with_the_server_id(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    # cloudflare/ai#523 (GLM, QwQ): the first delta has the id and an argument fragment but no
    # name; the name comes with the rest of the arguments.
    server.enqueue(
        Reply.sse(
            [
                _delta(
                    {
                        "index": 0,
                        "id": "chatcmpl-tool-8c44c406fd8e4882",
                        "type": "function",
                        "function": {"arguments": '{"date_from": "2026-05-05"'},
                    }
                ),
                _delta(
                    {
                        "index": 0,
                        "function": {
                            "name": "search_events",
                            "arguments": ', "date_to": "2026-05-05"}',
                        },
                    }
                ),
                STREAM_END,
            ]
        )
    )
    with client.stream_chat(GLM, USER, tools=[SEARCH]) as stream:
        chunks = list(stream)
        result = stream.result()
    [first, *rest] = [c for chunk in chunks for c in chunk.tool_calls]
    # The call's first chunk carries the id, the name and every fragment that came before it.
    assert (first.id, first.name) == ("chatcmpl-tool-8c44c406fd8e4882", "search_events")
    assert first.arguments + "".join(c.arguments for c in rest) == (
        '{"date_from": "2026-05-05", "date_to": "2026-05-05"}'
    )
    assert all(c.id is None and c.name is None for c in rest)
    [call] = result.tool_calls
    assert call.id == "chatcmpl-tool-8c44c406fd8e4882"
    assert call.arguments == {"date_from": "2026-05-05", "date_to": "2026-05-05"}
    assert result.invalid_tool_calls == [] and _final(chunks).finish_reason == "tool_calls"


async def test_arguments_before_a_name_that_comes_last_are_not_lost(
    server: WorkersAIServer, aclient: AsyncWorkersAI
) -> None:
    # cloudflare/ai#523 variant: the whole arguments first, then the id and name with "".
    server.enqueue(
        Reply.sse(
            [
                _delta({"index": 0, "function": {"arguments": '{"date_from": "2026-05-05"}'}}),
                _delta(
                    {
                        "index": 0,
                        "id": "chatcmpl-tool-1",
                        "type": "function",
                        "function": {"name": "search_events", "arguments": ""},
                    }
                ),
                STREAM_END,
            ]
        )
    )
    stream = await aclient.stream_chat(GLM, USER, tools=[SEARCH])
    result = await stream.result()
    [call] = result.tool_calls
    assert (call.id, call.arguments) == ("chatcmpl-tool-1", {"date_from": "2026-05-05"})


def test_arguments_whose_name_never_comes_are_an_invalid_call(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    server.enqueue(
        Reply.sse(
            [_delta({"index": 0, "function": {"arguments": '{"date_from": "x"}'}}), STREAM_END]
        )
    )
    with client.stream_chat(GLM, USER, tools=[SEARCH]) as stream:
        assert all(not chunk.tool_calls for chunk in stream)
        result = stream.result()
    [invalid] = result.invalid_tool_calls
    assert invalid.raw_arguments == '{"date_from": "x"}' and "never named" in (invalid.error or "")
    assert result.tool_calls == []


# ==============================================================================================
# Issue 17.2 / 16 — tool calls written as JSON text (cloudflare/ai#560, #574)
# ==============================================================================================


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
def test_flat_arguments_beside_the_name_are_the_arguments(
    server: WorkersAIServer, client: WorkersAI, stream: bool
) -> None:
    # cloudflare/ai#574 (gpt-oss): a forced call as text, its arguments beside "name".
    text = '{"name": "read_skill_resource", "path": "feedback.txt"}'
    server.enqueue(Reply.result(_completion(text, tool_calls=[])))
    options: dict[str, Any] = {"tools": [READ], "tool_choice": "read_skill_resource"}
    if stream:  # gpt-oss answers a stream request with JSON: replayed as a stream (§3.3)
        with client.stream_chat(GPT_OSS, USER, **options) as chat_stream:
            chunks = list(chat_stream)
            result = chat_stream.result()
        assert [c.name for chunk in chunks for c in chunk.tool_calls] == ["read_skill_resource"]
    else:
        result = client.chat(GPT_OSS, USER, **options)
    [call] = result.tool_calls
    assert (call.name, call.arguments) == ("read_skill_resource", {"path": "feedback.txt"})
    assert result.text == "" and result.finish_reason == "tool_calls"


def test_flat_arguments_streamed_as_text_are_salvaged(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    # The same leak streamed as content deltas (cloudflare/ai#574, OpenAI-shaped stream).
    text = '{"name": "search_events", "date_from": "2026-01-01"}'
    server.enqueue(
        Reply.sse(
            [
                {"choices": [{"index": 0, "delta": {"content": text[:20]}}]},
                {"choices": [{"index": 0, "delta": {"content": text[20:]}}]},
                {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            ]
        )
    )
    with client.stream_chat(GPT_OSS, USER, tools=[SEARCH], tool_choice="search_events") as s:
        chunks = list(s)
        result = s.result()
    assert "".join(c.text for c in chunks) == ""  # the JSON never reached the caller as text
    [call] = result.tool_calls
    assert call.arguments == {"date_from": "2026-01-01"}


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            '{"name": "analysis", "text": "The user wants events."}', id="harmony-channel"
        ),
        pytest.param('{"name": "delete_everything", "arguments": {}}', id="unknown-tool"),
        pytest.param('{"date_to": "2026-01-01"}', id="required-key-missing"),
        pytest.param('{"date_from": "2026-01-01", "mood": "happy"}', id="foreign-key"),
        pytest.param(
            '{"name": "search_events", "arguments": {"date_from": {"day": 5}}}', id="wrong-type"
        ),
        pytest.param(
            '{"name": "search_events", "arguments": {"when": "x"}}', id="named-not-fitting"
        ),
    ],
)
def test_json_text_that_is_not_a_call_of_a_bound_tool_stays_text(
    server: WorkersAIServer, client: WorkersAI, text: str
) -> None:
    # Issue 17.2 / 16: with a forced tool, any JSON object used to become its call. Only an
    # object naming a bound tool, or whose keys fit the forced tool's schema, with arguments
    # that fit the schema, is a call (cloudflare/ai#574: harmony leaks such as "analysis").
    server.enqueue(Reply.result(_completion(text, tool_calls=[])))
    result = client.chat(GPT_OSS, USER, tools=[SEARCH], tool_choice="search_events")
    assert result.tool_calls == [] and result.invalid_tool_calls == []
    assert result.text == text and result.finish_reason == "stop"


def test_an_array_keeps_the_items_that_call_bound_tools(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    # §3.2.8 array form; one unknown item used to drop every call.
    text = json.dumps(
        [
            {"name": "search_events", "parameters": {"date_from": "2026-01-01"}},
            {"name": "book_flight", "arguments": {"to": "LIS"}},
            {"name": "read_skill_resource", "path": "notes.md"},
        ]
    )
    server.enqueue(Reply.result(_completion(text, tool_calls=[])))
    result = client.chat(GPT_OSS, USER, tools=[SEARCH, READ], tool_choice="required")
    assert [(c.name, c.arguments) for c in result.tool_calls] == [
        ("search_events", {"date_from": "2026-01-01"}),
        ("read_skill_resource", {"path": "notes.md"}),
    ]


def test_a_call_in_prose_after_a_harmony_header_is_salvaged_when_forced(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    # raullenchai/Rapid-MLX#480 (gpt-oss elsewhere): "commentary to=functions.x json{...}";
    # the first JSON value that fits the forced tool is its call.
    text = 'commentary to=functions.get_weather json{"latitude": 48.85, "longitude": 2.35}'
    server.enqueue(Reply.result(_completion(text, tool_calls=[])))
    [call] = client.chat(GPT_OSS, USER, tools=[WEATHER], tool_choice="get_weather").tool_calls
    assert call.arguments == {"latitude": 48.85, "longitude": 2.35}


# ==============================================================================================
# Issue 17.3 — a bare {"result": …} body (BerriAI/litellm#29353)
# ==============================================================================================


@pytest.mark.parametrize(
    "result",
    [
        pytest.param({"response": "Kimi says hi", "usage": {"prompt_tokens": 3}}, id="native"),
        pytest.param(
            {"choices": [{"message": {"content": "Kimi says hi"}, "finish_reason": "stop"}]},
            id="openai-choices",
        ),
    ],
)
def test_a_bare_result_body_is_a_success_envelope(
    server: WorkersAIServer, client: WorkersAI, result: dict[str, Any]
) -> None:
    # BerriAI/litellm#29353: Kimi K2.6, GLM, Gemma-4 answers as {"result": {...}} only.
    server.enqueue(Reply.json({"result": result}))
    chat = client.chat(LLAMA, USER)
    assert chat.text == "Kimi says hi" and chat.finish_reason == "stop"


def test_a_bare_result_body_carries_embeddings_too(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    server.enqueue(Reply.json({"result": {"shape": [1, 2], "data": [[0.5, 0.25]]}}))
    assert client.embed("@cf/baai/bge-base-en-v1.5", ["x"]).vectors == [[0.5, 0.25]]


def test_a_models_own_result_field_is_not_unwrapped(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    # The rule only concerns whole HTTP bodies: a JSON-mode answer whose object has a
    # "result" field keeps it (§3.2.4).
    server.enqueue(Reply.result({"response": {"result": 42, "unit": "km"}}))
    answer = client.chat(LLAMA, USER, response_format={"type": "json_object"})
    assert answer.parsed == {"result": 42, "unit": "km"}


# ==============================================================================================
# Issue 17.4 — streamed usage merging (wire reference §3.3, §4, §10.8)
# ==============================================================================================


def test_usage_split_across_chunks_never_totals_less_than_its_parts(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    server.enqueue(
        Reply.sse(
            [
                {"response": "Hi", "p": "abc"},
                {
                    "response": "",
                    "usage": {"prompt_tokens": 39, "completion_tokens": 0, "total_tokens": 39},
                },
                {
                    "response": "",
                    "usage": {"prompt_tokens": 0, "completion_tokens": 1, "total_tokens": 1},
                },
            ]
        )
    )
    usage = _final(list(client.stream_chat(LLAMA, USER))).usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (39, 1, 40)


@pytest.mark.parametrize(
    ("reports", "expected"),
    [
        # §3.3: running totals on every chunk → the last (largest) report.
        ([(10, 1, 11), (10, 2, 12), (10, 3, 13)], (10, 3, 13)),
        # §4: the same usage twice, then an all-zero trailer.
        ([(755, 10, 765), (755, 10, 765), (0, 0, 0)], (755, 10, 765)),
        # §10.8: the prompt and the answer counted in separate reports.
        ([(39, 0, 39), (0, 1, 1)], (39, 1, 40)),
        # a total below its parts on the wire is raised to their sum
        ([(5, 5, 3)], (5, 5, 10)),
    ],
)
def test_the_merge_rule(
    reports: list[tuple[int, int, int]], expected: tuple[int, int, int]
) -> None:
    merged: Usage | None = None
    for p, c, t in reports:
        usage = Usage.from_wire({"prompt_tokens": p, "completion_tokens": c, "total_tokens": t})
        assert usage is not None
        merged = usage if merged is None else merged.merge(usage)
    assert merged is not None
    assert (merged.prompt_tokens, merged.completion_tokens, merged.total_tokens) == expected


# ==============================================================================================
# Issue 17.5 — error bodies of every shape (cloudflare/ai#657, AI Gateway, proxies)
# ==============================================================================================


@pytest.mark.parametrize(
    ("status", "body", "cls", "code", "text"),
    [
        pytest.param(
            400,
            {"message": "AiError: 5006: Error: oneOf at '/' not met"},
            ModelInputError,
            5006,
            "oneOf at '/' not met",
            id="top-level-message",
        ),
        pytest.param(
            429,
            {
                "httpCode": 429,
                "internalCode": 3021,
                "name": "AiError",
                "description": "rate limiting: inference request per min rate reached",
            },
            RateLimitError,
            3021,
            "inference request per min rate reached",
            id="internalCode-description",  # cloudflare/ai#657 (AI Gateway stored response)
        ),
        pytest.param(
            401,
            {
                "success": False,
                "error": [{"code": 2009, "message": "Unauthorized"}],
                "name": "AiGatewayError",
                "httpCode": 401,
            },
            AuthenticationError,
            2009,
            "Unauthorized",
            id="error-as-a-list",  # AI Gateway (cloudflare-docs PR #31050)
        ),
        pytest.param(
            500,
            {
                "error": {
                    "message": "4006: you have used up your daily free allocation of 10,000 "
                    "neurons, please upgrade to Cloudflare's Workers Paid plan",
                    "stage": "pipeline",
                    "code": "internal_error",
                }
            },
            DailyLimitExceededError,
            4006,
            "daily free allocation",
            id="error-object-string-code",  # answeroverflow 1429996101569613855
        ),
        pytest.param(
            404,
            {
                "type": "error",
                "error": {"type": "not_found_error", "message": "Model not found: moonshotai/x"},
            },
            APIError,
            None,
            "Model not found: moonshotai/x",
            id="anthropic-error",  # Alishahryar1/free-claude-code#946 (/ai/v1/messages)
        ),
        pytest.param(
            429,
            {"success": False, "errors": [{"code": 3040, "message": "ERROR 3040: Capacity"}]},
            CapacityExceededError,
            3040,
            "Capacity",
            id="errors-array",
        ),
        pytest.param(
            503,
            "error code: 1031",
            APIError,
            None,
            "error code: 1031",
            id="plain-text",
        ),
    ],
)
def test_error_bodies_of_every_shape_are_read(
    server: WorkersAIServer,
    client: WorkersAI,
    status: int,
    body: Any,
    cls: type[APIError],
    code: int | None,
    text: str,
) -> None:
    if isinstance(body, str):
        server.enqueue(*[Reply(status, {"content-type": "text/plain"}, body.encode())] * 3)
    else:
        server.enqueue(*[Reply.json(body, status)] * 3)
    with pytest.raises(cls) as info:
        client.chat(LLAMA, USER)
    assert info.value.code == code and text in str(info.value)
    assert "no error details" not in str(info.value)


@pytest.mark.parametrize(
    "message",
    [
        "ERROR 3040: Capacity temporarily exceeded, please try again",
        "AiError: AiError: 3040: Capacity temporarily exceeded, please try again",
        "InferenceUpstreamError: 3040: Capacity temporarily exceeded for @cf/x, please try again",
        "3040: Capacity temporarily exceeded, please try again",
    ],
)
def test_3040_message_variants_carry_their_code(
    server: WorkersAIServer, client: WorkersAI, message: str
) -> None:
    # §2.1 message variants, found in user code that matches them with includes() (research
    # Task 3, ids 60926316415, 60871169059); only the message names the code here.
    server.enqueue(*[Reply.error(429, None, message)] * 3)
    with pytest.raises(CapacityExceededError) as info:
        client.chat(LLAMA, USER)
    assert info.value.codes == (3040,) and len(server.requests) == 3  # retried


# ==============================================================================================
# Issue 17.6 — json_schema {name, description, schema} on /ai/run (cloudflare/ai#559)
# ==============================================================================================

PERSON = {
    "type": "json_schema",
    "json_schema": {
        "name": "Person",
        "description": "A person mentioned in the text",
        "schema": {"type": "object", "properties": {"name": {"type": "string"}}},
        "strict": True,
    },
}


def test_json_schema_name_and_description_are_folded_in_on_ai_run(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    # cloudflare/ai#559, PR #576: /ai/run takes the bare schema; name → title.
    server.enqueue(Reply.result({"response": {"name": "Ada"}}), Reply.json(_completion("{}")))
    assert client.chat(LLAMA, USER, response_format=PERSON).parsed == {"name": "Ada"}
    assert server.requests[0].json()["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "type": "object",
            "properties": {"name": {"type": "string"}},
            "title": "Person",
            "description": "A person mentioned in the text",
        },
    }
    # The OpenAI-compatible endpoint keeps the envelope, description included.
    client.chat(LLAMA, USER, response_format=PERSON, endpoint="openai")
    assert server.requests[1].json()["response_format"]["json_schema"] == {
        "name": "Person",
        "description": "A person mentioned in the text",
        "schema": {"type": "object", "properties": {"name": {"type": "string"}}},
        "strict": True,
    }


def test_a_schemas_own_title_wins_and_partner_models_get_the_envelope(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    own = {"type": "json_schema", "json_schema": {**PERSON["json_schema"]}}
    own["json_schema"]["schema"] = {"type": "object", "title": "Human"}
    server.enqueue(Reply.result({"response": {}}), Reply.result(_completion("{}")))
    client.chat(LLAMA, USER, response_format=own)
    assert server.requests[0].json()["response_format"]["json_schema"]["title"] == "Human"
    # cloudflare/ai#559: openai/gpt-5.4-mini on /ai/run rejects the bare schema ("Missing
    # required parameter: 'response_format.json_schema.name'").
    client.chat("openai/gpt-5.4-mini", USER, response_format=PERSON)
    sent = server.requests[1]
    assert sent.path.endswith("/ai/run/openai/gpt-5.4-mini")
    assert sent.json()["response_format"]["json_schema"]["name"] == "Person"


# ==============================================================================================
# Issue 16 — 200 answers whose body is not what the endpoint returns
# ==============================================================================================

SSE_ANSWER = [
    {"response": "Hello", "p": "abcdefg"},
    {"response": " there", "p": "abc"},
    {"response": "", "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}},
]


def test_an_event_stream_to_an_unstreamed_call_is_read_as_the_stream_it_is(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    # Issue 16; workers-ai-provider CHANGELOG 3.0.5: proxies and gateways that force streaming.
    server.enqueue(Reply.sse(SSE_ANSWER))
    result = client.chat(LLAMA, USER)
    assert result.text == "Hello there" and "data:" not in result.text
    assert result.usage is not None and result.usage.total_tokens == 11
    assert result.finish_reason == "stop"
    assert result.raw[0] == {"response": "Hello", "p": "abcdefg"}


async def test_an_event_stream_with_a_forced_tool_fabricates_no_call(
    server: WorkersAIServer, aclient: AsyncWorkersAI
) -> None:
    # Issue 16: the first SSE chunk used to become the forced tool's arguments.
    server.enqueue(Reply.sse(SSE_ANSWER))
    result = await aclient.chat(LLAMA, USER, tools=[SEARCH], tool_choice="search_events")
    assert result.tool_calls == [] and result.text == "Hello there"


def test_a_cut_event_stream_to_an_unstreamed_call_is_truncated(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    server.enqueue(Reply.sse(SSE_ANSWER[:1], done=False))
    with pytest.raises(StreamTruncatedError):
        client.chat(LLAMA, USER)


@pytest.mark.parametrize(
    ("reply", "named"),
    [
        pytest.param(
            Reply.html(200, "<html><body><h1>Hotel Wi-Fi: please log in</h1></body></html>"),
            "text/html",
            id="captive-portal",
        ),
        pytest.param(
            Reply(200, {"content-type": "application/json"}, b""), "empty body", id="empty"
        ),
        pytest.param(Reply(200, {"content-type": "text/plain"}, b"OK"), "text/plain", id="text"),
        pytest.param(
            Reply(200, {"content-type": "application/json"}, b'{"result": {"resp'),
            "not valid JSON",
            id="cut-json",
        ),
        pytest.param(Reply.binary(b"\x89PNG\r\n"), "image/png", id="binary"),
    ],
)
def test_a_body_that_is_not_an_answer_is_an_unexpected_response(
    server: WorkersAIServer, client: WorkersAI, reply: Reply, named: str
) -> None:
    server.enqueue(reply, reply)
    with pytest.raises(UnexpectedResponseError) as info:
        client.chat(LLAMA, USER)
    assert named in str(info.value) and info.value.hint
    with pytest.raises(UnexpectedResponseError):
        client.embed("@cf/baai/bge-base-en-v1.5", ["x"])


def test_an_html_answer_to_a_stream_request_is_not_streamed_as_text(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    server.enqueue(Reply.html(200, "<html><body>Sign in to continue</body></html>"))
    with pytest.raises(UnexpectedResponseError, match="text/html"):
        list(client.stream_chat(LLAMA, USER))


def test_run_refuses_a_portal_page_but_keeps_binary_answers(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    server.enqueue(Reply.html(200), Reply.binary(b"\x89PNG\r\n\x1a\n"))
    with pytest.raises(UnexpectedResponseError, match="HTML"):
        client.run("@cf/stabilityai/stable-diffusion-xl-base-1.0", {"prompt": "a boat"})
    assert client.run("@cf/stabilityai/stable-diffusion-xl-base-1.0", {"prompt": "a boat"}) == (
        b"\x89PNG\r\n\x1a\n"
    )


# ==============================================================================================
# Issue 16 — error codes users meet: 3021, 5035, retired models (5028)
# ==============================================================================================


def test_3021_is_a_rate_limit_and_is_retried(server: WorkersAIServer, client: WorkersAI) -> None:
    # cloudflare/ai#657: "3021: rate limiting: inference request per min rate reached" (429).
    msg = "AiError: 3021: rate limiting: inference request per min rate reached"
    server.enqueue(Reply.error(429, 3021, msg), Reply.result({"response": "ok"}))
    assert client.chat(LLAMA, USER).text == "ok" and len(server.requests) == 2


def test_3021_in_a_200_error_body_is_still_retryable(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    server.enqueue(Reply.error(200, 3021, "3021: rate limiting"))
    with pytest.raises(RateLimitError) as info:
        client.chat(LLAMA, USER)
    assert info.value.is_retryable and info.value.codes == (3021,)


def test_5035_needs_workers_paid_and_is_not_retried(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    # cloudflare-docs PR #32338: "5035 / 403", Kimi K2.6, GLM-5.2 need the Workers Paid plan.
    server.enqueue(*[Reply.error(403, 5035, "AiError: 5035: requires Workers Paid")] * 3)
    with pytest.raises(PermissionDeniedError) as info:
        client.chat("@cf/moonshotai/kimi-k2.6", USER)
    assert len(server.requests) == 1 and not info.value.is_retryable
    assert info.value.hint is not None and "Workers Paid" in info.value.hint


RETIRED = {
    "@cf/moonshotai/kimi-k2.5": "@cf/moonshotai/kimi-k2.6",
    "@hf/meta-llama/meta-llama-3-8b-instruct": "@cf/meta/llama-3.1-8b-instruct-fast",
    "@cf/meta/llama-3-8b-instruct": "@cf/meta/llama-3.1-8b-instruct-fast",
    "@cf/meta/llama-3-8b-instruct-awq": "@cf/meta/llama-3.1-8b-instruct-fast",
    "@cf/meta/llama-3.1-8b-instruct": "@cf/meta/llama-3.1-8b-instruct-fast",
    "@cf/meta/llama-3.1-8b-instruct-awq": "@cf/meta/llama-3.1-8b-instruct-fast",
    "@cf/meta/llama-3.1-70b-instruct": LLAMA,
    "@cf/meta/llama-2-7b-chat-int8": "@cf/meta/llama-3.1-8b-instruct-fast",
    "@cf/meta/llama-2-7b-chat-fp16": "@cf/meta/llama-3.1-8b-instruct-fast",
    "@cf/mistral/mistral-7b-instruct-v0.1": "@cf/mistralai/mistral-small-3.1-24b-instruct",
    "@hf/mistral/mistral-7b-instruct-v0.2": "@cf/mistralai/mistral-small-3.1-24b-instruct",
    "@hf/google/gemma-7b-it": GEMMA,
    "@cf/google/gemma-3-12b-it": GEMMA,
    "@hf/nousresearch/hermes-2-pro-mistral-7b": GLM,
    "@cf/microsoft/phi-2": GLM,
    "@cf/defog/sqlcoder-7b-2": "@cf/qwen/qwen2.5-coder-32b-instruct",
    "@cf/unum/uform-gen2-qwen-500m": "@cf/llava-hf/llava-1.5-7b-hf",
    "@cf/facebook/bart-large-cnn": LLAMA,
}


def test_the_catalog_knows_the_18_models_retired_on_2026_05_30() -> None:
    # cloudflare-docs changelog 2026-05-08-planned-model-deprecations @8440dd31 (18 ids).
    assert len(RETIRED) == 18
    catalog = get_catalog()
    for model, replacement in RETIRED.items():
        info = get_model_info(model)
        assert info is not None and info.retired is not None, model
        assert (info.retired.on.isoformat(), info.retired.replacement) == (
            "2026-05-30",
            replacement,
        )
        current = get_model_info(replacement)
        assert current is not None and current.retired is None, replacement
    assert not {m.id for m in catalog.all()} & set(RETIRED)  # listings show current models
    assert set(RETIRED) <= {m.id for m in catalog.all(include_retired=True)}


@pytest.mark.parametrize(
    "name", ["llama-3.1-70b", "gemma-3-12b", "llama-3-8b-instruct-fast", "mistral-7b-instruct"]
)
def test_suggestions_never_steer_to_a_retired_model(name: str) -> None:
    suggested = suggest_models(name, n=5)
    assert suggested and not set(suggested) & set(RETIRED)
    assert resolve_model("hermes-2-pro-mistral-7b") == "@hf/nousresearch/hermes-2-pro-mistral-7b"


def test_a_short_name_shared_with_a_retired_model_means_the_current_one() -> None:
    catalog = ModelCatalog(
        [
            ModelInfo(
                id="@cf/acme/chat-7b-v2",
                task="Text Generation",
                retired=Retirement(on=date(2026, 5, 30)),
            ),
            ModelInfo(id="@hf/acme/chat-7b-v2", task="Text Generation"),
        ]
    )
    assert catalog.resolve("chat-7b-v2") == "@hf/acme/chat-7b-v2"
    assert catalog.current("@cf/acme/chat-7b-v2") is None  # retired without a replacement
    assert catalog.suggest("chat-7b-v3") == ["@hf/acme/chat-7b-v2"]


def test_a_live_listing_marks_past_deprecation_dates_and_keeps_the_replacement(
    isolated_catalog: ModelCatalog,
) -> None:
    # §1.4: /ai/models/search?include_deprecated=true lists models up to 3 months after their
    # planned_deprecation_date (a property the bundled kimi-k2.5 entry carries).
    def listed(name: str, when: str) -> ModelInfo:
        return ModelInfo.from_search_result(
            {
                "name": name,
                "task": {"name": "Text Generation"},
                "properties": [{"property_id": "planned_deprecation_date", "value": when}],
            }
        )

    gone, planned = listed("@cf/acme/old", "2026-05-30"), listed("@cf/acme/later", "2999-01-01")
    assert gone.retired == Retirement(on=date(2026, 5, 30)) and planned.retired is None
    isolated_catalog.update([listed("@cf/moonshotai/kimi-k2.5", "2026-05-30")])
    kimi = isolated_catalog.get("@cf/moonshotai/kimi-k2.5")
    assert kimi is not None and kimi.retired is not None
    assert kimi.retired.replacement == "@cf/moonshotai/kimi-k2.6"  # the bundled record


def test_a_retired_model_is_sent_with_a_warning_and_its_5028_names_the_replacement(
    server: WorkersAIServer, client: WorkersAI, caplog: pytest.LogCaptureFixture
) -> None:
    # cloudflare-docs#32501: "AiError: 5028: This model was deprecated on 2026-05-30. Please
    # use an alternative model". Sent anyway (Cloudflare aliases some ids, §10.4), and a 5028
    # — even with a 5xx status — is never retried.
    message = (
        "AiError: 5028: This model was deprecated on 2026-05-30. Please use an alternative model"
    )
    server.enqueue(*[Reply.error(500, 5028, message)] * 3)
    # The warning is logged once per model and process: forget an earlier run's (mutmut
    # runs the suite twice in one process; so does any repeated run).
    warn_if_retired.cache_clear()
    with caplog.at_level(logging.WARNING, logger="workersai.models"):
        with pytest.raises(ModelRetiredError) as info:
            client.chat("@cf/google/gemma-3-12b-it", USER)
    assert len(server.requests) == 1 and not info.value.is_retryable
    assert info.value.replacement == GEMMA
    assert (
        info.value.hint is not None and GEMMA in info.value.hint and "2026-05-30" in info.value.hint
    )
    assert "gemma-3-12b-it was retired on 2026-05-30" in caplog.text and GEMMA in caplog.text


def test_a_rest_deprecation_message_without_a_code_is_a_retired_model(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    # research Task 2 (REST /ai/run, HTTP 400): "Model has been deprecated: This model was
    # deprecated on 2026-05-30." — the class comes from the text; a model the catalog does
    # not know gets the current suggestions.
    server.enqueue(
        Reply.error(
            400, None, "Model has been deprecated: This model was deprecated on 2026-05-30."
        )
    )
    with pytest.raises(ModelRetiredError) as info:
        client.chat("@cf/meta/llama-3.1-70b-instructx", USER)
    assert info.value.hint is not None and "retired" in info.value.hint
    assert "@cf/meta/llama-3.1-70b-instruct," not in info.value.hint


def test_summarize_works_through_a_chat_model(server: WorkersAIServer, client: WorkersAI) -> None:
    # bart-large-cnn (the default summarizer) was retired without a successor (§10.4).
    server.enqueue(Reply.result({"response": "  Workers AI runs models.  "}))
    assert client.summarize("A long text. " * 20, max_length=40) == "Workers AI runs models."
    sent = server.requests[0]
    assert sent.model == LLAMA
    body = sent.json()
    assert body["max_tokens"] == 40 and body["messages"][1]["content"] == "A long text. " * 20
    assert body["messages"][0]["role"] == "system"
    with pytest.raises(InvalidInputError, match="input_text"):
        client.summarize("")


async def test_summarize_with_the_retired_model_fails_clearly(
    server: WorkersAIServer, aclient: AsyncWorkersAI
) -> None:
    message = "AiError: 5028: This model was deprecated on 2026-05-30."
    server.enqueue(Reply.error(400, 5028, message))
    with pytest.raises(ModelRetiredError) as info:
        await aclient.summarize("text", model="@cf/facebook/bart-large-cnn")
    assert info.value.replacement == LLAMA
    assert server.requests[0].json() == {"input_text": "text"}  # bart's own input


# ==============================================================================================
# Research report: AI Gateway errors (N1), 4006, context length (N5, 5021)
# ==============================================================================================


def _gateway(code: int, message: str, status: int) -> dict[str, Any]:
    return {
        "success": False,
        "error": [{"code": code, "message": message}],
        "name": "AiGatewayError",
        "httpCode": status,
    }


def test_ai_gateway_2009_points_at_the_gateway_token(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    server.enqueue(Reply.json(_gateway(2009, "Unauthorized", 401), 401))
    with pytest.raises(AuthenticationError) as info:
        client.chat(LLAMA, USER)
    assert info.value.code == 2009 and "GatewayOptions" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("status", "body"),
    [
        pytest.param(
            429,
            {
                "name": "AiGatewayError",
                "internalCode": 2041,
                "message": "Spend limit exceeded: rule '5e7f1b6b' (cost limit 100 per 604800s)",
            },
            id="2041-spend-limit",
        ),
        pytest.param(
            402, _gateway(2021, "Insufficient wholesale credits.", 402), id="2021-credits"
        ),
    ],
)
def test_ai_gateway_quota_errors_are_never_retried(
    server: WorkersAIServer, client: WorkersAI, status: int, body: dict[str, Any]
) -> None:
    server.enqueue(*[Reply.json(body, status)] * 3)
    with pytest.raises(QuotaExceededError) as info:
        client.chat(LLAMA, USER)
    assert len(server.requests) == 1 and isinstance(info.value, RateLimitError)
    assert info.value.hint is not None and "not" in info.value.hint


def test_ai_gateway_2003_is_a_rate_limit_that_is_retried(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    server.enqueue(
        Reply.json(_gateway(2003, "Rate limited", 429), 429), Reply.result({"response": "ok"})
    )
    assert client.chat(LLAMA, USER).text == "ok" and len(server.requests) == 2


def test_4006_is_the_daily_allocation_like_3036_and_is_never_retried(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    # answeroverflow.com/m/1429996101569613855: 4006 inside an error object at 500.
    body = {"error": {"message": "4006: you have used up your daily free allocation", "code": "x"}}
    server.enqueue(*[Reply.json(body, 500)] * 3)
    with pytest.raises(DailyLimitExceededError) as info:
        client.chat(LLAMA, USER)
    assert len(server.requests) == 1 and "00:00 UTC" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("code", "message", "window"),
    [
        pytest.param(
            8007,
            'AiError: AiError: {"error":{"message":"This model\'s maximum context length is '
            "24000 tokens. However, you requested 2048 output tokens and your prompt contains "
            'at least 21953 input tokens.","code":400}} (15d8a031-77aa)',
            "24000",
            id="8007-upstream",
        ),
        pytest.param(
            5021,
            "AiError: 5021: The estimated number of input and maximum output tokens (8810) "
            "exceeded this model context window limit (8192)",
            "8192",
            id="5021",
        ),
    ],
)
def test_context_length_errors_are_clear_and_not_retried(
    server: WorkersAIServer, client: WorkersAI, code: int, message: str, window: str
) -> None:
    server.enqueue(*[Reply.error(400, code, message)] * 2)
    with pytest.raises(ContextLengthExceededError) as info:
        client.chat(LLAMA, USER)
    err = info.value
    assert err.code == code and len(server.requests) == 1
    assert err.hint is not None and "max_tokens" in err.hint and f"({window} tokens)" in err.hint
    assert "AiError: AiError: {" not in err.message  # the upstream message, not its JSON


def test_an_8007_upstream_validation_message_is_pulled_out(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    # decolua/9router#2665 (REST /ai/v1): sglang's validation error wrapped twice.
    inner = {
        "object": "error",
        "message": "1 validation error: reasoning_effort: Input should be 'none', 'low', "
        "'medium', 'high' or 'max'",
        "type": "Bad Request",
        "param": None,
        "code": 400,
    }
    server.enqueue(Reply.error(400, 8007, f"AiError: AiError: {json.dumps(inner)} (15d8a031)"))
    with pytest.raises(APIError) as info:
        client.chat(LLAMA, USER)
    assert info.value.errors[0].message == inner["message"]
    assert info.value.body["errors"][0]["message"].startswith("AiError: AiError: {")


# ==============================================================================================
# Research report: gemma "tool_calls" without a call (N2), reasoning_effort (N6), undeclared
# tools (N7), Anthropic-shaped answers (N3)
# ==============================================================================================


def test_tool_calls_finish_without_a_call_is_a_failed_answer_not_a_call(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    # cloudflare/ai#561 (gemma-4-26b-a4b-it, tool_choice required, ~9k-token prompt).
    server.enqueue(
        Reply.result(
            {
                "choices": [
                    {
                        "finish_reason": "tool_calls",
                        "message": {"content": "", "reasoning": None, "tool_calls": []},
                        "stop_reason": 106,
                    }
                ],
                "usage": {"prompt_tokens": 9218, "completion_tokens": 317, "total_tokens": 9535},
            }
        )
    )
    result = client.chat(GEMMA, USER, tools=[SEARCH], tool_choice="required")
    assert result.finish_reason == "error" and result.tool_calls == []
    assert result.usage is not None and result.usage.completion_tokens == 317  # still billed


def test_streamed_prose_with_a_tool_calls_finish_is_the_answer(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    server.enqueue(
        Reply.sse(
            [
                {"choices": [{"index": 0, "delta": {"content": "There are no events."}}]},
                {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
            ]
        )
    )
    with client.stream_chat(GEMMA, USER, tools=[SEARCH]) as stream:
        final = _final(list(stream))
        assert stream.result().finish_reason == "stop"
    assert final.finish_reason == "stop"


@pytest.mark.parametrize(
    ("model", "effort", "accepted"),
    [
        ("@cf/moonshotai/kimi-k2.6", "none", True),  # 9router#2665: none…max
        ("@cf/moonshotai/kimi-k2.6", "max", True),
        (GEMMA, "none", True),  # cloudflare-docs PR #33541: gemma high/none
        (GLM, "max", True),
        ("@cf/zai-org/glm-5.3-flash", "none", True),  # published: normalised to max
        ("@cf/zai-org/glm-5.3-flash", "medium", True),
        (GPT_OSS, "none", False),  # published low/medium/high: reasoning cannot be disabled
        (GPT_OSS, "max", False),
        (LLAMA, "max", False),
        (GEMMA, "extreme", False),
    ],
)
def test_reasoning_effort_follows_the_model(
    server: WorkersAIServer, client: WorkersAI, model: str, effort: str, accepted: bool
) -> None:
    server.enqueue(Reply.result({"response": "ok"}))
    if accepted:
        client.chat(model, USER, reasoning_effort=effort)
        assert server.requests[0].json()["reasoning_effort"] == effort
    else:
        with pytest.raises(InvalidInputError) as info:
            client.chat(model, USER, reasoning_effort=effort)
        assert info.value.field == "reasoning_effort" and not server.requests


def test_a_call_of_an_undeclared_tool_is_invalid_and_a_harmony_suffix_is_dropped(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    # research N7: "query_risk_register<|channel|>commentary" (Cogtrix#2023, gpt-oss on vLLM);
    # a call of a tool nobody bound cannot be run.
    calls = [
        {
            "id": "c1",
            "type": "function",
            "function": {
                "name": "search_events<|channel|>commentary",
                "arguments": '{"date_from": "x"}',
            },
        },
        {"id": "c2", "type": "function", "function": {"name": "rm_rf", "arguments": "{}"}},
    ]
    server.enqueue(Reply.result(_completion("", "tool_calls", tool_calls=calls)))
    result = client.chat(GPT_OSS, USER, tools=[SEARCH])
    assert [(c.id, c.name) for c in result.tool_calls] == [("c1", "search_events")]
    [invalid] = result.invalid_tool_calls
    assert invalid.name == "rm_rf" and "not one of the bound tools" in (invalid.error or "")


def test_an_anthropic_shaped_answer_on_ai_run_is_read(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    # cloudflare/ai#554: anthropic/* partner models answer /ai/run in the Messages shape.
    server.enqueue(
        Reply.result(
            {
                "id": "msg_01",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-6",
                "content": [
                    {"type": "thinking", "thinking": "Look it up."},
                    {"type": "text", "text": "Let me check."},
                    {
                        "type": "tool_use",
                        "id": "toolu_01",
                        "name": "search_events",
                        "input": {"date_from": "2026-06-06"},
                    },
                ],
                "stop_reason": "tool_use",
                "usage": {"input_tokens": 20, "output_tokens": 9},
            }
        )
    )
    result = client.chat("anthropic/claude-sonnet-4.6", USER, tools=[SEARCH])
    assert (result.text, result.reasoning, result.finish_reason) == (
        "Let me check.",
        "Look it up.",
        "tool_calls",
    )
    [call] = result.tool_calls
    assert (call.id, call.arguments) == ("toolu_01", {"date_from": "2026-06-06"})
    assert result.usage is not None and result.usage.total_tokens == 29


def test_the_envelope_helper_keeps_error_envelopes_raising() -> None:
    # The lone-result rule must not turn a failed envelope into a success.
    from workersai._envelope import unwrap_envelope

    with pytest.raises(RateLimitError):
        unwrap_envelope(envelope(errors=[{"code": 3021, "message": "rate limited"}]))


@pytest.mark.parametrize(
    ("code", "cls", "hint"),
    [
        (2003, RateLimitError, "AI Gateway"),
        (2009, AuthenticationError, "GatewayOptions"),
        (2021, QuotaExceededError, "credits"),
        (2041, QuotaExceededError, "spend-limit"),
        (3021, RateLimitError, "Rate limited"),
        (4006, DailyLimitExceededError, "00:00 UTC"),
        (5021, ContextLengthExceededError, "max_tokens"),
        (5028, ModelRetiredError, "retired"),
        (5035, PermissionDeniedError, "Workers Paid"),
    ],
)
def test_each_new_code_picks_its_class_and_hint_whatever_the_status(
    code: int, cls: type[APIError], hint: str
) -> None:
    # A 2xx `success: false` body has no status to fall back on: only the code decides.
    from workersai._envelope import error_from_response

    err = error_from_response(200, envelope(errors=[{"code": code, "message": "x"}]))
    assert type(err) is cls and err.code == code
    assert err.hint is not None and hint in err.hint


# --------------------------------------------------------------------------------------
# Codes users met that the docs table lacks (wire reference §10.3): 3010, 3030, 3043, 5024,
# 8006 — each with its own class or hint, and retried only when a retry can succeed.
# --------------------------------------------------------------------------------------

FLUX = "@cf/black-forest-labs/flux-1-schnell"


@pytest.mark.parametrize(
    ("status", "code", "message", "cls", "retried", "hint_phrase"),
    [
        # user log id 49240492817 (an OCR/image input): the model's input was rejected
        pytest.param(
            400,
            3010,
            "InferenceUpstreamError [AiError]: 3010: Invalid or incomplete input for the model",
            ModelInputError,
            False,
            None,
            id="3010",
        ),
        # user code id 68332797066 (image models): the safety filter; at 500 still not retried
        pytest.param(
            500,
            3030,
            "AiError: 3030: Your output has been flagged. Please choose another prompt / input "
            "image combination",
            ContentFlaggedError,
            False,
            "safety filter",
            id="3030",
        ),
        # user code ids 62885837209, 6874267693: a transient inference error, even at 400
        pytest.param(
            400,
            3043,
            "AiError: 3043: Internal server error",
            InternalServerError,
            True,
            None,
            id="3043",
        ),
        # user log ids 66114526680, 65959957481 (7 failures of 7): retrying does not help
        pytest.param(
            500,
            5024,
            "AiError: 5024: JSON Model couldn't be met",
            BadRequestError,
            False,
            "method='function_calling'",
            id="5024",
        ),
        # cloudflare/ai#560, PR #575: a forced tool on a reasoning model with few max_tokens
        pytest.param(
            400,
            8006,
            "8006: AiError: Invalid data for tool_choice - reason forced tool_choice",
            BadRequestError,
            False,
            "raise max_tokens",
            id="8006",
        ),
    ],
)
def test_codes_users_met_get_their_class_hint_and_retry_rule(
    server: WorkersAIServer,
    client: WorkersAI,
    status: int,
    code: int,
    message: str,
    cls: type[APIError],
    retried: bool,
    hint_phrase: str | None,
) -> None:
    server.enqueue(*[Reply.error(status, code, message)] * 2, Reply.result({"response": "ok"}))
    if retried:
        assert client.chat(LLAMA, USER).text == "ok" and len(server.requests) == 3
        return
    with pytest.raises(cls) as info:
        if code == 3030:
            client.generate_image("a cat", model=FLUX)
        else:
            client.chat(LLAMA, USER)
    assert type(info.value) is cls and info.value.codes == (code,)
    assert len(server.requests) == 1 and not info.value.is_retryable
    if hint_phrase is not None:
        assert hint_phrase in (info.value.hint or "")
