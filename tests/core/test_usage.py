"""Cost estimates from published prices and exact usage totals (issue: usage and cost)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from workersai import AsyncWorkersAI, RetryPolicy, Usage, WorkersAI
from workersai.models import ModelInfo, ModelPrice
from workersai.testing import Reply, WorkersAIServer
from workersai.usage import (
    UsageTracker,
    estimate_cost,
    price_source,
    record_request,
    track_usage,
)

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"  # 0.29 / 2.25 USD per M tokens (snapshot)


def _model(*prices: tuple[str, float]) -> ModelInfo:
    return ModelInfo(
        id="@cf/test/priced",
        task="Text Generation",
        price=tuple(ModelPrice(u, p) for u, p in prices),
    )


def test_token_prices() -> None:
    cost = estimate_cost(
        LLAMA, Usage(prompt_tokens=1_000_000, completion_tokens=100_000, total_tokens=1_100_000)
    )
    assert cost.usd == pytest.approx(0.29 + 0.225)


def test_cached_tokens_are_charged_at_the_cached_rate() -> None:
    model = _model(
        ("per M input tokens", 1.0),
        ("per M cached input tokens", 0.1),
        ("per M output tokens", 2.0),
    )
    usage = Usage(prompt_tokens=1000, completion_tokens=10, total_tokens=1010, cached_tokens=800)
    assert estimate_cost(model, usage).usd == pytest.approx(
        (200 * 1.0 + 800 * 0.1 + 10 * 2.0) / 1e6
    )


@pytest.mark.parametrize(
    ("model", "kwargs", "expected"),
    [
        (_model(("per audio minute", 0.0005)), {"audio_seconds": 90}, 0.00075),
        (
            _model(("per 512 by 512 tile", 0.0058), ("per step", 0.00011)),
            {"image_tiles": 4, "steps": 4},
            4 * 0.0058 + 4 * 0.00011,
        ),
        (
            _model(("per output 512x512 tile, per step", 0.0001)),
            {"image_tiles": 4, "steps": 25},
            0.01,
        ),
        (_model(("per inference request", 0.002)), {}, 0.002),
        (_model(("per 1k characters", 0.015)), {"characters": 2000}, 0.03),
    ],
)
def test_other_price_units(model: ModelInfo, kwargs: dict, expected: float) -> None:
    assert estimate_cost(model, **kwargs).usd == pytest.approx(expected)


@pytest.mark.parametrize(
    ("model", "usage", "kwargs", "reason"),
    [
        ("@cf/brand-new/model", Usage(1, 1, 2), {}, "no published price"),
        (LLAMA, None, {}, "no token usage"),
        (_model(("per audio minute", 0.0005)), None, {}, "audio duration unknown"),
        (
            _model(("per 512 by 512 tile", 0.0058), ("per step", 0.00011)),
            None,
            {"image_tiles": 4},
            "steps unknown",
        ),
        (_model(("per fortnight", 3.0)), None, {}, "unsupported price unit"),
    ],
)
def test_unknown_cost_is_none_never_zero(
    model: str | ModelInfo, usage: Usage | None, kwargs: dict, reason: str
) -> None:
    cost = estimate_cost(model, usage, **kwargs)
    assert cost.usd is None and cost.reason is not None and reason in cost.reason


def test_tracker_totals_and_summary() -> None:
    tracker = UsageTracker()
    tracker.record(LLAMA, Usage(1000, 500, 1500, neurons=12.5))
    tracker.record(LLAMA, Usage(10, 5, 15))
    tracker.record("@cf/baai/bge-base-en-v1.5", Usage(2000, 0, 2000))
    llama = tracker.by_model[LLAMA]
    assert (llama.requests, llama.prompt_tokens, llama.completion_tokens, llama.neurons) == (
        2,
        1010,
        505,
        12.5,
    )
    assert tracker.total.usd == pytest.approx(1010 * 0.29e-6 + 505 * 2.25e-6 + 2000 * 0.067e-6)
    tracker.record("@cf/brand-new/model", Usage(1, 1, 2))
    assert tracker.total.usd is None  # one unpriced request makes the total unknown, not smaller
    assert tracker.total.known_usd > 0
    summary = tracker.summary()
    assert "unknown" in summary and LLAMA in summary and "bundled price table" in summary


def test_requests_without_usage_are_counted() -> None:
    tracker = UsageTracker()
    tracker.record(LLAMA, None)
    assert (
        tracker.total.requests == 1
        and tracker.total.requests_without_usage == 1
        and tracker.total.usd is None
    )


def test_tracker_is_exact_under_threads_and_tasks() -> None:
    tracker = UsageTracker()

    def worker() -> None:
        for _ in range(500):
            tracker.record(LLAMA, Usage(3, 2, 5))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()

    async def tasks() -> None:
        async def one() -> None:
            await asyncio.sleep(0)
            tracker.record(LLAMA, Usage(3, 2, 5))

        await asyncio.gather(*(one() for _ in range(1000)))

    asyncio.run(tasks())
    for thread in threads:
        thread.join()
    total = tracker.total
    assert (total.requests, total.prompt_tokens, total.completion_tokens) == (5000, 15000, 10000)


def test_price_source_mentions_the_snapshot_age() -> None:
    assert "days old" in price_source() or "live prices" in price_source()


# -- what the clients record ------------------------------------------------------------


USAGE = {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14}
USER = [{"role": "user", "content": "hi"}]


def _embedding_answer(request: object) -> Reply:
    texts = request.json()["text"]  # type: ignore[attr-defined]
    return Reply.result(
        {
            "shape": [len(texts), 2],
            "data": [[1.0, 2.0]] * len(texts),
            "usage": {
                "prompt_tokens": len(texts),
                "completion_tokens": 0,
                "total_tokens": len(texts),
            },
        }
    )


def test_each_completed_request_is_recorded_once(
    server: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    client = WorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)
    server.enqueue(
        Reply.error(429, 3040, "busy"),  # a retried attempt is not a completed request
        Reply.result({"response": "a", "usage": USAGE}),
        Reply.sse(
            [
                {"response": "b", "usage": {**USAGE, "neurons": 1.25}},
                {"response": "", "usage": {**USAGE, "neurons": 1.25}},
            ]
        ),
    )
    with track_usage() as tracker:
        client.chat(LLAMA, USER)
        list(client.stream_chat(LLAMA, USER))
    llama = tracker.by_model[LLAMA]
    assert (llama.requests, llama.prompt_tokens, llama.completion_tokens, llama.neurons) == (
        2,
        20,
        8,
        1.25,
    )
    # outside the block nothing is recorded
    server.enqueue(Reply.result({"response": "c", "usage": USAGE}))
    client.chat(LLAMA, USER)
    assert tracker.total.requests == 2


def test_concurrent_embedding_batches_are_recorded_in_the_callers_context(
    server: WorkersAIServer,
) -> None:
    server.handler = _embedding_answer
    client = WorkersAI("acct", "tok", base_url=server.base_url)
    with track_usage() as tracker:
        client.embed("@cf/baai/bge-base-en-v1.5", [f"t{i}" for i in range(450)], max_concurrency=4)
    bge = tracker.by_model["@cf/baai/bge-base-en-v1.5"]
    assert (bge.requests, bge.prompt_tokens) == (5, 450)  # 100 × 4 + 50, from pool threads
    assert bge.usd == pytest.approx(450 * 0.067e-6)


async def test_async_calls_and_nested_trackers(server: WorkersAIServer) -> None:
    server.handler = lambda request: Reply.result({"response": "x", "usage": USAGE})
    client = AsyncWorkersAI("acct", "tok", base_url=server.base_url)
    with track_usage() as outer:
        with track_usage() as inner:
            await asyncio.gather(*(client.chat(LLAMA, USER) for _ in range(20)))
        await client.chat(LLAMA, USER)
    assert inner.total.requests == 20
    assert outer.total.requests == 21
    await client.aclose()


def test_attached_tracker_sees_other_threads(server: WorkersAIServer) -> None:
    server.handler = lambda request: Reply.result({"response": "x", "usage": USAGE})
    client = WorkersAI("acct", "tok", base_url=server.base_url)
    tracker = UsageTracker().attach()
    try:
        with track_usage(tracker):  # also in context: still counted once
            threads = [threading.Thread(target=client.chat, args=(LLAMA, USER)) for _ in range(5)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            client.chat(LLAMA, USER)
    finally:
        tracker.detach()
    client.chat(LLAMA, USER)
    assert tracker.total.requests == 6


def test_images_and_speech_are_recorded_with_what_they_are_priced_by(
    server: WorkersAIServer,
) -> None:
    client = WorkersAI("acct", "tok", base_url=server.base_url)
    server.enqueue(
        Reply.binary(b"\x89PNG\r\n\x1a\n" + b"\0" * 16),
        Reply.result({"text": "hello", "transcription_info": {"duration": 90.0}, "segments": []}),
    )
    phoenix = "@cf/leonardo/phoenix-1.0"  # 0.0058 per 512×512 tile + 0.00011 per step
    with track_usage() as tracker:
        client.run(
            phoenix,
            {"prompt": "a cat", "width": 1024, "height": 512, "num_steps": 10},
            validate=False,
        )
        client.run("@cf/openai/whisper-large-v3-turbo", {"audio": "AAAA"}, validate=False)
    assert tracker.by_model[phoenix].usd == pytest.approx(2 * 0.0058 + 10 * 0.00011)
    assert tracker.by_model["@cf/openai/whisper-large-v3-turbo"].requests == 1


def test_the_same_tracker_twice_in_a_context_records_once() -> None:
    tracker = UsageTracker()
    with track_usage(tracker), track_usage(tracker):
        record_request(LLAMA, Usage(3, 2, 5))
    with track_usage(tracker):  # the inner block must not have ended the outer one's tracking
        with track_usage(tracker):
            pass
        record_request(LLAMA, Usage(3, 2, 5))
    record_request(LLAMA, Usage(3, 2, 5))
    assert tracker.total.requests == 2
