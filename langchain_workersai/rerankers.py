"""Workers AI reranking (``@cf/baai/bge-reranker-base``) as a LangChain document compressor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import ConfigDict, Field

from langchain_workersai._base import WorkersAIClientFields
from langchain_workersai._errors import langchain_errors
from workersai import InvalidInputError, RerankResult
from workersai.integration import DEFAULT_RERANK_MODEL


class WorkersAIReranker(WorkersAIClientFields, BaseDocumentCompressor):
    """Rerank retrieved documents with a Workers AI cross-encoder.

    Keeps the ``top_n`` documents most relevant to the query, best first, each a copy of
    the input document with ``metadata["relevance_score"]`` set (bge-reranker-base scores
    are in 0–1; higher is more relevant).

    Setup:
        As for :class:`~langchain_workersai.WorkersAIEmbeddings`: ``workersai[langchain]``
        installed, ``CLOUDFLARE_ACCOUNT_ID`` and ``CLOUDFLARE_API_TOKEN`` set (or the
        connection settings of :mod:`langchain_workersai._base` given).

    Key init args:
        model: str
            Reranking model (alias ``model_name``). Default ``@cf/baai/bge-reranker-base``.
        top_n: int | None
            Documents to keep (default 3; ``None`` keeps all, reordered).

    Instantiate:
        .. code-block:: python

            from langchain_workersai import WorkersAIReranker

            reranker = WorkersAIReranker(top_n=2)

    Rerank:
        .. code-block:: python

            docs = reranker.compress_documents(documents, "Which animal lives in the Andes?")
            [(d.page_content, round(d.metadata["relevance_score"], 3)) for d in docs]

        .. code-block:: python

            [('The llama lives in the Andes.', 0.986), ('Cats sleep a lot.', 0.003)]

    In a retriever:
        .. code-block:: python

            from langchain_classic.retrievers import ContextualCompressionRetriever

            retriever = ContextualCompressionRetriever(
                base_compressor=reranker,
                base_retriever=vector_store.as_retriever(search_kwargs={"k": 20}),
            )
            retriever.invoke("Which animal lives in the Andes?")

    Async:
        .. code-block:: python

            docs = await reranker.acompress_documents(documents, "Which animal lives in the Andes?")
    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True, extra="forbid")

    model: str = Field(default=DEFAULT_RERANK_MODEL, alias="model_name")
    """Reranking model id."""
    top_n: int | None = Field(default=3, ge=1)
    """How many documents to keep; ``None`` keeps all, reordered."""

    def rerank(
        self, documents: Sequence[str | Document], query: str, *, top_n: int | None = -1
    ) -> list[dict[str, Any]]:
        """Scores best first as ``{"index", "relevance_score"}`` (``top_n=-1``: the field's)."""
        limit = self.top_n if top_n == -1 else top_n
        with langchain_errors():
            results = self._client.rerank(query, _texts(documents), model=self.model, top_k=limit)
        return [_as_dict(result) for result in results]

    async def arerank(
        self, documents: Sequence[str | Document], query: str, *, top_n: int | None = -1
    ) -> list[dict[str, Any]]:
        """Async twin of :meth:`rerank`."""
        limit = self.top_n if top_n == -1 else top_n
        with langchain_errors():
            results = await self._async_client.rerank(
                query, _texts(documents), model=self.model, top_k=limit
            )
        return [_as_dict(result) for result in results]

    def compress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """The ``top_n`` most relevant documents, best first, with ``relevance_score``."""
        return _scored(documents, self.rerank(documents, query))

    async def acompress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """Async twin of :meth:`compress_documents`."""
        return _scored(documents, await self.arerank(documents, query))


def _texts(documents: Sequence[str | Document]) -> list[str]:
    if isinstance(documents, str) or not isinstance(documents, Sequence):
        raise InvalidInputError(
            f"documents must be a list of Documents or strings, got {type(documents).__name__}",
            field="documents",
        )
    texts = []
    for index, doc in enumerate(documents):
        if isinstance(doc, Document):
            texts.append(doc.page_content)
        elif isinstance(doc, str):
            texts.append(doc)
        else:
            raise InvalidInputError(
                f"documents[{index}] must be a Document or a string, got {type(doc).__name__}",
                field=f"documents.{index}",
            )
    return texts


def _as_dict(result: RerankResult) -> dict[str, Any]:
    return {"index": result.index, "relevance_score": result.score}


def _scored(documents: Sequence[Document], ranked: list[dict[str, Any]]) -> list[Document]:
    # Copies: the caller's documents (often straight from a vector store) stay untouched.
    out = []
    for item in ranked:
        doc = documents[item["index"]]
        out.append(
            doc.model_copy(
                update={"metadata": {**doc.metadata, "relevance_score": item["relevance_score"]}}
            )
        )
    return out
