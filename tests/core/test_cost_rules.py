"""Every rule of the cost estimate, one price unit at a time (wire reference §1.4).

A price of 1.0 "per M ... tokens" is 1e-6 USD a token, so the expected values below read as
token counts: a wrong count, a wrong rate or a charge that should not be there shows.
"""

from __future__ import annotations

from typing import Any

import pytest

from workersai import Usage
from workersai.models import ModelCatalog, ModelInfo, ModelPrice
from workersai.pricing import CostEstimate, estimate_cost, price_source

M = 1e-6  # USD per token of a price of 1.0 per M tokens


def _model(*prices: tuple[str, float] | tuple[str, float, str]) -> ModelInfo:
    return ModelInfo(
        id="@cf/test/priced",
        task="Text Generation",
        price=tuple(ModelPrice(*p) for p in prices),
    )


IN_OUT = _model(("per M input tokens", 1.0), ("per M output tokens", 10.0))
IN_OUT_CACHED = _model(
    ("per M input tokens", 1.0),
    ("per M cached input tokens", 0.1),
    ("per M output tokens", 10.0),
)
INPUT_ONLY = _model(("per M input tokens", 1.0))  # embeddings
OUTPUT_ONLY = _model(("per M output tokens", 10.0))
CACHED_ONLY = _model(("per M cached input tokens", 0.1))
SPEECH = _model(("per audio minute", 0.006))
SPEECH_AND_TOKENS = _model(("per audio minute", 0.006), ("per M output tokens", 10.0))
TILE = _model(("per 512 by 512 tile", 0.01))
TILE_AND_STEP = _model(("per 512 by 512 tile", 0.01), ("per step", 0.001))
TILE_STEP = _model(("per output 512x512 tile, per step", 0.001))
FLUX2 = _model(
    ("per input 512x512 tile, per step", 0.0005),
    ("per output 512x512 tile, per step", 0.001),
)
INPUT_TILE = _model(("per 512 by 512 tile", 0.01), ("per input 512x512 tile", 0.002))
REQUEST = _model(("per inference request", 0.25))
REQUEST_AND_TOKENS = _model(("per inference request", 0.25), ("per M input tokens", 1.0))
TOKENS_AND_TILES = _model(("per M input tokens", 1.0), ("per 512 by 512 tile", 0.01))
REQUEST_AND_CHARACTERS = _model(("per inference request", 0.25), ("per 1k characters", 0.03))
TTS = _model(("per 1k characters", 0.03))


@pytest.mark.parametrize(
    ("model", "usage", "facts", "usd"),
    [
        pytest.param(IN_OUT, Usage(1000, 100, 1100), {}, 1000 * M + 1000 * M, id="tokens"),
        pytest.param(
            IN_OUT_CACHED,
            Usage(1000, 100, 1100, cached_tokens=800),
            {},
            200 * M + 800 * 0.1 * M + 1000 * M,
            id="cached tokens at the cached rate",
        ),
        pytest.param(
            IN_OUT_CACHED, Usage(1000, 100, 1100), {}, 1000 * M + 1000 * M, id="none cached"
        ),
        pytest.param(
            IN_OUT,
            Usage(1000, 100, 1100, cached_tokens=800),
            {},
            1000 * M + 1000 * M,
            id="cached tokens at the input rate when no cached rate is published",
        ),
        pytest.param(
            CACHED_ONLY,
            Usage(1000, 0, 1000, cached_tokens=1000),
            {},
            1000 * 0.1 * M,
            id="only a cached rate",
        ),
        pytest.param(INPUT_ONLY, Usage(5000, 0, 5000), {}, 5000 * M, id="embeddings"),
        pytest.param(
            OUTPUT_ONLY, Usage(1000, 100, 1100), {}, 1000 * M, id="output only: input is free"
        ),
        pytest.param(SPEECH, None, {"audio_seconds": 90.0}, 0.009, id="audio minutes"),
        pytest.param(
            SPEECH_AND_TOKENS,
            Usage(0, 100, 100),
            {"audio_seconds": 30.0},
            0.003 + 1000 * M,
            id="audio and output tokens",
        ),
        pytest.param(TILE, None, {"image_tiles": 4}, 0.04, id="tiles; no steps needed"),
        pytest.param(
            TILE_AND_STEP, None, {"image_tiles": 4, "steps": 20}, 0.04 + 0.02, id="tile + step"
        ),
        pytest.param(
            TILE_STEP, None, {"image_tiles": 4, "steps": 20}, 4 * 20 * 0.001, id="tile per step"
        ),
        pytest.param(
            FLUX2,
            None,
            {"image_tiles": 4, "steps": 20, "input_image_tiles": 3},
            4 * 20 * 0.001 + 3 * 20 * 0.0005,
            id="FLUX.2 input tiles per step",
        ),
        pytest.param(
            FLUX2, None, {"image_tiles": 4, "steps": 20}, 4 * 20 * 0.001, id="no input images"
        ),
        pytest.param(
            INPUT_TILE,
            None,
            {"image_tiles": 2, "input_image_tiles": 5},
            0.02 + 5 * 0.002,
            id="input tiles without steps",
        ),
        pytest.param(
            TILE,
            None,
            {"image_tiles": 4, "input_image_tiles": None},
            0.04,
            id="input size unknown is fine when inputs are free",
        ),
        pytest.param(REQUEST, None, {}, 0.25, id="per request"),
        pytest.param(
            REQUEST_AND_TOKENS, Usage(1000, 0, 1000), {}, 0.25 + 1000 * M, id="request + tokens"
        ),
        pytest.param(
            TILE_AND_STEP,
            None,
            {"image_tiles": 4, "steps": 20, "input_image_tiles": 3},
            0.04 + 0.02,
            id="input images are free unless priced",
        ),
        pytest.param(
            TOKENS_AND_TILES,
            Usage(1000, 0, 1000),
            {"image_tiles": 2},
            1000 * M + 0.02,
            id="tokens and tiles",
        ),
        pytest.param(TTS, None, {"characters": 2000}, 0.06, id="characters"),
        pytest.param(
            REQUEST_AND_CHARACTERS,
            None,
            {"characters": 1000},
            0.25 + 0.03,
            id="request + characters",
        ),
        pytest.param(TTS, None, {"characters": 0}, 0.0, id="no characters cost nothing"),
    ],
)
def test_each_price_unit_is_charged_by_its_quantity(
    model: ModelInfo, usage: Usage | None, facts: dict[str, Any], usd: float
) -> None:
    cost = estimate_cost(model, usage, **facts)
    assert cost.reason is None
    assert cost.usd == pytest.approx(usd, rel=1e-12, abs=0)


