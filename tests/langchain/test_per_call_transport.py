"""Per-call transport settings never reach the model's input (issue 16).

``timeout`` — and LangChain's ``request_timeout`` — given to ``invoke``/``stream``/``batch``
(and their async twins) or bound with ``bind`` are the request's timeout: the core gets them
as a transport option, the JSON body never holds them, and a server slower than them
raises :class:`~workersai.APITimeoutError`. Connection settings (``api_key``, ``base_url``,
``max_retries``...) cannot change per call: they are refused before any request instead of
being sent to the model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from langchain_workersai import ChatWorkersAI, WorkersAIImage, WorkersAISummarizer
from langchain_workersai import WorkersAITranslator as Translator
from tests.compose import handler as wire_format
from tests.conftest import LOOPBACK
from workersai import APITimeoutError, InvalidInputError
from workersai.tasks import TRANSLATION_MODEL
from workersai.testing import RecordedRequest, Reply, WorkersAIServer, echo_answer

pytestmark = LOOPBACK

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
TRANSPORT_KEYS = ("timeout", "request_timeout")


def _answer(request: RecordedRequest) -> Reply:
    if request.model == TRANSLATION_MODEL:
        return Reply.result({"translated_text": "Bonjour"})
    if "messages" in (request.json() or {}):
        return echo_answer(request)
    return wire_format(request)  # images, summaries


def _conn(server: WorkersAIServer) -> dict[str, Any]:
    # No retries: a timed-out attempt is raised at once, and each call is one request.
    return {"account_id": "acct", "api_key": "tok", "base_url": server.base_url, "max_retries": 0}


def _llm(server: WorkersAIServer) -> ChatWorkersAI:
    return ChatWorkersAI(model=LLAMA, **_conn(server))


async def _alist(iterator: Any) -> list[Any]:
    return [item async for item in iterator]


CHAT_CALLS: dict[str, Callable[..., Any]] = {
    "invoke": lambda llm, **kw: llm.invoke("hi", **kw),
    "stream": lambda llm, **kw: list(llm.stream("hi", **kw)),
    "batch": lambda llm, **kw: llm.batch(["hi"], **kw),
    "bind": lambda llm, **kw: llm.bind(**kw).invoke("hi"),
    "streaming-bind": lambda llm, **kw: llm.bind(stream=True, **kw).invoke("hi"),
    "ainvoke": lambda llm, **kw: asyncio.run(llm.ainvoke("hi", **kw)),
    "astream": lambda llm, **kw: asyncio.run(_alist(llm.astream("hi", **kw))),
    "abatch": lambda llm, **kw: asyncio.run(llm.abatch(["hi"], **kw)),
    "abind": lambda llm, **kw: asyncio.run(llm.bind(**kw).ainvoke("hi")),
}


@pytest.mark.parametrize("key", TRANSPORT_KEYS)
@pytest.mark.parametrize("call", list(CHAT_CALLS))
def test_a_per_call_timeout_is_not_sent_to_the_model(
    shared_server: WorkersAIServer, call: str, key: str
) -> None:
    shared_server.handler = _answer
    sent_before = len(shared_server.requests)
    CHAT_CALLS[call](_llm(shared_server), **{key: 30})
    [request] = shared_server.requests[sent_before:]
    body = request.json()
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert not set(TRANSPORT_KEYS) & set(body)


@pytest.mark.parametrize("key", TRANSPORT_KEYS)
@pytest.mark.parametrize("call", list(CHAT_CALLS))
def test_a_per_call_timeout_is_applied(server: WorkersAIServer, call: str, key: str) -> None:
    # The client's own timeout is 60 s: only the per-call 0.2 s can time this out.
    server.enqueue(Reply.stall(2.0))
    with pytest.raises(APITimeoutError):
        CHAT_CALLS[call](_llm(server), **{key: 0.2})
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "setting",
    [
        {"api_key": "per-call-token"},
        {"api_token": "per-call-token"},
        {"base_url": "http://127.0.0.1:9/client/v4"},
        {"max_retries": 5},
        {"http_client": None},
        {"gateway": "gw"},
    ],
    ids=lambda s: next(iter(s)),
)
@pytest.mark.parametrize("call", ["invoke", "bind", "astream"])
def test_connection_settings_are_refused_per_call(
    server: WorkersAIServer, call: str, setting: dict[str, Any]
) -> None:
    # They used to be sent to the model as input fields (a per-call api_key included).
    with pytest.raises(InvalidInputError, match="connection setting") as info:
        CHAT_CALLS[call](_llm(server), **setting)
    assert info.value.field == next(iter(setting))
    assert not server.requests


def test_timeout_and_request_timeout_together_are_ambiguous(server: WorkersAIServer) -> None:
    with pytest.raises(InvalidInputError, match="not both"):
        _llm(server).invoke("hi", timeout=1, request_timeout=2)
    assert not server.requests


RUNNABLES: dict[str, Callable[[WorkersAIServer], Any]] = {
    "image": lambda s: WorkersAIImage(**_conn(s)),
    "translator": lambda s: Translator(target_lang="fr", **_conn(s)),
    "summarizer": lambda s: WorkersAISummarizer(**_conn(s)),
}


@pytest.mark.parametrize("name", list(RUNNABLES))
def test_other_runnables_take_request_timeout_per_call_too(
    server: WorkersAIServer, name: str
) -> None:
    server.handler = _answer
    runnable = RUNNABLES[name](server)
    runnable.invoke("a lighthouse", request_timeout=30)
    assert "request_timeout" not in server.requests[0].json()
    server.enqueue(Reply.stall(2.0))
    with pytest.raises(APITimeoutError):
        runnable.invoke("a lighthouse", request_timeout=0.2)
