"""A complete answer replayed as a stream (JSON mode cannot stream, §3.2.4; gpt-oss answers a
stream request with JSON, §3.3): ``chunks_from_result`` gives one content chunk carrying the
text, reasoning and every tool call, then the one final chunk — the same chunks the adapters
get from a real stream, metadata included."""

from __future__ import annotations

from workersai._chat import chunks_from_result
from workersai.results import ChatChunk, ChatResult, ToolCall, ToolCallChunk, Usage

MODEL = "@cf/openai/gpt-oss-120b"
GATEWAY = {"cache_status": "HIT"}
ROME = ToolCall("call_rome", "get_weather", {"city": "Rome"}, '{"city":"Rome"}')
BROKEN = ToolCall("call_bad", "get_weather", {}, '{"city": ', error="not JSON")


def _result(**fields: object) -> ChatResult:
    base: dict[str, object] = {
        "finish_reason": "stop",
        "usage": Usage(10, 5, 15),
        "model": MODEL,
        "id": "chatcmpl-7",
        "gateway": GATEWAY,
    }
    return ChatResult(**{**base, **fields})  # type: ignore[arg-type]


FINAL = ChatChunk(
    is_final=True,
    finish_reason="stop",
    usage=Usage(10, 5, 15),
    model=MODEL,
    id="chatcmpl-7",
    gateway=GATEWAY,
)


def test_text_reasoning_and_tool_calls_in_one_content_chunk_then_the_final_chunk() -> None:
    result = _result(
        text="Checking.",
        reasoning="Rome first.",
        tool_calls=[ROME],
        invalid_tool_calls=[BROKEN],  # replayed too, after the valid ones
        finish_reason="tool_calls",
    )
    assert chunks_from_result(result) == [
        ChatChunk(
            text="Checking.",
            reasoning="Rome first.",
            tool_calls=[
                ToolCallChunk(0, "call_rome", "get_weather", '{"city":"Rome"}'),
                ToolCallChunk(1, "call_bad", "get_weather", '{"city": '),
            ],
            model=MODEL,
            id="chatcmpl-7",
        ),
        ChatChunk(
            is_final=True,
            finish_reason="tool_calls",
            usage=Usage(10, 5, 15),
            model=MODEL,
            id="chatcmpl-7",
            gateway=GATEWAY,
        ),
    ]


def test_reasoning_alone_is_still_a_content_chunk() -> None:
    chunks = chunks_from_result(_result(reasoning="hmm"))
    assert chunks == [ChatChunk(reasoning="hmm", model=MODEL, id="chatcmpl-7"), FINAL]


def test_tool_calls_alone_are_still_a_content_chunk() -> None:
    chunks = chunks_from_result(_result(tool_calls=[ROME]))
    assert chunks[0] == ChatChunk(
        tool_calls=[ToolCallChunk(0, "call_rome", "get_weather", '{"city":"Rome"}')],
        model=MODEL,
        id="chatcmpl-7",
    )
    assert chunks[1:] == [FINAL]


def test_text_without_reasoning_has_empty_reasoning() -> None:
    chunks = chunks_from_result(_result(text="Hi"))
    assert chunks == [ChatChunk(text="Hi", model=MODEL, id="chatcmpl-7"), FINAL]


def test_an_empty_answer_is_only_the_final_chunk() -> None:
    assert chunks_from_result(_result()) == [FINAL]
