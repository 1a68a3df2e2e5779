"""Scenarios for the LlamaIndex LLM suites (tests/llamaindex/).

Every answer is written in the wire format of ``workers-ai-api.md`` for the route and mode
the request used:

* native ``/ai/run`` JSON: the v4 envelope around ``{"response", "usage"}``; legacy tool calls
  ``{"response": null, "tool_calls": [{"name", "arguments": {...}}]}`` without ids (§3.2.2);
  JSON mode with ``response`` as an object (§3.2.4);
* native SSE: ``{"response": ..., "p": <padding>}`` events, an empty event, the
  ``{"response": "", "usage": {...}}`` trailer, ``[DONE]`` (§3.3); tool calls as top-level
  OpenAI-delta ``tool_calls`` ending with the null sentinel (§3.3, WAP);
* OpenAI-compatible ``/ai/v1/chat/completions``: plain ``chat.completion`` objects; streams
  with ``id-<ms>`` ids, a first chunk without ``role``, content deltas without a
  ``finish_reason`` key and two terminal chunks, the second with all-zero usage (§4).

Requests are matched by model plus the exact user text of the tests, so these scenarios
never answer another suite's requests.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.compose import scenario
from tests.llamaindex import prompts
from workersai.testing import RecordedRequest, Reply

LLAMA_33 = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
HERMES = "@hf/nousresearch/hermes-2-pro-mistral-7b"
LLAMA_31_8B = "@cf/meta/llama-3.1-8b-instruct"
SCOUT = "@cf/meta/llama-4-scout-17b-16e-instruct"
QWEN3 = "@cf/qwen/qwen3-30b-a3b-fp8"
BGE_SMALL = "@cf/baai/bge-small-en-v1.5"

_CREATED = 1767225600  # 2026-01-01T00:00:00Z
_PADDING = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ"


@dataclass
class Answer:
    """What the model says, rendered per route/mode by :func:`render`."""

    pieces: Sequence[str] = ()
    tool_calls: Sequence[tuple[str, Mapping[str, Any]]] = ()
    json_value: Any = None
    reasoning: Sequence[str] = ()
    prompt_tokens: int = 40
    completion_tokens: int = 0
    string_arguments: bool = False  # legacy native calls often send "6" for 6 (§3.2.2)
    openai_on_run: bool = False  # models that answer in OpenAI form on /ai/run (§3.2.5)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    def usage(self) -> dict[str, int]:
        completion = self.completion_tokens or len(self.text) // 4 + 2 + 18 * len(self.tool_calls)
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }


def _pad(index: int) -> str:
    return _PADDING[: 4 + (index * 11) % 37]


def _call_id(name: str, turn: int) -> str:
    digest = hashlib.sha256(f"{name}:{turn}".encode()).hexdigest()[:32]
    return f"chatcmpl-tool-{digest}"


def _json_args(arguments: Mapping[str, Any]) -> str:
    return json.dumps(arguments, separators=(", ", ": "))


def _split(text: str) -> list[str]:
    middle = max(1, len(text) // 2)
    return [text[:middle], text[middle:]]


def _is_openai(request: RecordedRequest) -> bool:
    return request.path.endswith("/ai/v1/chat/completions")


def _model_of(request: RecordedRequest) -> str | None:
    if request.model:
        return request.model
    body = request.json()
    return body.get("model") if isinstance(body, Mapping) else None


def _turn(request: RecordedRequest) -> int:
    body = request.json() or {}
    return sum(1 for m in body.get("messages") or () if m.get("role") == "tool")


# -- native /ai/run ---------------------------------------------------------------------


def _native_json(answer: Answer, turn: int) -> Reply:
    if answer.openai_on_run:
        return Reply.result(_openai_completion(answer, turn, LLAMA_33))
    result: dict[str, Any] = {}
    if answer.tool_calls:
        result["response"] = None
        result["tool_calls"] = [
            {
                "name": name,
                "arguments": (
                    {k: str(v) for k, v in args.items()} if answer.string_arguments else dict(args)
                ),
            }
            for name, args in answer.tool_calls
        ]
    elif answer.json_value is not None:
        result["response"] = answer.json_value
    else:
        result["response"] = answer.text
    result["usage"] = answer.usage()
    return Reply.result(result)


def _native_sse(answer: Answer, turn: int, model: str) -> Reply:
    events: list[dict[str, Any]] = []
    if answer.openai_on_run:
        # OpenAI deltas on /ai/run, then a native usage chunk (§3.3).
        events = [_openai_chunk(model, {"reasoning_content": piece}) for piece in answer.reasoning]
        events += [_openai_chunk(model, {"content": piece}) for piece in answer.pieces]
        events.append(_openai_chunk(model, {}, finish_reason="stop"))
        events.append({"response": "", "usage": answer.usage()})
        return Reply.sse(events)
    for index, piece in enumerate(answer.pieces):
        events.append({"response": piece, "p": _pad(index)})
    for index, (name, args) in enumerate(answer.tool_calls):
        call_id = _call_id(name, turn)
        start = {"id": call_id, "type": "function", "index": index, "function": {"name": name}}
        events.append({"response": "", "tool_calls": [start], "p": _pad(index + 3)})
        for fragment in _split(_json_args(args)):
            delta = {"index": index, "function": {"arguments": fragment}}
            events.append({"response": "", "tool_calls": [delta], "p": _pad(index + 5)})
    if answer.tool_calls:
        sentinel = {"id": None, "type": None, "function": {"name": None, "arguments": None}}
        events.append({"response": "", "tool_calls": [sentinel]})
    events.append({"response": "", "p": _pad(7)})
    events.append({"response": "", "usage": answer.usage()})
    return Reply.sse(events)


# -- OpenAI-compatible /ai/v1 -----------------------------------------------------------


def _openai_completion(answer: Answer, turn: int, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": answer.text or None}
    if answer.json_value is not None:
        message["content"] = json.dumps(answer.json_value)
    if answer.reasoning:
        message["reasoning_content"] = "".join(answer.reasoning)
    message["tool_calls"] = [
        {
            "id": _call_id(name, turn),
            "type": "function",
            "function": {"name": name, "arguments": _json_args(args)},
        }
        for name, args in answer.tool_calls
    ]
    return {
        "id": f"id-{_CREATED}{turn:03d}",
        "object": "chat.completion",
        "created": _CREATED,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if answer.tool_calls else "stop",
            }
        ],
        "usage": answer.usage(),
    }


def _openai_chunk(
    model: str,
    delta: Mapping[str, Any],
    *,
    finish_reason: str | None = None,
    usage: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "delta": dict(delta), "logprobs": None}
    if finish_reason is not None:
        choice["finish_reason"] = finish_reason
    chunk: dict[str, Any] = {
        "id": f"id-{_CREATED}123",
        "object": "chat.completion.chunk",
        "created": _CREATED,
        "model": model,
        "choices": [choice],
    }
    if usage is not None:
        chunk["usage"] = dict(usage)
    return chunk


def _openai_sse(answer: Answer, turn: int, model: str) -> Reply:
    events = [_openai_chunk(model, {"content": piece}) for piece in answer.pieces]
    for index, (name, args) in enumerate(answer.tool_calls):
        start = {
            "id": _call_id(name, turn),
            "type": "function",
            "index": index,
            "function": {"name": name, "arguments": ""},
        }
        events.append(_openai_chunk(model, {"tool_calls": [start]}))
        for fragment in _split(_json_args(args)):
            delta = {"index": index, "function": {"arguments": fragment}}
            events.append(_openai_chunk(model, {"tool_calls": [delta]}))
    finish = "tool_calls" if answer.tool_calls else "stop"
    zero = {
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "total_tokens": 0,
        "prompt_tokens_details": {"cached_tokens": 0},
    }
    events.append(_openai_chunk(model, {}, finish_reason=finish, usage=answer.usage()))
    events.append(_openai_chunk(model, {}, finish_reason=finish, usage=zero))
    return Reply.sse(events)


def render(request: RecordedRequest, answer: Answer) -> Reply:
    """``answer`` in the format the request's route and ``stream`` flag call for."""
    body = request.json() or {}
    model = _model_of(request) or LLAMA_33
    turn = _turn(request)
    if _is_openai(request):
        if body.get("stream"):
            return _openai_sse(answer, turn, model)
        return Reply.json(_openai_completion(answer, turn, model))
    if body.get("stream"):
        return _native_sse(answer, turn, model)
    return _native_json(answer, turn)


