"""Text embeddings on the wire (wire reference §6), split, sent concurrently and reassembled.

Native ``/ai/run``: ``{"text": [...], "pooling"?}`` → ``{"shape", "data", "pooling"}``;
bge-m3 may answer under ``response``; qwen3-embedding takes ``queries`` / ``documents``.
OpenAI-compatible ``/ai/v1/embeddings``: ``{"model", "input"}`` → ``{"data": [{"embedding",
"index"}]}``.

Any number of texts is embedded as a :class:`EmbeddingPlan`: requests of at most the model's
per-request limit (100 for BGE, 32 for qwen3-embedding), sent concurrently by
:func:`run_plan` (a thread pool over the sync client: no event loop, so it also works inside
Jupyter) or :func:`arun_plan` (bounded tasks on the running loop; the sync client also runs
jobs of more than two rounds this way, on a private loop: see ``WorkersAI.embed``), or queued
through the Batch API by :func:`workersai.batch.run_plan_on_batch_api`. Vectors always come
back in input order, whatever order the requests complete in. Retries are the transport's job,
never this module's.

Empty strings: Workers AI rejects ``""`` (``minLength: 1``), so a plan refuses them with
:class:`~workersai.errors.InvalidInputError` naming the offending positions, before any
request is sent — an index silently holding a vector of nothing would be worse.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence, Sized
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from workersai._concurrency import amap_bounded, map_bounded
from workersai._envelope import envelope_result
from workersai._json import untrack_number_lists
from workersai.errors import InvalidInputError, UnexpectedResponseError
from workersai.models import ModelInfo, get_model_info, resolve_model
from workersai.results import EmbeddingResult, Usage
from workersai.schemas import EmbeddingInput, validate_input

logger = logging.getLogger(__name__)

EmbedKind = Literal["query", "document"]
ProgressCallback = Callable[[int, int], None]
"""``on_progress(done, total)``: texts embedded so far, out of ``total``."""

DEFAULT_BATCH_LIMIT = 100
"""Per-request limit when the catalog does not know the model's (BGE's documented maxItems)."""
DEFAULT_MAX_CONCURRENCY = 8

BGE_QUERY_INSTRUCTION = "Represent this sentence for searching relevant passages: "
"""The retrieval query prefix recommended for the English BGE v1.5 models."""

# Output sizes from the model cards where the catalog's properties are silent (§6.1).
_CARD_DIMENSIONS: dict[str, int] = {
    "@cf/baai/bge-m3": 1024,
    "@cf/google/embeddinggemma-300m": 768,
    "@cf/qwen/qwen3-embedding-0.6b": 1024,
}

# query_instruction=True: the model card's retrieval query prefix ("" = none needed).
_QUERY_INSTRUCTIONS: dict[str, str] = {
    "@cf/baai/bge-small-en-v1.5": BGE_QUERY_INSTRUCTION,
    "@cf/baai/bge-base-en-v1.5": BGE_QUERY_INSTRUCTION,
    "@cf/baai/bge-large-en-v1.5": BGE_QUERY_INSTRUCTION,
    "@cf/baai/bge-m3": "",
    "@cf/google/embeddinggemma-300m": "task: search result | query: ",
}


@dataclass(slots=True)
class EmbeddingRequest:
    model: str
    route: str
    body: dict[str, Any]
    count: int


def uses_query_document_inputs(info: ModelInfo | None) -> bool:
    """qwen3-embedding style models take ``queries``/``documents`` instead of ``text``."""
    return info is not None and "documents" in info.accepts and "queries" in info.accepts


def batch_limit(model: str) -> int:
    """Most texts one request may carry for ``model`` (catalog ``max_batch``, else 100)."""
    info = get_model_info(model)
    return (info.max_batch if info is not None else None) or DEFAULT_BATCH_LIMIT


def embedding_dimensions(model: str) -> int | None:
    """Vector size of ``model`` from the catalog (or its model card); ``None`` if unknown.

    Example:
        >>> embedding_dimensions("@cf/baai/bge-base-en-v1.5")
        768
    """
    info = get_model_info(model)
    if info is not None and info.embedding_dimensions:
        return info.embedding_dimensions
    return _CARD_DIMENSIONS.get(info.id if info is not None else model)


def build_embedding_request(
    model: str,
    texts: Sequence[str],
    *,
    pooling: str | None = None,
    endpoint: Literal["native", "openai"] = "native",
    kind: EmbedKind | None = None,
    instruction: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> EmbeddingRequest:
    """One request for ``texts`` (at most the model's per-request limit).

    ``instruction`` is qwen3-embedding's own ``instruction`` input (sent with queries only;
    other models take their instruction as a prefix of each text, see :func:`plan_embeddings`).
    """
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
        if instruction and kind == "query":
            body["instruction"] = instruction
    else:
        body = {"text": list(texts)}
    if pooling is not None:
        body["pooling"] = pooling
    body.update(extra or {})
    validate_input(info or model_id, body, schema=EmbeddingInput)
    return EmbeddingRequest(model_id, f"run/{model_id}", body, len(texts))


def parse_embedding_response(body: Any, request: EmbeddingRequest) -> EmbeddingResult:
    """Vectors in input order from any embedding answer shape."""
    result = envelope_result(body)
    if not isinstance(result, Mapping):
        raise UnexpectedResponseError(
            f"Unexpected embeddings answer from {request.model}: {type(result).__name__}",
            model=request.model,
            body=body,
        )
    data = result.get("data")
    if data is None:
        data = result.get("response")  # bge-m3 without a query (§6.1)
    if isinstance(data, list) and data and all(isinstance(item, Mapping) for item in data):
        # OpenAI form: [{"embedding": [...], "index": i}]; without an index, list order
        def position(pair: tuple[int, Mapping[str, Any]]) -> int:
            index = pair[1].get("index")
            return index if isinstance(index, int) and not isinstance(index, bool) else pair[0]

        ordered = [item for _, item in sorted(enumerate(data), key=position)]
        vectors = [item.get("embedding") for item in ordered]
    elif isinstance(data, list):
        vectors = data
    else:
        vectors = []
    if not all(isinstance(vector, list) for vector in vectors):
        raise UnexpectedResponseError(
            f"Unexpected embeddings answer from {request.model}: a vector is not a list",
            model=request.model,
            body=body,
        )
    if len(vectors) != request.count:
        raise UnexpectedResponseError(
            f"{request.model} returned {len(vectors)} vectors for {request.count} texts",
            model=request.model,
            body=body,
        )
    untrack_number_lists(vectors)
    pooling = result.get("pooling")
    return EmbeddingResult(
        vectors=vectors,
        # The vectors' own shape rather than the reported `shape`: it cannot contradict the
        # vectors, and EmbeddingPlan.assemble computes the final one the same way.
        shape=[len(vectors), len(vectors[0]) if vectors else 0],
        pooling=pooling if isinstance(pooling, str) else None,
        usage=Usage.from_wire(result.get("usage")),
        model=request.model,
    )


# --------------------------------------------------------------------------------------
# Plans: any number of texts
# --------------------------------------------------------------------------------------


@dataclass(slots=True)
class EmbeddingPlan:
    """The requests that embed ``total`` texts, in input order."""

    model: str
    requests: list[EmbeddingRequest]
    total: int

    def assemble(self, results: Sequence[EmbeddingResult]) -> EmbeddingResult:
        """One result from each request's result (given in request order)."""
        vectors: list[list[float]] = []
        usage: Usage | None = None
        pooling: str | None = None
        for result in results:
            vectors.extend(result.vectors)
            pooling = pooling or result.pooling
            if result.usage is not None:
                usage = result.usage if usage is None else usage + result.usage
        width = len(vectors[0]) if vectors else (embedding_dimensions(self.model) or 0)
        return EmbeddingResult(
            vectors=vectors,
            shape=[len(vectors), width],
            pooling=pooling,
            usage=usage,
            model=self.model,
        )


