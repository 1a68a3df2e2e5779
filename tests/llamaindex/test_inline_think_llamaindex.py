"""Inline ``<think>`` reasoning through LlamaIndex's ``WorkersAI`` (issue 17; the core's tests
and the source, cloudflare/workers-ai-provider#16, are in ``tests/core/test_inline_think.py``).

QwQ-32B answers with its reasoning inline and only the closing tag: LlamaIndex gets the answer
as the message's text and the reasoning as a ``ThinkingBlock`` — on chat and on stream_chat.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.llms.types import ChatMessage, ThinkingBlock

from llamaindex_workersai import WorkersAI
from tests.conftest import LOOPBACK, loopback_connection
from workersai.testing import Reply, WorkersAIServer

pytestmark = LOOPBACK

QWQ = "@cf/qwen/qwq-32b"
USER = [ChatMessage(role="user", content="What is the capital of France?")]
ANSWER = "Okay, the user asks for the capital of France.\n</think>\n\nParis."
REASONING = "Okay, the user asks for the capital of France."


def _completion(content: str) -> dict[str, Any]:
    return {
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
    }


def _thinking(message: ChatMessage) -> list[str]:
    return [b.content or "" for b in message.blocks if isinstance(b, ThinkingBlock)]


def test_chat_and_stream_chat_move_inline_reasoning_to_a_thinking_block(
    server: WorkersAIServer,
) -> None:
    deltas = ["Okay, the user asks for the capital of France.\n</", "think>\n", "\nParis."]
    server.enqueue(
        Reply.json({"result": _completion(ANSWER), "success": True, "errors": []}),
        Reply.sse(
            [{"choices": [{"index": 0, "delta": {"content": d}}]} for d in deltas]
            + [{"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]
        ),
    )
    llm = WorkersAI(model=QWQ, **loopback_connection(server))

    message = llm.chat(USER).message
    assert (message.content, _thinking(message)) == ("Paris.", [REASONING])

    responses = list(llm.stream_chat(USER))
    assert "".join(r.delta or "" for r in responses) == "Paris."
    thinking = "".join(r.additional_kwargs.get("thinking_delta", "") for r in responses)
    assert thinking == REASONING
    final = responses[-1].message
    assert (final.content, _thinking(final)) == ("Paris.", [REASONING])
