"""``ChatWorkersAI(fallback_models=[...])``: the core's model fallback (issue 15) through
LangChain — the answering model in ``response_metadata["model_name"]`` (and so in the usage
handler), streams that fall back before their first chunk, typos caught at construction."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from langchain_workersai import ChatWorkersAI, WorkersAICallbackHandler
from tests.conftest import LOOPBACK
from workersai.testing import Reply, WorkersAIServer

pytestmark = LOOPBACK

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
QWEN = "@cf/qwen/qwen3-30b-a3b-fp8"
USAGE = {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}
CAPACITY = Reply.error(429, 3040, "Capacity temporarily exceeded, please try again.")
PAID_ONLY = Reply.error(403, 5035, "This model requires the Workers Paid plan.")


def _llm(server: WorkersAIServer, **kwargs: Any) -> ChatWorkersAI:
    return ChatWorkersAI(
        model=LLAMA,
        account_id="acct",
        api_key="tok",
        base_url=server.base_url,
        max_retries=0,
        fallback_models=[QWEN],
        **kwargs,
    )


def test_invoke_names_the_model_that_answered(server: WorkersAIServer) -> None:
    server.enqueue(CAPACITY, Reply.result({"response": "Lisbon.", "usage": USAGE}))
    handler = WorkersAICallbackHandler()
    message = _llm(server).invoke("Capital of Portugal?", config={"callbacks": [handler]})
    assert message.content == "Lisbon."
    assert message.response_metadata["model_name"] == QWEN
    assert message.usage_metadata is not None and message.usage_metadata["total_tokens"] == 12
    assert [r.model for r in server.requests] == [LLAMA, QWEN]
    # the usage handler counts the request under the model that answered
    assert list(handler.by_model) == [QWEN] and handler.requests == 1


async def test_ainvoke_and_astream_fall_back_too(server: WorkersAIServer) -> None:
    server.enqueue(PAID_ONLY, Reply.result({"response": "Lisbon.", "usage": USAGE}))
    llm = _llm(server)
    assert (await llm.ainvoke("hi")).response_metadata["model_name"] == QWEN
    events = [{"response": "Lis"}, {"response": "bon."}, {"response": "", "usage": USAGE}]
    server.enqueue(CAPACITY, Reply.sse(events))
    chunks = [chunk async for chunk in llm.astream("hi")]
    assert "".join(str(c.content) for c in chunks) == "Lisbon."
    assert chunks[-1].response_metadata["model_name"] == QWEN
    assert [r.model for r in server.requests] == [LLAMA, QWEN, LLAMA, QWEN]


def test_stream_falls_back_before_the_first_chunk(server: WorkersAIServer) -> None:
    server.enqueue(CAPACITY, Reply.sse([{"response": "ok"}, {"response": "", "usage": USAGE}]))
    final = None
    for chunk in _llm(server).stream("hi"):
        final = chunk if final is None else final + chunk
    assert final is not None and final.content == "ok"
    assert final.response_metadata["model_name"] == QWEN


def test_bad_input_does_not_fall_back(server: WorkersAIServer) -> None:
    server.enqueue(Reply.error(400, 5006, "AiError: Bad input: Error: oneOf at '/' not met"))
    with pytest.raises(Exception, match="5006"):
        _llm(server).invoke("hi")
    assert [r.model for r in server.requests] == [LLAMA]


def test_a_per_call_fallback_list_wins_and_typos_fail_at_construction(
    server: WorkersAIServer,
) -> None:
    server.enqueue(CAPACITY)
    with pytest.raises(Exception, match="3040"):
        _llm(server).invoke("hi", fallback_models=[])
    assert len(server.requests) == 1
    with pytest.raises(ValidationError, match="Did you mean"):
        ChatWorkersAI(fallback_models=["qwen3-30b-a3b-fp9"])
    assert ChatWorkersAI(fallback_models=["qwen3-30b-a3b-fp8"]).fallback_models == [QWEN]
