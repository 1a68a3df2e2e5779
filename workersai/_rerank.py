"""Reranking with ``@cf/baai/bge-reranker-base`` (wire reference §7).

Request ``{"query", "contexts": [{"text"}], "top_k"?}`` → ``{"response": [{"id", "score"}]}``,
where ``id`` is the position in ``contexts``. bge-m3 answers the same request shape in its
query mode (§6.1), so it can rerank too.

Results come back best first, each with the ``index`` of its document in the input.
An empty document list returns ``[]`` without a request; an empty query or document is
refused before any request (Workers AI rejects ``""``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workersai._envelope import envelope_result
from workersai.errors import InvalidInputError, UnexpectedResponseError
from workersai.models import get_model_info, resolve_model
from workersai.schemas import RerankInput, validate_input

__all__ = ["DEFAULT_RERANK_MODEL", "RerankResult"]

DEFAULT_RERANK_MODEL = "@cf/baai/bge-reranker-base"


@dataclass(frozen=True, slots=True)
class RerankResult:
    """One document's relevance to the query.

    Attributes:
        index: Position of the document in the input list.
        score: Relevance score (bge-reranker-base: sigmoid, 0 to 1; higher is better).
    """

    index: int
    score: float


@dataclass(slots=True)
class RerankRequest:
    model: str
    route: str
    body: dict[str, Any]
    count: int
    top_k: int | None


def build_rerank_request(
    model: str, query: str, documents: Sequence[str], *, top_k: int | None = None
) -> RerankRequest:
    """The request scoring every document against ``query``."""
    model_id = resolve_model(model)
    if not isinstance(query, str):
        raise InvalidInputError(
            f"query must be a string, got {type(query).__name__}", field="query"
        )
    if isinstance(documents, str):
        raise InvalidInputError(
            "documents must be a list of strings, not a string", field="contexts"
        )
    if not isinstance(documents, Sequence):
        raise InvalidInputError(
            f"documents must be a list of strings, got {type(documents).__name__}",
            field="contexts",
        )
    info = get_model_info(model_id)
    if info is not None and info.accepts and not {"query", "contexts"} <= info.accepts:
        raise InvalidInputError(
            f"{model_id} does not rerank (it takes no query and contexts)",
            field="model",
            hint=f"Use {DEFAULT_RERANK_MODEL} (or @cf/baai/bge-m3).",
        )
    for index, text in enumerate(documents):
        if not isinstance(text, str):
            raise InvalidInputError(
                f"documents[{index}] must be a string, got {type(text).__name__}",
                field=f"contexts.{index}.text",
            )
    body: dict[str, Any] = {"query": query, "contexts": [{"text": text} for text in documents]}
    if top_k is not None:
        body["top_k"] = top_k
    validate_input(info or model_id, body, schema=RerankInput)
    return RerankRequest(model_id, f"run/{model_id}", body, len(documents), top_k)


def parse_rerank_response(body: Any, request: RerankRequest) -> list[RerankResult]:
    """Scores best first, each mapped back to its document's input position."""
    result = envelope_result(body)
    items = result.get("response") if isinstance(result, Mapping) else None
    if not isinstance(items, list):
        raise UnexpectedResponseError(
            f"Unexpected rerank answer from {request.model}: expected a 'response' list",
            model=request.model,
            body=body,
        )
    scores: list[RerankResult] = []
    seen: set[int] = set()
    for item in items:
        index = item.get("id") if isinstance(item, Mapping) else None
        score = item.get("score") if isinstance(item, Mapping) else None
        if (
            isinstance(index, bool)
            or not isinstance(index, int)
            or not 0 <= index < request.count
            or index in seen
            or isinstance(score, bool)
            or not isinstance(score, (int, float))
        ):
            raise UnexpectedResponseError(
                f"Unexpected rerank item from {request.model}: {item!r:.120}",
                model=request.model,
                body=body,
            )
        seen.add(index)
        scores.append(RerankResult(index=index, score=float(score)))
    # Best first, ties in input order; top_k again in case the server sent more.
    scores.sort(key=lambda r: (-r.score, r.index))
    return scores[: request.top_k] if request.top_k is not None else scores
