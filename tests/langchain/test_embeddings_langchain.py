"""WorkersAIEmbeddings beyond the standard suite: batching, progress, errors, Batch API."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.exceptions import ModelInvalidRequestError, ModelRateLimitError
from pydantic import ValidationError

from langchain_workersai import WorkersAIEmbeddings
from tests._embedding_answers import EmbeddingAnswers
from tests.compose.embeddings import vector
from tests.conftest import LOOPBACK
from workersai import DailyLimitExceededError, InvalidInputError, ModelInputError
from workersai._embeddings import BGE_QUERY_INSTRUCTION
from workersai.testing import Reply, WorkersAIServer

loopback = LOOPBACK


@pytest.fixture
def emulator() -> EmbeddingAnswers:
    return EmbeddingAnswers()


@pytest.fixture
def server(emulator: EmbeddingAnswers) -> Iterator[WorkersAIServer]:
    with WorkersAIServer(emulator) as srv:
        yield srv


def make(server: WorkersAIServer, **kwargs: Any) -> WorkersAIEmbeddings:
    return WorkersAIEmbeddings(
        account_id="acct", api_token="tok", base_url=server.base_url, **kwargs
    )


def texts(n: int) -> list[str]:
    return [f"t {i}" for i in range(n)]


# -- construction ------------------------------------------------------------------------


def test_defaults_and_catalog_facts() -> None:
    embeddings = WorkersAIEmbeddings()
    assert embeddings.model == "@cf/baai/bge-base-en-v1.5"
    assert embeddings.batch_size == 100
    assert embeddings.max_concurrency == 8
    assert embeddings.pooling is None
    assert embeddings.dimensions == 768
    assert WorkersAIEmbeddings(model="@cf/qwen/qwen3-embedding-0.6b").max_batch_size == 32
    assert WorkersAIEmbeddings(model_name="bge-small-en-v1.5").dimensions == 384  # type: ignore[call-arg]


def test_token_never_shows() -> None:
    embeddings = WorkersAIEmbeddings(api_key="sk-very-secret-token")  # type: ignore[call-arg]
    assert "sk-very-secret-token" not in repr(embeddings)
    assert "sk-very-secret-token" not in str(embeddings.model_dump())


def test_unknown_options_are_rejected() -> None:
    with pytest.raises(ValidationError):
        WorkersAIEmbeddings(batchsize=10)  # type: ignore[call-arg]


# -- batching and order ------------------------------------------------------------------


@loopback
def test_documents_split_at_100_and_keep_order(server: WorkersAIServer) -> None:
    vectors = make(server).embed_documents(texts(250))
    assert [int(v[0]) for v in vectors] == list(range(250))
    assert sorted(len(r.json()["text"]) for r in server.requests) == [50, 100, 100]


@loopback
def test_empty_input_sends_nothing(server: WorkersAIServer) -> None:
    assert make(server).embed_documents([]) == []
    assert server.requests == []


@loopback
def test_empty_string_is_refused_before_any_request(server: WorkersAIServer) -> None:
    with pytest.raises(ModelInvalidRequestError) as err:
        make(server).embed_documents(["t 0", ""])
    assert isinstance(err.value, InvalidInputError)
    assert server.requests == []


@loopback
@pytest.mark.parametrize("emulator", [EmbeddingAnswers(0.05)], ids=["50ms"])
def test_max_concurrency_bounds_requests(
    server: WorkersAIServer, emulator: EmbeddingAnswers
) -> None:
    make(server, max_concurrency=3).embed_documents(texts(900))
    assert 2 <= emulator.peak <= 3


@loopback
@pytest.mark.parametrize("emulator", [EmbeddingAnswers(0.05)], ids=["50ms"])
async def test_async_documents_concurrent_and_ordered(
    server: WorkersAIServer, emulator: EmbeddingAnswers
) -> None:
    vectors = await make(server, max_concurrency=4).aembed_documents(texts(900))
    assert [int(v[0]) for v in vectors] == list(range(900))
    assert 2 <= emulator.peak <= 4


@loopback
async def test_sync_call_inside_a_running_loop(server: WorkersAIServer) -> None:
    # What a Jupyter cell does: no "event loop is already running" error.
    assert asyncio.get_running_loop() is not None
    vectors = make(server).embed_documents(texts(300))
    assert len(vectors) == 300


@loopback
def test_smaller_batch_size(server: WorkersAIServer) -> None:
    make(server, batch_size=40).embed_documents(texts(100))
    assert sorted(len(r.json()["text"]) for r in server.requests) == [20, 40, 40]


# -- model-aware requests ----------------------------------------------------------------


@loopback
def test_query_instruction_and_pooling(server: WorkersAIServer) -> None:
    embeddings = make(server, query_instruction=True, pooling="cls")
    embeddings.embed_query("t 7")
    assert server.requests[-1].json() == {"text": [BGE_QUERY_INSTRUCTION + "t 7"], "pooling": "cls"}
    embeddings.embed_documents(["t 8"])
    assert server.requests[-1].json() == {"text": ["t 8"], "pooling": "cls"}


@loopback
async def test_qwen3_queries_and_documents(server: WorkersAIServer) -> None:
    embeddings = make(server, model="@cf/qwen/qwen3-embedding-0.6b")
    await embeddings.aembed_query("t 1")
    assert server.requests[-1].json() == {"queries": ["t 1"]}
    await embeddings.aembed_documents(texts(40))
    assert sorted(len(r.json().get("documents", [])) for r in server.requests[1:]) == [8, 32]


# -- progress ----------------------------------------------------------------------------


@loopback
def test_progress_bar_over_texts(
    server: WorkersAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    make(server, show_progress=True).embed_documents(texts(250))
    err = capsys.readouterr().err
    assert "250/250" in err
    assert "Embedding" in err


@loopback
def test_progress_without_tqdm(
    server: WorkersAIServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # import fails as if not installed
    with caplog.at_level(logging.WARNING, logger="workersai"):
        vectors = make(server, show_progress=True).embed_documents(texts(3))
    assert len(vectors) == 3
    assert "pip install tqdm" in caplog.text


# -- errors ------------------------------------------------------------------------------


@loopback
def test_daily_limit_is_a_langchain_rate_limit_error(server: WorkersAIServer) -> None:
    server.handler = lambda _: Reply.error(
        429, 3036, "You have used up your daily free allocation of 10,000 neurons."
    )
    with pytest.raises(ModelRateLimitError) as err:
        make(server).embed_documents(texts(3))
    assert isinstance(err.value, DailyLimitExceededError)
    assert len(server.requests) == 1  # 3036 cannot succeed today: not retried


@loopback
async def test_5006_is_an_invalid_request(server: WorkersAIServer) -> None:
    server.handler = lambda _: Reply.error(400, 5006, "AiError: Bad input: Error: oneOf not met")
    with pytest.raises(ModelInvalidRequestError) as err:
        await make(server).aembed_query("t 0")
    assert isinstance(err.value, ModelInputError)
    assert err.value.code == 5006


@loopback
def test_capacity_429_is_retried_transparently(
    server: WorkersAIServer, emulator: EmbeddingAnswers
) -> None:
    server.enqueue(
        Reply.error(
            429,
            3040,
            "Capacity temporarily exceeded, please try again.",
            headers={"Retry-After": "0"},
        )
    )
    assert make(server).embed_query("t 5") == [5.0, 1.0]
    assert len(server.requests) == 2


# -- Batch API (composed cassettes, reference §1.6) ---------------------------------------

CHUNKS = [f"Workers AI chunk number {i} about llamas and clouds" for i in range(7)]


@pytest.mark.vcr(allow_playback_repeats=False)
def test_batch_api_documents_in_order() -> None:
    embeddings = WorkersAIEmbeddings(use_batch_api=True, batch_size=3, batch_poll_interval=0.001)
    vectors = embeddings.embed_documents(CHUNKS)
    assert vectors == [vector(text, 768) for text in CHUNKS]


@pytest.mark.vcr(allow_playback_repeats=False)
async def test_async_batch_api_documents_in_order() -> None:
    embeddings = WorkersAIEmbeddings(use_batch_api=True, batch_size=3, batch_poll_interval=0.001)
    vectors = await embeddings.aembed_documents(CHUNKS)
    assert vectors == [vector(text, 768) for text in CHUNKS]