# -- request inspection -----------------------------------------------------------------


def _messages(request: RecordedRequest) -> list[Mapping[str, Any]]:
    body = request.json()
    if not isinstance(body, Mapping) or request.method != "POST":
        return []
    messages = body.get("messages")
    return list(messages) if isinstance(messages, list) else []


def _first_user_text(request: RecordedRequest) -> str | None:
    for message in _messages(request):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return "\n".join(p.get("text", "") for p in content if p.get("type") == "text")
    return None


def _tool_names(request: RecordedRequest) -> list[str]:
    body = request.json() or {}
    return [t["function"]["name"] for t in body.get("tools") or () if "function" in t]


def _tool_results(request: RecordedRequest) -> list[str]:
    return [str(m.get("content")) for m in _messages(request) if m.get("role") == "tool"]


# -- scenarios --------------------------------------------------------------------------


@scenario
def capital_of_portugal(request: RecordedRequest) -> Reply | None:
    if _model_of(request) != LLAMA_33 or _first_user_text(request) != prompts.CAPITAL:
        return None
    return render(request, Answer(pieces=["Lis", "bon", "."], prompt_tokens=31))


@scenario
def proverb_completion(request: RecordedRequest) -> Reply | None:
    if _model_of(request) != LLAMA_33 or _first_user_text(request) != prompts.PROVERB:
        return None
    return render(request, Answer(pieces=["louder", " than", " words."], prompt_tokens=24))


@scenario
def weather_tool(request: RecordedRequest) -> Reply | None:
    if _model_of(request) != LLAMA_33 or _first_user_text(request) != prompts.WEATHER:
        return None
    if _tool_results(request):
        pieces = ["It is sunny", " and 24 °C", " in Lisbon right now."]
        return render(request, Answer(pieces=pieces, prompt_tokens=212))
    call = ("get_weather", {"city": "Lisbon", "unit": "celsius"})
    return render(request, Answer(tool_calls=[call], prompt_tokens=188, completion_tokens=21))


