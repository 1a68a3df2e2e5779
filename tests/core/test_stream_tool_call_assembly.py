"""Streamed tool calls, delta by delta, through ``ChatStreamAssembler``: how each delta is
routed to its call (``index``, else the server's id, else a new name, else the last call),
the flat and object-argument whole calls of native streams (§3.3), fragments before the name
(§10.5), the null-finalisation sentinel, and the text held back while a tool is forced
(§3.2.8) — the chunks the adapters see and the calls :meth:`result` assembles."""

from __future__ import annotations

import json
from typing import Any

import pytest

from workersai._chat import ChatRequest, ChatStreamAssembler, build_chat_request
from workersai._tools import wire_tool_call_id
from workersai.results import ChatChunk, ToolCall, ToolCallChunk

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
GPT_OSS = "@cf/openai/gpt-oss-120b"
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
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
SENTINEL = {"id": None, "type": None, "function": {"name": None, "arguments": None}}


def _request(**options: Any) -> ChatRequest:
    return build_chat_request(
        options.pop("model", LLAMA), USER, stream=True, tools=[WEATHER, TIME], **options
    )


def _calls(assembler: ChatStreamAssembler, *deltas: list[Any] | None) -> list[ChatChunk | None]:
    """Feed one native event per ``tool_calls`` list (§3.3)."""
    return [assembler.feed(json.dumps({"response": "", "tool_calls": d})) for d in deltas]


def _tool_chunks(chunks: list[ChatChunk | None]) -> list[list[ToolCallChunk]]:
    return [c.tool_calls if c is not None else [] for c in chunks]


def _done(assembler: ChatStreamAssembler) -> list[ToolCall]:
    assembler.feed("[DONE]")
    assembler.release()
    assert assembler.finish().finish_reason == "tool_calls"
    result = assembler.result()
    assert result.finish_reason == "tool_calls"
    return result.tool_calls + result.invalid_tool_calls


def _args(calls: list[ToolCall]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(c.id, c.name, c.arguments) for c in calls]


def test_whole_flat_calls_without_index_each_start_a_call_coerced_to_the_schema() -> None:
    # §3.3 "some chunks use flat {name, arguments}"; Llama writes "parameters" (§3.2.8)
    assembler = ChatStreamAssembler(_request())
    chunks = _calls(
        assembler,
        [
            "not a call",
            {"id": "call_a", "name": "get_weather", "arguments": {"city": "Rome", "days": "2"}},
        ],
        [{"id": "call_b", "name": "get_time", "parameters": {"city": "Paris"}}],
        [{"name": "get_weather", "arguments": '{"city": "Oslo", "days": "5"}'}],
    )
    assert _tool_chunks(chunks)[:2] == [
        [ToolCallChunk(0, "call_a", "get_weather", '{"city":"Rome","days":2}')],
        [ToolCallChunk(1, "call_b", "get_time", '{"city":"Paris"}')],
    ]
    third = _tool_chunks(chunks)[2]
    assert [(c.index, c.name, c.arguments) for c in third] == [
        (2, "get_weather", '{"city":"Oslo","days":5}')
    ]
    assert third[0].id is not None and third[0].id.startswith("call_")  # generated
    calls = _done(assembler)
    assert _args(calls) == [
        ("call_a", "get_weather", {"city": "Rome", "days": 2}),
        ("call_b", "get_time", {"city": "Paris"}),
        (third[0].id, "get_weather", {"city": "Oslo", "days": 5}),
    ]
    assert all(c.is_valid for c in calls)


def test_object_arguments_in_function_form_are_a_whole_call_coerced_to_the_schema() -> None:
    # Llama 4 Scout's schema declares function.arguments as an object (§3.2.3)
    assembler = ChatStreamAssembler(_request())
    deltas = [
        {
            "id": "call_s",
            "function": {"name": "get_weather", "arguments": {"city": "Rome", "days": "3"}},
        }
    ]
    chunk = _calls(assembler, deltas)[0]
    assert chunk is not None
    assert chunk.tool_calls == [
        ToolCallChunk(0, "call_s", "get_weather", '{"city":"Rome","days":3}')
    ]


