"""Streams of parallel tool calls in both wire formats, for the adapters' tool-call tests.

A model that calls several tools at once streams them as OpenAI-style deltas told apart
only by their ``index``: each call starts with ``{id, type, index, function: {name}}`` and
its JSON arguments follow as ``{index, function: {arguments: "<fragment>"}}`` pieces.

* ``native`` — ``/ai/run`` SSE with the deltas in a top-level ``tool_calls`` array, the
  null-finalisation sentinel, the ``{"response": "", "usage": ...}`` trailer and
  ``[DONE]`` (reference §3.3);
* ``openai`` — ``/ai/v1/chat/completions`` chunks with the deltas in
  ``choices[0].delta.tool_calls``, a first ``{role, content: ""}`` chunk and the two
  terminal chunks, real usage then the all-zero trailer (reference §4).

Layouts: ``sequential`` streams one call after the other; ``interleaved`` starts every
call first and then sends the argument fragments round-robin (call 0, call 1, call 2,
call 0, …), so a client that routes a fragment by anything but its ``index`` puts it on the
wrong call; ``whole`` sends each call complete in its own event — natively in the flat
``{id, name, arguments: {...}}`` form without an ``index`` (§3.3 "some chunks use flat
``{name, arguments}``"), in OpenAI form as one delta carrying all its arguments.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from workersai.testing import RecordedRequest, Reply

LLAMA_33 = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
SCOUT = "@cf/meta/llama-4-scout-17b-16e-instruct"
USAGE = {"prompt_tokens": 120, "completion_tokens": 60, "total_tokens": 180}
ZERO_USAGE = {
    "prompt_tokens": 0,
    "completion_tokens": 0,
    "total_tokens": 0,
    "prompt_tokens_details": {"cached_tokens": 0},
}

Format = Literal["native", "openai"]
Layout = Literal["sequential", "interleaved", "whole"]
FORMATS: tuple[Format, ...] = ("native", "openai")
LAYOUTS: tuple[Layout, ...] = ("sequential", "interleaved", "whole")


@dataclass(frozen=True)
class Call:
    """One expected tool call."""

    id: str
    name: str
    args: dict[str, Any]

    @property
    def arguments(self) -> str:
        """The arguments as the model writes them: JSON text."""
        return json.dumps(self.args)

    def fragments(self, pieces: int = 3) -> list[str]:
        """The arguments cut into ``pieces`` fragments at arbitrary offsets (mid-key too)."""
        text = self.arguments
        step = -(-len(text) // pieces)
        return [text[i : i + step] for i in range(0, len(text), step)]


ROME = Call("chatcmpl-tool-5f0c3a1e9b7d4c2a8e6f1b3d5a7c9e01", "get_weather", {"city": "Rome"})
PARIS = Call("chatcmpl-tool-0a2b4c6d8e0f1a3b5c7d9e1f3a5b7c02", "get_weather", {"city": "Paris"})
TOKYO = Call(
    "chatcmpl-tool-9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c03",
    "get_local_time",
    {"city": "Tokyo", "utc_offset": 9},
)
TWO_CALLS = (ROME, PARIS)
THREE_CALLS = (ROME, PARIS, TOKYO)
CALL_SETS = {"two": TWO_CALLS, "three": THREE_CALLS}

WEATHER = {"Rome": "24 °C, sunny", "Paris": "17 °C, light rain", "Tokyo": "19 °C, clear"}
PROMPT = "Weather in Rome and in Paris, and the local time in Tokyo?"
FINAL_ANSWER = "Rome: 24 °C and sunny. Paris: 17 °C with light rain. Tokyo is at UTC+9."


def tool_result(call: Call) -> str:
    """What the test tools answer for ``call`` (each differs, so a mix-up shows)."""
    if call.name == "get_local_time":
        return f"{call.args['city']}: UTC+{call.args['utc_offset']}"
    return f"{call.args['city']}: {WEATHER[call.args['city']]}"


def _deltas(calls: Sequence[Call], layout: Layout, fmt: Format) -> list[dict[str, Any]]:
    """The ``tool_calls`` entries, one per event, in the order the model sends them."""
    if layout == "whole":
        if fmt == "native":
            return [{"id": c.id, "name": c.name, "arguments": c.args} for c in calls]
        return [
            {
                "id": c.id,
                "type": "function",
                "index": i,
                "function": {"name": c.name, "arguments": c.arguments},
            }
            for i, c in enumerate(calls)
        ]
    # §3.3: a native call starts with {id, type, index, function: {name}}; §4: an OpenAI
    # one with the same plus "arguments": "".
    opening: dict[str, Any] = {} if fmt == "native" else {"arguments": ""}
    starts = [
        {"id": c.id, "type": "function", "index": i, "function": {"name": c.name, **opening}}
        for i, c in enumerate(calls)
    ]
    fragments = [
        [{"index": i, "function": {"arguments": f}} for f in c.fragments()]
        for i, c in enumerate(calls)
    ]
    if layout == "sequential":
        return [d for start, frags in zip(starts, fragments, strict=True) for d in (start, *frags)]
    rounds = max(len(f) for f in fragments)
    interleaved = [frags[r] for r in range(rounds) for frags in fragments if r < len(frags)]
    return [*starts, *interleaved]


def native_events(calls: Sequence[Call], layout: Layout = "sequential") -> list[dict[str, Any]]:
    """``/ai/run`` SSE events streaming ``calls`` (reference §3.3)."""
    sentinel = {"id": None, "type": None, "function": {"name": None, "arguments": None}}
    return [
        *(
            {"tool_calls": [delta], "p": "abcdefgh"[: 1 + n % 8]}
            for n, delta in enumerate(_deltas(calls, layout, "native"))
        ),
        {"tool_calls": [sentinel]},
        {"response": ""},
        {"response": "", "usage": USAGE},
    ]


def openai_events(
    calls: Sequence[Call], layout: Layout = "sequential", model: str = SCOUT
) -> list[dict[str, Any]]:
    """``/ai/v1/chat/completions`` chunks streaming ``calls`` (reference §4)."""
    head = {"id": "id-1767225600000", "object": "chat.completion.chunk", "created": 1767225600}

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {**head, "model": model, "choices": [choice], **extra}

    return [
        chunk({"role": "assistant", "content": ""}),
        *(chunk({"tool_calls": [delta]}) for delta in _deltas(calls, layout, "openai")),
        chunk({}, "tool_calls", usage=USAGE),
        chunk({}, "tool_calls", usage=ZERO_USAGE),
    ]


def text_events(fmt: Format, text: str, model: str = SCOUT) -> list[dict[str, Any]]:
    """A plain streamed answer (the agent's last turn) in ``fmt``."""
    words = [w + " " for w in text.split(" ")]
    words[-1] = words[-1].rstrip()
    if fmt == "native":
        return [
            *({"response": w, "p": "xyz"} for w in words),
            {"response": "", "usage": USAGE},
        ]
    head = {"id": "id-1767225600001", "object": "chat.completion.chunk", "created": 1767225600}
    return [
        *(
            {**head, "model": model, "choices": [{"index": 0, "delta": {"content": w}}]}
            for w in words
        ),
        {
            **head,
            "model": model,
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            "usage": USAGE,
        },
    ]


def tool_call_stream(fmt: Format, calls: Sequence[Call], layout: Layout = "sequential") -> Reply:
    """The SSE reply streaming ``calls`` in ``fmt``."""
    return Reply.sse(
        native_events(calls, layout) if fmt == "native" else openai_events(calls, layout)
    )


def model_for(fmt: Format) -> dict[str, Any]:
    """Constructor arguments for a chat model speaking ``fmt``."""
    return {"model": LLAMA_33} if fmt == "native" else {"model": SCOUT, "endpoint": "openai"}


class AgentTurns:
    """A handler for a two-turn agent run: the first request (no tool results yet) is
    answered with ``calls`` streamed in ``fmt``, the next one with :data:`FINAL_ANSWER`.

    Unstreamed requests are refused (599): the tests are about the streamed path."""

    def __init__(self, fmt: Format, calls: Sequence[Call], layout: Layout = "sequential") -> None:
        self.fmt = fmt
        self.calls = calls
        self.layout = layout

    def __call__(self, request: RecordedRequest) -> Reply:
        body = request.json()
        if not isinstance(body, dict) or body.get("stream") is not True:
            return Reply.error(599, None, "these tests expect streamed requests")
        expected_path = "/ai/run/" if self.fmt == "native" else "/ai/v1/chat/completions"
        if expected_path not in request.path:
            return Reply.error(599, None, f"unexpected path {request.path}")
        if any(m.get("role") == "tool" for m in body.get("messages", [])):
            return Reply.sse(text_events(self.fmt, FINAL_ANSWER))
        return tool_call_stream(self.fmt, self.calls, self.layout)


def wire_tool_turn(body: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """From the second agent request: the assistant's ``tool_calls`` as sent back
    (``(id, name, parsed arguments)`` each) and the tool results by ``tool_call_id``."""
    messages = body["messages"]
    assistant = next(m for m in messages if m.get("role") == "assistant" and m.get("tool_calls"))
    sent = [
        {
            "id": c["id"],
            "name": c["function"]["name"],
            "args": json.loads(c["function"]["arguments"])
            if isinstance(c["function"]["arguments"], str)
            else c["function"]["arguments"],
        }
        for c in assistant["tool_calls"]
    ]
    results = {m["tool_call_id"]: m["content"] for m in messages if m.get("role") == "tool"}
    return sent, results
