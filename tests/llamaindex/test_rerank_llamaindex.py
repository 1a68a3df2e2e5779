"""WorkersAIRerank: node postprocessing, sync and async (composed cassettes, reference §7)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.callbacks import CallbackManager, CBEventType, LlamaDebugHandler
from llama_index.core.llms.mock import MockLLM
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode
from llama_index.core.settings import _Settings

from llamaindex_workersai import WorkersAIEmbedding, WorkersAIRerank
from tests.conftest import LOOPBACK
from workersai.testing import Reply, WorkersAIServer

TEXTS = [
    "The llama is a domesticated South American camelid.",
    "Cloudflare runs a global network of data centers.",
    "Alpacas are smaller than a llama and have finer wool.",
    "Paris is the capital of France.",
]
QUERY = "Which animal is a domesticated llama?"


def nodes() -> list[NodeWithScore]:
    return [
        NodeWithScore(node=TextNode(text=t, id_=f"n{i}"), score=0.1) for i, t in enumerate(TEXTS)
    ]


@pytest.fixture
def settings() -> Iterator[_Settings]:
    saved = (Settings._embed_model, Settings._llm)
    yield Settings
    Settings._embed_model, Settings._llm = saved


def test_is_a_node_postprocessor_without_credentials_in_fields() -> None:
    rerank = WorkersAIRerank(account_id="acct-1234", api_key="tok-secret-5678")
    assert isinstance(rerank, BaseNodePostprocessor)
    assert rerank.top_n == 3
    assert rerank.model == "@cf/baai/bge-reranker-base"
    assert "tok-secret-5678" not in rerank.to_json()
    assert "acct-1234" not in rerank.to_json()


@pytest.mark.vcr
def test_postprocess_nodes_keeps_top_n_with_scores() -> None:
    debug = LlamaDebugHandler()
    rerank = WorkersAIRerank(top_n=2, callback_manager=CallbackManager([debug]))
    ranked = rerank.postprocess_nodes(nodes(), query_str=QUERY)
    assert [n.node.node_id for n in ranked] == ["n0", "n2"]
    assert ranked[0].score is not None
    assert ranked[1].score is not None
    assert ranked[0].score > ranked[1].score
    assert len(debug.get_event_pairs(CBEventType.RERANKING)) == 1


@pytest.mark.vcr
async def test_apostprocess_nodes() -> None:
    ranked = await WorkersAIRerank(top_n=1).apostprocess_nodes(
        nodes(), query_bundle=QueryBundle(QUERY)
    )
    assert [n.node.node_id for n in ranked] == ["n0"]
    assert ranked[0].score is not None
    assert ranked[0].score > 0.5


def test_no_nodes_no_request() -> None:
    # No cassette: a request would fail the test.
    assert WorkersAIRerank().postprocess_nodes([], query_str=QUERY) == []


def test_the_query_is_required() -> None:
    with pytest.raises(ValueError, match="needs the query"):
        WorkersAIRerank().postprocess_nodes(nodes())


@pytest.mark.vcr
def test_query_engine_with_reranker(settings: _Settings) -> None:
    settings.embed_model = WorkersAIEmbedding()
    settings.llm = MockLLM()  # until the LlamaIndex LLM lands
    index = VectorStoreIndex.from_documents([Document(text=t) for t in TEXTS])
    engine = index.as_query_engine(
        similarity_top_k=4, node_postprocessors=[WorkersAIRerank(top_n=1)]
    )
    response = engine.query(QUERY)
    assert [n.node.get_content() for n in response.source_nodes] == [TEXTS[0]]


@LOOPBACK
def test_reranked_nodes_are_copies_with_the_relevance_score(server: WorkersAIServer) -> None:
    # As LangChain's WorkersAIReranker: the score is in the copy's metadata too, so it survives
    # into the response's source nodes; the caller's nodes stay untouched.
    server.enqueue(Reply.result({"response": [{"id": 2, "score": 0.75}, {"id": 0, "score": 0.5}]}))
    given = nodes()
    rerank = WorkersAIRerank(top_n=2, account_id="acct", api_token="tok", base_url=server.base_url)
    ranked = rerank.postprocess_nodes(given, query_str=QUERY)
    assert [(n.node.node_id, n.score, n.node.metadata) for n in ranked] == [
        ("n2", 0.75, {"relevance_score": 0.75}),
        ("n0", 0.5, {"relevance_score": 0.5}),
    ]
    assert all(n.node.metadata == {} for n in given)
    assert ranked[0].node is not given[2].node
    # A score is not content: it stays out of what is embedded or shown to the LLM.
    assert "relevance_score" not in ranked[0].node.get_content(metadata_mode=MetadataMode.LLM)
    assert "relevance_score" not in ranked[0].node.get_content(metadata_mode=MetadataMode.EMBED)
