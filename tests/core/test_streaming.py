"""Streams: native SSE (§3.3), OpenAI-compatible chunks (§4), usage merging, truncation,
JSON answers to stream requests, and retries before the first event — sync and async."""

from __future__ import annotations

import json

import pytest

from workersai import (
    APIConnectionError,
    AsyncWorkersAI,
    ChatChunk,
    RetryPolicy,
    StreamError,
    StreamTruncatedError,
    WorkersAI,
)
from workersai.errors import CapacityExceededError
from workersai.testing import Reply, WorkersAIServer

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
USER = [{"role": "user", "content": "Hello"}]
PAD = "abcdefghijklmnopqrstuvw"
NATIVE_EVENTS = [
    {"response": "Hello", "p": PAD},
    {"response": "!", "p": PAD},
    {"response": " How", "p": "abc"},
    {"response": "", "p": "ab"},
    {"response": "", "usage": {"prompt_tokens": 755, "completion_tokens": 10, "total_tokens": 765}},
]
TOOL = {
    "type": "function",
    "function": {
        "name": "magic_function",
        "parameters": {
            "type": "object",
            "properties": {"input": {"type": "integer"}},
            "required": ["input"],
        },
    },
}


@pytest.fixture
def client(server: WorkersAIServer, fast_retries: RetryPolicy) -> WorkersAI:
    return WorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)


@pytest.fixture
def aclient(server: WorkersAIServer, fast_retries: RetryPolicy) -> AsyncWorkersAI:
    return AsyncWorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)


def _collect(chunks: list[ChatChunk]) -> tuple[str, ChatChunk]:
    *content, final = chunks
    assert final.is_final
    assert all(not c.is_final and c.usage is None for c in content)
    return "".join(c.text for c in content), final