def test_object_arguments_of_an_unbound_tool_stay_as_sent() -> None:
    assembler = ChatStreamAssembler(_request())
    deltas = [{"id": "call_x", "function": {"name": "search", "arguments": {"q": 1, "n": "2"}}}]
    chunk = _calls(assembler, deltas)[0]
    assert chunk is not None
    assert chunk.tool_calls == [ToolCallChunk(0, "call_x", "search", '{"q":1,"n":"2"}')]
    (call,) = _done(assembler)
    assert (call.name, call.arguments, call.is_valid) == ("search", {"q": 1, "n": "2"}, False)


def test_fragments_without_index_follow_the_servers_id_even_a_turn_scoped_one() -> None:
    # Kimi ids ("functions.get_weather:0") are made unique (cloudflare/ai#526); a later
    # delta naming the id as the server sent it still reaches its call.
    assembler = ChatStreamAssembler(_request())
    chunks = _calls(
        assembler,
        [{"id": "functions.get_weather:0", "function": {"name": "get_weather"}}],
        [{"id": "functions.get_time:1", "function": {"name": "get_time"}}],
        [{"id": "functions.get_weather:0", "function": {"arguments": '{"city": '}}],
        [{"id": "functions.get_time:1", "function": {"arguments": '{"city": "Paris"}'}}],
        [{"id": "functions.get_weather:0", "function": {"arguments": '"Rome"}'}}],
    )
    tool_chunks = _tool_chunks(chunks)
    assert [(c.index, c.name, c.arguments) for c in tool_chunks[0] + tool_chunks[1]] == [
        (0, "get_weather", ""),
        (1, "get_time", ""),
    ]
    weather_id, time_id = tool_chunks[0][0].id, tool_chunks[1][0].id
    assert weather_id is not None and weather_id.startswith("functions.get_weather:0~")
    assert time_id is not None and time_id.startswith("functions.get_time:1~")
    assert tool_chunks[2:] == [
        [ToolCallChunk(0, arguments='{"city": ')],
        [ToolCallChunk(1, arguments='{"city": "Paris"}')],
        [ToolCallChunk(0, arguments='"Rome"}')],
    ]
    assert _args(_done(assembler)) == [
        (weather_id, "get_weather", {"city": "Rome"}),
        (time_id, "get_time", {"city": "Paris"}),
    ]


@pytest.mark.parametrize(
    ("long_id", "short_id"),
    [("functions.get_weather:10", "functions.get_weather:1"), ("call_10", "call_1")],
)
def test_an_id_that_begins_another_calls_id_is_still_its_own_call(
    long_id: str, short_id: str
) -> None:
    # The 11th call of a turn ("…:10") came first: "…:1" must not be read as its id, with or
    # without the suffix that makes turn-scoped ids unique.
    assembler = ChatStreamAssembler(_request())
    chunks = _calls(
        assembler,
        [{"id": long_id, "function": {"name": "get_weather", "arguments": ""}}],
        [{"id": short_id, "function": {"name": "get_weather", "arguments": ""}}],
        [{"id": long_id, "function": {"arguments": '{"city": "Rome"}'}}],
        [{"id": short_id, "function": {"arguments": '{"city": "Paris"}'}}],
    )
    assert [[(c.index, c.name) for c in tc] for tc in _tool_chunks(chunks)] == [
        [(0, "get_weather")],
        [(1, "get_weather")],
        [(0, None)],
        [(1, None)],
    ]
    calls = _done(assembler)
    assert [(wire_tool_call_id(c.id), c.arguments) for c in calls] == [
        (long_id, {"city": "Rome"}),
        (short_id, {"city": "Paris"}),
    ]


