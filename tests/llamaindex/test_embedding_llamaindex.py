"""WorkersAIEmbedding: BaseEmbedding contract, batching, concurrency, indexes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.callbacks import CallbackManager, CBEventType, LlamaDebugHandler
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.embedding import EmbeddingEndEvent
from llama_index.core.llms.mock import MockLLM
from llama_index.core.settings import _Settings
from llama_index.core.storage.kvstore import SimpleKVStore

from llamaindex_workersai import WorkersAIEmbedding
from tests._embedding_answers import EmbeddingAnswers
from tests.compose.embeddings import vector
from tests.conftest import LOOPBACK
from workersai import InvalidInputError
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


def make(server: WorkersAIServer, **kwargs: Any) -> WorkersAIEmbedding:
    return WorkersAIEmbedding(
        account_id="acct-1234", api_key="tok-secret-5678", base_url=server.base_url, **kwargs
    )


def texts(n: int) -> list[str]:
    return [f"t {i}" for i in range(n)]


@pytest.fixture
def settings() -> Iterator[_Settings]:
    saved = (Settings._embed_model, Settings._llm)
    yield Settings
    Settings._embed_model, Settings._llm = saved


# -- the contract ------------------------------------------------------------------------


def test_is_a_base_embedding() -> None:
    assert BaseEmbedding in WorkersAIEmbedding.__mro__
    assert WorkersAIEmbedding.class_name() == "WorkersAIEmbedding"


def test_credentials_stay_out_of_fields_and_payloads() -> None:
    embed = WorkersAIEmbedding(account_id="acct-1234", api_token="tok-secret-5678")
    for dumped in (str(embed.to_payload()), embed.to_json(), repr(embed)):
        assert "tok-secret-5678" not in dumped
        assert "acct-1234" not in dumped
    assert embed.to_payload() == {
        "class_name": "WorkersAIEmbedding",
        "model_name": "@cf/baai/bge-base-en-v1.5",
        "embed_batch_size": 100,
    }


@pytest.mark.parametrize(
    ("model", "asked", "expected"),
    [
        ("@cf/baai/bge-base-en-v1.5", 100, 100),
        ("@cf/baai/bge-base-en-v1.5", 500, 100),
        ("@cf/baai/bge-base-en-v1.5", 10, 10),
        ("@cf/qwen/qwen3-embedding-0.6b", 100, 32),
    ],
)
def test_embed_batch_size_is_capped_at_the_model_limit(
    model: str, asked: int, expected: int
) -> None:
    assert WorkersAIEmbedding(model=model, embed_batch_size=asked).embed_batch_size == expected


def test_round_trips_through_to_dict() -> None:
    embed = WorkersAIEmbedding("@cf/baai/bge-small-en-v1.5", max_concurrency=3, pooling="cls")
    copy = WorkersAIEmbedding.from_dict(embed.to_dict())
    assert (copy.model_name, copy.max_concurrency, copy.pooling) == (
        "@cf/baai/bge-small-en-v1.5",
        3,
        "cls",
    )


def test_model_name_keyword_and_dimensions() -> None:
    embed = WorkersAIEmbedding(model_name="@cf/baai/bge-small-en-v1.5")
    assert embed.model_name == "@cf/baai/bge-small-en-v1.5"
    assert embed.dimensions == 384


# -- batching ----------------------------------------------------------------------------


@loopback
def test_one_batch_is_one_request(server: WorkersAIServer) -> None:
    vectors = make(server)._get_text_embeddings(texts(100))
    assert len(server.requests) == 1
    assert [int(v[0]) for v in vectors] == list(range(100))


@loopback
@pytest.mark.parametrize("emulator", [EmbeddingAnswers(0.05)], ids=["50ms"])
def test_batch_runs_concurrently_in_order(
    server: WorkersAIServer, emulator: EmbeddingAnswers
) -> None:
    embed = make(server, max_concurrency=4)
    vectors = embed.get_text_embedding_batch(texts(1000), show_progress=True)
    assert [int(v[0]) for v in vectors] == list(range(1000))
    assert len(server.requests) == 10
    assert 2 <= emulator.peak <= 4


@loopback
@pytest.mark.parametrize("emulator", [EmbeddingAnswers(0.05)], ids=["50ms"])
async def test_async_batch_runs_concurrently_in_order(
    server: WorkersAIServer, emulator: EmbeddingAnswers
) -> None:
    embed = make(server, max_concurrency=3, embed_batch_size=50)
    vectors = await embed.aget_text_embedding_batch(texts(600))
    assert [int(v[0]) for v in vectors] == list(range(600))
    assert len(server.requests) == 12
    assert 2 <= emulator.peak <= 3


@loopback
def test_embedding_events_carry_every_chunk(server: WorkersAIServer) -> None:
    debug = LlamaDebugHandler()
    embed = make(server, callback_manager=CallbackManager([debug]))
    embed.get_text_embedding_batch(texts(150))
    pairs = debug.get_event_pairs(CBEventType.EMBEDDING)
    assert len(pairs) == 1
    assert pairs[0][1].payload is not None
    assert len(pairs[0][1].payload["chunks"]) == 150


@loopback
def test_instrumentation_events_carry_the_vectors_themselves(server: WorkersAIServer) -> None:
    class Events(BaseEventHandler):
        seen: list[BaseEvent] = []

        def handle(self, event: BaseEvent, **kwargs: Any) -> None:
            self.seen.append(event)

    handler = Events()
    dispatcher = get_dispatcher("llamaindex_workersai.embeddings")
    dispatcher.add_event_handler(handler)
    try:
        vectors = make(server).get_text_embedding_batch(texts(150))
    finally:
        dispatcher.event_handlers.remove(handler)
    ends = [e for e in handler.seen if isinstance(e, EmbeddingEndEvent)]
    assert len(ends) == 1
    assert ends[0].chunks == texts(150)
    assert ends[0].embeddings is vectors  # not a validated copy of 115,200 floats
    assert ends[0].span_id is not None  # the defaults a validated event gets


@loopback
def test_embeddings_cache_is_honoured(server: WorkersAIServer) -> None:
    embed = make(server, embeddings_cache=SimpleKVStore())
    first = embed.get_text_embedding_batch(texts(5))
    assert len(server.requests) == 1
    assert embed.get_text_embedding_batch(texts(5)) == first
    assert len(server.requests) == 1  # served from the cache


@loopback
def test_query_instruction(server: WorkersAIServer) -> None:
    embed = make(server, query_instruction=True)
    embed.get_query_embedding("t 3")
    assert server.requests[-1].json() == {"text": [BGE_QUERY_INSTRUCTION + "t 3"]}
    embed.get_text_embedding("t 4")
    assert server.requests[-1].json() == {"text": ["t 4"]}


@loopback
def test_empty_text_is_refused_before_any_request(server: WorkersAIServer) -> None:
    with pytest.raises(InvalidInputError):
        make(server).get_text_embedding_batch(["t 0", ""])
    assert server.requests == []


# -- composed cassettes ------------------------------------------------------------------

PASSAGES = [
    "Workers AI runs machine learning models on Cloudflare's global network.",
    "The llama is a domesticated South American camelid used as a pack animal.",
    "Vectorize is Cloudflare's vector database for embeddings.",
]


@pytest.mark.vcr
def test_query_and_text_embeddings() -> None:
    embed = WorkersAIEmbedding()
    assert embed.get_query_embedding("What is Workers AI?") == vector("What is Workers AI?", 768)
    assert embed.get_text_embedding_batch(PASSAGES) == [vector(p, 768) for p in PASSAGES]


@pytest.mark.vcr
async def test_async_query_and_text_embeddings() -> None:
    embed = WorkersAIEmbedding()
    query = await embed.aget_query_embedding("What is Workers AI?")
    assert query == vector("What is Workers AI?", 768)
    assert await embed.aget_text_embedding_batch(PASSAGES) == [vector(p, 768) for p in PASSAGES]


@pytest.mark.vcr
def test_vector_store_index_and_query_engine(settings: _Settings) -> None:
    # The LLM is mocked (MockLLM echoes its prompt) until the LlamaIndex LLM lands.
    settings.embed_model = WorkersAIEmbedding()
    settings.llm = MockLLM()
    index = VectorStoreIndex.from_documents(
        [Document(text=p) for p in PASSAGES], show_progress=True
    )
    response = index.as_query_engine(similarity_top_k=1).query("Which animal is a llama?")
    assert response.source_nodes[0].node.get_content() == PASSAGES[1]
    assert PASSAGES[1] in str(response)


@pytest.mark.vcr
async def test_async_query_engine(settings: _Settings) -> None:
    settings.embed_model = WorkersAIEmbedding()
    settings.llm = MockLLM()
    # Built synchronously inside a running loop (as in Jupyter), queried asynchronously.
    index = VectorStoreIndex.from_documents([Document(text=p) for p in PASSAGES])
    engine = index.as_query_engine(similarity_top_k=1)
    response = await engine.aquery("Which vector database stores embeddings?")
    assert response.source_nodes[0].node.get_content() == PASSAGES[2]


@loopback
def test_batch_api_wait_settings_are_honoured(server: WorkersAIServer) -> None:
    # As LangChain's WorkersAIEmbeddings: poll interval and longest wait are settings.
    from workersai.batch import BatchTimeoutError

    server.handler = lambda request: Reply.result(
        {"status": "queued", "request_id": "job-7", "model": "@cf/baai/bge-base-en-v1.5"}
    )
    embed = WorkersAIEmbedding(
        account_id="acct",
        api_token="tok",
        base_url=server.base_url,
        use_batch_api=True,
        batch_poll_interval=0.01,
        batch_timeout=0.3,
    )
    assert (embed.batch_poll_interval, embed.batch_timeout) == (0.01, 0.3)
    assert WorkersAIEmbedding.from_dict(embed.to_dict()).batch_timeout == 0.3
    started = time.perf_counter()
    with pytest.raises(BatchTimeoutError, match="job-7"):
        embed.get_text_embedding_batch(["a", "b"])
    assert time.perf_counter() - started < 5  # the default would wait an hour
    assert len(server.requests) > 3  # polled every 10 ms, not every second


@pytest.mark.parametrize("bad", [{"batch_poll_interval": 0}, {"batch_timeout": -1}])
def test_batch_api_wait_settings_are_checked(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        WorkersAIEmbedding(**bad)
