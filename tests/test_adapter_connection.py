"""Every public class of both adapters that talks to Workers AI takes the same connection.

One table, one test: each class is built with ``account_id``, the token under both its
names (``api_token`` and the ``api_key`` alias), ``base_url`` (a loopback server answering
in the wire format), ``gateway``, ``timeout``, ``max_retries`` and the user's own HTTP
clients (``http_client`` plus ``http_async_client`` on LangChain, ``async_http_client`` on
LlamaIndex — the names each framework's own integrations use). Then:

- a sync and an async call reach the server with that account, token and gateway, through
  the user's clients (their default headers arrive), which are left open;
- ``max_retries=0`` reached the core (a 503 is raised, not retried) and so did ``timeout``
  (a server slower than it raises :class:`~workersai.APITimeoutError`);
- the token is in none of ``repr``/``str``/``model_dump``/``to_dict``/the pickle.
"""

from __future__ import annotations

import asyncio
import json
import pickle
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.document_loaders import Blob
from llama_index.core.llms import ChatMessage
from llama_index.core.schema import NodeWithScore, TextNode

import langchain_workersai as lc
import llamaindex_workersai as li
from tests.compose import handler as wire_format
from tests.conftest import LOOPBACK
from workersai import APITimeoutError, GatewayOptions, InternalServerError
from workersai.tasks import TRANSLATION_MODEL
from workersai.testing import RecordedRequest, Reply, WorkersAIServer, echo_answer

pytestmark = LOOPBACK

TOKEN = "connection-TOKEN-5b1e9f"
ACCOUNT = "connacct7c4d"
SPEECH = Path(__file__).parent / "fixtures" / "speech.wav"
USER = [ChatMessage(role="user", content="hi")]


def _nodes() -> list[NodeWithScore]:
    return [NodeWithScore(node=TextNode(text=t)) for t in ("llamas", "cats")]


async def _collect(iterator: Any) -> list[Any]:
    return [item async for item in iterator]


@dataclass(frozen=True)
class Case:
    """How to build one class and make one sync and one async request with it."""

    build: Callable[..., Any]
    call: Callable[[Any], Any]
    acall: Callable[[Any], Awaitable[Any]]
    framework: str  # "langchain" | "llamaindex": which name the async client takes


CASES: dict[str, Case] = {
    "ChatWorkersAI": Case(
        lc.ChatWorkersAI, lambda o: o.invoke("hi"), lambda o: o.ainvoke("hi"), "langchain"
    ),
    "WorkersAIEmbeddings": Case(
        lc.WorkersAIEmbeddings,
        lambda o: o.embed_query("hi"),
        lambda o: o.aembed_query("hi"),
        "langchain",
    ),
    "WorkersAIReranker": Case(
        lc.WorkersAIReranker,
        lambda o: o.rerank(["llamas", "cats"], "q"),
        lambda o: o.arerank(["llamas", "cats"], "q"),
        "langchain",
    ),
    "WorkersAIImage": Case(
        lc.WorkersAIImage,
        lambda o: o.invoke("a lighthouse"),
        lambda o: o.ainvoke("a lighthouse"),
        "langchain",
    ),
    "WorkersAIWhisperParser": Case(
        lc.WorkersAIWhisperParser,
        lambda o: o.parse(Blob.from_path(SPEECH)),
        lambda o: o.aparse(Blob.from_path(SPEECH)),
        "langchain",
    ),
    "WorkersAIWhisperLoader": Case(
        lambda **conn: lc.WorkersAIWhisperLoader(SPEECH, **conn),
        lambda o: o.load(),
        lambda o: _collect(o.alazy_load()),
        "langchain",
    ),
    "WorkersAITranslator": Case(
        lambda **conn: lc.WorkersAITranslator(target_lang="fr", **conn),
        lambda o: o.invoke("Hello"),
        lambda o: o.ainvoke("Hello"),
        "langchain",
    ),
    "WorkersAISummarizer": Case(
        lc.WorkersAISummarizer,
        lambda o: o.invoke("A long text."),
        lambda o: o.ainvoke("A long text."),
        "langchain",
    ),
    "li.WorkersAI": Case(
        li.WorkersAI, lambda o: o.chat(USER), lambda o: o.achat(USER), "llamaindex"
    ),
    "WorkersAIEmbedding": Case(
        li.WorkersAIEmbedding,
        lambda o: o.get_query_embedding("hi"),
        lambda o: o.aget_query_embedding("hi"),
        "llamaindex",
    ),
    "WorkersAIRerank": Case(
        li.WorkersAIRerank,
        lambda o: o.postprocess_nodes(_nodes(), query_str="q"),
        lambda o: o.apostprocess_nodes(_nodes(), query_str="q"),
        "llamaindex",
    ),
    "WorkersAIWhisperReader": Case(
        li.WorkersAIWhisperReader,
        lambda o: o.load_data(SPEECH),
        lambda o: o.aload_data(SPEECH),
        "llamaindex",
    ),
    "WorkersAIImageToolSpec": Case(
        li.WorkersAIImageToolSpec,
        lambda o: o.generate_image("a lighthouse"),
        lambda o: o.agenerate_image("a lighthouse"),
        "llamaindex",
    ),
    "WorkersAIImageTool": Case(
        li.WorkersAIImageTool,
        lambda o: o.call(prompt="a lighthouse"),
        lambda o: o.acall(prompt="a lighthouse"),
        "llamaindex",
    ),
}


