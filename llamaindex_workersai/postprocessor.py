"""Workers AI reranking (``@cf/baai/bge-reranker-base``) as a LlamaIndex node postprocessor."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from llama_index.core.bridge.pydantic import Field
from llama_index.core.callbacks import CBEventType, EventPayload
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle

from llamaindex_workersai._base import WorkersAIClientFields
from workersai import InvalidInputError, RerankResult
from workersai.integration import DEFAULT_RERANK_MODEL

dispatcher = get_dispatcher(__name__)


class WorkersAIRerank(WorkersAIClientFields, BaseNodePostprocessor):
    """Rerank retrieved nodes with a Workers AI cross-encoder (sync and async).

    Keeps the ``top_n`` nodes most relevant to the query, best first; each
    ``NodeWithScore.score`` becomes the reranker's score (bge-reranker-base: 0–1), and the
    node is a copy with that score in ``metadata["relevance_score"]`` too (as LangChain's
    ``WorkersAIReranker`` does), kept out of embeddings and LLM prompts. The nodes passed in
    are not changed.

    Args:
        top_n: Nodes to keep (default 3; ``None`` keeps all, reordered).
        model: Reranking model (default ``@cf/baai/bge-reranker-base``).
        account_id, api_token (alias ``api_key``), base_url, gateway, timeout, max_retries,
        http_client, async_http_client: Connection settings (see
            :mod:`llamaindex_workersai._base`); credentials stay out of fields and payloads.

    Example:
        >>> from llamaindex_workersai import WorkersAIRerank
        >>> query_engine = index.as_query_engine(
        ...     similarity_top_k=10, node_postprocessors=[WorkersAIRerank(top_n=3)]
        ... )
    """

    model: str = Field(default=DEFAULT_RERANK_MODEL, description="Reranking model id.")
    top_n: int | None = Field(default=3, ge=1, description="Nodes to keep (None: all).")

    def __init__(
        self, top_n: int | None = 3, model: str = DEFAULT_RERANK_MODEL, **kwargs: Any
    ) -> None:
        super().__init__(top_n=top_n, model=model, **kwargs)

    @classmethod
    def class_name(cls) -> str:
        return "WorkersAIRerank"

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        with self._rerank_event(nodes, query_bundle) as rerank:
            ranked = self._connection.client.rerank(
                rerank.query, rerank.texts, model=self.model, top_k=self.top_n
            )
            rerank.nodes = _rescored(nodes, ranked)
        return rerank.nodes

    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        with self._rerank_event(nodes, query_bundle) as rerank:
            ranked = await self._connection.async_client.rerank(
                rerank.query, rerank.texts, model=self.model, top_k=self.top_n
            )
            rerank.nodes = _rescored(nodes, ranked)
        return rerank.nodes

    @contextmanager
    def _rerank_event(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None
    ) -> Iterator[_Rerank]:
        """The events of one reranking (instrumentation and callbacks), as LlamaIndex's
        own rerankers send them; the query is checked before any request."""
        dispatcher.event(
            ReRankStartEvent(
                query=query_bundle,
                nodes=nodes,
                top_n=self.top_n or len(nodes),
                model_name=self.model,
            )
        )
        if query_bundle is None:
            raise InvalidInputError(
                "WorkersAIRerank needs the query (query_bundle or query_str).", field="query"
            )
        texts = [node.node.get_content(metadata_mode=MetadataMode.EMBED) for node in nodes]
        rerank = _Rerank(query_bundle.query_str, texts)
        payload: dict[str, Any] = {
            EventPayload.NODES: nodes,
            EventPayload.MODEL_NAME: self.model,
            EventPayload.QUERY_STR: query_bundle.query_str,
            EventPayload.TOP_K: self.top_n,
        }
        with self.callback_manager.event(CBEventType.RERANKING, payload=payload) as event:
            yield rerank
            event.on_end(payload={EventPayload.NODES: rerank.nodes})
        dispatcher.event(ReRankEndEvent(nodes=rerank.nodes))


@dataclass
class _Rerank:
    """One reranking: what the request needs, and the nodes it gave."""

    query: str
    texts: list[str]
    nodes: list[NodeWithScore] = field(default_factory=list)


def _rescored(nodes: list[NodeWithScore], ranked: list[RerankResult]) -> list[NodeWithScore]:
    out = []
    for result in ranked:
        node = nodes[result.index].node
        # A copy: the caller's nodes (often the docstore's own objects) stay untouched. The
        # score is about this query, not content, so embeddings and prompts never see it.
        scored = node.model_copy(
            update={
                "metadata": {**node.metadata, "relevance_score": result.score},
                "excluded_embed_metadata_keys": _with(
                    node.excluded_embed_metadata_keys, "relevance_score"
                ),
                "excluded_llm_metadata_keys": _with(
                    node.excluded_llm_metadata_keys, "relevance_score"
                ),
            }
        )
        out.append(NodeWithScore(node=scored, score=result.score))
    return out


def _with(keys: list[str], key: str) -> list[str]:
    return keys if key in keys else [*keys, key]
