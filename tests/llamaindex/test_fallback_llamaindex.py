"""``WorkersAI(fallback_models=[...])`` for LlamaIndex: the core's model fallback (issue 15);
the answering model in ``additional_kwargs["model"]`` (and in a stream's ``raw``)."""

from __future__ import annotations

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from pydantic import ValidationError

from llamaindex_workersai import WorkersAI
from tests.conftest import LOOPBACK
from workersai.testing import Reply, WorkersAIServer

pytestmark = LOOPBACK

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
QWEN = "@cf/qwen/qwen3-30b-a3b-fp8"
USAGE = {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}
CAPACITY = Reply.error(429, 3040, "Capacity temporarily exceeded, please try again.")
MESSAGES = [ChatMessage(role=MessageRole.USER, content="Capital of Portugal?")]


def _llm(server: WorkersAIServer) -> WorkersAI:
    return WorkersAI(
        model=LLAMA,
        account_id="acct",
        api_token="tok",
        base_url=server.base_url,
        max_retries=0,
        fallback_models=[QWEN],
    )


def test_chat_names_the_model_that_answered(server: WorkersAIServer) -> None:
    server.enqueue(CAPACITY, Reply.result({"response": "Lisbon.", "usage": USAGE}))
    response = _llm(server).chat(MESSAGES)
    assert response.message.content == "Lisbon."
    assert response.additional_kwargs["model"] == QWEN
    assert response.additional_kwargs["total_tokens"] == 12
    assert [r.model for r in server.requests] == [LLAMA, QWEN]


async def test_achat_and_astream_chat_fall_back_too(server: WorkersAIServer) -> None:
    server.enqueue(
        Reply.error(403, 5035, "Workers Paid required"),
        Reply.result({"response": "Lisbon.", "usage": USAGE}),
    )
    llm = _llm(server)
    assert (await llm.achat(MESSAGES)).additional_kwargs["model"] == QWEN
    server.enqueue(CAPACITY, Reply.sse([{"response": "Lisbon."}, {"response": "", "usage": USAGE}]))
    responses = [r async for r in await llm.astream_chat(MESSAGES)]
    assert responses[-1].message.content == "Lisbon."
    assert responses[-1].raw["model"] == QWEN
    assert responses[-1].additional_kwargs["model"] == QWEN


def test_complete_falls_back_and_typos_fail_at_construction(server: WorkersAIServer) -> None:
    server.enqueue(CAPACITY, Reply.result({"response": "ok", "usage": USAGE}))
    assert _llm(server).complete("hi").additional_kwargs["model"] == QWEN
    with pytest.raises(ValidationError, match="Did you mean"):
        WorkersAI(fallback_models=["qwen3-30b-a3b-fp9"])
