"""What ``ChatStreamAssembler`` carries besides the text: the answer's id and model on every
chunk, reasoning in both spellings, the reported or inferred finish reason, merged usage and
gateway info on the final chunk, and the same in :meth:`result` — native events (§3.3) and
OpenAI ``choices[].delta`` events (§4), chunk for chunk."""

from __future__ import annotations

import json
from typing import Any

import pytest

from workersai._chat import (
    ChatRequest,
    ChatStreamAssembler,
    build_chat_request,
    parse_chat_response,
)
from workersai._envelope import EventStreamBody
from workersai._sse import ServerSentEvent
from workersai.errors import (
    CapacityExceededError,
    DailyLimitExceededError,
    StreamError,
    StreamTruncatedError,
)
from workersai.results import ChatChunk, ChatResult, Usage

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
ALIAS = "@cf/meta/llama-3.1-8b-instruct-fast"  # the model the answer names (§10.4 aliases)
USER = [{"role": "user", "content": "Hello"}]
GATEWAY = {"cache_status": "MISS", "log_id": "log-1"}


def _native(**params: Any) -> ChatRequest:
    return build_chat_request(LLAMA, USER, stream=True, params=params)


def _feed(assembler: ChatStreamAssembler, *events: Any) -> list[ChatChunk | None]:
    return [assembler.feed(e if isinstance(e, str) else json.dumps(e)) for e in events]


def test_native_stream_metadata_reasoning_and_reported_finish() -> None:
    # §3.3: the native shape; the answer's id comes once, its model may differ from the request's
    assembler = ChatStreamAssembler(_native(max_tokens=100), gateway=GATEWAY)
    usage = {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14}
    chunks = _feed(
        assembler,
        {"response": "", "reasoning": "Think ", "id": "gen-1", "model": ALIAS, "p": "abc"},
        {"response": "", "reasoning_content": "hard."},
        {"response": "Hi", "p": "abcdef"},
        {"response": " there", "finish_reason": "length"},  # reported, not inferred (4 < 100)
        {"response": "", "usage": usage},
        "[DONE]",
    )
    meta = {"model": ALIAS, "id": "gen-1"}
    assert chunks == [
        ChatChunk(reasoning="Think ", **meta),
        ChatChunk(reasoning="hard.", **meta),
        ChatChunk(text="Hi", **meta),
        ChatChunk(text=" there", **meta),
        None,
        None,
    ]
    assert assembler.done
    assert assembler.release() is None
    assert assembler.finish() == ChatChunk(
        is_final=True,
        finish_reason="length",
        usage=Usage(10, 4, 14),
        gateway=GATEWAY,
        **meta,
    )
    assert assembler.result() == ChatResult(
        text="Hi there",
        reasoning="Think hard.",
        usage=Usage(10, 4, 14),
        finish_reason="length",
        gateway=GATEWAY,
        **meta,
    )


def test_openai_stream_metadata_reasoning_and_reported_finish() -> None:
    # §4: chat.completion.chunk events, usage in a chunk that still has a choice
    request = build_chat_request(LLAMA, USER, endpoint="openai", stream=True)
    assembler = ChatStreamAssembler(request)
    base = {"id": "id-1733", "object": "chat.completion.chunk", "created": 1733, "model": ALIAS}
    usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    chunks = _feed(
        assembler,
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
        {**base, "choices": [{"index": 0, "delta": {"reasoning_content": "r1 "}}]},
        {**base, "choices": [{"index": 0, "delta": {"reasoning": "r2"}}]},
        {**base, "choices": [{"index": 0, "delta": {"content": "Hey"}}]},
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "content_filter"}]},
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": None}], "usage": usage},
        "[DONE]",
    )
    meta = {"model": ALIAS, "id": "id-1733"}
    assert chunks == [
        None,
        ChatChunk(reasoning="r1 ", **meta),
        ChatChunk(reasoning="r2", **meta),
        ChatChunk(text="Hey", **meta),
        None,
        None,
        None,
    ]
    final = assembler.finish()
    assert final == ChatChunk(
        is_final=True, finish_reason="content_filter", usage=Usage(5, 2, 7), **meta
    )
    result = assembler.result()
    assert (result.text, result.reasoning, result.finish_reason) == (
        "Hey",
        "r1 r2",
        "content_filter",
    )
    assert (result.model, result.id, result.usage) == (ALIAS, "id-1733", Usage(5, 2, 7))


