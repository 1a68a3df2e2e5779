"""Workers AI text embeddings for LangChain."""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.embeddings import Embeddings
from pydantic import ConfigDict, Field

from langchain_workersai._base import WorkersAIClientFields
from langchain_workersai._errors import langchain_errors
from workersai.integration import (
    DEFAULT_MAX_CONCURRENCY,
    BatchWaitOptions,
    EmbedKind,
    batch_limit,
    embedding_dimensions,
    progress_bar,
)
from workersai.models import DEFAULT_EMBEDDING_MODEL

DEFAULT_MODEL = DEFAULT_EMBEDDING_MODEL


class WorkersAIEmbeddings(WorkersAIClientFields, Embeddings):
    """Cloudflare Workers AI embeddings: BGE, bge-m3, EmbeddingGemma, qwen3-embedding.

    Large inputs are split into requests of at most the model's limit (100 texts for BGE,
    32 for qwen3-embedding) and sent ``max_concurrency`` at a time; vectors always come back
    in input order. Retries (429/5xx with backoff and ``Retry-After``) and timeouts are
    handled once, by the ``workersai`` transport.

    Setup:
        Install ``workersai[langchain]`` and set ``CLOUDFLARE_ACCOUNT_ID`` and
        ``CLOUDFLARE_API_TOKEN`` (a token with the *Workers AI Read* permission).

        .. code-block:: bash

            pip install "workersai[langchain]"
            export CLOUDFLARE_ACCOUNT_ID="..."
            export CLOUDFLARE_API_TOKEN="..."

    Key init args:
        model: str
            Embedding model id (alias ``model_name``). Default ``@cf/baai/bge-base-en-v1.5``.
        batch_size: int
            Texts per request, capped at the model's limit. Default 100.
        max_concurrency: int
            Requests in flight at once. Default 8.
        pooling: "mean" | "cls" | None
            BGE pooling; sent only when set (server default ``mean``). ``cls`` vectors are
            not comparable with ``mean`` vectors: keep one setting per index.
        query_instruction: bool | str
            Prefix for queries: ``True`` uses the model card's (BGE v1.5: "Represent this
            sentence for searching relevant passages: "); a string is used as is. For
            qwen3-embedding the text goes to the model's ``instruction`` input.
        show_progress: bool
            A tqdm bar over texts (tqdm is optional).
        use_batch_api: bool
            Embed documents through Workers AI's asynchronous Batch API (queued, polled
            with backoff) — for very large jobs.

    Key client args:
        account_id, api_token (alias ``api_key``), base_url, gateway, timeout, max_retries.

    Instantiate:
        .. code-block:: python

            from langchain_workersai import WorkersAIEmbeddings

            embeddings = WorkersAIEmbeddings(
                model="@cf/baai/bge-base-en-v1.5",
                # query_instruction=True,
                # show_progress=True,
            )

    Embed single text:
        .. code-block:: python

            vector = embeddings.embed_query("What is Workers AI?")
            vector[:3]

        .. code-block:: python

            [-0.0150909423828125, 0.0389404296875, 0.0272979736328125]

    Embed multiple texts:
        .. code-block:: python

            vectors = embeddings.embed_documents(["Document 1...", "Document 2..."])
            len(vectors), len(vectors[0])

        .. code-block:: python

            (2, 768)

    Async:
        .. code-block:: python

            vector = await embeddings.aembed_query("What is Workers AI?")
            vectors = await embeddings.aembed_documents(["Document 1...", "Document 2..."])

    Vector store:
        .. code-block:: python

            from langchain_core.vectorstores import InMemoryVectorStore

            store = InMemoryVectorStore.from_texts(chunks, embedding=embeddings)
            store.as_retriever().invoke("How do I bind Workers AI?")

    Batch API:
        .. code-block:: python

            embeddings = WorkersAIEmbeddings(model="@cf/baai/bge-m3", use_batch_api=True)
            vectors = embeddings.embed_documents(one_hundred_thousand_chunks)
    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True, extra="forbid")

    model: str = Field(default=DEFAULT_MODEL, alias="model_name")
    """Embedding model id or short name."""
    batch_size: int = Field(default=100, gt=0)
    """Texts per request; capped at the model's per-request limit."""
    max_concurrency: int = Field(default=DEFAULT_MAX_CONCURRENCY, gt=0)
    """Requests in flight at once."""
    pooling: Literal["mean", "cls"] | None = None
    """BGE pooling method; not sent unless set."""
    query_instruction: bool | str = False
    """Query prefix: ``True`` for the model card's, or the text itself."""
    show_progress: bool = False
    """Show a tqdm progress bar over texts (needs ``tqdm``)."""
    use_batch_api: bool = False
    """Embed documents through the asynchronous Batch API (queued, then polled)."""
    batch_poll_interval: float = Field(default=1.0, gt=0)
    """First Batch API poll interval in seconds (grows ×1.5 up to 30 s)."""
    batch_timeout: float = Field(default=3600.0, gt=0)
    """Longest wait for a Batch API job, in seconds."""

    @property
    def dimensions(self) -> int | None:
        """Vector size from the model catalog (``None`` if unknown)."""
        return embedding_dimensions(self.model)

    @property
    def max_batch_size(self) -> int:
        """Texts one request carries: ``batch_size`` capped at the model's limit."""
        return min(self.batch_size, batch_limit(self.model))

    def _embed_kwargs(self, kind: EmbedKind, *, batched: bool) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "batch_size": self.batch_size,
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

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents, in input order (``[]`` for ``[]``, without a request)."""
        with (
            langchain_errors(),
            progress_bar(texts, enabled=self.show_progress) as on_progress,
        ):
            result = self._client.embed(
                self.model,
                texts,
                on_progress=on_progress,
                **self._embed_kwargs("document", batched=True),
            )
        return result.vectors

    def embed_query(self, text: str) -> list[float]:
        """Embed one query (with ``query_instruction`` when set)."""
        with langchain_errors():
            result = self._client.embed(
                self.model, [text], **self._embed_kwargs("query", batched=False)
            )
        return result.vectors[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async twin of :meth:`embed_documents` (concurrent requests on the running loop)."""
        with (
            langchain_errors(),
            progress_bar(texts, enabled=self.show_progress) as on_progress,
        ):
            result = await self._async_client.embed(
                self.model,
                texts,
                on_progress=on_progress,
                **self._embed_kwargs("document", batched=True),
            )
        return result.vectors

    async def aembed_query(self, text: str) -> list[float]:
        """Async twin of :meth:`embed_query`."""
        with langchain_errors():
            result = await self._async_client.embed(
                self.model, [text], **self._embed_kwargs("query", batched=False)
            )
        return result.vectors[0]