def test_the_table_covers_every_public_class_that_talks_to_workers_ai() -> None:
    # A new public class must join the table. Callbacks count usage and make no request.
    no_requests = {"WorkersAICallbackHandler", "WorkersAIUsageHandler"}
    public = {
        f"{'li.' if name == 'WorkersAI' else ''}{name}"
        for module in (lc, li)
        for name in module.__all__
        if isinstance(getattr(module, name), type) and name not in no_requests
    }
    assert public == set(CASES)


def _answer(request: RecordedRequest) -> Reply:
    """What Workers AI answers (the wire-format emulator; any chat and translation too)."""
    if request.model == TRANSLATION_MODEL:
        return Reply.result({"translated_text": "Bonjour"})
    if "messages" in (request.json() or {}):
        return echo_answer(request)
    return wire_format(request)


@pytest.fixture
def wire_server() -> Iterator[WorkersAIServer]:
    with WorkersAIServer(_answer) as server:
        yield server


@pytest.fixture
def user_clients() -> Iterator[tuple[httpx.Client, httpx.AsyncClient]]:
    """The user's HTTP clients; the async one is closed by the test, on its event loop."""
    with httpx.Client(headers={"x-user-client": "sync"}) as sync:
        yield sync, httpx.AsyncClient(headers={"x-user-client": "async"})


def _shows_no_token(obj: Any) -> None:
    shown = [repr(obj), str(obj)]
    for method in ("model_dump", "to_dict"):
        if hasattr(obj, method):
            shown.append(json.dumps(getattr(obj, method)(), default=repr))
    for where, text in zip(("repr", "str", "dump", "to_dict"), shown, strict=False):
        assert TOKEN not in text, where
    data = pickle.dumps(obj)
    assert TOKEN.encode() not in data
    assert TOKEN not in repr(pickle.loads(data))


@pytest.mark.parametrize("token_name", ["api_token", "api_key"])
@pytest.mark.parametrize("name", list(CASES))
def test_every_class_takes_the_same_connection_settings(
    name: str,
    token_name: str,
    wire_server: WorkersAIServer,
    user_clients: tuple[httpx.Client, httpx.AsyncClient],
) -> None:
    case = CASES[name]
    sync_client, async_client = user_clients
    async_name = "http_async_client" if case.framework == "langchain" else "async_http_client"
    obj = case.build(
        account_id=ACCOUNT,
        **{token_name: TOKEN},
        base_url=wire_server.base_url,
        gateway=GatewayOptions(id="conn-gw", cache_ttl=60),
        timeout=0.5,
        max_retries=0,
        http_client=sync_client,
        **{async_name: async_client},
    )
    _shows_no_token(obj)

    async def use_async() -> None:
        await case.acall(obj)
        assert not async_client.is_closed  # the user's to close
        await async_client.aclose()

    case.call(obj)
    asyncio.run(use_async())
    sent = wire_server.requests
    assert [r.headers.get("x-user-client") for r in sent] == ["sync", "async"]
    for request in sent:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.path.startswith(f"/client/v4/accounts/{ACCOUNT}/ai/")
        assert request.headers["cf-aig-gateway-id"] == "conn-gw"
        assert request.headers["cf-aig-cache-ttl"] == "60"
        assert TOKEN not in request.body.decode("utf-8", "replace")
    assert not sync_client.is_closed

    wire_server.enqueue(Reply.html(503))  # max_retries=0: raised, not retried
    with pytest.raises(InternalServerError):
        case.call(obj)
    if token_name == "api_token":  # once per class: it waits for the timeout
        wire_server.enqueue(Reply.stall(3.0))  # slower than timeout=0.5
        with pytest.raises(APITimeoutError):
            case.call(obj)
    assert len(wire_server.requests) == (4 if token_name == "api_token" else 3)
    _shows_no_token(obj)