def test_fragments_with_neither_index_nor_id_continue_the_last_call() -> None:
    assembler = ChatStreamAssembler(_request())
    chunks = _calls(
        assembler,
        [{"id": "call_1", "function": {"name": "get_time", "arguments": '{"city": "Oslo"}'}}],
        [{"id": "call_2", "function": {"name": "get_weather", "arguments": ""}}],
        [{"function": {"arguments": '{"city": "Rome"'}}],
        [{"function": {"arguments": ""}}],  # an empty fragment is no chunk
        [{"function": {"arguments": "}"}}],
    )
    assert _tool_chunks(chunks) == [
        [ToolCallChunk(0, "call_1", "get_time", '{"city": "Oslo"}')],
        [ToolCallChunk(1, "call_2", "get_weather", "")],
        [ToolCallChunk(1, arguments='{"city": "Rome"')],
        [],
        [ToolCallChunk(1, arguments="}")],
    ]
    assert chunks[3] is None
    assert _args(_done(assembler)) == [
        ("call_1", "get_time", {"city": "Oslo"}),
        ("call_2", "get_weather", {"city": "Rome"}),
    ]


def test_empty_or_non_string_ids_and_names_do_not_route_a_fragment() -> None:
    # continuation deltas with "id": "" or "name": "" (or an id that is no string) continue
    # the last call, like deltas with neither
    assembler = ChatStreamAssembler(_request())
    chunks = _calls(
        assembler,
        [{"id": "call_1", "function": {"name": "get_time", "arguments": '{"city": "Oslo"}'}}],
        [{"id": "call_2", "function": {"name": "get_weather", "arguments": ""}}],
        [{"id": "", "function": {"name": "", "arguments": '{"city": '}}],
        [{"id": 2, "function": {"arguments": '"Rome"'}}],
        [{"function": {"name": "", "arguments": "}"}}],
    )
    assert _tool_chunks(chunks)[2:] == [
        [ToolCallChunk(1, arguments='{"city": ')],
        [ToolCallChunk(1, arguments='"Rome"')],
        [ToolCallChunk(1, arguments="}")],
    ]
    assert _args(_done(assembler)) == [
        ("call_1", "get_time", {"city": "Oslo"}),
        ("call_2", "get_weather", {"city": "Rome"}),
    ]


def test_a_fragment_before_any_call_belongs_to_the_first_call() -> None:
    # §10.5 with no index on the early fragment: the name that follows completes call 0
    assembler = ChatStreamAssembler(_request())
    chunks = _calls(
        assembler,
        [{"function": {"arguments": '{"city": "Rome"}'}}],
        [{"index": 0, "id": "call_1", "function": {"name": "get_weather"}}],
    )
    assert _tool_chunks(chunks) == [
        [],
        [ToolCallChunk(0, "call_1", "get_weather", '{"city": "Rome"}')],
    ]
    assert _args(_done(assembler)) == [("call_1", "get_weather", {"city": "Rome"})]


def test_an_unknown_id_without_a_name_does_not_start_a_call() -> None:
    # an id matching no call and no name: the fragment belongs to the last call
    assembler = ChatStreamAssembler(_request())
    _calls(
        assembler,
        [{"id": "call_1", "function": {"name": "get_weather", "arguments": '{"city": '}}],
        [{"id": "call_9", "function": {"arguments": '"Rome"}'}}],
    )
    assert _args(_done(assembler)) == [("call_1", "get_weather", {"city": "Rome"})]


def test_a_name_without_an_id_gets_a_generated_one() -> None:
    assembler = ChatStreamAssembler(_request())
    chunk = _calls(assembler, [{"index": 0, "function": {"name": "get_weather"}}])[0]
    assert chunk is not None
    (start,) = chunk.tool_calls
    assert (start.index, start.name, start.arguments) == (0, "get_weather", "")
    assert start.id is not None and start.id.startswith("call_")
    _calls(assembler, [{"index": 0, "function": {"arguments": '{"city": "Rome"}'}}])
    assert _args(_done(assembler)) == [(start.id, "get_weather", {"city": "Rome"})]