@scenario
def multiply_tool(request: RecordedRequest) -> Reply | None:
    if (
        _model_of(request) not in (LLAMA_33, HERMES)
        or _first_user_text(request) != prompts.MULTIPLY
    ):
        return None
    call = ("multiply", {"a": 6, "b": 7})
    answer = Answer(tool_calls=[call], prompt_tokens=160, string_arguments=True)
    return render(request, answer)


@scenario
def album_structured(request: RecordedRequest) -> Reply | None:
    text = _first_user_text(request)
    if text is None or not text.startswith(prompts.ALBUM):
        return None
    album = {"name": "Tidal Archives", "artist": "The Azores Quartet", "year": 2019}
    body = request.json() or {}
    model = _model_of(request)
    if model in (LLAMA_33, HERMES) and _tool_names(request) == ["Album"]:
        return render(request, Answer(tool_calls=[("Album", album)], prompt_tokens=180))
    if model == LLAMA_33 and "response_format" in body:
        return render(request, Answer(json_value=album, prompt_tokens=96, completion_tokens=24))
    if model == LLAMA_31_8B:
        # No function calling: LlamaIndex asks for JSON in the prompt and parses the text.
        fenced = "```json\n" + json.dumps(album, indent=2) + "\n```"
        return render(request, Answer(pieces=[fenced], prompt_tokens=210))
    return None


@scenario
def arithmetic_agent(request: RecordedRequest) -> Reply | None:
    if _model_of(request) != LLAMA_33 or _first_user_text(request) != prompts.AGENT:
        return None
    results = _tool_results(request)
    if not results:
        call = ("multiply", {"a": 3, "b": 4})
        return render(request, Answer(tool_calls=[call], prompt_tokens=231))
    if len(results) == 1:
        call = ("add", {"a": 12, "b": 5})
        return render(request, Answer(tool_calls=[call], prompt_tokens=268))
    return render(request, Answer(pieces=["(3 × 4) + 5", " = 17."], prompt_tokens=305))


@scenario
def vision_square(request: RecordedRequest) -> Reply | None:
    if _model_of(request) != SCOUT or _first_user_text(request) != prompts.IMAGE:
        return None
    content = _messages(request)[-1].get("content")
    has_image = isinstance(content, list) and any(
        p.get("type") == "image_url" and p["image_url"]["url"].startswith("data:image/png;base64,")
        for p in content
    )
    text = "A solid red square." if has_image else "I cannot see any image."
    return render(request, Answer(pieces=[text], prompt_tokens=612))


@scenario
def reasoning_qwen(request: RecordedRequest) -> Reply | None:
    if _model_of(request) != QWEN3 or _first_user_text(request) != prompts.REASONING:
        return None
    if len(_messages(request)) > 1:  # the follow-up turn
        return render(
            request, Answer(pieces=["17 × 3 = 51,", " so 51 + 1 = 52."], openai_on_run=True)
        )
    answer = Answer(
        pieces=["17 × 3", " = 51."],
        reasoning=["17 × 3 is 17 + 17 + 17", " = 51."],
        prompt_tokens=22,
        completion_tokens=48,
        openai_on_run=True,
    )
    return render(request, answer)


@scenario
def rag_answer(request: RecordedRequest) -> Reply | None:
    if _model_of(request) != LLAMA_33:
        return None
    messages = _messages(request)
    text = "\n".join(str(m.get("content")) for m in messages)
    if prompts.RAG_QUESTION not in text:
        return None
    # Answer from the retrieved context only (the test checks the context was the right one).
    if "Zorblax fruit is bright violet" in text:
        pieces = ["The Zorblax fruit", " is bright violet."]
    else:
        pieces = ["The context does not say."]
    return render(request, Answer(pieces=pieces, prompt_tokens=420))


# Toy embeddings for the RAG test: a bag of keywords, so retrieval is meaningful.
_RAG_AXES = ("zorblax", "violet", "fruit", "quenlor", "river", "mountain", "tea", "harbour")


def _toy_vector(text: str, dims: int = 384) -> list[float]:
    lowered = text.lower()
    vector = [0.0] * dims
    for axis, word in enumerate(_RAG_AXES):
        vector[axis] = float(lowered.count(word))
    norm = sum(v * v for v in vector) ** 0.5 or 1.0
    vector[-1] = 0.001  # never all-zero
    return [round(v / norm, 6) for v in vector]


@scenario
def rag_embeddings(request: RecordedRequest) -> Reply | None:
    if request.model != BGE_SMALL:
        return None
    body = request.json() or {}
    texts = body.get("text")
    texts = [texts] if isinstance(texts, str) else texts
    if not isinstance(texts, list) or not any(prompts.RAG_MARKER in str(t) for t in texts):
        return None
    vectors = [_toy_vector(str(t)) for t in texts]
    return Reply.result({"shape": [len(vectors), 384], "data": vectors, "pooling": "mean"})
