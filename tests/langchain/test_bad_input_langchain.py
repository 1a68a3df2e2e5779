"""Bad input to the LangChain classes.

Constructor fields out of range or of the wrong type fail with pydantic's
``ValidationError`` (LangChain's documented constructor error); bad calls fail with the
core's :class:`InvalidInputError`, raised as its langchain-core twin
``ModelInvalidRequestError`` — in both cases before any request reaches the loopback server.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.exceptions import ModelInvalidRequestError
from langchain_core.messages import HumanMessage
from pydantic import BaseModel, ValidationError

from langchain_workersai import (
    ChatWorkersAI,
    WorkersAIEmbeddings,
    WorkersAIImage,
    WorkersAIReranker,
)
from tests.conftest import LOOPBACK
from tests.conftest import loopback_connection as _conn
from workersai import InvalidInputError
from workersai.testing import WorkersAIServer

pytestmark = LOOPBACK

FIXTURES = Path(__file__).parent.parent / "fixtures"
PNG = (FIXTURES / "photo.png").read_bytes()
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n" * 4
NOT_UTF8 = "caf\udce9"
SCOUT = "@cf/meta/llama-4-scout-17b-16e-instruct"
LLAMA = "@cf/meta/llama-3.1-8b-instruct-fast"
BGE = "@cf/baai/bge-base-en-v1.5"
SDXL = "@cf/stabilityai/stable-diffusion-xl-base-1.0"


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        pytest.param(ChatWorkersAI, {"temperature": 9}, id="chat-temperature-range"),
        pytest.param(ChatWorkersAI, {"temperature": "hot"}, id="chat-temperature-str"),
        pytest.param(ChatWorkersAI, {"top_k": 0}, id="chat-top-k-range"),
        pytest.param(ChatWorkersAI, {"max_tokens": 0}, id="chat-max-tokens-zero"),
        pytest.param(ChatWorkersAI, {"model": LLAMA, "top_p": 9}, id="chat-top-p-model-range"),
        pytest.param(ChatWorkersAI, {"stop": 5}, id="chat-stop-int"),
        pytest.param(ChatWorkersAI, {"timeout": -1}, id="chat-timeout-negative"),
        pytest.param(ChatWorkersAI, {"timeout": math.nan}, id="chat-timeout-nan"),
        pytest.param(ChatWorkersAI, {"max_retries": -1}, id="chat-retries-negative"),
        pytest.param(ChatWorkersAI, {"endpoint": "v2"}, id="chat-endpoint"),
        pytest.param(ChatWorkersAI, {"reasoning_effort": "max"}, id="chat-effort"),
        pytest.param(ChatWorkersAI, {"lora": "x", "endpoint": "openai"}, id="chat-lora-openai"),
        pytest.param(ChatWorkersAI, {"model": 5}, id="chat-model-int"),
        pytest.param(ChatWorkersAI, {"gateway": 5}, id="chat-gateway-int"),
        pytest.param(ChatWorkersAI, {"gateway": {"id": ""}}, id="chat-gateway-empty-id"),
        pytest.param(ChatWorkersAI, {"api_key": 5}, id="chat-api-key-int"),
        pytest.param(WorkersAIEmbeddings, {"batch_size": 0}, id="emb-batch-size"),
        pytest.param(WorkersAIEmbeddings, {"max_concurrency": 0}, id="emb-concurrency"),
        pytest.param(WorkersAIEmbeddings, {"pooling": "max"}, id="emb-pooling"),
        pytest.param(WorkersAIEmbeddings, {"batch_timeout": 0}, id="emb-batch-timeout"),
        pytest.param(WorkersAIEmbeddings, {"dimensions": 3}, id="emb-unknown-field"),
        pytest.param(WorkersAIReranker, {"top_n": 0}, id="rerank-top-n"),
        pytest.param(WorkersAIReranker, {"model": ["x"]}, id="rerank-model-list"),
        pytest.param(WorkersAIReranker, {"top_k": 3}, id="rerank-unknown-field"),
        pytest.param(WorkersAIImage, {"model": SDXL, "width": -5}, id="image-width-range"),
        pytest.param(WorkersAIImage, {"width": 512}, id="image-flux-takes-no-width"),
        pytest.param(WorkersAIImage, {"num_steps": 99}, id="image-steps-range"),
        pytest.param(WorkersAIImage, {"model": LLAMA}, id="image-chat-model"),
        pytest.param(WorkersAIImage, {"style": "noir"}, id="image-unknown-field"),
    ],
)
def test_bad_constructor_field_is_a_validation_error(
    shared_server: WorkersAIServer, cls: type[BaseModel], kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        cls(**{**_conn(shared_server), **kwargs})
    assert not shared_server.requests


class Joke(BaseModel):
    setup: str


_DEEP: dict[str, Any] = {"type": "string"}
for _ in range(3000):
    _DEEP = {"type": "object", "properties": {"a": _DEEP}}
_DEEP_TOOL = {"type": "function", "function": {"name": "deep", "parameters": _DEEP}}


def _image_message(data: bytes, mime: str) -> HumanMessage:
    block = {"type": "image", "base64": base64.b64encode(data).decode(), "mime_type": mime}
    return HumanMessage([{"type": "text", "text": "what is it?"}, block])


CALLS: list[Any] = [
    pytest.param(lambda s: ChatWorkersAI(model="nope", **_conn(s)).invoke("hi"), id="unknown"),
    pytest.param(lambda s: ChatWorkersAI(model=BGE, **_conn(s)).invoke("hi"), id="embed-model"),
    pytest.param(lambda s: ChatWorkersAI(**_conn(s)).invoke([]), id="no-messages"),
    pytest.param(lambda s: ChatWorkersAI(**_conn(s)).invoke(NOT_UTF8), id="not-utf8"),
    pytest.param(lambda s: ChatWorkersAI(**_conn(s)).invoke("hi", temperature=99), id="kw-range"),
    pytest.param(
        lambda s: ChatWorkersAI(**_conn(s)).invoke("hi", response_format="json"), id="kw-rf-str"
    ),
    pytest.param(lambda s: list(ChatWorkersAI(**_conn(s)).stream("hi", top_k=0)), id="stream"),
    pytest.param(
        lambda s: ChatWorkersAI(model=SCOUT, **_conn(s)).invoke([_image_message(PDF, "image/png")]),
        id="image-block-pdf-bytes",
    ),
    pytest.param(
        lambda s: ChatWorkersAI(model=SCOUT, **_conn(s)).invoke(
            [HumanMessage([{"type": "image_url", "image_url": {"url": PDF}}])]
        ),
        id="image-url-raw-bytes-untyped",
    ),
    pytest.param(
        lambda s: ChatWorkersAI(model=LLAMA, **_conn(s)).invoke([_image_message(PNG, "image/png")]),
        id="image-to-text-only-model",
    ),
    pytest.param(
        lambda s: ChatWorkersAI(**_conn(s)).bind_tools([Joke], tool_choice="magic"),
        id="tool-choice-unbound",
    ),
    pytest.param(
        lambda s: ChatWorkersAI(**_conn(s)).bind_tools([_DEEP_TOOL]).invoke("hi"),
        id="tool-schema-too-deep",
    ),
    pytest.param(
        lambda s: ChatWorkersAI(account_id="acct", api_key="tok", base_url="ftp://x").invoke("hi"),
        id="base-url-scheme",
    ),
    pytest.param(
        lambda s: ChatWorkersAI(account_id="a/b", api_key="tok", base_url=s.base_url).invoke("x"),
        id="account-id-path",
    ),
    pytest.param(lambda s: WorkersAIEmbeddings(**_conn(s)).embed_documents(5), id="docs-int"),
    pytest.param(lambda s: WorkersAIEmbeddings(**_conn(s)).embed_documents("t"), id="docs-str"),
    pytest.param(lambda s: WorkersAIEmbeddings(**_conn(s)).embed_documents(["a", ""]), id="empty"),
    pytest.param(lambda s: WorkersAIEmbeddings(**_conn(s)).embed_documents([3]), id="doc-int"),
    pytest.param(lambda s: WorkersAIEmbeddings(**_conn(s)).embed_query(NOT_UTF8), id="q-not-utf8"),
    pytest.param(
        lambda s: WorkersAIEmbeddings(model=LLAMA, **_conn(s)).embed_query("x"), id="chat-model"
    ),
    pytest.param(
        lambda s: WorkersAIEmbeddings(model="nope", **_conn(s)).embed_query("x"), id="emb-unknown"
    ),
    pytest.param(
        lambda s: WorkersAIReranker(**_conn(s)).compress_documents(5, "q"), id="rerank-docs-int"
    ),
    pytest.param(
        lambda s: WorkersAIReranker(**_conn(s)).compress_documents([Document("")], "q"),
        id="rerank-empty-doc",
    ),
    pytest.param(
        lambda s: WorkersAIReranker(**_conn(s)).compress_documents([Document("x")], None),
        id="rerank-no-query",
    ),
    pytest.param(lambda s: WorkersAIReranker(**_conn(s)).rerank([5], "q"), id="rerank-doc-int"),
    pytest.param(
        lambda s: WorkersAIReranker(**_conn(s)).rerank(["a"], "q", top_n=0), id="rerank-top-n"
    ),
    pytest.param(lambda s: WorkersAIImage(**_conn(s)).invoke(5), id="image-input-int"),
    pytest.param(lambda s: WorkersAIImage(**_conn(s)).invoke(""), id="image-prompt-empty"),
    pytest.param(
        lambda s: WorkersAIImage(**_conn(s)).invoke({"prompt": "x", "image": PDF}),
        id="image-not-image",
    ),
    pytest.param(lambda s: WorkersAIImage(**_conn(s)).invoke("x", width=512), id="image-kw-width"),
]


@pytest.mark.parametrize("call", CALLS)
def test_bad_call_is_an_invalid_request_before_any_request(
    shared_server: WorkersAIServer, call: Callable[[WorkersAIServer], Any]
) -> None:
    sent_before = len(shared_server.requests)
    with pytest.raises(InvalidInputError) as info:
        call(shared_server)
    assert shared_server.requests[sent_before:] == []
    assert isinstance(info.value, ModelInvalidRequestError), type(info.value).__mro__


async def test_async_calls_fail_the_same_way(shared_server: WorkersAIServer) -> None:
    chat = ChatWorkersAI(**_conn(shared_server))
    with pytest.raises(ModelInvalidRequestError):
        await chat.ainvoke("hi", temperature=99)
    with pytest.raises(ModelInvalidRequestError):
        [chunk async for chunk in chat.astream(NOT_UTF8)]
    with pytest.raises(ModelInvalidRequestError):
        await WorkersAIEmbeddings(**_conn(shared_server)).aembed_documents([""])
    with pytest.raises(ModelInvalidRequestError):
        await WorkersAIReranker(**_conn(shared_server)).acompress_documents(5, "q")  # type: ignore[arg-type]
    with pytest.raises(ModelInvalidRequestError):
        await WorkersAIImage(**_conn(shared_server)).ainvoke({"prompt": ""})
    assert not shared_server.requests


def test_image_tool_refuses_arg_types(shared_server: WorkersAIServer) -> None:
    with pytest.raises(InvalidInputError, match="args_schema"):
        WorkersAIImage(**_conn(shared_server)).as_tool(arg_types={"prompt": str})


def test_non_message_input_is_langchains_own_value_error(shared_server: WorkersAIServer) -> None:
    # langchain-core converts the input before the model sees it; its ValueError is the
    # documented one. The package adds nothing (and sends nothing).
    chat = ChatWorkersAI(**_conn(shared_server))
    with pytest.raises(ValueError, match="Invalid input type"):
        chat.invoke(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="schema must be given"):
        chat.with_structured_output(None)
    with pytest.raises(ValueError, match="mime_type key is required"):
        chat.invoke([HumanMessage([{"type": "image", "base64": "aGk="}])])
    assert not shared_server.requests