def test_fragments_before_the_name_and_the_servers_id_are_kept_for_the_first_chunk() -> None:
    # GLM / QwQ (cloudflare/ai#523, §10.5): id and fragments first, the name last
    assembler = ChatStreamAssembler(_request())
    chunks = _calls(
        assembler,
        [{"index": 0, "id": "chatcmpl-tool-8c44", "function": {"arguments": '{"city": '}}],
        [{"index": 0, "function": {"arguments": '"Rome"}'}}],
        [{"index": 0, "function": {"name": "get_weather", "arguments": ""}}],
        [SENTINEL],
    )
    assert chunks[:2] == [None, None]
    assert _tool_chunks(chunks)[2:] == [
        [ToolCallChunk(0, "chatcmpl-tool-8c44", "get_weather", '{"city": "Rome"}')],
        [],
    ]
    assert _args(_done(assembler)) == [("chatcmpl-tool-8c44", "get_weather", {"city": "Rome"})]


def test_the_null_sentinel_is_skipped_not_the_deltas_after_it() -> None:
    assembler = ChatStreamAssembler(_request())
    chunks = _calls(
        assembler,
        [
            SENTINEL,
            {"index": 0, "id": "call_1", "function": {"name": "get_time", "arguments": "{}"}},
        ],
    )
    assert _tool_chunks(chunks) == [[ToolCallChunk(0, "call_1", "get_time", "{}")]]


def test_a_stream_with_only_a_sentinel_has_no_tool_call() -> None:
    assembler = ChatStreamAssembler(_request())
    assembler.feed(json.dumps({"response": "Sunny.", "tool_calls": [SENTINEL]}))
    assembler.feed("[DONE]")
    result = assembler.result()
    assert (result.text, result.tool_calls, result.invalid_tool_calls) == ("Sunny.", [], [])
    assert assembler.finish().finish_reason == "stop"


def test_an_id_alone_opens_the_call_its_name_completes() -> None:
    assembler = ChatStreamAssembler(_request())
    chunks = _calls(
        assembler,
        [{"index": 0, "id": "call_7"}],
        [{"index": 0, "function": {"name": "get_time", "arguments": "{}"}}],
    )
    assert _tool_chunks(chunks) == [[], [ToolCallChunk(0, "call_7", "get_time", "{}")]]


def test_a_later_id_or_name_for_a_started_call_changes_nothing() -> None:
    assembler = ChatStreamAssembler(_request())
    _calls(
        assembler,
        [{"index": 0, "id": "call_1", "function": {"name": "get_weather", "arguments": ""}}],
        [{"index": 0, "id": "call_2", "function": {"name": "get_time", "arguments": "{}"}}],
    )
    assert _args(_done(assembler)) == [("call_1", "get_weather", {})]


def test_a_harmony_suffix_is_dropped_from_a_streamed_tool_name() -> None:
    # "get_weather<|channel|>commentary" (§10.5)
    assembler = ChatStreamAssembler(_request(model=GPT_OSS))
    name = "get_weather<|channel|>commentary"
    chunk = _calls(
        assembler, [{"index": 0, "id": "c1", "function": {"name": name, "arguments": ""}}]
    )[0]
    assert chunk is not None and chunk.tool_calls == [ToolCallChunk(0, "c1", "get_weather", "")]


def test_arguments_never_named_are_an_invalid_call() -> None:
    assembler = ChatStreamAssembler(_request())
    chunks = _calls(assembler, [{"function": {"arguments": '{"city": "Rome"}'}}])
    assert chunks == [None]
    assembler.feed("[DONE]")
    result = assembler.result()
    assert result.tool_calls == []
    (call,) = result.invalid_tool_calls
    assert (call.name, call.raw_arguments) == ("", '{"city": "Rome"}')
    assert call.error == "the model streamed arguments but never named the tool"
    assert call.id.startswith("call_")
    assert assembler.result().invalid_tool_calls[0].id == call.id  # stable across calls


def test_tool_calls_that_are_not_a_list_are_ignored() -> None:
    assembler = ChatStreamAssembler(_request())
    assert _calls(assembler, {"name": "get_time", "arguments": {}}) == [None]  # type: ignore[arg-type]
    assembler.feed("[DONE]")
    assert assembler.result().tool_calls == []


# --------------------------------------------------------------------------------------
# Text held back while a tool is forced (§3.2.8)
# --------------------------------------------------------------------------------------


