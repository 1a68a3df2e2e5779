"""Reasoning written inline between ``<think>`` tags, moved out of the answer (issue 17).

Source: cloudflare/workers-ai-provider#16 — ``@cf/deepseek-ai/deepseek-r1-distill-qwen-32b``
answers ``"Okay, the user asks …\\n</think>\\n\\nParis."``: its chat template pre-fills the
opening ``<think>``, so the reasoning is inline and only the closing tag is there (QwQ-32B's
template does the same). Per reference §10.10: text starting with ``<think>`` (any model), or
with only ``</think>`` (those models), becomes ``reasoning`` + the answer, in whole answers
(§3.2 ``response`` and OpenAI ``message.content``) and in both stream formats (§3.3, §4).
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workersai import AsyncWorkersAI, ChatChunk, ChatResult, WorkersAI
from workersai._chat import ChatStreamAssembler, build_chat_request, parse_chat_response
from workersai._envelope import EventStreamBody
from workersai._sse import ServerSentEvent
from workersai._think import PREFILLED_THINK_MODELS
from workersai.models import get_model_info
from workersai.testing import Reply, WorkersAIServer, envelope

DEEPSEEK = "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b"
QWQ = "@cf/qwen/qwq-32b"
LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
USER = [{"role": "user", "content": "What is the capital of France?"}]

# The shape of cloudflare/workers-ai-provider#16.
ANSWER = "Okay, the user asks for the capital of France.\nIt is Paris.\n</think>\n\nParis."
REASONING = "Okay, the user asks for the capital of France.\nIt is Paris."


@pytest.fixture
def client(server: WorkersAIServer) -> WorkersAI:
    return WorkersAI("acct", "tok", base_url=server.base_url, max_retries=0)


def _completion(content: str, finish: str = "stop", **message: Any) -> dict[str, Any]:
    return {
        "object": "chat.completion",
        "model": QWQ,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, **message},
                "finish_reason": finish,
            }
        ],
    }


def _events(deltas: list[str], fmt: str, finish: str | None = "stop") -> list[dict[str, Any]]:
    """``deltas`` as the events of a native (§3.3) or OpenAI-compatible (§4) stream."""
    if fmt == "native":
        events: list[dict[str, Any]] = [{"response": d, "p": "abc"} for d in deltas]
        last = {"response": "", "usage": {"prompt_tokens": 9, "completion_tokens": 30}}
        return [*events, {**last, "finish_reason": finish} if finish else last]
    return [{"choices": [{"index": 0, "delta": {"content": d}}]} for d in deltas] + [
        {"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}
    ]


def _assemble(
    model: str,
    deltas: list[str],
    fmt: str = "native",
    *,
    finish: str | None = "stop",
    max_tokens: int | None = None,
    **kwargs: Any,
) -> tuple[list[ChatChunk], ChatResult]:
    """Feed a stream to the assembler the way the clients do (feed, release, finish)."""
    request = build_chat_request(
        model,
        USER,
        stream=True,
        endpoint="native" if fmt == "native" else "openai",
        params={"max_tokens": max_tokens},
        **kwargs,
    )
    assembler = ChatStreamAssembler(request)
    chunks = [assembler.feed(_json(e)) for e in _events(deltas, fmt, finish)]
    chunks.append(assembler.feed("[DONE]"))
    chunks.append(assembler.release())
    chunks.append(assembler.finish())
    return [c for c in chunks if c is not None], assembler.result()


def _json(event: dict[str, Any]) -> str:
    return json.dumps(event)


def _joined(chunks: list[ChatChunk]) -> tuple[str, str]:
    return "".join(c.text for c in chunks), "".join(c.reasoning for c in chunks)


def _unstreamed(model: str, text: str, finish: str | None = None, **params: Any) -> ChatResult:
    request = build_chat_request(model, USER, params=params)
    return parse_chat_response(envelope({"response": text, "finish_reason": finish}), request)


def test_the_models_that_prefill_the_opening_tag_are_in_the_catalog() -> None:
    # The set names real catalog ids: a renamed id would silently turn the rule off.
    assert {DEEPSEEK, QWQ} <= PREFILLED_THINK_MODELS
    assert all(get_model_info(m) is not None for m in PREFILLED_THINK_MODELS)


# -- whole answers ------------------------------------------------------------------------


def test_native_answer_with_only_the_closing_tag_is_split(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    # cloudflare/workers-ai-provider#16, verbatim shape.
    server.enqueue(Reply.json(envelope({"response": ANSWER, "usage": {"completion_tokens": 30}})))
    result = client.chat(DEEPSEEK, USER)
    assert (result.text, result.reasoning) == ("Paris.", REASONING)
    assert result.finish_reason == "stop"


async def test_openai_compatible_answer_is_split_too(server: WorkersAIServer) -> None:
    server.enqueue(Reply.json(_completion("  " + ANSWER)))
    async with AsyncWorkersAI("acct", "tok", base_url=server.base_url, max_retries=0) as client:
        result = await client.chat(QWQ, USER, endpoint="openai")
    assert (result.text, result.reasoning) == ("Paris.", REASONING)


@pytest.mark.parametrize("model", [LLAMA, DEEPSEEK])
def test_both_tags_are_split_for_any_model(model: str) -> None:
    result = _unstreamed(model, "\n<think>\nShort one.\n</think>\n \n\n  print(1)\n")
    # Leading blank lines go; the answer's own indentation stays.
    assert (result.text, result.reasoning) == ("  print(1)\n", "Short one.")


def test_a_model_outside_the_set_keeps_a_stray_closing_tag(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    server.enqueue(Reply.json(envelope({"response": ANSWER})))
    result = client.chat(LLAMA, USER)
    assert (result.text, result.reasoning) == (ANSWER, None)


def test_a_reasoning_field_is_neither_overwritten_nor_duplicated() -> None:
    text = "Close it with </think>, then answer."
    body = _completion(text, reasoning_content="The server split this.")
    result = parse_chat_response(body, build_chat_request(QWQ, USER, endpoint="openai"))
    assert (result.text, result.reasoning) == (text, "The server split this.")


def test_an_answer_cut_before_the_closing_tag_is_all_reasoning() -> None:
    body = envelope({"response": "\nOkay, the user asks for", "usage": {"completion_tokens": 8}})
    result = parse_chat_response(body, build_chat_request(DEEPSEEK, USER, params={"max_tokens": 8}))
    assert (result.text, result.reasoning) == ("", "Okay, the user asks for")
    assert result.finish_reason == "length"


def test_a_complete_answer_without_the_closing_tag_stays_the_answer() -> None:
    # Never lose an answer: were Cloudflare to strip the reasoning server-side, no tag is left.
    result = _unstreamed(DEEPSEEK, "Paris.", max_tokens=100)
    assert (result.text, result.reasoning) == ("Paris.", None)


def test_without_a_request_the_answers_own_model_decides() -> None:
    # parse_chat_response on its own (a cassette, a Batch API item): the model the answer names
    assert (parse_chat_response(_completion(ANSWER)).text, _completion(ANSWER)["model"]) == (
        "Paris.",
        QWQ,
    )
    llama = {**_completion(ANSWER), "model": LLAMA}
    assert (parse_chat_response(llama).text, parse_chat_response(llama).reasoning) == (ANSWER, None)


def test_a_raw_prompt_has_no_template_and_so_no_prefilled_tag() -> None:
    request = build_chat_request(DEEPSEEK, prompt="Q: capital of France?\nA:", raw=True)
    result = parse_chat_response(envelope({"response": ANSWER}), request)
    assert (result.text, result.reasoning) == (ANSWER, None)


def test_json_mode_parses_the_answer_after_the_reasoning() -> None:
    request = build_chat_request(DEEPSEEK, USER, response_format={"type": "json_object"})
    body = envelope({"response": 'Need JSON.\n</think>\n\n{"city": "Paris"}'})
    result = parse_chat_response(body, request)
    assert (result.parsed, result.reasoning) == ({"city": "Paris"}, "Need JSON.")


# -- streams ------------------------------------------------------------------------------

FORMATS = ["native", "openai"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("cut", range(1, len(ANSWER)))
def test_a_stream_split_anywhere_equals_the_whole_answer(fmt: str, cut: int) -> None:
    # Every position, including each one inside "</think>" ("</thi" + "nk>") and inside the
    # blank lines after it.
    chunks, result = _assemble(QWQ, [ANSWER[:cut], ANSWER[cut:]], fmt)
    assert _joined(chunks) == ("Paris.", REASONING)
    assert (result.text, result.reasoning) == ("Paris.", REASONING)
    assert not any("<" in c.text or "</" in c.reasoning for c in chunks)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_stream_token_by_token_emits_reasoning_first_then_the_answer(fmt: str) -> None:
    deltas = ["Okay", ",", " the user asks.", "\n", "</", "think", ">", "\n\n", "Par", "is."]
    chunks, result = _assemble(DEEPSEEK, deltas, fmt)
    reasoning = [c.reasoning for c in chunks if c.reasoning]
    text = [c.text for c in chunks if c.text]
    assert reasoning == ["Okay", ",", " the user asks."] and text == ["Par", "is."]
    # Reasoning streams live: the first delta is out before the tag arrives.
    assert chunks[0].reasoning == "Okay"
    assert result.finish_reason == "stop"


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_opening_tag_at_the_start_of_a_stream_is_dropped(fmt: str) -> None:
    chunks, result = _assemble(LLAMA, ["<th", "ink>", "\nHm.", "</think>", "Paris."], fmt)
    assert _joined(chunks) == ("Paris.", "Hm.")
    assert (result.text, result.reasoning) == ("Paris.", "Hm.")


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_stream_cut_by_max_tokens_before_the_tag_is_all_reasoning(fmt: str) -> None:
    deltas = ["Okay, the user", " asks </th"]
    chunks, result = _assemble(QWQ, deltas, fmt, finish="length", max_tokens=30)
    assert _joined(chunks) == ("", "Okay, the user asks </th")
    assert (result.text, result.reasoning) == ("", "Okay, the user asks </th")
    assert chunks[-1].finish_reason == "length" and result.finish_reason == "length"
    # The same text unstreamed, cut the same way, reads the same.
    whole = _unstreamed(QWQ, "".join(deltas), "length", max_tokens=30)
    assert (whole.text, whole.reasoning) == (result.text, result.reasoning)


def test_a_native_stream_cut_by_max_tokens_is_told_by_its_usage() -> None:
    # Classic /ai/run streams have no finish reason: usage reaching max_tokens is the cut.
    _, result = _assemble(DEEPSEEK, ["Okay, ", "so"], finish=None, max_tokens=30)
    assert (result.text, result.reasoning, result.finish_reason) == ("", "Okay, so", "length")


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_complete_stream_without_the_tag_gives_the_answer_back(fmt: str) -> None:
    chunks, result = _assemble(DEEPSEEK, [" Par", "is."], fmt, max_tokens=100)
    assert (result.text, result.reasoning) == (" Paris.", None)
    assert chunks[-2].text == " Paris."  # the release chunk gives it back as text


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_stream_of_a_model_outside_the_set_is_unchanged(fmt: str) -> None:
    deltas = ["Okay, the user asks.\n</thi", "nk>\n\nParis."]
    chunks, result = _assemble(LLAMA, deltas, fmt)
    assert _joined(chunks) == ("".join(deltas), "")
    assert (result.text, result.reasoning) == ("".join(deltas), None)
    assert [c.text for c in chunks[:2]] == deltas  # streamed as they came, nothing held


def test_a_stream_with_a_reasoning_field_passes_its_text_through() -> None:
    events = [
        {"choices": [{"index": 0, "delta": {"reasoning_content": "Server-split."}}]},
        {"choices": [{"index": 0, "delta": {"content": "Paris, not </think>."}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]
    assembler = ChatStreamAssembler(build_chat_request(QWQ, USER, stream=True, endpoint="openai"))
    chunks = [assembler.feed(_json(e)) for e in events]
    assert assembler.release() is None
    assert [c.text for c in chunks if c] == ["", "Paris, not </think>."]
    result = assembler.result()
    assert (result.text, result.reasoning) == ("Paris, not </think>.", "Server-split.")


def test_through_the_client_both_stream_formats(server: WorkersAIServer, client: WorkersAI) -> None:
    deltas = ["Okay, the user asks.\n</th", "ink>\n", "\nParis."]
    server.enqueue(Reply.sse(_events(deltas, "native")), Reply.sse(_events(deltas, "openai")))
    for endpoint in ("native", "openai"):
        with client.stream_chat(DEEPSEEK, USER, endpoint=endpoint) as stream:
            chunks = list(stream)
            result = stream.result()
        assert _joined(chunks) == ("Paris.", "Okay, the user asks.")
        assert (result.text, result.reasoning) == ("Paris.", "Okay, the user asks.")


def test_a_raw_prompt_streamed_has_no_prefilled_tag_either() -> None:
    # raw: the prompt went without the chat template, so nothing pre-filled <think>
    request = build_chat_request(
        DEEPSEEK, prompt="Q: capital of France?\nA:", raw=True, stream=True
    )
    assembler = ChatStreamAssembler(request)
    deltas = ["Okay.\n</th", "ink>\n\nParis."]
    chunks = [assembler.feed(_json(e)) for e in _events(deltas, "native")]
    assert [c.text for c in chunks if c] == deltas
    assert assembler.release() is None
    assert (assembler.result().text, assembler.result().reasoning) == ("".join(deltas), None)


def test_an_event_stream_without_a_request_is_split_by_the_model_it_names() -> None:
    # a proxy's event stream read on its own (§10.2): the first event's model decides
    events = [{"model": QWQ, "response": "Okay.\n</th"}, {"response": "ink>\n\nParis."}]
    body = EventStreamBody(
        tuple(ServerSentEvent(data=_json(e)) for e in [*events, {"finish_reason": "stop"}])
    )
    result = parse_chat_response(body)
    assert (result.text, result.reasoning, result.model) == ("Paris.", "Okay.", QWQ)
    llama = [{**events[0], "model": LLAMA}, events[1], {"finish_reason": "stop"}]
    body = EventStreamBody(tuple(ServerSentEvent(data=_json(e)) for e in llama))
    assert parse_chat_response(body).reasoning is None


# -- streamed == unstreamed, for any text and any split ----------------------------------

_PIECES = st.sampled_from(
    ["<think>", "</think>", "<", "</", "think", ">", "\n", " ", "\n\n", "Okay", "Paris.", "x"]
)


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(_PIECES, max_size=12),
    cuts=st.lists(st.integers(min_value=0, max_value=80), max_size=6),
    model=st.sampled_from([QWQ, LLAMA]),
    fmt=st.sampled_from(FORMATS),
    truncated=st.booleans(),
)
def test_any_stream_assembles_to_the_unstreamed_reading(
    pieces: list[str], cuts: list[int], model: str, fmt: str, truncated: bool
) -> None:
    text = "".join(pieces)
    bounds = sorted({min(c, len(text)) for c in cuts} | {0, len(text)})
    deltas = [text[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    finish = "length" if truncated else "stop"
    chunks, result = _assemble(model, deltas, fmt, finish=finish, max_tokens=100)

    body = _completion(text, finish) if fmt == "openai" else None
    request = build_chat_request(
        model, USER, endpoint="openai" if fmt == "openai" else "native", params={"max_tokens": 100}
    )
    if body is None:
        native = {"response": text, "finish_reason": finish}
        whole = parse_chat_response(envelope(native), request)
    else:
        whole = parse_chat_response(body, request)
    assert (result.text, result.reasoning) == (whole.text, whole.reasoning)

    streamed_text, streamed_reasoning = _joined(chunks)
    opened = text.lstrip().startswith("<think>")
    if model == QWQ and not opened and "</think>" not in text and not truncated:
        # A complete answer that never closed its reasoning: streamed as reasoning, then
        # given back whole as the answer by the last chunk.
        assert (result.text, result.reasoning, streamed_text) == (text, None, text)
    else:
        assert (streamed_text, streamed_reasoning) == (result.text, result.reasoning or "")
    if text.count("</think>") == 1 and (model == QWQ or opened):
        # The one tag, whole or split across deltas, is in neither field.
        assert "</think>" not in streamed_text + streamed_reasoning
