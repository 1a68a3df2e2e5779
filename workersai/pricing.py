"""What a request costs: Workers AI's published prices applied to a request's usage.

Workers AI bills in neurons (10,000 free per day) and publishes a USD price per model in the
``price`` property of ``/ai/models/search`` — per million input/output/cached tokens for text,
per audio minute for speech, per 512×512 tile and step for images, per request or per 1k
characters for others (wire reference §1.4). :func:`estimate_cost` turns usage into dollars
with those prices; a model without a usable price gives ``usd=None`` — unknown, never 0.

Results carry this estimate as their ``cost`` (``ChatResult.cost``, ``EmbeddingResult.cost``),
and :mod:`workersai.usage` totals it over many requests.

Example:
    >>> estimate_cost("@cf/meta/llama-3.3-70b-instruct-fp8-fast", Usage(1000, 200, 1200)).usd
    0.00074
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Protocol, TypedDict

from workersai.models import ModelInfo, get_catalog, get_model_info

__all__ = [
    "USD_PER_1K_NEURONS",
    "CostEstimate",
    "CostFacts",
    "TokenUsage",
    "estimate_cost",
    "price_source",
]


class CostFacts(TypedDict, total=False):
    """What a price is charged by besides tokens (the keywords of :func:`estimate_cost`)."""

    audio_seconds: float | None
    image_tiles: int | None
    input_image_tiles: int | None
    steps: int | None
    characters: int | None


class TokenUsage(Protocol):
    """The token counts a price applies to (:class:`workersai.Usage` has them)."""

    @property
    def prompt_tokens(self) -> int: ...

    @property
    def completion_tokens(self) -> int: ...

    @property
    def cached_tokens(self) -> int | None: ...


#: USD per 1,000 neurons beyond the daily free allocation (Workers AI pricing).
USD_PER_1K_NEURONS = 0.011


@dataclass(frozen=True, slots=True)
class CostEstimate:
    """Estimated cost of one request.

    Attributes:
        usd: Estimated USD, or ``None`` when the model's price (or the quantity it is charged
            by) is unknown.
        reason: Why ``usd`` is ``None``.
    """

    usd: float | None
    reason: str | None = None


def estimate_cost(
    model: str | ModelInfo | None,
    usage: TokenUsage | None = None,
    *,
    audio_seconds: float | None = None,
    image_tiles: int | None = None,
    input_image_tiles: int | None = 0,
    steps: int | None = None,
    characters: int | None = None,
) -> CostEstimate:
    """Estimated USD for one request of ``model``, from its published price.

    Token-priced models need ``usage``; speech needs ``audio_seconds``; images need
    ``image_tiles`` (512×512 output tiles; ``input_image_tiles`` for the input images of
    FLUX.2, ``None`` when their size is unknown) and ``steps``; TTS needs ``characters``.
    Cached input tokens are charged at the cached rate when the model publishes one.
    """
    if model is None:
        return CostEstimate(None, "model unknown")
    info = model if isinstance(model, ModelInfo) else get_model_info(model)
    if info is None or not info.price:
        return CostEstimate(None, "no published price")
    if info.unusable_price is not None:
        return CostEstimate(None, info.unusable_price)
    rates = info.rates  # USD per token, per minute, per tile...

    usd = 0.0
    if {"tokens_in", "tokens_out", "tokens_cached"} & rates.keys():
        if usage is None:
            return CostEstimate(None, "no token usage reported")
        cached = (usage.cached_tokens or 0) if "tokens_cached" in rates else 0
        # (usd is still 0.0 here, and cached is 0 unless tokens_cached has a rate: mutation
        # testing's `usd =` and other defaults for tokens_cached change nothing)
        usd += (usage.prompt_tokens - cached) * rates.get("tokens_in", 0.0)
        usd += cached * rates.get("tokens_cached", 0.0)
        if usage.completion_tokens and "tokens_out" not in rates and "tokens_in" in rates:
            return CostEstimate(None, "no published output-token price")
        # (a table without an output rate prices input tokens, and output tokens were refused
        # just above: the default only ever multiplies 0)
        usd += usage.completion_tokens * rates.get("tokens_out", 0.0)
    if "audio_minute" in rates:
        if audio_seconds is None:
            return CostEstimate(None, "audio duration unknown")
        usd += rates["audio_minute"] * audio_seconds / 60.0
    tile_kinds = {"tile", "tile_step", "input_tile", "input_tile_step", "step"} & rates.keys()
    if tile_kinds:
        needs_steps = any("step" in kind for kind in tile_kinds)
        if image_tiles is None or (needs_steps and steps is None):
            return CostEstimate(None, "image size or number of steps unknown")
        if input_image_tiles is None and {"input_tile", "input_tile_step"} & tile_kinds:
            return CostEstimate(None, "input image size unknown")
        n_steps = steps or 0
        n_inputs = input_image_tiles or 0
        usd += rates.get("tile", 0.0) * image_tiles
        usd += rates.get("tile_step", 0.0) * image_tiles * n_steps
        usd += rates.get("input_tile", 0.0) * n_inputs
        usd += rates.get("input_tile_step", 0.0) * n_inputs * n_steps
        usd += rates.get("step", 0.0) * n_steps
    if "request" in rates:
        usd += rates["request"]
    if "character" in rates:
        if characters is None:
            return CostEstimate(None, "character count unknown")
        usd += rates["character"] * characters
    return CostEstimate(usd)


def price_source(models: Iterable[str] | None = None) -> str:
    """Where the prices of ``models`` (default: every model in the catalog) come from, and
    how old they are.

    Prices are live for a model once a ``list_models()`` listing returned it; a filtered
    listing (``task=...``) refreshes only the models it returned.
    """
    catalog = get_catalog()
    if models is None:
        ids = [info.id for info in catalog.all()]
    else:
        ids = [info.id for info in map(catalog.get, models) if info is not None]
    live = [t for t in map(catalog.live_at, ids) if t is not None]
    refresh = "call WorkersAI().list_models() to refresh"
    if ids and len(live) == len(ids):
        return f"live prices from list_models() at {min(live):%Y-%m-%d %H:%M} UTC"
    bundled = "bundled price table (date unknown)"
    if catalog.as_of:
        age = (date.today() - date.fromisoformat(catalog.as_of)).days
        bundled = f"bundled price table of {catalog.as_of} ({age} days old)"
    if live:
        return (
            f"live prices from list_models() at {min(live):%Y-%m-%d %H:%M} UTC for "
            f"{len(live)} of {len(ids)} models, the {bundled} for the rest; {refresh}"
        )
    return f"{bundled}; {refresh}"