def test_whole_messages_in_choices_are_read_like_deltas() -> None:
    # Some servers send choices[].message instead of choices[].delta in a stream
    assembler = ChatStreamAssembler(_native())
    chunk = assembler.feed(
        json.dumps({"choices": [{"message": {"content": "Hi", "reasoning": "why"}}]})
    )
    assert chunk == ChatChunk(text="Hi", reasoning="why", model=LLAMA)


def test_request_model_stands_until_the_answer_names_one() -> None:
    assembler = ChatStreamAssembler(_native())
    assert assembler.feed('{"response": "a", "model": 7}') == ChatChunk(text="a", model=LLAMA)
    assert assembler.feed('{"response": "b", "model": "m2"}') == ChatChunk(text="b", model="m2")
    assert assembler.feed('{"response": "c"}') == ChatChunk(text="c", model="m2")


@pytest.mark.parametrize(
    ("events", "max_tokens", "expected"),
    [
        # no finish reason: "length" inferred when the completion reached max_tokens (§3.2.7)
        ([{"response": "a b c"}], 3, "length"),
        ([{"response": "a b"}], 4, "stop"),
        # "tool_calls" with no call: the prose is the answer, nothing at all is an error (§10.5)
        ([{"response": "prose", "finish_reason": "tool_calls"}], None, "stop"),
        ([{"response": "", "finish_reason": "tool_calls"}], None, "error"),
    ],
)
def test_final_chunk_and_result_agree_on_the_finish_reason(
    events: list[dict[str, Any]], max_tokens: int | None, expected: str
) -> None:
    assembler = ChatStreamAssembler(_native(max_tokens=max_tokens))
    usage = {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}
    _feed(assembler, *events, {"response": "", "usage": usage}, "[DONE]")
    assert assembler.finish().finish_reason == expected
    assert assembler.result().finish_reason == expected


def test_model_default_max_tokens_infers_length() -> None:
    # max_tokens not set: the catalog's default (256 for Llama 3.3, §3.1) is the limit
    assembler = ChatStreamAssembler(_native())
    usage = {"prompt_tokens": 2, "completion_tokens": 256, "total_tokens": 258}
    _feed(assembler, {"response": "…", "usage": usage}, "[DONE]")
    assert assembler.finish().finish_reason == "length"


def test_non_string_response_values_stream_as_their_json_text() -> None:
    assembler = ChatStreamAssembler(_native())
    assert _feed(assembler, {"response": 42}, {"response": {"a": 1}}, {"response": None}) == [
        ChatChunk(text="42", model=LLAMA),
        ChatChunk(text='{"a":1}', model=LLAMA),
        None,
    ]
    assert assembler.partial_text == '42{"a":1}'


@pytest.mark.parametrize(
    ("event", "error"),
    [
        (
            {"errors": [{"code": 3040, "message": "Capacity temporarily exceeded"}]},
            CapacityExceededError,
        ),
        # the gateway/proxy spelling: one "error" object, code inside its message (§10.3)
        ({"error": {"message": "4006: daily free allocation used up"}}, DailyLimitExceededError),
    ],
)
def test_error_events_are_typed_and_name_the_model(event: dict[str, Any], error: type) -> None:
    assembler = ChatStreamAssembler(_native())
    assembler.feed('{"response": "a"}')
    with pytest.raises(error) as info:
        assembler.feed(json.dumps(event))
    assert info.value.model == LLAMA
    assert info.value.status_code == 200


def test_an_unreadable_event_is_a_stream_error_quoting_it() -> None:
    assembler = ChatStreamAssembler(_native())
    data = '{"response": "' + "x" * 200
    with pytest.raises(StreamError) as info:
        assembler.feed(data)
    assert repr(data[:120]) in str(info.value)
    assert repr(data[:121]) not in str(info.value)
    assert info.value.hint is not None and "retry the request" in info.value.hint
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_a_truncated_stream_says_what_was_received_and_what_to_do() -> None:
    # §3.3: no [DONE] and no finish reason
    assembler = ChatStreamAssembler(_native())
    _feed(assembler, {"response": "Hello"}, {"response": " wor"})
    with pytest.raises(StreamTruncatedError) as info:
        assembler.finish()
    assert info.value.partial_text == "Hello wor"
    assert f"The stream from {LLAMA} ended" in str(info.value) and "after 9 characters" in str(
        info.value
    )
    assert info.value.hint is not None and "retry the request" in info.value.hint


