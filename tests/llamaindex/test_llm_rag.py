"""Retrieval-augmented generation end to end: ``WorkersAIEmbedding`` indexes a few documents,
a ``VectorStoreIndex`` query engine retrieves the relevant one and ``WorkersAI`` answers.

The composed embeddings are keyword vectors (tests/compose/llamaindex.py), so retrieval is
meaningful: the engine must pick the document that holds the answer, and the model answers
from the context it was given.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from llama_index.core import Document, VectorStoreIndex

from llamaindex_workersai import WorkersAI, WorkersAIEmbedding
from tests.llamaindex import prompts

ALMANAC = [
    "In the Quenlor almanac, the Zorblax fruit is bright violet and tastes of pepper.",
    "In the Quenlor almanac, the river Ost freezes for three weeks every winter.",
    "In the Quenlor almanac, mountain tea is brewed with pine needles in the harbour of Vell.",
]


@pytest.mark.vcr
async def test_query_engine_answers_from_the_retrieved_document(vcr: Any) -> None:
    embed_model = WorkersAIEmbedding(model="@cf/baai/bge-small-en-v1.5")
    llm = WorkersAI(model="@cf/meta/llama-3.3-70b-instruct-fp8-fast", temperature=0)
    index = VectorStoreIndex.from_documents(
        [Document(text=text) for text in ALMANAC], embed_model=embed_model
    )
    engine = index.as_query_engine(llm=llm, similarity_top_k=1)

    response = await engine.aquery(prompts.RAG_QUESTION)

    assert str(response) == "The Zorblax fruit is bright violet."
    (source,) = response.source_nodes
    assert source.node.get_content() == ALMANAC[0]
    embed_request, query_request, chat_request = vcr.requests
    assert json.loads(embed_request.body)["text"] == ALMANAC  # one request for the corpus
    assert json.loads(query_request.body)["text"] == [prompts.RAG_QUESTION]
    messages = json.loads(chat_request.body)["messages"]
    assert ALMANAC[0] in messages[-1]["content"]
    assert ALMANAC[1] not in messages[-1]["content"]


@pytest.mark.vcr
def test_query_engine_streams_the_answer() -> None:
    embed_model = WorkersAIEmbedding(model="@cf/baai/bge-small-en-v1.5")
    llm = WorkersAI(model="@cf/meta/llama-3.3-70b-instruct-fp8-fast", temperature=0)
    index = VectorStoreIndex.from_documents(
        [Document(text=text) for text in ALMANAC], embed_model=embed_model
    )
    engine = index.as_query_engine(llm=llm, similarity_top_k=1, streaming=True)

    response = engine.query(prompts.RAG_QUESTION)
    tokens = list(response.response_gen)

    assert len(tokens) >= 2
    assert "".join(tokens) == "The Zorblax fruit is bright violet."
