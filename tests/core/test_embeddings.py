"""Core embeddings: splitting, concurrency, order, retries, errors (loopback server).

Each text ``"t <i>"`` is answered with the vector ``[i, <request size>]``, so every test can
check that vector *i* belongs to text *i* whatever order the requests completed in.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests._embedding_answers import EmbeddingAnswers, request_texts
from tests.conftest import LOOPBACK
from workersai import (
    AsyncWorkersAI,
    BatchWaitOptions,
    CapacityExceededError,
    DailyLimitExceededError,
    InvalidInputError,
    ModelInputError,
    RetryPolicy,
    UnexpectedResponseError,
    WorkersAI,
    WorkersAIError,
)
from workersai._embeddings import (
    BGE_QUERY_INSTRUCTION,
    embedding_dimensions,
    plan_embeddings,
)
from workersai.batch import batch_job_groups
from workersai.testing import RecordedRequest, Reply, WorkersAIServer

pytestmark = LOOPBACK

BGE = "@cf/baai/bge-base-en-v1.5"
QWEN = "@cf/qwen/qwen3-embedding-0.6b"


def texts(n: int) -> list[str]:
    return [f"t {i}" for i in range(n)]


@pytest.fixture
def recorder(request: pytest.FixtureRequest) -> EmbeddingAnswers:
    delay = getattr(request, "param", None)
    return EmbeddingAnswers(delay) if delay is not None else EmbeddingAnswers()


@pytest.fixture
def emulator(recorder: EmbeddingAnswers) -> Iterator[WorkersAIServer]:
    with WorkersAIServer(recorder) as srv:
        yield srv


@pytest.fixture
def client(emulator: WorkersAIServer, fast_retries: RetryPolicy) -> Iterator[WorkersAI]:
    with WorkersAI("acct", "tok", base_url=emulator.base_url, retry_policy=fast_retries) as c:
        yield c


@pytest.fixture
def aclient(emulator: WorkersAIServer, fast_retries: RetryPolicy) -> AsyncWorkersAI:
    return AsyncWorkersAI("acct", "tok", base_url=emulator.base_url, retry_policy=fast_retries)


def first_values(vectors: list[list[float]]) -> list[int]:
    return [int(v[0]) for v in vectors]


# -- splitting -----------------------------------------------------------------------------


def test_splits_at_the_bge_limit_of_100(client: WorkersAI, emulator: WorkersAIServer) -> None:
    result = client.embed(BGE, texts(250))
    sizes = sorted(len(request_texts(r)) for r in emulator.requests)
    assert sizes == [50, 100, 100]  # maxItems 100 per request (reference §6.1)
    assert first_values(result.vectors) == list(range(250))
    assert result.shape == [250, 2]


def test_batch_size_above_the_limit_is_capped(client: WorkersAI, emulator: WorkersAIServer) -> None:
    client.embed(BGE, texts(150), batch_size=500)
    assert max(len(request_texts(r)) for r in emulator.requests) == 100


def test_smaller_batch_size_is_honoured(client: WorkersAI, emulator: WorkersAIServer) -> None:
    result = client.embed(BGE, texts(7), batch_size=3)
    assert sorted(len(request_texts(r)) for r in emulator.requests) == [1, 3, 3]
    assert first_values(result.vectors) == list(range(7))


def test_qwen3_splits_at_32_and_uses_documents(
    client: WorkersAI, emulator: WorkersAIServer
) -> None:
    result = client.embed(QWEN, texts(70), kind="document")
    bodies = [r.json() for r in emulator.requests]
    assert sorted(len(b["documents"]) for b in bodies) == [6, 32, 32]
    assert all("text" not in b and "queries" not in b for b in bodies)
    assert first_values(result.vectors) == list(range(70))


def test_qwen3_queries_and_native_instruction(client: WorkersAI, emulator: WorkersAIServer) -> None:
    client.embed(QWEN, ["t 0"], kind="query", query_instruction="Find the law")
    assert emulator.requests[-1].json() == {"queries": ["t 0"], "instruction": "Find the law"}
    client.embed(QWEN, ["t 0"], kind="query", query_instruction=True)
    # True: the model applies its documented default instruction itself.
    assert emulator.requests[-1].json() == {"queries": ["t 0"]}


def test_empty_input_sends_nothing(client: WorkersAI, emulator: WorkersAIServer) -> None:
    result = client.embed(BGE, [])
    assert result.vectors == []
    assert result.shape == [0, 768]
    assert emulator.requests == []


@pytest.mark.parametrize("bad", ["", 3, None])
def test_bad_texts_fail_before_any_request(
    client: WorkersAI, emulator: WorkersAIServer, bad: Any
) -> None:
    batch = [*texts(150), bad, "t 151", bad]
    with pytest.raises(InvalidInputError, match=r"texts\[150\]") as err:
        client.embed(BGE, batch)
    assert err.value.field == "text.150"
    assert "150, 152" in err.value.message
    assert emulator.requests == []


def test_a_string_is_not_a_list_of_texts(client: WorkersAI) -> None:
    with pytest.raises(InvalidInputError, match="not a string"):
        client.embed(BGE, "hello")


@pytest.mark.parametrize("value", [0, -1, True, 2.5])
def test_invalid_batch_size_and_concurrency(client: WorkersAI, value: Any) -> None:
    with pytest.raises(InvalidInputError, match="batch_size"):
        client.embed(BGE, ["t 0"], batch_size=value)
    with pytest.raises(InvalidInputError, match="max_concurrency"):
        client.embed(BGE, texts(3), batch_size=1, max_concurrency=value)


# -- concurrency and order -----------------------------------------------------------------


def slow_first(batch: list[str]) -> float:
    # The first request finishes last: completion order is the reverse of input order.
    return 0.25 if batch[0] == "t 0" else 0.02


@pytest.mark.parametrize("recorder", [slow_first], indirect=True, ids=["slow-first"])
def test_order_survives_out_of_order_completion(
    client: WorkersAI, recorder: EmbeddingAnswers
) -> None:
    result = client.embed(BGE, texts(400), max_concurrency=4)
    assert recorder.completed[-1] == 0  # the first batch really completed last
    assert first_values(result.vectors) == list(range(400))
    assert [v[1] for v in result.vectors] == [100.0] * 400


@pytest.mark.parametrize("recorder", [lambda _: 0.05], indirect=True, ids=["50ms"])
@pytest.mark.parametrize("limit", [1, 3, 8])
def test_concurrency_is_bounded(client: WorkersAI, recorder: EmbeddingAnswers, limit: int) -> None:
    client.embed(BGE, texts(1000), max_concurrency=limit)
    assert recorder.peak <= limit
    assert recorder.peak >= min(limit, 2)  # and requests really overlap


@pytest.mark.parametrize("recorder", [slow_first], indirect=True, ids=["slow-first"])
async def test_async_order_survives_out_of_order_completion(
    aclient: AsyncWorkersAI, recorder: EmbeddingAnswers
) -> None:
    result = await aclient.embed(BGE, texts(400), max_concurrency=4)
    assert recorder.completed[-1] == 0
    assert first_values(result.vectors) == list(range(400))


@pytest.mark.parametrize("recorder", [lambda _: 0.05], indirect=True, ids=["50ms"])
@pytest.mark.parametrize("limit", [1, 3, 8])
async def test_async_concurrency_is_bounded(
    aclient: AsyncWorkersAI, recorder: EmbeddingAnswers, limit: int
) -> None:
    await aclient.embed(BGE, texts(1000), max_concurrency=limit)
    assert recorder.peak <= limit
    assert recorder.peak >= min(limit, 2)


async def test_sync_client_works_inside_a_running_loop(client: WorkersAI) -> None:
    # Jupyter runs cells inside an event loop: the sync path must not start another.
    assert asyncio.get_running_loop() is not None
    result = client.embed(BGE, texts(300))
    assert first_values(result.vectors) == list(range(300))


def test_progress_is_reported_in_the_calling_thread(client: WorkersAI) -> None:
    seen: list[tuple[int, int, str]] = []
    client.embed(
        BGE,
        texts(250),
        on_progress=lambda done, total: seen.append((done, total, threading.current_thread().name)),
    )
    assert [s[0] for s in seen] == sorted(s[0] for s in seen)
    assert seen[-1][:2] == (250, 250)
    assert len(seen) == 3
    assert {s[2] for s in seen} == {threading.current_thread().name}


async def test_async_progress(aclient: AsyncWorkersAI) -> None:
    seen: list[int] = []
    await aclient.embed(BGE, texts(250), on_progress=lambda done, total: seen.append(done))
    assert sorted(seen) == seen
    assert seen[-1] == 250


# -- retries and errors --------------------------------------------------------------------


def capacity_once(recorder: EmbeddingAnswers, marker: str) -> Callable[[RecordedRequest], Reply]:
    failed: set[str] = set()

    def handler(request: RecordedRequest) -> Reply:
        first = request_texts(request)[0]
        if first == marker and first not in failed:
            failed.add(first)
            return Reply.error(
                429,
                3040,
                "Capacity temporarily exceeded, please try again.",
                headers={"Retry-After": "0"},
            )
        return recorder(request)

    return handler


def test_retried_batch_keeps_its_place(
    client: WorkersAI, emulator: WorkersAIServer, recorder: EmbeddingAnswers
) -> None:
    emulator.handler = capacity_once(recorder, "t 100")
    result = client.embed(BGE, texts(300))
    assert first_values(result.vectors) == list(range(300))
    assert len(emulator.requests) == 4  # 3 batches + 1 retry by the transport, no other layer
    retried = [r for r in emulator.requests if request_texts(r)[0] == "t 100"]
    assert len(retried) == 2
    assert retried[0].body == retried[1].body


async def test_async_retried_batch_keeps_its_place(
    aclient: AsyncWorkersAI, emulator: WorkersAIServer, recorder: EmbeddingAnswers
) -> None:
    emulator.handler = capacity_once(recorder, "t 200")
    result = await aclient.embed(BGE, texts(300))
    assert first_values(result.vectors) == list(range(300))
    assert len(emulator.requests) == 4


def test_persistent_capacity_error_surfaces_after_retries(
    emulator: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    emulator.handler = lambda _: Reply.error(
        429, 3040, "Capacity temporarily exceeded, please try again."
    )
    client = WorkersAI("acct", "tok", base_url=emulator.base_url, retry_policy=fast_retries)
    with pytest.raises(CapacityExceededError) as err:
        client.embed(BGE, texts(5), max_concurrency=1)
    assert err.value.retries_taken == 2
    assert len(emulator.requests) == 3


def test_daily_limit_is_not_retried(emulator: WorkersAIServer, client: WorkersAI) -> None:
    emulator.handler = lambda _: Reply.error(
        429, 3036, "You have used up your daily free allocation"
    )
    with pytest.raises(DailyLimitExceededError):
        client.embed(BGE, texts(5))
    assert len(emulator.requests) == 1


def bad_input_at(recorder: EmbeddingAnswers, marker: str) -> Callable[[RecordedRequest], Reply]:
    def handler(request: RecordedRequest) -> Reply:
        if request_texts(request)[0] == marker:
            return Reply.error(
                400, 5006, "AiError: Bad input: Error: oneOf at '/' not met, 0 matches"
            )
        return recorder(request)

    return handler


@pytest.mark.parametrize("recorder", [lambda _: 0.02], indirect=True, ids=["20ms"])
def test_5006_fails_fast_and_stops_the_rest(
    client: WorkersAI, emulator: WorkersAIServer, recorder: EmbeddingAnswers
) -> None:
    emulator.handler = bad_input_at(recorder, "t 0")
    with pytest.raises(ModelInputError) as err:
        client.embed(BGE, texts(2000), max_concurrency=2)
    assert err.value.code == 5006
    time.sleep(0.1)  # let the one request still in flight finish
    first_batch = [r for r in emulator.requests if request_texts(r)[0] == "t 0"]
    assert len(first_batch) == 1  # a 400 is never retried
    assert len(emulator.requests) < 20  # the queued batches were dropped, not sent


@pytest.mark.parametrize("recorder", [lambda _: 0.02], indirect=True, ids=["20ms"])
async def test_async_5006_cancels_the_rest(
    aclient: AsyncWorkersAI, emulator: WorkersAIServer, recorder: EmbeddingAnswers
) -> None:
    emulator.handler = bad_input_at(recorder, "t 0")
    with pytest.raises(ModelInputError):
        await aclient.embed(BGE, texts(2000), max_concurrency=2)
    await asyncio.sleep(0.1)
    assert len(emulator.requests) < 20


def test_wrong_vector_count_is_an_unexpected_response(
    client: WorkersAI, emulator: WorkersAIServer
) -> None:
    emulator.handler = lambda _: Reply.result({"shape": [1, 2], "data": [[0.0, 1.0]]})
    with pytest.raises(UnexpectedResponseError, match="1 vectors for 2 texts"):
        client.embed(BGE, texts(2))


# -- model-aware request shapes ------------------------------------------------------------


def test_pooling_is_sent_only_when_set(client: WorkersAI, emulator: WorkersAIServer) -> None:
    client.embed(BGE, ["t 0"])
    assert emulator.requests[-1].json() == {"text": ["t 0"]}
    result = client.embed(BGE, ["t 0"], pooling="cls")
    assert emulator.requests[-1].json() == {"text": ["t 0"], "pooling": "cls"}
    assert result.pooling == "mean"  # as the (scripted) server reported it


def test_pooling_is_validated(client: WorkersAI) -> None:
    with pytest.raises(InvalidInputError, match="pooling"):
        client.embed(BGE, ["t 0"], pooling="max")  # type: ignore[arg-type]


def test_bge_query_instruction_only_for_queries(
    client: WorkersAI, emulator: WorkersAIServer
) -> None:
    client.embed(BGE, ["t 0"], kind="query", query_instruction=True)
    assert emulator.requests[-1].json() == {"text": [BGE_QUERY_INSTRUCTION + "t 0"]}
    client.embed(BGE, ["t 0"], kind="document", query_instruction=True)
    assert emulator.requests[-1].json() == {"text": ["t 0"]}
    client.embed(BGE, ["t 0"], kind="query", query_instruction="query: ")
    assert emulator.requests[-1].json() == {"text": ["query: t 0"]}


def test_bge_m3_needs_no_instruction(client: WorkersAI, emulator: WorkersAIServer) -> None:
    client.embed("@cf/baai/bge-m3", ["t 0"], kind="query", query_instruction=True)
    assert emulator.requests[-1].json() == {"text": ["t 0"]}


def test_unknown_model_instruction_must_be_spelled_out(client: WorkersAI) -> None:
    with pytest.raises(InvalidInputError, match="No known query instruction"):
        client.embed("@cf/someone/new-embedder", ["t 0"], kind="query", query_instruction=True)


def test_bge_m3_response_field(client: WorkersAI, emulator: WorkersAIServer) -> None:
    # bge-m3 may answer its vectors under `response` instead of `data` (reference §6.1).
    emulator.handler = lambda _: Reply.result(
        {"response": [[0.5, 0.25], [0.125, 1.0]], "shape": [2, 2], "pooling": "cls"}
    )
    result = client.embed("@cf/baai/bge-m3", ["t 0", "t 1"])
    assert result.vectors == [[0.5, 0.25], [0.125, 1.0]]
    assert result.pooling == "cls"


def test_openai_endpoint_splits_and_orders_by_index(
    client: WorkersAI, emulator: WorkersAIServer
) -> None:
    def handler(request: RecordedRequest) -> Reply:
        batch = request.json()["input"]
        data = [
            {"object": "embedding", "index": i, "embedding": [float(t.rsplit(" ", 1)[-1])]}
            for i, t in enumerate(batch)
        ]
        return Reply.json({"object": "list", "data": data[::-1], "model": BGE})

    emulator.handler = handler
    result = client.embed(BGE, texts(150), endpoint="openai")
    assert {r.path.rsplit("/ai/", 1)[-1] for r in emulator.requests} == {"v1/embeddings"}
    assert first_values(result.vectors) == list(range(150))


def test_usage_is_summed_across_requests(client: WorkersAI, emulator: WorkersAIServer) -> None:
    def handler(request: RecordedRequest) -> Reply:
        batch = request_texts(request)
        return Reply.result(
            {
                "shape": [len(batch), 1],
                "data": [[0.0]] * len(batch),
                "usage": {"prompt_tokens": len(batch), "total_tokens": len(batch)},
            }
        )

    emulator.handler = handler
    result = client.embed(BGE, texts(250))
    assert result.usage is not None
    assert result.usage.prompt_tokens == 250
    assert result.usage.total_tokens == 250


def test_dimensions_from_the_catalog_and_model_cards() -> None:
    assert embedding_dimensions("@cf/baai/bge-small-en-v1.5") == 384
    assert embedding_dimensions("bge-base-en-v1.5") == 768
    assert embedding_dimensions("@cf/baai/bge-large-en-v1.5") == 1024
    assert embedding_dimensions("@cf/baai/bge-m3") == 1024
    assert embedding_dimensions("@cf/google/embeddinggemma-300m") == 768
    assert embedding_dimensions("@cf/qwen/qwen3-embedding-0.6b") == 1024
    assert embedding_dimensions("@cf/someone/new-embedder") is None


# -- Batch API mechanics (the documented exchange itself is replayed from cassettes) ---------


def test_batch_jobs_stay_under_the_payload_limit() -> None:
    plan = plan_embeddings(BGE, ["x" * 1000] * 450)  # 5 requests of ~100 kB
    groups = batch_job_groups(plan, max_bytes=250_000)
    assert [len(g) for g in groups] == [2, 2, 1]
    assert [r for g in groups for r in g] == plan.requests


def test_batch_api_refuses_the_openai_endpoint(client: WorkersAI) -> None:
    with pytest.raises(InvalidInputError, match="native endpoint"):
        client.embed(BGE, ["t 0"], endpoint="openai", use_batch_api=True)


def test_failed_batch_item_raises(client: WorkersAI, emulator: WorkersAIServer) -> None:
    emulator.enqueue(
        Reply.result({"status": "queued", "request_id": "job-1", "model": BGE}),
        Reply.result(
            {
                "responses": [
                    {"id": 0, "result": {"shape": [1, 1], "data": [[0.0]]}, "success": True},
                    {"id": 1, "result": {"error": "boom"}, "success": False},
                ]
            }
        ),
    )
    with pytest.raises(WorkersAIError, match="1 request\\(s\\) of batch job-1 failed"):
        client.embed(
            BGE,
            ["t 0", "t 1"],
            batch_size=1,
            use_batch_api=True,
            batch_wait=BatchWaitOptions(poll_interval=0.001),
        )
    assert [r.query for r in emulator.requests] == [{"queueRequest": "true"}] * 2
