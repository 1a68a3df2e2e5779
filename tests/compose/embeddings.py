"""Scenarios for embeddings, the Batch API and reranking (wire reference §1.6, §6, §7).

Shapes are the documented ones: ``{"shape": [n, d], "data": [[...]], "pooling"}`` inside the
v4 envelope (``embeddings_bge_base_example_response.json``), Batch API ``queued`` →
``running`` → ``{"responses": [{"id", "result", "success", "external_reference"}], "usage"}``
(``batch_queue_request_and_poll_bge_m3.json``), and ``{"response": [{"id", "score"}]}`` for
bge-reranker-base.

The numbers are composed, not recorded: a vector is a hashed bag of words (so texts sharing
words are close, which retrieval tests rely on), L2-normalised and rounded to float16 as live
vectors are (§6.1). Rerank scores are a sigmoid of the query/document word overlap.
"""

from __future__ import annotations

import hashlib
import math
import re
import struct
import uuid
from typing import Any

from tests.compose import scenario
from workersai.testing import RecordedRequest, Reply

DIMENSIONS = {
    "@cf/baai/bge-small-en-v1.5": 384,
    "@cf/baai/bge-base-en-v1.5": 768,
    "@cf/baai/bge-large-en-v1.5": 1024,
    "@cf/baai/bge-m3": 1024,
    "@cf/google/embeddinggemma-300m": 768,
    "@cf/qwen/qwen3-embedding-0.6b": 1024,
}
RERANKERS = ("@cf/baai/bge-reranker-base",)
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    {"a", "an", "the", "is", "of", "to", "in", "for", "and", "or", "on", "at", "by", "with"}
    | {"what", "which", "who", "how", "do", "does"}
)

# Batch API jobs seen in this compose session: request_id → (model, requests, polls so far).
_JOBS: dict[str, dict[str, Any]] = {}


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


def _fp16(value: float) -> float:
    return float(struct.unpack("<e", struct.pack("<e", value))[0])


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def vector(text: str, dims: int, *, pooling: str | None = None) -> list[float]:
    """A deterministic unit vector: hashed words plus a faint dense hash of the whole text."""
    values = [0.0] * dims
    seed = _hash(f"{pooling or 'mean'}|{text}")
    for i in range(dims):
        seed = (seed * 6364136223846793005 + 1442695040888963407) % 2**64
        values[i] = ((seed >> 33) / 2**31 - 0.5) * 0.02
    for word in _words(text):
        h = _hash(word)
        values[h % dims] += 1.0 if (h >> 20) & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [_fp16(v / norm) for v in values]


def _texts(body: dict[str, Any]) -> list[str] | None:
    for key in ("text", "documents", "queries"):
        value = body.get(key)
        if isinstance(value, str):
            return [value]
        if isinstance(value, list) and all(isinstance(t, str) for t in value):
            return value
    return None


def _embedding_result(model: str, body: dict[str, Any]) -> dict[str, Any] | None:
    texts = _texts(body)
    if texts is None:
        return None
    dims = DIMENSIONS[model]
    pooling = body.get("pooling")
    result: dict[str, Any] = {
        "shape": [len(texts), dims],
        "data": [vector(t, dims, pooling=pooling) for t in texts],
    }
    if model.startswith("@cf/baai/"):
        result["pooling"] = pooling or "mean"  # BGE echoes its pooling; gemma/qwen3 do not
    return result


@scenario
def embeddings(request: RecordedRequest) -> Reply | None:
    model = request.model
    if model not in DIMENSIONS or request.query.get("queueRequest"):
        return None
    result = _embedding_result(model, request.json() or {})
    return Reply.result(result) if result is not None else None


@scenario
def batch_api_embeddings(request: RecordedRequest) -> Reply | None:
    model = request.model
    if model not in DIMENSIONS or request.query.get("queueRequest") != "true":
        return None
    body = request.json() or {}
    if "requests" in body:
        request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, request.body.decode()))
        _JOBS[request_id] = {"model": model, "requests": body["requests"], "polls": 0}
        return Reply.result({"status": "queued", "request_id": request_id, "model": model})
    job = _JOBS.get(str(body.get("request_id")))
    if job is None:
        return None
    job["polls"] += 1
    if job["polls"] == 1:
        return Reply.result({"status": "running", "request_id": body["request_id"], "model": model})
    responses = [
        {
            "id": index,
            "result": _embedding_result(model, item),
            "success": True,
            "external_reference": item.get("external_reference"),
        }
        for index, item in enumerate(job["requests"])
    ]
    tokens = sum(len(_words(t)) + 2 for item in job["requests"] for t in _texts(item) or [])
    # Listed last-first: nothing documents the order of `responses`, only each item's id.
    return Reply.result(
        {
            "responses": responses[::-1],
            "usage": {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens},
        }
    )


def rerank_score(query: str, text: str) -> float:
    q, d = set(_words(query)), set(_words(text))
    overlap = len(q & d) / max(len(q), 1)
    return _fp16(1 / (1 + math.exp(-(8 * overlap - 4))))


@scenario
def rerank(request: RecordedRequest) -> Reply | None:
    if request.model not in RERANKERS:
        return None
    body = request.json() or {}
    query, contexts = body.get("query"), body.get("contexts")
    if not isinstance(query, str) or not isinstance(contexts, list):
        return None
    scored = [
        {"id": i, "score": rerank_score(query, str(c.get("text", "")))}
        for i, c in enumerate(contexts)
    ]
    scored.sort(key=lambda item: -item["score"])
    if isinstance(body.get("top_k"), int):
        scored = scored[: body["top_k"]]
    return Reply.result({"response": scored})
