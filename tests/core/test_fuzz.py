"""Fuzzing the parsers that read what Workers AI sends back.

Whatever bytes or JSON values arrive — the SSE decoder, the chat answer normaliser (native,
OpenAI and Responses shapes), the stream assembler, the embeddings / rerank / image / audio /
transcript / task / batch / catalog parsers and the error builder — may only raise the
package's own errors (:class:`WorkersAIError` subclasses), never a ``KeyError``,
``TypeError``, ``AttributeError``... from a shape they did not expect. Where a parser has an
invariant (the same events whatever the chunking, the assembled text equals the streamed
text, vectors in input order) it is checked too.

Values are drawn from JSON-like trees whose keys are biased towards the field names the
parsers look for (so the interesting branches are reached) and whose leaves are arbitrary.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workersai import WorkersAIError
from workersai._chat import (
    ChatRequest,
    ChatStreamAssembler,
    chunks_from_result,
    parse_chat_response,
)
from workersai._embeddings import EmbeddingRequest, parse_embedding_response
from workersai._envelope import error_from_response
from workersai._rerank import RerankRequest, parse_rerank_response
from workersai._sse import ServerSentEvent, SSEDecoder
from workersai._transport import decode_body, parse_retry_after
from workersai.audio import AudioResult, Transcript, parse_vtt
from workersai.batch import BatchJob
from workersai.images import ImageResult
from workersai.models import ModelInfo, search_page
from workersai.results import Usage
from workersai.tasks import TASKS

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYS = [
    "result",
    "success",
    "errors",
    "messages",
    "response",
    "choices",
    "message",
    "delta",
    "content",
    "tool_calls",
    "function",
    "name",
    "arguments",
    "parameters",
    "id",
    "index",
    "usage",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "input_tokens",
    "output_tokens",
    "prompt_tokens_details",
    "cached_tokens",
    "completion_tokens_details",
    "reasoning_tokens",
    "neurons",
    "finish_reason",
    "object",
    "output",
    "type",
    "text",
    "output_text",
    "summary",
    "reasoning",
    "reasoning_content",
    "call_id",
    "model",
    "data",
    "shape",
    "pooling",
    "embedding",
    "score",
    "image",
    "audio",
    "results",
    "channels",
    "alternatives",
    "transcript",
    "words",
    "word",
    "punctuated_word",
    "start",
    "end",
    "segments",
    "vtt",
    "transcription_info",
    "language",
    "duration",
    "paragraphs",
    "sentences",
    "metadata",
    "detected_language",
    "label",
    "box",
    "xmin",
    "ymin",
    "xmax",
    "ymax",
    "translated_text",
    "description",
    "responses",
    "status",
    "request_id",
    "external_reference",
    "code",
    "error",
    "properties",
    "property_id",
    "value",
    "task",
    "derived",
    "params",
    "accepts",
    "price",
    "unit",
    "page",
    "per_page",
    "total_count",
    "result_info",
]
TEXTS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "add",
            "stop",
            "length",
            "tool_calls",
            "message",
            "function_call",
            "reasoning",
            "response",
            "function",
            "done",
            "queued",
            "[DONE]",
            "",
            "data:image/png;base64,iVBORw0KGgo=",
            "iVBORw0KGgoAAAANSUhEUg==",
            '{"a": "3"}',
            '{"name": "add", "arguments": {"a": 1}}',
            "[1, 2]",
            "00:00.000 --> 00:01.500",
            "WEBVTT\n\n00:00.000 --> 00:01.000\nhi",
        ]
    ),
)
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXTS,
)
JSON = st.recursive(
    LEAVES,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(KEYS), st.text(max_size=4)), children, max_size=5
        ),
    ),
    max_leaves=24,
)
ENVELOPED = st.one_of(JSON, JSON.map(lambda r: {"result": r, "success": True, "errors": []}))

TOOL_SCHEMAS: dict[str, Any] = {
    "add": {
        "type": "object",
        "properties": {
            "a": {"type": "integer"},
            "b": {"type": ["number", "string"]},
            "c": {"type": "array", "items": {"type": "boolean"}},
            "d": {
                "anyOf": [
                    {"type": "object", "properties": {"x": {"type": "integer"}}},
                    {"type": "null"},
                ]
            },
        },
    }
}


def _request(forced: Any, with_tools: bool, stream: bool = False) -> ChatRequest:
    return ChatRequest(
        model="@cf/meta/llama-3.3-70b-instruct-fp8-fast",
        endpoint="native",
        route="run/x",
        body={},
        stream=stream,
        tool_schemas=dict(TOOL_SCHEMAS) if with_tools else {},
        forced=forced if with_tools else False,
        max_tokens=5,
    )


FORCED = st.sampled_from([False, True, "add"])


# -- SSE --------------------------------------------------------------------------------


def _decode(chunks: list[bytes | str]) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    return events + decoder.flush()


def _split(data: Any, cuts: list[int]) -> list[Any]:
    points = sorted({min(c, len(data)) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@FUZZ
@given(blob=st.binary(max_size=300), cuts=st.lists(st.integers(0, 300), max_size=12))
def test_sse_any_bytes_any_chunking_same_events(blob: bytes, cuts: list[int]) -> None:
    whole = _decode([blob])
    assert _decode(_split(blob, cuts)) == whole
    for event in whole:
        assert isinstance(event.data, str) and "\r" not in event.data


SSE_TEXT = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "data:",
                "data: ",
                "event:",
                "id:",
                "retry:",
                ":",
                "\n",
                "\r",
                "\r\n",
                "\n\n",
                "[DONE]",
                "{",
                "}",
                "\0",
                " ",
                "7",
            ]
        ),
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6),
    ),
    max_size=16,
).map("".join)


@FUZZ
@given(text=SSE_TEXT, cuts=st.lists(st.integers(0, 80), max_size=8))
def test_sse_any_event_text_as_str_or_utf8_bytes_same_events(text: str, cuts: list[int]) -> None:
    as_text = _decode(_split(text, cuts))
    assert _decode(_split(text.encode("utf-8"), cuts)) == as_text
    for event in as_text:
        assert event.event and (event.retry is None or event.retry >= 0)


# -- chat answers and streams --------------------------------------------------------------

TOOL_CALL = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.none(), TEXTS, st.integers()),
        "index": st.one_of(st.integers(-2, 3), st.none(), TEXTS),
        "type": st.just("function"),
        "name": st.one_of(st.just("add"), TEXTS, st.none()),
        "arguments": st.one_of(JSON, JSON.map(json.dumps), TEXTS),
        "function": st.fixed_dictionaries(
            {},
            optional={
                "name": st.one_of(st.just("add"), TEXTS, st.none()),
                "arguments": st.one_of(JSON, JSON.map(json.dumps), TEXTS),
            },
        ),
    },
)
MESSAGE = st.fixed_dictionaries(
    {},
    optional={
        "content": st.one_of(JSON, TEXTS),
        "reasoning_content": st.one_of(JSON, TEXTS),
        "tool_calls": st.one_of(st.lists(st.one_of(TOOL_CALL, JSON), max_size=3), JSON),
    },
)
NATIVE = st.fixed_dictionaries(
    {},
    optional={
        "response": st.one_of(JSON, TEXTS),
        "tool_calls": st.one_of(st.lists(st.one_of(TOOL_CALL, JSON), max_size=3), JSON),
        "usage": st.one_of(JSON, st.dictionaries(st.sampled_from(KEYS[17:27]), LEAVES)),
        "finish_reason": st.one_of(TEXTS, JSON),
        "reasoning": st.one_of(JSON, TEXTS),
    },
)
OPENAI = st.fixed_dictionaries(
    {
        "choices": st.lists(
            st.one_of(
                st.fixed_dictionaries(
                    {},
                    optional={"message": MESSAGE, "delta": MESSAGE, "finish_reason": TEXTS},
                ),
                JSON,
            ),
            max_size=2,
        )
    },
    optional={"usage": JSON, "id": JSON, "model": JSON},
)
RESPONSES = st.fixed_dictionaries(
    {
        "object": st.just("response"),
        "output": st.one_of(
            JSON,
            st.lists(
                st.fixed_dictionaries(
                    {"type": st.sampled_from(["message", "reasoning", "function_call", "x"])},
                    optional={
                        "content": JSON,
                        "summary": JSON,
                        "name": st.one_of(st.just("add"), TEXTS),
                        "arguments": st.one_of(JSON.map(json.dumps), JSON),
                        "call_id": JSON,
                    },
                ),
                max_size=3,
            ),
        ),
    },
    optional={"output_text": JSON, "usage": JSON, "id": JSON},
)
CHAT_BODY = st.one_of(JSON, NATIVE, OPENAI, RESPONSES).flatmap(
    lambda r: st.sampled_from([r, {"result": r, "success": True, "errors": []}])
)


def _assert_calls_are_of_bound_tools(result: Any, with_tools: bool) -> None:
    # §10.5: a valid call names a bound tool (when tools were bound) and its arguments, if
    # salvaged from text, fit the schema; "tool_calls" is never reported without a call.
    if with_tools:
        assert all(call.name in TOOL_SCHEMAS for call in result.tool_calls)
    if result.finish_reason == "tool_calls":
        assert result.tool_calls or result.invalid_tool_calls


@FUZZ
@given(body=CHAT_BODY, forced=FORCED, with_tools=st.booleans())
def test_chat_answers_of_any_shape_normalise(body: Any, forced: Any, with_tools: bool) -> None:
    try:
        result = parse_chat_response(body, _request(forced, with_tools))
    except WorkersAIError:
        return
    assert isinstance(result.text, str)
    assert all(call.is_valid for call in result.tool_calls)
    assert all(not call.is_valid for call in result.invalid_tool_calls)
    assert isinstance(result.finish_reason, str) and result.finish_reason
    _assert_calls_are_of_bound_tools(result, with_tools)
    *content, final = chunks_from_result(result)
    assert final.is_final and not any(c.is_final for c in content)


STREAM_EVENT = st.one_of(
    NATIVE.map(json.dumps),
    OPENAI.map(json.dumps),
    JSON.map(json.dumps),
    st.sampled_from(["[DONE]", " [DONE] ", "", "{", "null", '{"error": "boom"}']),
    TEXTS,
)


@FUZZ
@given(events=st.lists(STREAM_EVENT, max_size=8), forced=FORCED, with_tools=st.booleans())
def test_streams_of_any_events_assemble(events: list[str], forced: Any, with_tools: bool) -> None:
    assembler = ChatStreamAssembler(_request(forced, with_tools, stream=True))
    streamed: list[str] = []
    try:
        for data in events:
            chunk = assembler.feed(data)
            if chunk is not None:
                assert not chunk.is_final
                streamed.append(chunk.text)
        held = assembler.release()
        if held is not None:
            streamed.append(held.text)
        final = assembler.finish()
    except WorkersAIError:
        return
    assert final.is_final and isinstance(final.finish_reason, str)
    result = assembler.result()
    assert result.text == "".join(streamed)  # nothing lost, nothing added
    _assert_calls_are_of_bound_tools(result, with_tools)
    assert final.finish_reason == result.finish_reason
    for call in result.tool_calls + result.invalid_tool_calls:
        assert isinstance(call.id, str) and call.id and isinstance(call.raw_arguments, str)


# -- embeddings, rerank, media, tasks, batch, catalog, errors ---------------------------------

EMBEDDINGS = st.fixed_dictionaries(
    {},
    optional={
        "data": st.one_of(
            JSON,
            st.lists(st.lists(st.floats(), max_size=3), max_size=4),
            st.lists(
                st.fixed_dictionaries(
                    {}, optional={"embedding": JSON, "index": st.one_of(JSON, st.integers(0, 4))}
                ),
                max_size=4,
            ),
        ),
        "response": JSON,
        "shape": JSON,
        "pooling": JSON,
        "usage": JSON,
    },
)


@FUZZ
@given(
    body=st.one_of(ENVELOPED, EMBEDDINGS, EMBEDDINGS.map(lambda r: {"result": r, "success": True})),
    count=st.integers(0, 4),
)
def test_embedding_answers_give_count_vectors_or_a_typed_error(body: Any, count: int) -> None:
    request = EmbeddingRequest("@cf/baai/bge-m3", "run/x", {}, count)
    try:
        result = parse_embedding_response(body, request)
    except WorkersAIError:
        return
    assert len(result.vectors) == count


RERANK = st.fixed_dictionaries(
    {
        "response": st.one_of(
            JSON,
            st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "id": st.one_of(st.integers(-1, 4), JSON),
                        "score": st.one_of(st.floats(), JSON),
                    },
                ),
                max_size=5,
            ),
        )
    }
)


@FUZZ
@given(
    body=st.one_of(ENVELOPED, RERANK), count=st.integers(0, 4), top_k=st.none() | st.integers(1, 3)
)
def test_rerank_answers_map_back_to_inputs_or_a_typed_error(
    body: Any, count: int, top_k: int | None
) -> None:
    request = RerankRequest("@cf/baai/bge-reranker-base", "run/x", {}, count, top_k)
    try:
        ranked = parse_rerank_response(body, request)
    except WorkersAIError:
        return
    assert all(0 <= r.index < count for r in ranked)
    assert len({r.index for r in ranked}) == len(ranked)


MEDIA = st.one_of(
    JSON,
    st.binary(max_size=40),
    st.binary(max_size=40).map(lambda b: b"\x89PNG\r\n\x1a\n" + b),
    st.binary(max_size=40).map(lambda b: b"ID3" + b),
    st.fixed_dictionaries({"image": st.one_of(JSON, TEXTS)}),
    st.fixed_dictionaries({"audio": st.one_of(JSON, TEXTS)}),
)
TASK_PARSERS = [(name, task.parse) for name, task in TASKS.items()]


@FUZZ
@given(output=st.one_of(MEDIA, ENVELOPED), parser=st.sampled_from(TASK_PARSERS))
def test_task_answers_parse_or_give_a_typed_error(output: Any, parser: Any) -> None:
    _name, parse = parser
    try:
        parse(output, "@cf/test/model")
    except WorkersAIError:
        pass


TRANSCRIPT = st.fixed_dictionaries(
    {"text": st.one_of(TEXTS, JSON)},
    optional={
        "words": JSON,
        "segments": st.one_of(
            JSON,
            st.lists(
                st.fixed_dictionaries(
                    {}, optional={"text": JSON, "start": JSON, "end": JSON, "words": JSON}
                ),
                max_size=3,
            ),
        ),
        "vtt": st.one_of(TEXTS, JSON),
        "transcription_info": JSON,
        "word_count": JSON,
    },
)
DEEPGRAM = st.fixed_dictionaries(
    {
        "results": st.fixed_dictionaries(
            {},
            optional={
                "channels": st.one_of(
                    JSON,
                    st.lists(
                        st.fixed_dictionaries(
                            {}, optional={"alternatives": JSON, "detected_language": JSON}
                        ),
                        max_size=2,
                    ),
                )
            },
        )
    },
    optional={"metadata": JSON},
)


@FUZZ
@given(output=st.one_of(TRANSCRIPT, DEEPGRAM, MEDIA))
def test_media_answers_parse_or_give_a_typed_error(output: Any) -> None:
    for parse in (ImageResult.from_output, AudioResult.from_output):
        try:
            parse(output, "@cf/test/model")
        except WorkersAIError:
            pass
    try:
        transcript = Transcript.from_output(output, "@cf/test/model")
    except WorkersAIError:
        return
    assert isinstance(transcript.text, str)
    assert isinstance(transcript.word_count, int)
    transcript.metadata()


@FUZZ
@given(vtt=st.text(max_size=120))
def test_any_vtt_text_parses(vtt: str) -> None:
    for segment in parse_vtt(vtt):
        assert segment.text


BATCH = st.fixed_dictionaries(
    {},
    optional={
        "request_id": JSON,
        "status": st.one_of(st.sampled_from(["queued", "running", "done"]), JSON),
        "responses": st.one_of(
            JSON,
            st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "id": JSON,
                        "result": JSON,
                        "success": JSON,
                        "external_reference": JSON,
                    },
                ),
                max_size=3,
            ),
        ),
        "usage": JSON,
        "model": JSON,
    },
)


@FUZZ
@given(result=st.one_of(BATCH, JSON), request_id=st.none() | TEXTS)
def test_batch_answers_parse_or_give_a_typed_error(result: Any, request_id: str | None) -> None:
    try:
        job = BatchJob.from_result(result, request_id=request_id)
    except WorkersAIError:
        return
    assert isinstance(job.request_id, str) and isinstance(job.status, str)
    try:
        job.results()
    except WorkersAIError:
        pass


SEARCH_ITEM = st.fixed_dictionaries(
    {},
    optional={
        "name": JSON,
        "id": JSON,
        "description": JSON,
        "task": st.one_of(JSON, st.fixed_dictionaries({"name": JSON})),
        "properties": st.one_of(
            JSON,
            st.lists(
                st.fixed_dictionaries(
                    {
                        "property_id": st.sampled_from(
                            [
                                "context_window",
                                "price",
                                "function_calling",
                                "async_queue",
                                "terms",
                                "beta",
                                "lora",
                                "max_input_tokens",
                                "output_dimensions",
                            ]
                        )
                    },
                    optional={
                        "value": st.one_of(JSON, st.sampled_from(["inf", "-inf", "nan", "1e400"]))
                    },
                ),
                max_size=4,
            ),
        ),
    },
)


@FUZZ
@given(
    items=st.one_of(JSON, st.lists(SEARCH_ITEM, max_size=3)),
    raw=st.one_of(JSON, st.fixed_dictionaries({"result_info": JSON})),
)
def test_model_search_pages_parse(items: Any, raw: Any) -> None:
    models, more = search_page(items, raw)
    assert isinstance(more, bool)
    for info in models:
        assert isinstance(info, ModelInfo) and isinstance(info.id, str)
        info.price_per_token("input")


@FUZZ
@given(
    status=st.integers(100, 599),
    body=st.one_of(ENVELOPED, TEXTS),
    headers=st.dictionaries(st.sampled_from(["retry-after", "retry-after-ms", "cf-ray"]), TEXTS),
)
def test_any_error_answer_becomes_a_typed_error(
    status: int, body: Any, headers: dict[str, str]
) -> None:
    error = error_from_response(status, body, headers=headers, model="@cf/test/model")
    assert isinstance(error, WorkersAIError)
    assert isinstance(str(error), str) and isinstance(repr(error), str)
    assert all(isinstance(code, int) for code in error.codes)
    retry_after = parse_retry_after(headers)
    assert retry_after is None or isinstance(retry_after, float)


@FUZZ
@given(
    content=st.binary(max_size=60) | JSON.map(lambda v: json.dumps(v).encode()),
    content_type=st.sampled_from(
        [
            "application/json",
            "text/html",
            "text/plain; charset=utf-8",
            "image/png",
            "",
            "application/json; charset=latin-1",
            "text/event-stream",
        ]
    ),
)
def test_any_body_decodes(content: bytes, content_type: str) -> None:
    headers = {"content-type": content_type} if content_type else {}
    decode_body(httpx.Response(200, content=content, headers=headers))


@FUZZ
@given(raw=JSON, other=JSON)
def test_usage_reports_parse_and_merge(raw: Any, other: Any) -> None:
    first, second = Usage.from_wire(raw), Usage.from_wire(other)
    if first is not None and second is not None:
        merged = first.merge(second)
        assert merged.total_tokens >= max(first.total_tokens, second.total_tokens)
        assert isinstance((first + second).prompt_tokens, int)
        for usage in (first, second, merged):  # §10.8: never a total below its parts
            assert usage.total_tokens >= usage.prompt_tokens + usage.completion_tokens


@FUZZ
@given(
    reports=st.lists(
        st.tuples(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 3 * 10**6)),
        min_size=1,
        max_size=6,
    )
)
def test_merged_stream_usage_is_the_largest_report_of_each_count(
    reports: list[tuple[int, int, int]],
) -> None:
    merged: Usage | None = None
    for p, c, t in reports:
        usage = Usage.from_wire({"prompt_tokens": p, "completion_tokens": c, "total_tokens": t})
        assert usage is not None
        merged = usage if merged is None else merged.merge(usage)
    assert merged is not None
    assert merged.prompt_tokens == max(p for p, _, _ in reports)
    assert merged.completion_tokens == max(c for _, c, _ in reports)
    parts = merged.prompt_tokens + merged.completion_tokens
    assert merged.total_tokens == max(*(t for _, _, t in reports), parts)


@FUZZ
@given(
    value=st.one_of(JSON, st.lists(JSON, max_size=3)),
    prose=st.sampled_from(["", "Sure: ", "commentary to=functions.add json"]),
    forced=FORCED,
)
def test_salvaged_calls_only_call_bound_tools_with_fitting_arguments(
    value: Any, prose: str, forced: Any
) -> None:
    # Issues 16/17: JSON text is a call only of a bound tool, with arguments its schema fits.
    from workersai._tools import arguments_fit, salvage_tool_calls

    calls = salvage_tool_calls(prose + json.dumps(value), TOOL_SCHEMAS, forced=forced)
    for call in calls:
        assert call.is_valid and call.name in TOOL_SCHEMAS
        assert arguments_fit(call.arguments, TOOL_SCHEMAS[call.name])


@FUZZ
@given(
    content=st.binary(max_size=60) | JSON.map(lambda v: json.dumps(v).encode()),
    content_type=st.sampled_from(
        ["application/json", "text/html", "text/plain", "image/png", "", "text/event-stream"]
    ),
    event_stream=st.booleans(),
)
def test_any_success_body_is_an_answer_or_a_typed_error(
    content: bytes, content_type: str, event_stream: bool
) -> None:
    # §10.2: a JSON endpoint's 2xx body is JSON (or, for chat, an event stream) — never text.
    from workersai._envelope import EventStreamBody
    from workersai._transport import read_checked_body

    headers = {"content-type": content_type} if content_type else {}
    response = httpx.Response(200, content=content, headers=headers)
    try:
        body = read_checked_body(response, "@cf/test/model", event_stream=event_stream)
    except WorkersAIError:
        return
    if isinstance(body, EventStreamBody):
        assert event_stream and content_type == "text/event-stream"
    else:
        assert not isinstance(body, bytes)
        assert not isinstance(body, str) or content.lstrip()[:1] == b'"'


@pytest.mark.parametrize("text", ["¹", "²3", "٣", "５"])
def test_unicode_digits_in_text_numbers_are_not_numbers(text: str) -> None:
    # str.isdigit() accepts them, int() does not (or reads them differently): every place
    # that reads a number from text — usage counts, error codes, SSE retry, batch ids,
    # content-length — treats them as absent, never crashes.
    from workersai._envelope import _detail
    from workersai._json import ascii_int
    from workersai.batch import _item_id

    assert ascii_int(text) is None
    assert Usage.from_wire({"prompt_tokens": text}).prompt_tokens == 0
    assert _detail(text, "AiError: oops").code is None
    assert _item_id(text) is None
    (event,) = SSEDecoder().feed(f"retry: {text}\ndata: x\n\n".encode())
    assert event.data == "x"
    assert ascii_int(" 7") is None and ascii_int("42") == 42
