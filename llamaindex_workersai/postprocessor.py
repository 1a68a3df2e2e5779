"""Workers AI reranking (``@cf/baai/bge-reranker-base``) as a LlamaIndex node postprocessor."""

from __future__ import annotations

from typing import Any

from llama_index.core.bridge.pydantic import Field, PrivateAttr, SecretStr
from llama_index.core.callbacks import CallbackManager, CBEventType, EventPayload
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle

from llamaindex_workersai._base import WorkersAIConnection, restore_connection
from workersai import GatewayOptions, InvalidInputError, RerankResult
from workersai.integration import DEFAULT_RERANK_MODEL

dispatcher = get_dispatcher(__name__)


class WorkersAIRerank(BaseNodePostprocessor):
    """Rerank retrieved nodes with a Workers AI cross-encoder (sync and async).

    Keeps the ``top_n`` nodes most relevant to the query, best first; each
    ``NodeWithScore.score`` becomes the reranker's score (bge-reranker-base: 0–1), and the
    node is a copy with that score in ``metadata["relevance_score"]`` too (as LangChain's
    ``WorkersAIReranker`` does), kept out of embeddings and LLM prompts. The nodes passed in
    are not changed.

    Args:
        top_n: Nodes to keep (default 3; ``None`` keeps all, reordered).
        model: Reranking model (default ``@cf/baai/bge-reranker-base``).
        account_id, api_token (alias ``api_key``), base_url, gateway, timeout, max_retries:
            Connection settings; credentials stay out of fields and payloads.

    Example:
        >>> from llamaindex_workersai import WorkersAIRerank
        >>> query_engine = index.as_query_engine(
        ...     similarity_top_k=10, node_postprocessors=[WorkersAIRerank(top_n=3)]
        ... )
    """

    model: str = Field(default=DEFAULT_RERANK_MODEL, description="Reranking model id.")
    top_n: int | None = Field(default=3, ge=1, description="Nodes to keep (None: all).")
    base_url: str | None = Field(default=None, description="API root (default: public API).")
    timeout: float | None = Field(default=None, gt=0, description="Request timeout (s).")
    max_retries: int = Field(default=2, ge=0, description="Retries for 429/5xx/timeouts.")

    _connection: WorkersAIConnection = PrivateAttr()

    def __init__(
        self,
        top_n: int | None = 3,
        model: str = DEFAULT_RERANK_MODEL,
        *,
        account_id: str | None = None,
        api_token: str | SecretStr | None = None,
        api_key: str | SecretStr | None = None,
        gateway: str | GatewayOptions | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int = 2,
        callback_manager: CallbackManager | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            top_n=top_n,
            model=model,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            callback_manager=callback_manager or CallbackManager(),
            **kwargs,
        )
        self._connection = WorkersAIConnection(
            account_id,
            api_token if api_token is not None else api_key,
            base_url=base_url,
            gateway=gateway,
            timeout=timeout,
            max_retries=max_retries,
        )

    @classmethod
    def class_name(cls) -> str:
        return "WorkersAIRerank"

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        restore_connection(self, state)

    def _start(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None
    ) -> tuple[QueryBundle, list[str]]:
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
        return query_bundle, [
            node.node.get_content(metadata_mode=MetadataMode.EMBED) for node in nodes
        ]

    def _event_payload(self, nodes: list[NodeWithScore], query: QueryBundle) -> dict[str, Any]:
        return {
            EventPayload.NODES: nodes,
            EventPayload.MODEL_NAME: self.model,
            EventPayload.QUERY_STR: query.query_str,
            EventPayload.TOP_K: self.top_n,
        }

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        query, texts = self._start(nodes, query_bundle)
        with self.callback_manager.event(
            CBEventType.RERANKING, payload=self._event_payload(nodes, query)
        ) as event:
            ranked = self._connection.client.rerank(
                query.query_str, texts, model=self.model, top_k=self.top_n
            )
            reranked = _rescored(nodes, ranked)
            event.on_end(payload={EventPayload.NODES: reranked})
        dispatcher.event(ReRankEndEvent(nodes=reranked))
        return reranked

    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        query, texts = self._start(nodes, query_bundle)
        with self.callback_manager.event(
            CBEventType.RERANKING, payload=self._event_payload(nodes, query)
        ) as event:
            ranked = await self._connection.async_client.rerank(
                query.query_str, texts, model=self.model, top_k=self.top_n
            )
            reranked = _rescored(nodes, ranked)
            event.on_end(payload={EventPayload.NODES: reranked})
        dispatcher.event(ReRankEndEvent(nodes=reranked))
        return reranked


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
