"""Cost estimates from published prices and exact usage totals (issue: usage and cost)."""

from __future__ import annotations

import asyncio
import base64
import io
import threading
from datetime import date
from typing import Any

import pytest
from PIL import Image

from workersai import AsyncWorkersAI, ImageResult, Multipart, RetryPolicy, Usage, WorkersAI
from workersai.models import ModelCatalog, ModelInfo, ModelPrice, get_catalog
from workersai.testing import Reply, WorkersAIServer
from workersai.usage import (
    UsageScope,
    UsageTotals,
    UsageTracker,
    estimate_cost,
    is_tracking,
    price_source,
    record_request,
    record_run,
    run_cost,
    track_usage,
)

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"  # 0.29 / 2.25 USD per M tokens (snapshot)
BGE = "@cf/baai/bge-base-en-v1.5"  # 0.067 USD per M input tokens
UNPRICED = "@cf/meta/llama-3.1-8b-instruct-fast"  # no published price
FLUX2 = "@cf/black-forest-labs/flux-2-dev"
# FLUX.2 dev (snapshot): per input 512x512 tile, per step / per output 512x512 tile, per step
FLUX2_INPUT_TILE_STEP, FLUX2_OUTPUT_TILE_STEP = 0.000413, 0.000825


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


# -- where prices come from -----------------------------------------------------------


class _Today(date):
    @classmethod
    def today(cls) -> date:
        return date(2026, 5, 31)


def _search_item(model: str, task: str, *props: tuple[str, object]) -> dict[str, Any]:
    """One ``/ai/models/search`` result object (wire reference §1.4)."""
    return {
        "id": model.rsplit("/", 1)[-1],
        "name": model,
        "task": {"name": task},
        "properties": [{"property_id": k, "value": v} for k, v in props],
    }


@pytest.fixture
def bundled(monkeypatch: pytest.MonkeyPatch) -> ModelCatalog:
    """A catalog of two bundled models dated 2026-05-01, seen on 2026-05-31."""
    from workersai import models, pricing

    llama, bge = get_catalog().get(LLAMA), get_catalog().get(BGE)
    assert llama is not None and bge is not None
    catalog = ModelCatalog([llama, bge], as_of="2026-05-01")
    monkeypatch.setattr(models, "_catalog", catalog)
    monkeypatch.setattr(pricing, "date", _Today)
    return catalog


def test_price_source_names_the_bundled_table_and_its_age(bundled: ModelCatalog) -> None:
    assert price_source() == (
        "bundled price table of 2026-05-01 (30 days old); call WorkersAI().list_models() to refresh"
    )
    assert price_source([LLAMA]) == price_source()


def test_a_filtered_listing_makes_only_its_models_live(
    server: WorkersAIServer, bundled: ModelCatalog
) -> None:
    listing = [
        _search_item(
            LLAMA,
            "Text Generation",
            ("price", [{"unit": "per M input tokens", "price": 0.3, "currency": "USD"}]),
        )
    ]
    server.enqueue(Reply.result(listing))
    WorkersAI("acct", "tok", base_url=server.base_url).list_models(task="text-generation")
    refreshed = bundled.refreshed_at
    assert refreshed is not None and bundled.live_at(LLAMA) == refreshed
    assert bundled.live_at(BGE) is None  # the listing did not return it
    stamp = f"{refreshed:%Y-%m-%d %H:%M} UTC"
    assert price_source([LLAMA]) == f"live prices from list_models() at {stamp}"
    assert price_source([BGE]) == (
        "bundled price table of 2026-05-01 (30 days old); call WorkersAI().list_models() to refresh"
    )
    assert price_source() == (
        f"live prices from list_models() at {stamp} for 1 of 2 models, the bundled price "
        "table of 2026-05-01 (30 days old) for the rest; call WorkersAI().list_models() to refresh"
    )
    tracker = UsageTracker()
    tracker.record(BGE, Usage(10, 0, 10))
    assert f"Prices: {price_source([BGE])}." in tracker.summary()  # the models it used

    bundled.update([ModelInfo.from_search_result(_search_item(BGE, "Text Embeddings"))])
    assert price_source().startswith("live prices from list_models() at ")
    assert "bundled" not in price_source()