# --------------------------------------------------------------------------------------
# An event stream answering an unstreamed request (§10.2): the same assembler
# --------------------------------------------------------------------------------------


def _event_stream(*payloads: Any, done: bool = True) -> EventStreamBody:
    events = [ServerSentEvent(data=json.dumps(p)) for p in payloads]
    if done:
        events.append(ServerSentEvent(data="[DONE]"))
    return EventStreamBody(tuple(events))


def test_an_event_stream_answer_keeps_gateway_info_and_every_payload() -> None:
    payloads = [{"response": "Hi", "id": "gen-2"}, {"response": "", "finish_reason": "stop"}]
    result = parse_chat_response(_event_stream(*payloads), _native(), gateway=GATEWAY)
    assert (result.text, result.id, result.model, result.gateway) == ("Hi", "gen-2", LLAMA, GATEWAY)
    assert result.raw == payloads


def test_an_event_stream_answer_without_a_request_names_no_model_unless_it_says_one() -> None:
    assert parse_chat_response(_event_stream({"response": "Hi"})).model is None
    named = parse_chat_response(_event_stream({"response": "Hi", "model": ALIAS}))
    assert (named.text, named.model) == ("Hi", ALIAS)


def test_an_event_stream_answer_in_json_mode_is_parsed() -> None:
    request = build_chat_request(LLAMA, USER, response_format={"type": "json_object"})
    body = _event_stream({"response": '```json\n{"a": '}, {"response": "1}\n```"})
    assert parse_chat_response(body, request).parsed == {"a": 1}
    # not JSON mode: JSON-looking text stays text
    assert parse_chat_response(_event_stream({"response": '{"a": 1}'}), _native()).parsed is None


def test_a_stream_of_tool_calls_only_releases_nothing_and_has_no_text() -> None:
    # §4: an OpenAI-format stream whose only content is a tool call; no inline-reasoning
    # filter was ever needed, and the end of the stream must not invent text for it
    request = build_chat_request(
        LLAMA,
        USER,
        stream=True,
        tools=[{"type": "function", "function": {"name": "get_time", "parameters": {}}}],
        endpoint="openai",
    )
    assembler = ChatStreamAssembler(request)
    call = {"index": 0, "id": "c1", "function": {"name": "get_time", "arguments": "{}"}}
    _feed(assembler, {"choices": [{"delta": {"tool_calls": [call]}}]}, "[DONE]")
    assert assembler.release() is None
    result = assembler.result()
    assert (result.text, result.reasoning) == ("", None)
    assert [c.name for c in result.tool_calls] == ["get_time"]


def test_a_responses_api_message_skips_parts_that_are_not_objects() -> None:
    # §5: the content list of a Responses-API message; a bare string part is no text part
    body = {
        "result": {
            "object": "response",
            "output": [
                {
                    "type": "message",
                    "content": ["stray", {"type": "output_text", "text": "Paris."}],
                }
            ],
        }
    }
    request = build_chat_request("@cf/openai/gpt-oss-120b", USER)
    assert parse_chat_response(body, request).text == "Paris."


def test_a_stream_of_only_its_usage_trailer_releases_nothing() -> None:
    # §4: the include_usage trailer comes with `choices: []`; an answer of nothing else
    # (max_tokens 0, say) has no text, and its end must not invent any
    assembler = ChatStreamAssembler(build_chat_request(LLAMA, USER, stream=True, endpoint="openai"))
    usage = {"prompt_tokens": 9, "completion_tokens": 0, "total_tokens": 9}
    _feed(assembler, {"choices": [], "usage": usage}, "[DONE]")
    assert assembler.release() is None
    result = assembler.result()
    assert (result.text, result.reasoning, result.usage) == ("", None, Usage(9, 0, 9))


def test_an_empty_stream_is_an_empty_answer_without_an_id() -> None:
    # only [DONE]: no event named an id or carried content
    assembler = ChatStreamAssembler(_native())
    assert _feed(assembler, "[DONE]") == [None]
    assert assembler.release() is None
    assert assembler.finish() == ChatChunk(is_final=True, finish_reason="stop", model=LLAMA)
    result = assembler.result()
    assert (result.text, result.id, result.reasoning, result.tool_calls) == ("", None, None, [])