def _forced() -> ChatStreamAssembler:
    request = build_chat_request(
        GPT_OSS, USER, stream=True, tools=[WEATHER], tool_choice="get_weather"
    )
    return ChatStreamAssembler(request)


def _text_events(assembler: ChatStreamAssembler, *texts: str) -> list[ChatChunk | None]:
    return [
        assembler.feed(json.dumps({"response": t, "id": "gen-9", "model": GPT_OSS})) for t in texts
    ]


def test_forced_tool_written_as_text_is_released_as_a_tool_call() -> None:
    assembler = _forced()
    assert _text_events(
        assembler, '{"name": "get_weather", ', '"arguments": {"city": "Rome"}}'
    ) == [
        None,
        None,
    ]
    assembler.feed("[DONE]")
    released = assembler.release()
    assert released is not None
    (start,) = released.tool_calls
    assert (start.index, start.name, start.arguments) == (0, "get_weather", '{"city":"Rome"}')
    assert start.id is not None
    assert (released.text, released.model, released.id) == ("", GPT_OSS, "gen-9")
    assert assembler.release() is None  # once
    assert assembler.finish().finish_reason == "tool_calls"
    result = assembler.result()
    assert result.text == ""
    assert _args(result.tool_calls) == [(start.id, "get_weather", {"city": "Rome"})]


def test_forced_tool_text_that_is_no_call_is_released_as_text() -> None:
    assembler = _forced()
    _text_events(assembler, "I cannot ", "check the weather.")
    assembler.feed("[DONE]")
    released = assembler.release()
    assert released == ChatChunk(text="I cannot check the weather.", model=GPT_OSS, id="gen-9")
    assert assembler.finish().finish_reason == "stop"
    assert assembler.result().text == "I cannot check the weather."


def test_forced_tool_text_after_a_real_call_streams_as_it_comes() -> None:
    assembler = _forced()
    _calls(
        assembler,
        [
            {
                "index": 0,
                "id": "c1",
                "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
            }
        ],
    )
    assert _text_events(assembler, "Done.") == [ChatChunk(text="Done.", model=GPT_OSS, id="gen-9")]
    assert assembler.release() is None
    assert assembler.result().text == "Done."


def test_text_held_before_a_real_call_is_released_as_text_not_salvaged() -> None:
    # the model wrote JSON text, then made the call properly: the call stands, the text
    # is text (salvaging it would overwrite the real call); it goes out with the call, ahead
    # of the text after it (released at the end, it would come after " Done.")
    assembler = _forced()
    _text_events(assembler, '{"city": "Rome"}')
    real = {
        "index": 0,
        "id": "c1",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
    [with_call] = _calls(assembler, [real])
    assert with_call is not None
    assert with_call.text == '{"city": "Rome"}'
    assert [(t.id, t.name) for t in with_call.tool_calls] == [("c1", "get_weather")]
    assert _text_events(assembler, " Done.")[0] == ChatChunk(
        text=" Done.", model=GPT_OSS, id="gen-9"
    )
    assembler.feed("[DONE]")
    assert assembler.release() is None
    result = assembler.result()
    assert result.text == '{"city": "Rome"} Done.'
    assert _args(result.tool_calls) == [("c1", "get_weather", {"city": "Paris"})]


def test_held_text_goes_out_ahead_of_the_text_beside_the_first_call() -> None:
    # one event with text and the first real call: the held text came before it
    assembler = _forced()
    assert _text_events(assembler, "Let me ", "check. ") == [None, None]
    real = {"index": 0, "id": "c1", "function": {"name": "get_weather", "arguments": "{}"}}
    event = {"response": "Calling.", "tool_calls": [real], "id": "gen-9"}
    chunk = assembler.feed(json.dumps(event))
    assert chunk is not None
    assert (chunk.text, [t.id for t in chunk.tool_calls]) == ("Let me check. Calling.", ["c1"])
    assembler.feed("[DONE]")
    assert assembler.release() is None
    assert assembler.result().text == "Let me check. Calling."