def test_live_values_win_over_the_bundled_ones(bundled: ModelCatalog) -> None:
    before = bundled.get(LLAMA)
    assert before is not None and before.price and before.function_calling and before.params
    # Cloudflare stopped publishing a price and function calling for it
    bundled.update(
        [
            ModelInfo.from_search_result(
                _search_item(LLAMA, "Text Generation", ("context_window", "8000"))
            )
        ]
    )
    after = bundled.get(LLAMA)
    assert after is not None
    assert (after.price, after.function_calling, after.context_window) == ((), False, 8000)
    assert after.params == before.params and after.accepts == before.accepts  # schema facts
    assert estimate_cost(LLAMA, Usage(10, 1, 11)).usd is None  # no stale price


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


def test_usage_scopes_close_in_any_order_and_from_any_context() -> None:
    first, second = UsageTracker(), UsageTracker()
    scope_a, scope_b = UsageScope(first), UsageScope(second)
    assert scope_a.close()  # before the scope opened after it
    assert not is_tracking(first) and is_tracking(second)
    record_request(LLAMA, Usage(3, 2, 5))

    scope_c = UsageScope(first)
    closed: list[bool] = []
    # closed from a thread that does not share this context: closed here all the same
    closer = threading.Thread(target=lambda: closed.append(scope_c.close()))
    closer.start()
    closer.join()
    assert closed == [False] and not is_tracking(first)
    record_request(LLAMA, Usage(3, 2, 5))
    assert scope_b.close() and not is_tracking(second)
    record_request(LLAMA, Usage(3, 2, 5))
    assert (first.total.requests, second.total.requests) == (0, 2)


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


# -- one price parser ----------------------------------------------------------------------


def test_price_units_parse_to_a_price_per_unit() -> None:
    # the order Kimi's entry lists them in: the cached price first (wire reference §1.4)
    kimi_like = _model(
        ("per M cached input tokens", 0.16),
        ("per M input tokens", 0.95),
        ("per M output tokens", 4.0),
    )
    assert kimi_like.price_per_token("input") == pytest.approx(0.95e-6)
    assert kimi_like.price_per_token("cached") == pytest.approx(0.16e-6)
    assert kimi_like.price_per_token("output") == pytest.approx(4.0e-6)
    per_k = _model(("per 1k input tokens", 0.5), ("per 1k characters", 0.03))
    assert per_k.rates == {"tokens_in": pytest.approx(0.5e-3), "character": pytest.approx(3e-5)}
    tiles = _model(("per 512 by 512 tile", 0.007), ("per input 512x512 tile, per step", 0.0004))
    assert tiles.rates == {"tile": 0.007, "input_tile_step": 0.0004}  # no "per 512" scale


# -- results carry their cost --------------------------------------------------------------


def test_results_carry_the_cost_the_trackers_record(server: WorkersAIServer) -> None:
    client = WorkersAI("acct", "tok", base_url=server.base_url)
    server.enqueue(
        Reply.result({"response": "a", "usage": USAGE}),
        Reply.sse([{"response": "b"}, {"response": "", "usage": USAGE}]),
        Reply.result({"response": "c", "usage": USAGE}),
        Reply.result({"shape": [1, 2], "data": [[1.0, 2.0]]}),  # no usage (§6.1)
    )
    with track_usage() as tracker:
        result = client.chat(LLAMA, USER)
        chunks = list(client.stream_chat(LLAMA, USER))
        unpriced = client.chat(UNPRICED, USER)
        embedded = client.embed(BGE, ["a note"])
    expected = 10 * 0.29e-6 + 4 * 2.25e-6
    assert result.cost.usd == pytest.approx(expected) and result.cost.reason is None
    *content, final = chunks
    assert final.is_final and final.cost is not None
    assert final.cost.usd == pytest.approx(expected)
    assert all(chunk.cost is None for chunk in content)  # no usage on content chunks
    assert tracker.by_model[LLAMA].usd == pytest.approx(result.cost.usd + final.cost.usd)
    # unknown is None with a reason, never 0
    assert (unpriced.cost.usd, unpriced.cost.reason) == (None, "no published price")
    assert (embedded.cost.usd, embedded.cost.reason) == (None, "no token usage reported")


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def _flux2_form(**images: bytes) -> Multipart:
    form: dict[str, str | bytes | tuple[str, bytes, str]] = {
        "prompt": "the same fox, in winter",
        "width": "1024",
        "height": "1024",
        "steps": "20",
    }
    form.update({name: (f"{name}.png", data, "image/png") for name, data in images.items()})
    return Multipart(form)