def test_native_stream_with_padding_and_usage_trailer(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    server.enqueue(Reply.sse(NATIVE_EVENTS))
    with client.stream_chat(LLAMA, USER, max_tokens=50) as stream:
        chunks = list(stream)
        result = stream.result()
    text, final = _collect(chunks)
    assert text == "Hello! How"
    assert final.usage is not None and final.usage.total_tokens == 765
    assert final.finish_reason == "stop"
    assert result.text == "Hello! How" and result.usage == final.usage
    body = server.requests[0].json()
    assert body == {"messages": USER, "max_tokens": 50, "stream": True}
    assert server.requests[0].headers["accept"] == "text/event-stream"


@pytest.mark.parametrize("chunk_size", [1, 3, 17])
def test_stream_split_at_arbitrary_byte_offsets(
    server: WorkersAIServer, client: WorkersAI, chunk_size: int
) -> None:
    server.enqueue(
        Reply.sse(
            [
                {"response": "héllo 🦙", "p": PAD},
                {
                    "response": "",
                    "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
                },
            ],
            chunk_size=chunk_size,
            crlf=True,
        )
    )
    text, final = _collect(list(client.stream_chat(LLAMA, USER)))
    assert text == "héllo 🦙"
    assert final.usage is not None and final.usage.completion_tokens == 2


def test_usage_on_every_chunk_is_merged_by_max_never_summed(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    # LCF: usage may come on every chunk, with neurons (§3.3, §2.4)
    events = [
        {
            "response": "a",
            "usage": {
                "prompt_tokens": 10,
                "completion_tokens": 1,
                "total_tokens": 11,
                "neurons": 1.5,
            },
        },
        {
            "response": "b",
            "usage": {
                "prompt_tokens": 10,
                "completion_tokens": 2,
                "total_tokens": 12,
                "neurons": 2.25,
            },
        },
        {"response": "", "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}},
    ]
    server.enqueue(Reply.sse(events))
    _, final = _collect(list(client.stream_chat(LLAMA, USER)))
    assert final.usage is not None
    assert (final.usage.prompt_tokens, final.usage.completion_tokens, final.usage.total_tokens) == (
        10,
        2,
        12,
    )
    assert final.usage.neurons == 2.25


def _openai_chunk(
    delta: dict,
    finish: str | None = None,
    usage: dict | None = None,
    *,
    with_finish_key: bool = True,
) -> dict:
    choice: dict = {"index": 0, "delta": delta}
    if with_finish_key or finish:
        choice["finish_reason"] = finish
    chunk = {
        "id": "id-1760000000123",
        "object": "chat.completion.chunk",
        "created": 1760000000,
        "model": "@cf/meta/llama-3.1-8b-instruct-fast",
        "choices": [choice],
    }
    if usage is not None:
        chunk["usage"] = usage
    return chunk


def test_openai_compatible_stream_with_duplicated_zero_usage_terminal(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    # §4 (KILO): first chunk has no role, content deltas have no finish_reason key, then two
    # terminal chunks — real usage, then all-zero usage with cached_tokens 0.
    events = [
        _openai_chunk({"content": "Hi"}, with_finish_key=False),
        _openai_chunk({"content": " there"}, with_finish_key=False),
        _openai_chunk(
            {}, "stop", {"prompt_tokens": 36, "completion_tokens": 4, "total_tokens": 40}
        ),
        _openai_chunk(
            {},
            "stop",
            {
                "prompt_tokens": 0,
                "completion_tokens": 0,
                "total_tokens": 0,
                "prompt_tokens_details": {"cached_tokens": 0},
            },
        ),
    ]
    server.enqueue(Reply.sse(events))
    text, final = _collect(
        list(client.stream_chat("@cf/meta/llama-3.1-8b-instruct-fast", USER, endpoint="openai"))
    )
    assert text == "Hi there"
    assert final.usage is not None and final.usage.total_tokens == 40
    assert final.finish_reason == "stop" and final.id == "id-1760000000123"
    body = server.requests[0].json()
    assert (
        body["stream_options"] == {"include_usage": True}
        and body["model"] == "@cf/meta/llama-3.1-8b-instruct-fast"
    )


def test_openai_stream_tool_call_deltas_and_reasoning(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    # §4 gpt-oss-20b: role + "" first, reasoning_content deltas, tool call start then fragments
    events = [
        _openai_chunk({"role": "assistant", "content": ""}),
        _openai_chunk({"reasoning_content": ""}),
        _openai_chunk({"reasoning_content": "Need the tool."}),
        _openai_chunk(
            {
                "tool_calls": [
                    {
                        "id": "chatcmpl-tool-0123456789abcdef0123456789abcdef",
                        "type": "function",
                        "index": 0,
                        "function": {"name": "magic_function", "arguments": ""},
                    }
                ]
            }
        ),
        _openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"inp'}}]}),
        _openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'ut": 3}'}}]}),
        {
            **_openai_chunk(
                {},
                "tool_calls",
                {"prompt_tokens": 100, "total_tokens": 120, "completion_tokens": 20},
            ),
            "token_ids": None,
            "stop_reason": 200012,
        },
        _openai_chunk(
            {}, "tool_calls", {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        ),
    ]
    server.enqueue(Reply.sse(events))
    stream = client.stream_chat("@cf/openai/gpt-oss-20b", USER, endpoint="openai", tools=[TOOL])
    chunks = list(stream)
    calls = [tc for c in chunks for tc in c.tool_calls]
    assert (
        calls[0].index == 0
        and calls[0].id == "chatcmpl-tool-0123456789abcdef0123456789abcdef"
        and calls[0].name == "magic_function"
    )
    assert all(tc.id is None and tc.name is None for tc in calls[1:])
    assert "".join(tc.arguments for tc in calls) == '{"input": 3}'
    assert "".join(c.reasoning for c in chunks) == "Need the tool."
    assert chunks[-1].finish_reason == "tool_calls"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 120
    result = stream.result()
    assert [(c.name, c.arguments) for c in result.tool_calls] == [("magic_function", {"input": 3})]


def test_native_streamed_tool_calls_with_null_sentinel_and_flat_form(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    # §3.3 (WAP streaming.ts): OpenAI-delta style at top level, a null-finalisation sentinel,
    # and flat {name, arguments} chunks; no ids on the flat call.
    events = [
        {
            "tool_calls": [
                {
                    "id": "call_x1",
                    "type": "function",
                    "index": 0,
                    "function": {"name": "magic_function"},
                }
            ]
        },
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"input":'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": " 3}"}}]},
        {"tool_calls": [{"id": None, "type": None, "function": {"name": None, "arguments": None}}]},
        {"tool_calls": [{"name": "magic_function", "arguments": {"input": "4"}}]},
        {"response": "", "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}},
    ]
    server.enqueue(Reply.sse(events))
    stream = client.stream_chat(LLAMA, USER, tools=[TOOL])
    chunks = list(stream)
    starts = [tc for c in chunks for tc in c.tool_calls if tc.name]
    assert [(s.index, s.name) for s in starts] == [(0, "magic_function"), (1, "magic_function")]
    assert starts[0].id == "call_x1" and starts[1].id and starts[1].id.startswith("call_")
    result = stream.result()
    # the flat call's "4" is coerced to the schema's integer
    assert [c.arguments for c in result.tool_calls] == [{"input": 3}, {"input": 4}]
    assert chunks[-1].finish_reason == "tool_calls"


def test_models_streaming_openai_deltas_on_ai_run_then_native_usage(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    # §3.3: some models on /ai/run stream choices[0].delta, then {"response":"","usage":{…}}
    server.enqueue(
        Reply.sse(
            [
                _openai_chunk({"content": "Hey"}),
                {
                    "response": "",
                    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
                },
            ]
        )
    )
    text, final = _collect(list(client.stream_chat("@cf/qwen/qwen3-30b-a3b-fp8", USER)))
    assert text == "Hey" and final.usage is not None and final.usage.total_tokens == 4


def test_stream_without_done_and_without_finish_reason_is_truncated(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    server.enqueue(Reply.sse([{"response": "Once upon"}, {"response": " a time"}], done=False))
    stream = client.stream_chat(LLAMA, USER)
    received = []
    with pytest.raises(StreamTruncatedError) as info:
        for chunk in stream:
            received.append(chunk.text)
    assert received == ["Once upon", " a time"]
    assert info.value.partial_text == "Once upon a time"
    assert len(server.requests) == 1  # events were delivered: never retried


def test_finish_reason_without_done_is_accepted(server: WorkersAIServer, client: WorkersAI) -> None:
    server.enqueue(Reply.sse([_openai_chunk({"content": "ok"}, "stop")], done=False))
    text, final = _collect(list(client.stream_chat(LLAMA, USER)))
    assert text == "ok" and final.finish_reason == "stop"


def test_malformed_event_is_a_stream_error(server: WorkersAIServer, client: WorkersAI) -> None:
    server.enqueue(
        Reply.raw_sse(b'data: {"response":"fine"}\n\ndata: {"response": "bro\n\ndata: [DONE]\n\n')
    )
    with pytest.raises(StreamError, match="unreadable stream event"):
        list(client.stream_chat(LLAMA, USER))


def test_comments_and_keepalives_are_ignored(server: WorkersAIServer, client: WorkersAI) -> None:
    server.enqueue(
        Reply.raw_sse(b': ping\r\n\r\ndata:{"response":"a"}\r\n\r\n:\r\n\r\ndata: [DONE]\r\n\r\n')
    )
    assert _collect(list(client.stream_chat(LLAMA, USER)))[0] == "a"


def test_error_event_inside_a_stream_is_typed(server: WorkersAIServer, client: WorkersAI) -> None:
    server.enqueue(
        Reply.sse(
            [
                {"response": "a"},
                {
                    "errors": [
                        {
                            "code": 3040,
                            "message": "Capacity temporarily exceeded, please try again.",
                        }
                    ]
                },
            ]
        )
    )
    with pytest.raises(CapacityExceededError):
        list(client.stream_chat(LLAMA, USER))


def test_failure_before_first_event_is_retried(server: WorkersAIServer, client: WorkersAI) -> None:
    server.enqueue(
        Reply.connection_reset(),
        Reply.error(
            429,
            3040,
            "Capacity temporarily exceeded, please try again.",
            headers={"Retry-After": "0"},
        ),
        Reply.sse([{"response": "x"}], cut_after_chunks=0),  # headers, then the connection drops
        Reply.sse(NATIVE_EVENTS),
    )
    text, _ = _collect(
        list(
            WorkersAI(
                "acct",
                "tok",
                base_url=server.base_url,
                max_retries=3,
                retry_policy=client.retry_policy,
            ).stream_chat(LLAMA, USER)
        )
    )
    assert text == "Hello! How"
    assert len(server.requests) == 4
    assert len({r.body for r in server.requests}) == 1  # identical bytes every time


def test_failure_after_first_event_surfaces_on_the_stream(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    server.enqueue(Reply.sse(NATIVE_EVENTS, cut_after_chunks=2), Reply.sse(NATIVE_EVENTS))
    received = []
    with pytest.raises(APIConnectionError, match="after events were delivered"):
        for chunk in client.stream_chat(LLAMA, USER):
            received.append(chunk.text)
    assert received == ["Hello", "!"]
    assert len(server.requests) == 1  # never re-sent after events were delivered
    assert server.pending == 1


def test_empty_stream_is_retried_then_reported_truncated(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    server.enqueue(*(Reply.raw_sse(b"") for _ in range(3)))
    with pytest.raises(StreamTruncatedError):
        list(client.stream_chat(LLAMA, USER))
    assert len(server.requests) == 3  # 1 + max_retries


def test_gpt_oss_json_answer_to_a_stream_request_is_replayed(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    # §3.3: gpt-oss on /ai/run answers stream:true with application/json
    server.enqueue(
        Reply.result(
            {
                "object": "chat.completion",
                "choices": [{"message": {"content": "Hi!"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4},
            }
        )
    )
    text, final = _collect(list(client.stream_chat("@cf/openai/gpt-oss-120b", USER)))
    assert text == "Hi!" and final.usage is not None and final.usage.total_tokens == 4
    assert len(server.requests) == 1


def test_empty_json_answer_to_a_stream_request_is_asked_again_unstreamed(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    server.enqueue(
        Reply.result({}),
        Reply.result(
            {
                "object": "chat.completion",
                "choices": [{"message": {"content": "Hi!"}, "finish_reason": "stop"}],
            }
        ),
    )
    text, _ = _collect(list(client.stream_chat("@cf/openai/gpt-oss-120b", USER)))
    assert text == "Hi!"
    assert [r.json().get("stream") for r in server.requests] == [True, None]


def test_json_mode_stream_is_sent_unstreamed(server: WorkersAIServer, client: WorkersAI) -> None:
    # §3.2.4 + error 5023: JSON-schema mode cannot stream
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    server.enqueue(Reply.result({"response": {"name": "India"}}))
    text, final = _collect(
        list(
            client.stream_chat(
                LLAMA, USER, response_format={"type": "json_schema", "json_schema": schema}
            )
        )
    )
    assert json.loads(text) == {"name": "India"} and final.finish_reason == "stop"
    body = server.requests[0].json()
    assert "stream" not in body
    assert body["response_format"] == {"type": "json_schema", "json_schema": schema}


async def test_async_native_stream(server: WorkersAIServer, aclient: AsyncWorkersAI) -> None:
    server.enqueue(Reply.sse(NATIVE_EVENTS))
    stream = await aclient.stream_chat(LLAMA, USER)
    chunks = [chunk async for chunk in stream]
    text, final = _collect(chunks)
    assert text == "Hello! How" and final.usage is not None and final.usage.total_tokens == 765
    assert (await stream.result()).text == "Hello! How"
    await aclient.aclose()


async def test_async_stream_retry_before_first_event_and_truncation(
    server: WorkersAIServer, aclient: AsyncWorkersAI
) -> None:
    server.enqueue(Reply.connection_reset(), Reply.sse([{"response": "part"}], done=False))
    stream = await aclient.stream_chat(LLAMA, USER)
    with pytest.raises(StreamTruncatedError):
        async for _ in stream:
            pass
    assert len(server.requests) == 2
    await aclient.aclose()


async def test_async_failure_after_first_event(
    server: WorkersAIServer, aclient: AsyncWorkersAI
) -> None:
    server.enqueue(Reply.sse(NATIVE_EVENTS, cut_after_chunks=1))
    stream = await aclient.stream_chat(LLAMA, USER)
    received = []
    with pytest.raises(APIConnectionError):
        async for chunk in stream:
            received.append(chunk.text)
    assert received == ["Hello"] and len(server.requests) == 1
    await aclient.aclose()


async def test_async_json_mode_and_gpt_oss_fallback(
    server: WorkersAIServer, aclient: AsyncWorkersAI
) -> None:
    server.enqueue(Reply.result({}), Reply.result({"response": "fallback"}))
    stream = await aclient.stream_chat("@cf/openai/gpt-oss-120b", USER)
    texts = [c.text async for c in stream]
    assert texts == ["fallback", ""]
    assert len(server.requests) == 2
    await aclient.aclose()


def test_low_level_stream_of_raw_inputs(server: WorkersAIServer, client: WorkersAI) -> None:
    server.enqueue(Reply.sse(NATIVE_EVENTS))
    text, _ = _collect(list(client.stream(LLAMA, {"prompt": "Say hello", "max_tokens": 20})))
    assert text == "Hello! How"
    assert server.requests[0].json() == {"prompt": "Say hello", "max_tokens": 20, "stream": True}
