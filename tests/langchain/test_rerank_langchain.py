"""WorkersAIReranker: compression, scores, retriever pipelines (composed cassettes, §7)."""

from __future__ import annotations

import pytest
from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.documents import Document
from langchain_core.exceptions import ModelInvalidRequestError
from langchain_core.vectorstores import InMemoryVectorStore

from langchain_workersai import WorkersAIEmbeddings, WorkersAIReranker

FACTS = [
    Document(page_content="The llama is a domesticated South American camelid.", id="llama"),
    Document(page_content="Cloudflare runs a global network of data centers.", id="cf"),
    Document(page_content="Workers AI runs models on Cloudflare's network.", id="wai"),
    Document(page_content="Alpacas are smaller than a llama and have finer wool.", id="alpaca"),
    Document(page_content="Paris is the capital of France.", id="paris"),
]
QUERY = "Which animal is a domesticated llama?"


@pytest.mark.vcr
def test_compress_keeps_top_n_with_scores() -> None:
    originals = [doc.model_copy() for doc in FACTS]
    docs = WorkersAIReranker(top_n=2).compress_documents(FACTS, QUERY)
    assert [d.id for d in docs] == ["llama", "alpaca"]
    scores = [d.metadata["relevance_score"] for d in docs]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < s <= 1 for s in scores)
    assert originals == FACTS  # the caller's documents are not modified


@pytest.mark.vcr
async def test_acompress_documents() -> None:
    docs = await WorkersAIReranker(top_n=1).acompress_documents(FACTS, QUERY)
    assert [d.id for d in docs] == ["llama"]
    assert docs[0].metadata["relevance_score"] > 0.5


@pytest.mark.vcr
def test_top_n_none_reorders_all() -> None:
    ranked = WorkersAIReranker(top_n=None).rerank(FACTS, QUERY)
    assert sorted(item["index"] for item in ranked) == list(range(len(FACTS)))
    assert [item["index"] for item in ranked][:2] == [0, 3]


def test_no_documents_no_request() -> None:
    # Runs without a cassette: a request would fail the test.
    assert WorkersAIReranker().compress_documents([], QUERY) == []


def test_empty_query_is_an_invalid_request() -> None:
    with pytest.raises(ModelInvalidRequestError, match="query"):
        WorkersAIReranker().compress_documents(FACTS, "")


@pytest.mark.vcr
def test_vector_store_retriever_with_reranker() -> None:
    store = InMemoryVectorStore.from_documents(FACTS, embedding=WorkersAIEmbeddings())
    retriever = ContextualCompressionRetriever(
        base_compressor=WorkersAIReranker(top_n=2),
        base_retriever=store.as_retriever(search_kwargs={"k": 4}),
    )
    docs = retriever.invoke(QUERY)
    assert [d.id for d in docs] == ["llama", "alpaca"]
    assert all("relevance_score" in d.metadata for d in docs)


@pytest.mark.vcr
async def test_async_vector_store_retriever_with_reranker() -> None:
    store = await InMemoryVectorStore.afrom_documents(FACTS, embedding=WorkersAIEmbeddings())
    retriever = ContextualCompressionRetriever(
        base_compressor=WorkersAIReranker(top_n=1),
        base_retriever=store.as_retriever(search_kwargs={"k": 3}),
    )
    docs = await retriever.ainvoke(QUERY)
    assert [d.id for d in docs] == ["llama"]
