"""Workers AI text embeddings for LlamaIndex."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import Field, model_validator
from llama_index.core.callbacks import CBEventType, EventPayload
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.events.embedding import (
    EmbeddingEndEvent,
    EmbeddingStartEvent,
)

from llamaindex_workersai._base import WorkersAIClientFields
from workersai.integration import (
    DEFAULT_MAX_CONCURRENCY,
    BatchWaitOptions,
    EmbedKind,
    batch_limit,
    embedding_dimensions,
    progress_bar,
)
from workersai.models import DEFAULT_EMBEDDING_MODEL

dispatcher = get_dispatcher(__name__)

DEFAULT_MODEL = DEFAULT_EMBEDDING_MODEL


class WorkersAIEmbedding(WorkersAIClientFields, BaseEmbedding):
    """Cloudflare Workers AI embeddings for LlamaIndex (BGE, bge-m3, EmbeddingGemma, qwen3).

    Every ``embed_batch_size`` texts (default 100, capped at the model's per-request limit)
    are one HTTP request; ``get_text_embedding_batch`` — what ``VectorStoreIndex`` and
    ingestion pipelines call — sends those requests ``max_concurrency`` at a time and returns
    vectors in input order. Credentials live only in the private core clients: never in
    fields, ``to_dict()`` or ``to_payload()``.

    Args:
        model: Embedding model id (default ``@cf/baai/bge-base-en-v1.5``).
        account_id: Cloudflare account id (default ``CLOUDFLARE_ACCOUNT_ID``).
        api_token: API token (default ``CLOUDFLARE_API_TOKEN``); alias ``api_key``.
        embed_batch_size: Texts per request (default 100, capped at the model's limit).
        max_concurrency: Requests in flight at once (default 8).
        pooling: ``"mean"`` or ``"cls"`` for BGE; sent only when set.
        query_instruction: Query prefix: ``True`` for the model card's (BGE v1.5:
            "Represent this sentence for searching relevant passages: "), or the text.
        use_batch_api: Embed batches through Workers AI's asynchronous Batch API.
        batch_poll_interval: First Batch API poll interval in seconds (default 1; grows
            ×1.5 up to 30 s).
        batch_timeout: Longest wait for a Batch API job in seconds (default 3600).
        base_url, gateway, timeout, max_retries, http_client, async_http_client: Connection
            settings (see :mod:`llamaindex_workersai._base`).

    Example:
        >>> from llama_index.core import Settings, VectorStoreIndex
        >>> from llamaindex_workersai import WorkersAIEmbedding
        >>> Settings.embed_model = WorkersAIEmbedding(model="@cf/baai/bge-base-en-v1.5")
        >>> index = VectorStoreIndex.from_documents(documents, show_progress=True)
        >>> len(Settings.embed_model.get_query_embedding("What is Workers AI?"))
        768
    """

    model_name: str = Field(default=DEFAULT_MODEL, description="Workers AI embedding model id.")
    embed_batch_size: int = Field(
        default=100, gt=0, le=2048, description="Texts per request (capped at the model limit)."
    )
    max_concurrency: int = Field(
        default=DEFAULT_MAX_CONCURRENCY, gt=0, description="Requests in flight at once."
    )
    pooling: Literal["mean", "cls"] | None = Field(
        default=None, description="BGE pooling method; not sent unless set."
    )
    query_instruction: bool | str = Field(
        default=False, description="Query prefix: True for the model card's, or the text."
    )
    use_batch_api: bool = Field(
        default=False, description="Embed batches through the asynchronous Batch API."
    )
    batch_poll_interval: float = Field(
        default=1.0, gt=0, description="First Batch API poll interval, s (grows x1.5 to 30 s)."
    )
    batch_timeout: float = Field(
        default=3600.0, gt=0, description="Longest wait for a Batch API job, in seconds."
    )

    def __init__(self, model: str = DEFAULT_MODEL, **kwargs: Any) -> None:
        super().__init__(model_name=kwargs.pop("model_name", model), **kwargs)

    @model_validator(mode="after")
    def _cap_batch_size(self) -> WorkersAIEmbedding:
        # One `_get_text_embeddings` call must stay one request.
        self.embed_batch_size = min(self.embed_batch_size, batch_limit(self.model_name))
        return self

    @classmethod
    def class_name(cls) -> str:
        return "WorkersAIEmbedding"

    @property
    def dimensions(self) -> int | None:
        """Vector size from the model catalog (``None`` if unknown)."""
        return embedding_dimensions(self.model_name)

    def _embed_kwargs(self, kind: EmbedKind, *, batched: bool) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "batch_size": self.embed_batch_size,
            "max_concurrency": self.max_concurrency,
            "pooling": self.pooling,
            "kind": kind,
            "query_instruction": self.query_instruction,
        }
        if batched and self.use_batch_api:
            kwargs["use_batch_api"] = True
            kwargs["batch_wait"] = BatchWaitOptions(
                poll_interval=self.batch_poll_interval, timeout=self.batch_timeout
            )
        return kwargs

    # -- the BaseEmbedding hooks (each call with ≤ embed_batch_size texts is one request) --

    def _get_query_embedding(self, query: str) -> Embedding:
        kwargs = self._embed_kwargs("query", batched=False)
        return self._connection.client.embed(self.model_name, [query], **kwargs).vectors[0]

    async def _aget_query_embedding(self, query: str) -> Embedding:
        kwargs = self._embed_kwargs("query", batched=False)
        result = await self._connection.async_client.embed(self.model_name, [query], **kwargs)
        return result.vectors[0]

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._get_text_embeddings([text])[0]

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return (await self._aget_text_embeddings([text]))[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        kwargs = self._embed_kwargs("document", batched=True)
        return self._connection.client.embed(self.model_name, texts, **kwargs).vectors

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        kwargs = self._embed_kwargs("document", batched=True)
        result = await self._connection.async_client.embed(self.model_name, texts, **kwargs)
        return result.vectors

    # -- concurrent batches ---------------------------------------------------------------

    @dispatcher.span
    def get_text_embedding_batch(
        self, texts: list[str], show_progress: bool = False, **kwargs: Any
    ) -> list[Embedding]:
        """Embed ``texts`` in requests of ``embed_batch_size``, ``max_concurrency`` at a time.

        LlamaIndex's default sends one batch after the other; with an embeddings cache or a
        rate limiter configured, that default (which honours them) is used instead.
        """
        if self.embeddings_cache is not None or self.rate_limiter is not None:
            return super().get_text_embedding_batch(texts, show_progress=show_progress, **kwargs)
        if not texts:
            return []
        with self._batch_event(texts, show_progress) as batch:
            batch.vectors = self._connection.client.embed(
                self.model_name, texts, **batch.kwargs
            ).vectors
        return batch.vectors

    @dispatcher.span
    async def aget_text_embedding_batch(
        self, texts: list[str], show_progress: bool = False, **kwargs: Any
    ) -> list[Embedding]:
        """Async twin of :meth:`get_text_embedding_batch` (bounded tasks on this loop)."""
        if self.embeddings_cache is not None or self.rate_limiter is not None:
            return await super().aget_text_embedding_batch(
                texts, show_progress=show_progress, **kwargs
            )
        if not texts:
            return []
        with self._batch_event(texts, show_progress) as batch:
            result = await self._connection.async_client.embed(
                self.model_name, texts, **batch.kwargs
            )
            batch.vectors = result.vectors
        return batch.vectors

    @contextmanager
    def _batch_event(self, texts: list[str], show_progress: bool) -> Iterator[_Batch]:
        """The events LlamaIndex's own batch method sends (instrumentation and callbacks)
        around one concurrent embedding of ``texts``, with a progress bar."""
        model_dict = self.to_payload()
        dispatcher.event(EmbeddingStartEvent(model_dict=model_dict))
        with self.callback_manager.event(
            CBEventType.EMBEDDING, payload={EventPayload.SERIALIZED: model_dict}
        ) as event:
            with progress_bar(texts, enabled=show_progress) as on_progress:
                kwargs = self._embed_kwargs("document", batched=True)
                batch = _Batch({**kwargs, "on_progress": on_progress})
                yield batch
            event.on_end(
                payload={EventPayload.CHUNKS: texts, EventPayload.EMBEDDINGS: batch.vectors}
            )
        # Built without validation: it would copy every float of every vector (~0.15 s for
        # 10,000 texts, a third of the embedding itself) into lists the handlers then hold.
        dispatcher.event(EmbeddingEndEvent.model_construct(chunks=texts, embeddings=batch.vectors))


@dataclass
class _Batch:
    """One batch embedding: the core's ``embed`` keywords, and the vectors it got."""

    kwargs: dict[str, Any]
    vectors: list[Embedding] = field(default_factory=list)
