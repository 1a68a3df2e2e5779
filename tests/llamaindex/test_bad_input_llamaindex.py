"""Bad input to the LlamaIndex classes.

Constructor fields out of range or of the wrong type fail with pydantic's
``ValidationError`` (LlamaIndex components are pydantic models); connection settings the
core client refuses (a base URL without scheme) raise the core's :class:`InvalidInputError`
at construction; bad calls raise :class:`InvalidInputError` (a ``ValueError``, as LlamaIndex
integrations raise) — all before any request reaches the loopback server.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, ImageBlock, TextBlock
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from pydantic import ValidationError

from llamaindex_workersai import (
    WorkersAI,
    WorkersAIEmbedding,
    WorkersAIRerank,
    WorkersAIWhisperReader,
)
from tests.conftest import LOOPBACK
from tests.conftest import loopback_connection as _conn
from workersai import InvalidInputError
from workersai.testing import WorkersAIServer

pytestmark = LOOPBACK

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n" * 4
NOT_UTF8 = "caf\udce9"
SCOUT = "@cf/meta/llama-4-scout-17b-16e-instruct"
LLAMA = "@cf/meta/llama-3.1-8b-instruct-fast"
BGE = "@cf/baai/bge-base-en-v1.5"
USER = [ChatMessage(role="user", content="hi")]


@pytest.mark.parametrize(
    ("cls", "kwargs", "error"),
    [
        pytest.param(WorkersAI, {"temperature": -1}, ValidationError, id="llm-temperature"),
        pytest.param(WorkersAI, {"max_tokens": 0}, ValidationError, id="llm-max-tokens"),
        pytest.param(WorkersAI, {"model": 5}, ValidationError, id="llm-model-int"),
        pytest.param(WorkersAI, {"model": "nope"}, ValidationError, id="llm-model-unknown"),
        pytest.param(WorkersAI, {"timeout": "soon"}, ValidationError, id="llm-timeout-str"),
        pytest.param(WorkersAI, {"timeout": 0}, ValidationError, id="llm-timeout-zero"),
        pytest.param(WorkersAI, {"max_retries": -1}, ValidationError, id="llm-retries"),
        pytest.param(WorkersAI, {"endpoint": "v2"}, ValidationError, id="llm-endpoint"),
        pytest.param(WorkersAI, {"context_window": 0}, ValidationError, id="llm-context-window"),
        pytest.param(WorkersAI, {"gateway": 5}, ValidationError, id="llm-gateway-int"),
        pytest.param(WorkersAI, {"base_url": "api.x"}, InvalidInputError, id="llm-base-url"),
        pytest.param(WorkersAI, {"api_token": 5}, InvalidInputError, id="llm-token-int"),
        pytest.param(WorkersAIEmbedding, {"embed_batch_size": 0}, ValidationError, id="emb-batch"),
        pytest.param(WorkersAIEmbedding, {"max_concurrency": 0}, ValidationError, id="emb-conc"),
        pytest.param(WorkersAIEmbedding, {"pooling": "max"}, ValidationError, id="emb-pooling"),
        pytest.param(WorkersAIEmbedding, {"timeout": -2}, ValidationError, id="emb-timeout"),
        # A field now, as on the LLM (was InvalidInputError from the client: the drift of #13)
        pytest.param(WorkersAIEmbedding, {"gateway": 5}, ValidationError, id="emb-gateway"),
        pytest.param(WorkersAIRerank, {"top_n": 0}, ValidationError, id="rerank-top-n"),
        pytest.param(WorkersAIRerank, {"model": 5}, ValidationError, id="rerank-model-int"),
        pytest.param(WorkersAIRerank, {"max_retries": -3}, ValidationError, id="rerank-retries"),
    ],
)
def test_bad_constructor_argument_fails_at_construction(
    shared_server: WorkersAIServer, cls: type[Any], kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        cls(**{**_conn(shared_server), **kwargs})
    assert not shared_server.requests


@pytest.mark.parametrize(
    ("cls", "typo", "message"),
    [
        (
            WorkersAI,
            "acount_id",
            "WorkersAI() got an unexpected keyword argument 'acount_id' "
            "(did you mean 'account_id'?)",
        ),
        (
            WorkersAIEmbedding,
            "batch_size",
            "WorkersAIEmbedding() got an unexpected keyword "
            "argument 'batch_size' (did you mean 'embed_batch_size'?)",
        ),
        (
            WorkersAIRerank,
            "topn",
            "WorkersAIRerank() got an unexpected keyword argument 'topn' (did you mean 'top_n'?)",
        ),
        (
            WorkersAIWhisperReader,
            "xyzzy",
            "WorkersAIWhisperReader() got an unexpected keyword argument 'xyzzy'",
        ),
    ],
)
def test_an_unknown_keyword_is_refused_not_dropped(
    shared_server: WorkersAIServer, cls: type[Any], typo: str, message: str
) -> None:
    # Pydantic drops unknown keywords silently: WorkersAI(acount_id=...) would have used the
    # environment's account. Python's own TypeError, with the field it most resembles.
    with pytest.raises(TypeError) as caught:
        cls(**_conn(shared_server), **{typo: "x"})
    assert str(caught.value) == message
    assert not shared_server.requests


def test_every_documented_keyword_is_still_accepted(shared_server: WorkersAIServer) -> None:
    # The refusal must not catch what the classes document: credentials (api_key, the
    # alias, is in _conn), generation parameters of the LLM, the embedding's model
    # shorthand, HTTP clients, LlamaIndex's own fields.
    llm = WorkersAI(**_conn(shared_server), http_client=None, top_p=0.5, callback_manager=None)
    assert llm.additional_kwargs == {"top_p": 0.5}
    assert WorkersAIEmbedding(model=BGE, **_conn(shared_server)).model_name == BGE
    assert WorkersAI.from_dict(llm.to_dict()).additional_kwargs == {"top_p": 0.5}
    assert not shared_server.requests


def _nodes(*texts: str) -> list[NodeWithScore]:
    return [NodeWithScore(node=TextNode(text=t)) for t in texts]


CALLS: list[Any] = [
    pytest.param(lambda s: WorkersAI(**_conn(s)).chat([]), id="chat-no-messages"),
    pytest.param(lambda s: WorkersAI(**_conn(s)).chat(USER, temperature=9), id="chat-kw-range"),
    pytest.param(lambda s: WorkersAI(**_conn(s)).chat(USER, top_k="5"), id="chat-kw-type"),
    pytest.param(lambda s: WorkersAI(**_conn(s)).chat(USER, model=BGE), id="chat-kw-model"),
    pytest.param(
        lambda s: WorkersAI(**_conn(s)).chat([ChatMessage(role="user", content=NOT_UTF8)]),
        id="chat-not-utf8",
    ),
    pytest.param(
        lambda s: WorkersAI(model=SCOUT, **_conn(s)).chat(
            [ChatMessage(role="user", blocks=[ImageBlock(image=PDF, image_mimetype="image/png")])]
        ),
        id="chat-image-pdf-bytes",
    ),
    pytest.param(
        lambda s: WorkersAI(model=LLAMA, **_conn(s)).chat(
            [ChatMessage(role="user", blocks=[TextBlock(text="x" * 131_073)])]
        ),
        id="chat-over-maxlength",
    ),
    pytest.param(lambda s: list(WorkersAI(**_conn(s)).stream_chat([])), id="stream-no-messages"),
    pytest.param(lambda s: WorkersAI(**_conn(s)).complete("hi", top_p=-1), id="complete-range"),
    pytest.param(
        lambda s: WorkersAI(**_conn(s)).chat(USER, tools=[{"name": 1}]), id="chat-tools-bad"
    ),
    pytest.param(
        lambda s: WorkersAI(account_id="a/b", api_key="tok", base_url=s.base_url).chat(USER),
        id="account-id-path",
    ),
    pytest.param(lambda s: WorkersAIEmbedding(**_conn(s)).get_query_embedding(""), id="q-empty"),
    pytest.param(lambda s: WorkersAIEmbedding(**_conn(s)).get_query_embedding(5), id="q-int"),
    pytest.param(
        lambda s: WorkersAIEmbedding(**_conn(s)).get_text_embedding_batch(["a", ""]), id="empty"
    ),
    pytest.param(lambda s: WorkersAIEmbedding(**_conn(s)).get_text_embedding_batch(5), id="int"),
    pytest.param(
        lambda s: WorkersAIEmbedding(**_conn(s)).get_text_embedding_batch([NOT_UTF8]),
        id="batch-not-utf8",
    ),
    pytest.param(
        lambda s: WorkersAIEmbedding(model_name=LLAMA, **_conn(s)).get_query_embedding("x"),
        id="emb-chat-model",
    ),
    pytest.param(
        lambda s: WorkersAIRerank(**_conn(s)).postprocess_nodes(_nodes("x")), id="rerank-no-query"
    ),
    pytest.param(
        lambda s: WorkersAIRerank(**_conn(s)).postprocess_nodes(_nodes("x", ""), query_str="q"),
        id="rerank-empty-node",
    ),
    pytest.param(
        lambda s: WorkersAIRerank(**_conn(s)).postprocess_nodes(
            _nodes("x"), query_bundle=QueryBundle(query_str="")
        ),
        id="rerank-empty-query",
    ),
    pytest.param(
        lambda s: WorkersAIRerank(
            model="@cf/meta/llama-3.1-8b-instruct-fast", **_conn(s)
        ).postprocess_nodes(_nodes("x"), query_str="q"),
        id="rerank-chat-model",
    ),
]


@pytest.mark.parametrize("call", CALLS)
def test_bad_call_is_an_invalid_input_error_before_any_request(
    shared_server: WorkersAIServer, call: Callable[[WorkersAIServer], Any]
) -> None:
    sent_before = len(shared_server.requests)
    with pytest.raises(InvalidInputError):
        call(shared_server)
    assert shared_server.requests[sent_before:] == []


async def test_async_calls_fail_the_same_way(shared_server: WorkersAIServer) -> None:
    llm = WorkersAI(**_conn(shared_server))
    with pytest.raises(InvalidInputError):
        await llm.achat(USER, temperature=math.inf)
    with pytest.raises(InvalidInputError):
        [r async for r in await llm.astream_chat([])]
    with pytest.raises(InvalidInputError):
        await WorkersAIEmbedding(**_conn(shared_server)).aget_text_embedding_batch([""])
    with pytest.raises(InvalidInputError):
        await WorkersAIRerank(**_conn(shared_server)).apostprocess_nodes(_nodes("x"))
    assert not shared_server.requests


def test_non_messages_are_llamaindex_validation_errors(shared_server: WorkersAIServer) -> None:
    # LlamaIndex validates chat() arguments against ChatMessage itself (pydantic).
    llm = WorkersAI(**_conn(shared_server))
    with pytest.raises(ValidationError):
        llm.chat([5])  # type: ignore[list-item]
    with pytest.raises(ValidationError):
        llm.chat("hi")  # type: ignore[arg-type]
    assert not shared_server.requests
