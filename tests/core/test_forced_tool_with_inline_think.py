"""A forced tool and inline ``<think>`` reasoning in one stream: the two kinds of held-back text.

The stream assembler holds text back for two reasons. Inline reasoning (per reference §10.10:
deepseek-r1-distill-qwen-32b and qwq-32b pre-fill ``<think>``, so their text is reasoning up to
``</think>``) holds what may be the start of a tag, and a complete answer that never closed its
reasoning turns out to be the answer only at the end. A forced tool (per reference §3.2 item 8)
holds the answer's text until the end, because the model may write the call as JSON text to be
salvaged. When both happen in one stream, what the reasoning filter gives back at the end goes
through the forced-tool hold, and text held before a real call must come out in its place.

Each case runs in both stream formats (native ``response`` deltas, §3.3, and OpenAI
``choices[].delta``, §4) with the tag split across deltas, and checks the exact text, reasoning
and tool calls of the chunks and of the result: no tag or held text leaks, nothing is lost or
doubled — and the result equals the same answer unstreamed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from workersai import AsyncWorkersAI, ChatChunk, ChatResult, WorkersAI
from workersai._chat import ChatStreamAssembler, build_chat_request, parse_chat_response
from workersai.testing import Reply, WorkersAIServer, envelope

QWQ = "@cf/qwen/qwq-32b"
DEEPSEEK = "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b"
LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
USER = [{"role": "user", "content": "Weather in Rome?"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
FORMATS = ["native", "openai"]
# The call as the model writes it in its text (§3.2 item 8), in two deltas.
CALL_TEXT = ['{"name": "get_weather", ', '"arguments": {"city": "Rome"}}']
# A real call of the wire (OpenAI delta form, as both formats send it: §3.3, §4).
REAL_CALL = {
    "index": 0,
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
}

Event = tuple[str, Any]  # ("text", delta) or ("call", wire tool call)


def _wire(events: list[Event], fmt: str, finish: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for kind, value in events:
        if fmt == "native":
            out.append(
                {"response": value} if kind == "text" else {"response": "", "tool_calls": [value]}
            )
        else:
            delta = {"content": value} if kind == "text" else {"tool_calls": [value]}
            out.append({"choices": [{"index": 0, "delta": delta}]})
    if fmt == "native":
        out.append({"response": "", "finish_reason": finish, "usage": {"completion_tokens": 40}})
    else:
        out.append({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    return out


def _request(model: str, fmt: str, max_tokens: int | None = None) -> Any:
    return build_chat_request(
        model,
        USER,
        stream=True,
        endpoint="native" if fmt == "native" else "openai",
        tools=[WEATHER],
        tool_choice="get_weather",
        params={"max_tokens": max_tokens},
    )


def _assemble(
    model: str, events: list[Event], fmt: str, finish: str = "stop", max_tokens: int | None = None
) -> tuple[list[ChatChunk], ChatChunk | None, ChatResult]:
    """(content chunks fed, the release chunk, result), fed as the clients do."""
    assembler = ChatStreamAssembler(_request(model, fmt, max_tokens))
    fed = [assembler.feed(json.dumps(e)) for e in _wire(events, fmt, finish)]
    assert assembler.feed("[DONE]") is None
    released = assembler.release()
    assert assembler.release() is None  # everything held came out once
    final = assembler.finish()
    result = assembler.result()
    assert final.finish_reason == result.finish_reason
    return [c for c in fed if c is not None], released, result


def _unstreamed(model: str, events: list[Event], fmt: str, finish: str = "stop") -> ChatResult:
    """The same answer unstreamed: its text joined, its real calls in ``tool_calls``."""
    text = "".join(v for k, v in events if k == "text")
    calls = [v for k, v in events if k == "call"]
    request = build_chat_request(
        model,
        USER,
        endpoint="native" if fmt == "native" else "openai",
        tools=[WEATHER],
        tool_choice="get_weather",
    )
    if fmt == "native":
        body: Any = envelope({"response": text, "tool_calls": calls, "finish_reason": finish})
    else:
        message = {"role": "assistant", "content": text, "tool_calls": calls}
        body = {"choices": [{"index": 0, "message": message, "finish_reason": finish}]}
    return parse_chat_response(body, request)


def _calls(result: ChatResult) -> list[tuple[str, dict[str, Any]]]:
    assert result.invalid_tool_calls == []
    return [(c.name, c.arguments) for c in result.tool_calls]


def _same_answer(result: ChatResult, whole: ChatResult) -> None:
    assert (result.text, result.reasoning, _calls(result)) == (
        whole.text,
        whole.reasoning,
        _calls(whole),
    )


# -- the reasoning closes, then the answer is held for the forced tool ---------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("model", "opening"),
    [(QWQ, []), (DEEPSEEK, []), (LLAMA, ["\n<th", "ink>"])],  # pre-filled tag, or both tags
)
def test_reasoning_streams_live_and_the_call_written_after_it_is_salvaged(
    fmt: str, model: str, opening: list[str]
) -> None:
    events: list[Event] = [
        ("text", d) for d in [*opening, "Rome: need the weather.\n</thi", "nk>\n\n", *CALL_TEXT]
    ]
    chunks, released, result = _assemble(model, events, fmt)
    # The reasoning went out as it came, before the tag was whole; the call's text never
    # leaked as text, and the split tag is in neither field.
    assert [(c.text, c.reasoning, c.tool_calls) for c in chunks] == [
        ("", "Rome: need the weather.", [])
    ]
    assert released is not None
    assert (released.text, released.reasoning) == ("", "")
    [call] = released.tool_calls
    assert (call.index, call.name, call.arguments) == (0, "get_weather", '{"city":"Rome"}')
    assert result.text == "" and result.reasoning == "Rome: need the weather."
    assert _calls(result) == [("get_weather", {"city": "Rome"})]
    assert result.tool_calls[0].id == call.id
    assert result.finish_reason == "tool_calls"
    _same_answer(result, _unstreamed(model, events, fmt))


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_answer_after_the_reasoning_that_is_no_call_is_released_as_text_once(
    fmt: str,
) -> None:
    deltas = ["Hm, no weather tool fits.\n</", "think>", "\n\nI cannot ", "check that."]
    events: list[Event] = [("text", d) for d in deltas]
    chunks, released, result = _assemble(QWQ, events, fmt)
    assert [(c.text, c.reasoning) for c in chunks] == [("", "Hm, no weather tool fits.")]
    assert released == ChatChunk(text="I cannot check that.", model=QWQ)
    assert (result.text, result.reasoning) == ("I cannot check that.", "Hm, no weather tool fits.")
    assert _calls(result) == [] and result.finish_reason == "stop"
    _same_answer(result, _unstreamed(QWQ, events, fmt))


@pytest.mark.parametrize("fmt", FORMATS)
def test_text_held_before_a_real_call_goes_out_with_it_ahead_of_later_text(fmt: str) -> None:
    # The held answer text comes out with the first real call, so the text keeps the order
    # it had on the wire: held at the end, "Calling it." would follow " Done.".
    events: list[Event] = [
        ("text", "Need Rome's weather.\n</th"),
        ("text", "ink>\n\nCalling it."),
        ("call", REAL_CALL),
        ("text", " Done."),
    ]
    chunks, released, result = _assemble(QWQ, events, fmt)
    assert [(c.text, c.reasoning, [t.name for t in c.tool_calls]) for c in chunks] == [
        ("", "Need Rome's weather.", []),
        ("Calling it.", "", ["get_weather"]),
        (" Done.", "", []),
    ]
    assert released is None
    assert (result.text, result.reasoning) == ("Calling it. Done.", "Need Rome's weather.")
    assert _calls(result) == [("get_weather", {"city": "Paris"})]  # the real call, unsalvaged
    assert result.finish_reason == "tool_calls"
    _same_answer(result, _unstreamed(QWQ, events, fmt))


# -- the reasoning never closes: given back at the end, through the forced-tool hold -------


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_complete_answer_without_the_tag_that_is_the_call_is_salvaged_at_the_end(
    fmt: str,
) -> None:
    # Streamed as reasoning (no tag yet), the text is the answer once the stream completes
    # without </think> (§10.10) — and the answer is the forced call written as text.
    events: list[Event] = [("text", d) for d in CALL_TEXT]
    chunks, released, result = _assemble(QWQ, events, fmt)
    assert [c.text for c in chunks] == ["", ""]
    assert "".join(c.reasoning for c in chunks).strip() == "".join(CALL_TEXT)
    assert released is not None
    assert (released.text, released.reasoning) == ("", "")
    [call] = released.tool_calls
    assert (call.name, call.arguments) == ("get_weather", '{"city":"Rome"}')
    # What streamed as reasoning was the answer: none is left, and no text either.
    assert (result.text, result.reasoning) == ("", None)
    assert _calls(result) == [("get_weather", {"city": "Rome"})]
    assert result.finish_reason == "tool_calls"
    _same_answer(result, _unstreamed(QWQ, events, fmt))


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_complete_answer_without_the_tag_that_is_prose_is_given_back_as_text(fmt: str) -> None:
    events: list[Event] = [("text", d) for d in ["I cannot", " check that.\n"]]
    chunks, released, result = _assemble(QWQ, events, fmt)
    assert [(c.text, c.reasoning) for c in chunks] == [("", "I cannot"), ("", " check that.")]
    assert released == ChatChunk(text="I cannot check that.\n", model=QWQ)
    assert (result.text, result.reasoning, _calls(result)) == ("I cannot check that.\n", None, [])
    assert result.finish_reason == "stop"
    _same_answer(result, _unstreamed(QWQ, events, fmt))


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_complete_answer_without_the_tag_beside_a_real_call_is_text_not_salvaged(
    fmt: str,
) -> None:
    # The text looks like a call, but a real one came: the text is given back as text.
    events: list[Event] = [("text", d) for d in CALL_TEXT] + [("call", REAL_CALL)]
    chunks, released, result = _assemble(QWQ, events, fmt)
    assert [c.text for c in chunks] == ["", "", ""]
    assert [t.name for t in chunks[-1].tool_calls] == ["get_weather"]
    assert released == ChatChunk(text="".join(CALL_TEXT), model=QWQ)
    assert (result.text, result.reasoning) == ("".join(CALL_TEXT), None)
    assert _calls(result) == [("get_weather", {"city": "Paris"})]
    _same_answer(result, _unstreamed(QWQ, events, fmt))


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_stream_cut_inside_the_reasoning_releases_its_end_as_reasoning(fmt: str) -> None:
    # Cut by max_tokens before </think>: all reasoning, its held tail included ("</th" may
    # have begun a tag); nothing is text and nothing is salvaged.
    events: list[Event] = [("text", d) for d in ["Rome? Call", " get_weather </th"]]
    chunks, released, result = _assemble(QWQ, events, fmt, finish="length", max_tokens=40)
    assert [(c.text, c.reasoning) for c in chunks] == [("", "Rome? Call"), ("", " get_weather")]
    assert released == ChatChunk(reasoning=" </th", model=QWQ)
    assert (result.text, result.reasoning) == ("", "Rome? Call get_weather </th")
    assert _calls(result) == [] and result.finish_reason == "length"


# -- through the clients ------------------------------------------------------------------


def test_through_the_sync_client_both_formats(server: WorkersAIServer) -> None:
    events: list[Event] = [
        ("text", "Need it.\n</thi"),
        ("text", "nk>\n\nOne moment."),
        ("call", REAL_CALL),
        ("text", " Done."),
    ]
    server.enqueue(*(Reply.sse(_wire(events, fmt, "tool_calls")) for fmt in FORMATS))
    client = WorkersAI("acct", "tok", base_url=server.base_url, max_retries=0)
    for fmt in FORMATS:
        with client.stream_chat(
            QWQ, USER, endpoint=fmt, tools=[WEATHER], tool_choice="get_weather"
        ) as stream:
            chunks = list(stream)
            result = stream.result()
        assert "".join(c.text for c in chunks) == "One moment. Done." == result.text
        assert "".join(c.reasoning for c in chunks) == "Need it." == result.reasoning
        assert _calls(result) == [("get_weather", {"city": "Paris"})]


async def test_through_the_async_client_both_formats(server: WorkersAIServer) -> None:
    events: list[Event] = [("text", d) for d in ["Rome.\n</th", "ink>", "\n\n", *CALL_TEXT]]
    server.enqueue(*(Reply.sse(_wire(events, fmt, "stop")) for fmt in FORMATS))
    async with AsyncWorkersAI("acct", "tok", base_url=server.base_url, max_retries=0) as client:
        for fmt in FORMATS:
            stream = await client.stream_chat(
                DEEPSEEK, USER, endpoint=fmt, tools=[WEATHER], tool_choice="get_weather"
            )
            chunks = [chunk async for chunk in stream]
            result = await stream.result()
            assert "".join(c.text for c in chunks) == "" == result.text
            assert "".join(c.reasoning for c in chunks) == "Rome." == result.reasoning
            streamed = [(t.name, t.arguments) for c in chunks for t in c.tool_calls]
            assert streamed == [("get_weather", '{"city":"Rome"}')]
            assert _calls(result) == [("get_weather", {"city": "Rome"})]
            assert chunks[-1].finish_reason == "tool_calls"


@pytest.mark.parametrize("fmt", FORMATS)
def test_unforced_the_answer_given_back_at_the_end_stays_text_like_any_streamed_text(
    fmt: str,
) -> None:
    # Only a forced tool holds text for salvaging; with tool_choice left to the model, a
    # stream's text is its text. The answer a pre-filled model gives back at the end is no
    # exception: the same stream from a model that streams it as text reads the same.
    results = []
    for model in (QWQ, LLAMA):
        request = build_chat_request(
            model,
            USER,
            stream=True,
            endpoint="native" if fmt == "native" else "openai",
            tools=[WEATHER],
        )
        assembler = ChatStreamAssembler(request)
        for event in _wire([("text", d) for d in CALL_TEXT], fmt, "stop"):
            assembler.feed(json.dumps(event))
        released = assembler.release()
        assert released is None or released.tool_calls == []
        results.append(assembler.result())
    for result in results:
        assert (result.text, result.reasoning, _calls(result)) == ("".join(CALL_TEXT), None, [])
        assert result.finish_reason == "stop"
