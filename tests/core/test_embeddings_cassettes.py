"""Core embeddings, Batch API and reranking replayed from composed cassettes.

The cassettes hold the documented wire shapes (reference §1.6, §6.1, §7; composed by
``tests/compose/embeddings.py``, not recorded live).
"""

from __future__ import annotations

import pytest

from tests.compose.embeddings import vector
from workersai import AsyncWorkersAI, BatchWaitOptions, InvalidInputError, WorkersAI

pytestmark = pytest.mark.vcr

FAST_POLL = BatchWaitOptions(poll_interval=0.001, max_poll_interval=0.01, timeout=30)
STORIES = [
    "This is a story about an orange cloud",
    "This is a story about a llama",
    "This is a story about a hugging emoji",
    "A llama wearing an orange hat",
    "Clouds are made of water droplets",
]


def test_bge_base_documented_request() -> None:
    # embeddings_bge_base_example_response.json: two texts → shape [2, 768].
    result = WorkersAI().embed(
        "@cf/baai/bge-base-en-v1.5", ["Tell me a joke about Cloudflare", "The weather is sunny"]
    )
    assert result.shape == [2, 768]
    assert result.pooling == "mean"
    assert result.vectors[0] == vector("Tell me a joke about Cloudflare", 768)
    assert result.vectors[1] == vector("The weather is sunny", 768)


# The two polls of a job send identical bodies: replay them in order, not the first forever.
@pytest.mark.vcr(allow_playback_repeats=False)
def test_batch_api_queues_polls_and_restores_order() -> None:
    seen: list[int] = []
    result = WorkersAI().embed(
        "@cf/baai/bge-m3",
        STORIES,
        batch_size=2,
        use_batch_api=True,
        batch_wait=FAST_POLL,
        on_progress=lambda done, total: seen.append(done),
    )
    # Three requests in one job; the answer lists them last-first, their ids restore order.
    assert result.vectors == [vector(text, 1024) for text in STORIES]
    assert result.shape == [5, 1024]
    assert seen == [5]


@pytest.mark.vcr(allow_playback_repeats=False)
async def test_async_batch_api_queues_polls_and_restores_order() -> None:
    client = AsyncWorkersAI()
    result = await client.embed(
        "@cf/baai/bge-m3", STORIES, batch_size=2, use_batch_api=True, batch_wait=FAST_POLL
    )
    assert result.vectors == [vector(text, 1024) for text in STORIES]
    await client.aclose()


def test_rerank_maps_scores_to_input_positions() -> None:
    ranked = WorkersAI().rerank("Where is the llama?", STORIES)
    assert [r.index for r in ranked][:2] == [1, 3]  # the two llama documents, best first
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)
    assert sorted(r.index for r in ranked) == list(range(len(STORIES)))
    assert all(0.0 <= r.score <= 1.0 for r in ranked)


async def test_async_rerank_top_k() -> None:
    client = AsyncWorkersAI()
    ranked = await client.rerank("Where is the llama?", STORIES, top_k=1)
    assert [r.index for r in ranked] == [1]
    await client.aclose()


def test_rerank_without_documents_sends_nothing() -> None:
    # No cassette exists for this test: any request would fail it.
    assert WorkersAI().rerank("anything", []) == []


@pytest.mark.parametrize(
    ("query", "documents", "field"),
    [("", ["a"], "query"), ("q", ["a", ""], "contexts.1.text"), ("q", "abc", "contexts")],
)
def test_rerank_rejects_empty_strings_before_sending(
    query: str, documents: list[str], field: str
) -> None:
    with pytest.raises(InvalidInputError) as err:
        WorkersAI().rerank(query, documents)
    assert err.value.field == field