def query_instruction_for(model: str, query_instruction: bool | str | None) -> str:
    """The query prefix to use: ``True`` means the model card's, a string is used as is."""
    if not query_instruction:
        return ""
    if isinstance(query_instruction, str):
        return query_instruction
    model_id = resolve_model(model)
    if uses_query_document_inputs(get_model_info(model_id)):
        return ""  # qwen3-embedding applies its default instruction to `queries` itself
    known = _QUERY_INSTRUCTIONS.get(model_id)
    if known is None:
        raise InvalidInputError(
            f"No known query instruction for {model_id}",
            field="query_instruction",
            hint="Pass the instruction text instead of True.",
        )
    return known


def plan_embeddings(
    model: str,
    texts: Sequence[str],
    *,
    batch_size: int | None = None,
    pooling: str | None = None,
    endpoint: Literal["native", "openai"] = "native",
    kind: EmbedKind | None = None,
    query_instruction: bool | str | None = None,
) -> EmbeddingPlan:
    """Split ``texts`` into requests of at most ``min(batch_size, model limit)`` texts.

    Everything is validated here, before any request: a bad text at position 9,000 fails
    the call up front instead of after 89 paid requests.

    ``query_instruction`` applies to ``kind="query"`` only: a prefix for most models (``True``
    = the model card's, e.g. :data:`BGE_QUERY_INSTRUCTION`), qwen3-embedding's
    ``instruction`` input for that model.
    """
    model_id = resolve_model(model)
    info = get_model_info(model_id)
    if info is not None and info.task and info.task.lower() != "text embeddings":
        raise InvalidInputError(
            f"{model_id} is a {info.task} model, not Text Embeddings",
            field="model",
            hint="Use an embedding model such as @cf/baai/bge-base-en-v1.5.",
        )
    if isinstance(texts, str):
        raise InvalidInputError("texts must be a list of strings, not a string", field="text")
    if isinstance(texts, (bytes, Mapping)) or not isinstance(texts, Iterable):
        raise InvalidInputError(
            f"texts must be a list of strings, got {type(texts).__name__}", field="text"
        )
    if endpoint not in ("native", "openai"):
        raise InvalidInputError(
            f"endpoint must be 'native' or 'openai', got {endpoint!r}", field="endpoint"
        )
    if kind not in (None, "query", "document"):
        raise InvalidInputError(f"kind must be 'query' or 'document', got {kind!r}", field="kind")
    if query_instruction is not None and not isinstance(query_instruction, (bool, str)):
        raise InvalidInputError(
            "query_instruction must be True/False or the instruction text, "
            f"got {type(query_instruction).__name__}",
            field="query_instruction",
        )
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
    ):
        raise InvalidInputError(
            f"batch_size must be a positive integer, got {batch_size!r}", field="batch_size"
        )
    texts = list(texts)
    bad = [i for i, text in enumerate(texts) if not isinstance(text, str) or not text]
    if bad:
        shown = ", ".join(str(i) for i in bad[:5]) + (", ..." if len(bad) > 5 else "")
        first = texts[bad[0]]
        problem = "empty" if isinstance(first, str) else f"a {type(first).__name__}"
        raise InvalidInputError(
            f"texts[{bad[0]}] is {problem}; Workers AI embeds only non-empty strings "
            f"({len(bad)} bad text(s) at positions {shown})",
            field=f"text.{bad[0]}",
            hint="Drop empty chunks before embedding them (or replace them with a placeholder).",
        )
    instruction = query_instruction_for(model_id, query_instruction) if kind == "query" else ""
    if instruction and not uses_query_document_inputs(info):
        # a prefix of each text; qwen3-embedding takes it as its `instruction` input instead
        texts = [instruction + text for text in texts]
    limit = batch_limit(model_id)
    size = min(batch_size, limit) if batch_size else limit
    requests = [
        build_embedding_request(
            model_id,
            texts[start : start + size],
            pooling=pooling,
            endpoint=endpoint,
            kind=kind,
            instruction=instruction,
        )
        for start in range(0, len(texts), size)
    ]
    return EmbeddingPlan(model_id, requests, len(texts))


