"""Per-call transport settings never reach the model's input (issue 16).

``timeout`` (or ``request_timeout``) given to ``chat``/``complete``/``stream_chat``/
``stream_complete`` or their async twins is that request's timeout: the core gets it as a
transport option, the JSON body never holds it, and a server slower than it raises
:class:`~workersai.APITimeoutError`. Connection settings cannot change per call: they are
refused before any request instead of being sent to the model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from llama_index.core.llms import ChatMessage

from llamaindex_workersai import WorkersAI
from tests.conftest import LOOPBACK
from workersai import APITimeoutError, InvalidInputError
from workersai.testing import Reply, WorkersAIServer, echo_answer

pytestmark = LOOPBACK

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
USER = [ChatMessage(role="user", content="hi")]
TRANSPORT_KEYS = ("timeout", "request_timeout")


def _llm(server: WorkersAIServer, **kwargs: Any) -> WorkersAI:
    # No retries: a timed-out attempt is raised at once, and each call is one request.
    return WorkersAI(
        LLAMA, account_id="acct", api_key="tok", base_url=server.base_url, max_retries=0, **kwargs
    )


async def _drain(stream: Any) -> list[Any]:
    return [item async for item in await stream]


CALLS: dict[str, Callable[..., Any]] = {
    "chat": lambda llm, **kw: llm.chat(USER, **kw),
    "complete": lambda llm, **kw: llm.complete("hi", **kw),
    "stream_chat": lambda llm, **kw: list(llm.stream_chat(USER, **kw)),
    "stream_complete": lambda llm, **kw: list(llm.stream_complete("hi", **kw)),
    "achat": lambda llm, **kw: asyncio.run(llm.achat(USER, **kw)),
    "acomplete": lambda llm, **kw: asyncio.run(llm.acomplete("hi", **kw)),
    "astream_chat": lambda llm, **kw: asyncio.run(_drain(llm.astream_chat(USER, **kw))),
    "astream_complete": lambda llm, **kw: asyncio.run(_drain(llm.astream_complete("hi", **kw))),
}


@pytest.mark.parametrize("key", TRANSPORT_KEYS)
@pytest.mark.parametrize("call", list(CALLS))
def test_a_per_call_timeout_is_not_sent_to_the_model(
    shared_server: WorkersAIServer, call: str, key: str
) -> None:
    shared_server.handler = echo_answer
    sent_before = len(shared_server.requests)
    CALLS[call](_llm(shared_server), **{key: 30})
    [request] = shared_server.requests[sent_before:]
    body = request.json()
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert not set(TRANSPORT_KEYS) & set(body)


@pytest.mark.parametrize("key", TRANSPORT_KEYS)
@pytest.mark.parametrize("call", list(CALLS))
def test_a_per_call_timeout_is_applied(server: WorkersAIServer, call: str, key: str) -> None:
    # The LLM's own timeout is 60 s: only the per-call 0.2 s can time this out.
    server.enqueue(Reply.stall(2.0))
    with pytest.raises(APITimeoutError):
        CALLS[call](_llm(server), **{key: 0.2})
    assert len(server.requests) == 1


def test_a_request_timeout_in_additional_kwargs_is_the_timeout_too(
    server: WorkersAIServer,
) -> None:
    server.enqueue(Reply.stall(2.0))
    with pytest.raises(APITimeoutError):
        _llm(server, additional_kwargs={"request_timeout": 0.2}).chat(USER)
    server.handler = echo_answer
    _llm(server, additional_kwargs={"request_timeout": 30, "top_k": 5}).chat(USER)
    assert server.requests[-1].json() == {
        "messages": [{"role": "user", "content": "hi"}],
        "top_k": 5,
    }


@pytest.mark.parametrize(
    "setting",
    [
        {"api_key": "per-call-token"},
        {"api_token": "per-call-token"},
        {"account_id": "other"},
        {"base_url": "http://127.0.0.1:9/client/v4"},
        {"max_retries": 5},
        {"async_http_client": None},
    ],
    ids=lambda s: next(iter(s)),
)
@pytest.mark.parametrize("call", ["chat", "stream_complete", "astream_chat"])
def test_connection_settings_are_refused_per_call(
    server: WorkersAIServer, call: str, setting: dict[str, Any]
) -> None:
    # They used to be sent to the model as input fields (a per-call api_key included).
    with pytest.raises(InvalidInputError, match="connection setting") as info:
        CALLS[call](_llm(server), **setting)
    assert info.value.field == next(iter(setting))
    assert not server.requests