def test_flux2_is_charged_for_its_input_images_and_the_real_output_size(
    server: WorkersAIServer,
) -> None:
    # asked for 1024×1024, answered 768×512: 2×1 output tiles, not 4
    answer = {"image": base64.b64encode(_png(768, 512)).decode("ascii")}
    server.handler = lambda request: Reply.result(answer)
    # input images of 1024×768 (2×2 tiles) and 512×512 (1 tile)
    form = _flux2_form(input_image_0=_png(1024, 768), input_image_1=_png(512, 512))
    client = WorkersAI("acct", "tok", base_url=server.base_url)
    with track_usage() as tracker:
        output = client.run(FLUX2, form)
    expected = 2 * 20 * FLUX2_OUTPUT_TILE_STEP + (4 + 1) * 20 * FLUX2_INPUT_TILE_STEP
    assert tracker.by_model[FLUX2].usd == pytest.approx(expected)
    assert run_cost(FLUX2, form, output).usd == pytest.approx(expected)  # one code path
    # without input images only the output is charged
    assert run_cost(FLUX2, _flux2_form(), output).usd == pytest.approx(
        2 * 20 * FLUX2_OUTPUT_TILE_STEP
    )


def test_unreadable_input_images_make_the_cost_unknown() -> None:
    output = {"image": base64.b64encode(_png(512, 512)).decode("ascii")}
    cost = run_cost(FLUX2, _flux2_form(input_image_0=b"not an image"), output)
    assert (cost.usd, cost.reason) == (None, "input image size unknown")


def test_deepgram_transcripts_are_priced_by_their_duration() -> None:
    # nova-3 answers in Deepgram's shape: the duration is in `metadata` (0.0052 USD/minute)
    answer = {
        "metadata": {"duration": 90.0, "channels": 1},
        "results": {"channels": [{"alternatives": [{"transcript": "hello", "words": []}]}]},
    }
    tracker = UsageTracker()
    with track_usage(tracker):
        record_run("@cf/deepgram/nova-3", b"RIFF....WAVE", answer)
    assert tracker.by_model["@cf/deepgram/nova-3"].usd == pytest.approx(0.0052 * 1.5)


# -- partially priced runs ------------------------------------------------------------------


class _Handler(UsageTotals):
    def __init__(self) -> None:
        self.tracker = UsageTracker()


def test_a_partially_priced_run_shows_what_is_known() -> None:
    handler = _Handler()  # what the LangChain and LlamaIndex handlers share
    handler.tracker.record(LLAMA, Usage(1000, 200, 1200))
    handler.tracker.record(LLAMA, Usage(1000, 0, 1000))
    handler.tracker.record(BGE, None)  # embeddings report no usage (§6.1)
    known = 2000 * 0.29e-6 + 200 * 2.25e-6  # 0.00103
    assert handler.total_cost is None  # never a misleading number...
    assert handler.known_cost == pytest.approx(known)  # ...but what is known is there
    assert handler.unpriced_requests == 1
    lines = handler.summary().splitlines()
    rows = {line.split()[0]: line.split()[-1] for line in lines[1:4]}
    assert rows == {LLAMA: f"{known:.6f}", BGE: "unknown", "total": f">={known:.6f}"}
    assert lines[4] == (
        f"Estimated cost at least ${known:.6f} (1 of 3 requests unpriced: {BGE}: no token usage reported)."
    )
    assert f"known_usd={known:.6f}, unpriced_requests=1" in repr(handler)


def test_generated_images_and_transcripts_carry_their_cost(server: WorkersAIServer) -> None:
    # FLUX.2 through generate_image: the same estimate as run_cost, attached to the result
    answer = {"image": base64.b64encode(_png(512, 512)).decode("ascii")}
    turbo = "@cf/openai/whisper-large-v3-turbo"  # priced per audio minute
    transcript_answer = {"text": "hi", "transcription_info": {"duration": 30.0}}
    server.enqueue(Reply.result(answer), Reply.result(transcript_answer))
    client = WorkersAI("acct", "tok", base_url=server.base_url)
    with track_usage() as tracker:
        image = client.generate_image("a fox", model=FLUX2, num_steps=20, width=512, height=512)
        transcript = client.transcribe(b"RIFF\x00\x00\x00\x00WAVEfmt ", model=turbo)
    assert image.cost is not None
    assert image.cost.usd == pytest.approx(20 * FLUX2_OUTPUT_TILE_STEP)  # one 512×512 tile
    assert image.convert("image/jpeg").cost == image.cost  # re-encoding keeps it
    assert tracker.by_model[FLUX2].usd == pytest.approx(image.cost.usd)
    assert transcript.cost.usd is not None and transcript.cost.usd > 0
    assert tracker.by_model[turbo].usd == pytest.approx(transcript.cost.usd)
    # an image that did not come from Workers AI has no cost to tell
    assert ImageResult.from_bytes(_png(8, 8)).cost is None