def run_plan(
    plan: EmbeddingPlan,
    send: Callable[[EmbeddingRequest], EmbeddingResult],
    *,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    on_progress: ProgressCallback | None = None,
) -> EmbeddingResult:
    """Send a plan's requests with at most ``max_concurrency`` in flight (threads).

    The first failure cancels what has not started and is raised; progress is reported from
    the calling thread.
    """
    results = map_bounded(
        plan.requests,
        send,
        max_concurrency=max_concurrency,
        on_result=_progress_reporter(plan, on_progress),
    )
    return plan.assemble(results)


async def arun_plan(
    plan: EmbeddingPlan,
    send: Callable[[EmbeddingRequest], Awaitable[EmbeddingResult]],
    *,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    on_progress: ProgressCallback | None = None,
) -> EmbeddingResult:
    """Async twin of :func:`run_plan`: bounded tasks on the running event loop."""
    results = await amap_bounded(
        plan.requests,
        send,
        max_concurrency=max_concurrency,
        on_result=_progress_reporter(plan, on_progress),
    )
    return plan.assemble(results)


def _progress_reporter(
    plan: EmbeddingPlan, on_progress: ProgressCallback | None
) -> Callable[[int, Any], None] | None:
    """``on_result`` for the bounded map: texts done so far, reported after each request."""
    if on_progress is None:
        return None
    done = [0]

    def report(index: int, _result: Any) -> None:
        done[0] += plan.requests[index].count
        on_progress(done[0], plan.total)

    return report


# --------------------------------------------------------------------------------------
# Progress
# --------------------------------------------------------------------------------------


@contextmanager
def progress_bar(
    texts: Sized | int, *, enabled: bool = True, desc: str = "Embedding"
) -> Iterator[ProgressCallback | None]:
    """A tqdm bar over ``texts`` (or a count) as an ``on_progress`` callback (``None`` if
    disabled, if there is nothing to do, or if tqdm is not installed — it is optional).

    Anything without a length counts as nothing: the embed call then says what is wrong
    with it, instead of ``len()`` failing here first.
    """
    total = texts if isinstance(texts, int) else len(texts) if isinstance(texts, Sized) else 0
    if not enabled or total <= 0:
        yield None
        return
    try:
        from tqdm.auto import tqdm
    except ImportError:
        logger.warning("show_progress needs tqdm: pip install tqdm")
        yield None
        return
    bar = tqdm(total=total, desc=desc, unit="text")
    try:
        yield lambda done, _total: bar.update(done - bar.n)
    finally:
        bar.close()
