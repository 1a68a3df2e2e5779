"""Inline ``<think>`` reasoning through ``ChatWorkersAI`` (issue 17; the core's tests and the
source, cloudflare/workers-ai-provider#16, are in ``tests/core/test_inline_think.py``).

DeepSeek-R1-Distill answers with its reasoning inline and only the closing tag: LangChain gets
the answer as ``content`` and the reasoning where the adapter puts reasoning,
``additional_kwargs["reasoning_content"]`` — on invoke and on stream.
"""

from __future__ import annotations

from langchain_core.messages import AIMessageChunk

from langchain_workersai import ChatWorkersAI
from tests.conftest import loopback_connection
from workersai.testing import Reply, WorkersAIServer, envelope

DEEPSEEK = "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b"
ANSWER = "Okay, the user asks for the capital of France.\n</think>\n\nParis."
REASONING = "Okay, the user asks for the capital of France."


def test_invoke_and_stream_move_inline_reasoning_out_of_the_content(
    server: WorkersAIServer,
) -> None:
    deltas = ["Okay, the user asks", " for the capital of France.\n</th", "ink>\n\nPar", "is."]
    server.enqueue(
        Reply.json(envelope({"response": ANSWER})),
        Reply.sse([{"response": d} for d in deltas] + [{"response": "", "finish_reason": "stop"}]),
    )
    llm = ChatWorkersAI(model=DEEPSEEK, **loopback_connection(server))

    message = llm.invoke("What is the capital of France?")
    assert message.content == "Paris."
    assert message.additional_kwargs["reasoning_content"] == REASONING

    chunks = list(llm.stream("What is the capital of France?"))
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    assert isinstance(full, AIMessageChunk)
    assert full.content == "Paris."
    assert full.additional_kwargs["reasoning_content"] == REASONING
    # Reasoning streamed live, before the answer; no chunk carries a piece of the tag.
    assert chunks[0].additional_kwargs["reasoning_content"] == "Okay, the user asks"
    assert not any("<" in str(c.content) for c in chunks)