@pytest.mark.parametrize(
    ("model", "usage", "facts", "reason"),
    [
        pytest.param(None, Usage(1, 1, 2), {}, "model unknown", id="no model"),
        pytest.param("@cf/brand-new/model", Usage(1, 1, 2), {}, "no published price", id="new"),
        pytest.param(_model(), Usage(1, 1, 2), {}, "no published price", id="empty price"),
        pytest.param(
            _model(("per M input tokens", 1.0, "EUR")),
            Usage(1, 0, 1),
            {},
            "not priced in USD",
            id="other currency",
        ),
        pytest.param(IN_OUT, None, {}, "no token usage reported", id="no usage"),
        pytest.param(CACHED_ONLY, None, {}, "no token usage reported", id="cached rate, no usage"),
        pytest.param(
            INPUT_ONLY,
            Usage(1000, 5, 1005),
            {},
            "no published output-token price",
            id="output tokens without an output price",
        ),
        pytest.param(SPEECH, None, {}, "audio duration unknown", id="audio"),
        pytest.param(
            SPEECH_AND_TOKENS, Usage(0, 1, 1), {}, "audio duration unknown", id="audio + tokens"
        ),
        pytest.param(TILE, None, {}, "image size or number of steps unknown", id="tiles"),
        pytest.param(
            TILE_AND_STEP,
            None,
            {"image_tiles": 4},
            "image size or number of steps unknown",
            id="steps",
        ),
        pytest.param(
            TILE_STEP,
            None,
            {"image_tiles": 4},
            "image size or number of steps unknown",
            id="steps of a per-tile-step price",
        ),
        pytest.param(
            FLUX2,
            None,
            {"image_tiles": 4, "steps": 20, "input_image_tiles": None},
            "input image size unknown",
            id="input tiles",
        ),
        pytest.param(
            INPUT_TILE,
            None,
            {"image_tiles": 4, "input_image_tiles": None},
            "input image size unknown",
            id="input tiles without steps",
        ),
        pytest.param(TTS, None, {}, "character count unknown", id="characters"),
    ],
)
def test_an_unknown_quantity_makes_the_cost_unknown_never_zero(
    model: str | ModelInfo | None, usage: Usage | None, facts: dict[str, Any], reason: str
) -> None:
    assert estimate_cost(model, usage, **facts) == CostEstimate(None, reason)


def test_a_model_id_is_priced_from_the_catalog_like_its_info() -> None:
    llama = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"  # 0.29 / 2.25 USD per M tokens
    usage = Usage(1000, 200, 1200)
    assert estimate_cost(llama, usage).usd == pytest.approx(1000 * 0.29 * M + 200 * 2.25 * M)


def test_no_output_tokens_need_no_output_price() -> None:
    # an embedding model reports completion_tokens=0: priced, not "no output-token price"
    assert estimate_cost(INPUT_ONLY, Usage(10, 0, 10)).usd == pytest.approx(10 * M)


# -- where the prices come from ------------------------------------------------------------------


def test_a_price_table_without_a_date_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    from workersai import models

    catalog = ModelCatalog([IN_OUT], as_of=None)
    monkeypatch.setattr(models, "_catalog", catalog)
    undated = "bundled price table (date unknown); call WorkersAI().list_models() to refresh"
    assert price_source() == undated
    assert price_source([IN_OUT.id]) == undated
    assert price_source(["@cf/not/listed"]) == undated  # no known model: not "live" either
    catalog.update([IN_OUT])
    assert price_source([IN_OUT.id]).startswith("live prices from list_models() at ")
    assert price_source(["@cf/not/listed"]) == undated
