"""Text embeddings on the wire (wire reference §6).

Native ``/ai/run``: ``{"text": [...], "pooling"?}`` → ``{"shape", "data", "pooling"}``;
bge-m3 may answer under ``response``; qwen3-embedding takes ``queries`` / ``documents``.
OpenAI-compatible ``/ai/v1/embeddings``: ``{"model", "input"}`` → ``{"data": [{"embedding",
"index"}]}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from workersai.errors import InvalidInputError, UnexpectedResponseError
from workersai.models import ModelInfo, get_model_info, resolve_model
from workersai.responses import EmbeddingResult, Usage
from workersai.schemas import EmbeddingInput, validate_input

EmbedKind = Literal["query", "document"]


@dataclass(slots=True)
class EmbeddingRequest:
    model: str
    route: str
    body: dict[str, Any]
    count: int


def uses_query_document_inputs(info: ModelInfo | None) -> bool:
    """qwen3-embedding style models take ``queries``/``documents`` instead of ``text``."""
    return info is not None and "documents" in info.accepts and "queries" in info.accepts


def build_embedding_request(
    model: str,
    texts: Sequence[str],
    *,
    pooling: str | None = None,
    endpoint: Literal["native", "openai"] = "native",
    kind: EmbedKind | None = None,
    extra: Mapping[str, Any] | None = None,
) -> EmbeddingRequest:
    """One request for ``texts`` (at most the model's per-request limit)."""
    model_id = resolve_model(model)
    if isinstance(texts, str):
        raise InvalidInputError("texts must be a list of strings, not a string", field="text")
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise InvalidInputError(
                f"texts[{index}] must be a string, got {type(text).__name__}", field=f"text.{index}"
            )
    info = get_model_info(model_id)
    if endpoint == "openai":
        if pooling is not None:
            raise InvalidInputError("pooling needs the native endpoint", field="pooling")
        body: dict[str, Any] = {"model": model_id, "input": list(texts), **(extra or {})}
        if any(not t for t in texts):
            raise InvalidInputError("texts must be non-empty strings", field="input")
        return EmbeddingRequest(model_id, "v1/embeddings", body, len(texts))
    if uses_query_document_inputs(info):
        key = "queries" if kind == "query" else "documents"
        body = {key: list(texts)}
    else:
        body = {"text": list(texts)}
    if pooling is not None:
        body["pooling"] = pooling
    body.update(extra or {})
    validate_input(info or model_id, body, schema=EmbeddingInput)
    return EmbeddingRequest(model_id, f"run/{model_id}", body, len(texts))


def parse_embedding_response(body: Any, request: EmbeddingRequest) -> EmbeddingResult:
    """Vectors in input order from any embedding answer shape."""
    result = body
    if isinstance(body, Mapping) and "result" in body and ("success" in body or "errors" in body):
        result = body["result"]
    if not isinstance(result, Mapping):
        raise UnexpectedResponseError(
            f"Unexpected embeddings answer from {request.model}: {type(result).__name__}",
            status_code=200,
            model=request.model,
            body=body,
        )
    data = result.get("data")
    if data is None:
        data = result.get("response")  # bge-m3 without a query (§6.1)
    if isinstance(data, list) and data and isinstance(data[0], Mapping):
        # OpenAI form: [{"embedding": [...], "index": i}]
        ordered = sorted(data, key=lambda item: item.get("index", 0))
        vectors = [list(item.get("embedding") or []) for item in ordered]
    elif isinstance(data, list):
        vectors = data
    else:
        vectors = []
    if len(vectors) != request.count:
        raise UnexpectedResponseError(
            f"{request.model} returned {len(vectors)} vectors for {request.count} texts",
            status_code=200,
            model=request.model,
            body=body,
        )
    shape = result.get("shape")
    if not isinstance(shape, list):
        shape = [len(vectors), len(vectors[0]) if vectors else 0]
    pooling = result.get("pooling")
    return EmbeddingResult(
        vectors=vectors,
        shape=shape,
        pooling=pooling if isinstance(pooling, str) else None,
        usage=Usage.from_wire(result.get("usage")),
        model=request.model,
    )
