"""What a run cost: token usage, neurons and estimated USD per model.

Workers AI bills in neurons (10,000 free per day) and publishes a USD price per model in the
``price`` property of ``/ai/models/search`` — per million input/output/cached tokens for text,
per audio minute for speech, per 512×512 tile and step for images, per request or per 1k
characters for others (wire reference §1.4). :func:`estimate_cost` turns a result's usage into
dollars with those prices; a model without a usable price gives ``usd=None`` — unknown, never 0.

:class:`UsageTracker` totals many requests, thread- and task-safe; the LangChain callback and
the LlamaIndex handler are thin wrappers around it.

Example:
    >>> tracker = UsageTracker()
    >>> tracker.record("@cf/meta/llama-3.3-70b-instruct-fp8-fast", result.usage)
    >>> print(tracker.summary())
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timezone

from workersai.models import ModelInfo, get_catalog, get_model_info
from workersai.responses import Usage

__all__ = ["CostEstimate", "ModelUsage", "UsageTracker", "estimate_cost", "price_source"]

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


def _classify(unit: str) -> str:
    """The kind of a price unit (``tokens_in``, ``audio_minute``, ``tile_step``, ...)."""
    unit = unit.lower()
    if "token" in unit:
        if "cached" in unit:
            return "tokens_cached"
        return "tokens_out" if "output" in unit else "tokens_in"
    if "audio minute" in unit:
        return "audio_minute"
    if "tile" in unit:
        kind = "input_tile" if "input" in unit else "tile"
        return f"{kind}_step" if "step" in unit else kind
    if "step" in unit:
        return "step"
    if "request" in unit:
        return "request"
    if "character" in unit:
        return "chars_1k" if "1k" in unit else "chars"
    return "unknown"


def estimate_cost(
    model: str | ModelInfo,
    usage: Usage | None = None,
    *,
    audio_seconds: float | None = None,
    image_tiles: int | None = None,
    input_image_tiles: int = 0,
    steps: int | None = None,
    characters: int | None = None,
) -> CostEstimate:
    """Estimated USD for one request of ``model``.

    Token-priced models need ``usage``; speech needs ``audio_seconds``; images need
    ``image_tiles`` (512×512 output tiles; ``input_image_tiles`` for img2img) and ``steps``;
    TTS needs ``characters``. Cached input tokens are charged at the cached rate when the
    model publishes one.
    """
    info = model if isinstance(model, ModelInfo) else get_model_info(model)
    name = info.id if info else model
    if info is None or not info.price:
        return CostEstimate(None, f"no published price for {name}")
    if any(p.currency.upper() != "USD" for p in info.price):
        return CostEstimate(None, f"{name} is not priced in USD")
    rates: dict[str, float] = {}
    for price in info.price:
        rates[_classify(price.unit)] = price.price
    if "unknown" in rates:
        return CostEstimate(None, f"unsupported price unit for {name}")

    usd = 0.0
    if {"tokens_in", "tokens_out", "tokens_cached"} & rates.keys():
        if usage is None:
            return CostEstimate(None, "no token usage reported")
        cached = (usage.cached_tokens or 0) if "tokens_cached" in rates else 0
        usd += (usage.prompt_tokens - cached) * rates.get("tokens_in", 0.0) / 1e6
        usd += cached * rates.get("tokens_cached", 0.0) / 1e6
        if usage.completion_tokens and "tokens_out" not in rates and "tokens_in" in rates:
            return CostEstimate(None, f"{name} publishes no output-token price")
        usd += usage.completion_tokens * rates.get("tokens_out", 0.0) / 1e6
    if "audio_minute" in rates:
        if audio_seconds is None:
            return CostEstimate(None, "audio duration unknown")
        usd += rates["audio_minute"] * audio_seconds / 60.0
    tile_kinds = {"tile", "tile_step", "input_tile", "input_tile_step", "step"} & rates.keys()
    if tile_kinds:
        needs_steps = any("step" in kind for kind in tile_kinds)
        if image_tiles is None or (needs_steps and steps is None):
            return CostEstimate(None, "image size or number of steps unknown")
        n_steps = steps or 0
        usd += rates.get("tile", 0.0) * image_tiles
        usd += rates.get("tile_step", 0.0) * image_tiles * n_steps
        usd += rates.get("input_tile", 0.0) * input_image_tiles
        usd += rates.get("input_tile_step", 0.0) * input_image_tiles * n_steps
        usd += rates.get("step", 0.0) * n_steps
    if "request" in rates:
        usd += rates["request"]
    if "chars_1k" in rates or "chars" in rates:
        if characters is None:
            return CostEstimate(None, "character count unknown")
        usd += (
            rates.get("chars_1k", 0.0) * characters / 1000.0 + rates.get("chars", 0.0) * characters
        )
    return CostEstimate(usd)


def price_source() -> str:
    """Where prices come from, and how old they are."""
    catalog = get_catalog()
    refreshed = catalog.refreshed_at
    if refreshed is not None:
        return f"live prices from list_models() at {refreshed:%Y-%m-%d %H:%M} UTC"
    if catalog.as_of:
        age = (date.today() - date.fromisoformat(catalog.as_of)).days
        return (
            f"bundled price table of {catalog.as_of} ({age} days old); "
            "call WorkersAI().list_models() to refresh"
        )
    return "bundled price table (date unknown)"


@dataclass(slots=True)
class ModelUsage:
    """Totals for one model (or for all models)."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    neurons: float = 0.0
    known_usd: float = 0.0
    unpriced_requests: int = 0
    requests_without_usage: int = 0

    @property
    def usd(self) -> float | None:
        """Estimated USD; ``None`` if any request's cost is unknown (never a misleading 0)."""
        return None if self.unpriced_requests else self.known_usd

    def add(self, other: ModelUsage) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass
class UsageTracker:
    """Thread- and task-safe running totals of requests, tokens, neurons and USD per model.

    Each request must be recorded once: streams report usage once, on their final chunk.
    """

    by_model: dict[str, ModelUsage] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(
        self,
        model: str,
        usage: Usage | None,
        *,
        audio_seconds: float | None = None,
        image_tiles: int | None = None,
        input_image_tiles: int = 0,
        steps: int | None = None,
        characters: int | None = None,
    ) -> CostEstimate:
        """Add one request; returns its cost estimate."""
        cost = estimate_cost(
            model,
            usage,
            audio_seconds=audio_seconds,
            image_tiles=image_tiles,
            input_image_tiles=input_image_tiles,
            steps=steps,
            characters=characters,
        )
        entry = ModelUsage(requests=1)
        if usage is None:
            entry.requests_without_usage = 1
        else:
            entry.prompt_tokens = usage.prompt_tokens
            entry.completion_tokens = usage.completion_tokens
            entry.total_tokens = usage.total_tokens
            entry.cached_tokens = usage.cached_tokens or 0
            entry.reasoning_tokens = usage.reasoning_tokens or 0
            entry.neurons = usage.neurons or 0.0
        if cost.usd is None:
            entry.unpriced_requests = 1
        else:
            entry.known_usd = cost.usd
        with self._lock:
            self.by_model.setdefault(model, ModelUsage()).add(entry)
        return cost

    def reset(self) -> None:
        with self._lock:
            self.by_model.clear()

    def __iter__(self) -> Iterator[tuple[str, ModelUsage]]:
        with self._lock:
            return iter(sorted(self.by_model.items()))

    @property
    def total(self) -> ModelUsage:
        out = ModelUsage()
        with self._lock:
            for usage in self.by_model.values():
                out.add(usage)
        return out

    def summary(self) -> str:
        """A printable table, one line per model plus the total."""
        row = "{:<46} {:>8} {:>9} {:>9} {:>9} {:>10}"
        lines = [row.format("model", "requests", "input", "output", "neurons", "est. USD")]
        for model, usage in [*self, ("total", self.total)]:
            usd = f"{usage.usd:.6f}" if usage.usd is not None else "unknown"
            neurons = f"{usage.neurons:.1f}" if usage.neurons else "-"
            lines.append(
                row.format(
                    model,
                    usage.requests,
                    usage.prompt_tokens,
                    usage.completion_tokens,
                    neurons,
                    usd,
                )
            )
        lines.append(f"Prices: {price_source()}.")
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        lines.append(
            f"Estimate as of {stamp}; the daily free allocation (10,000 neurons) is not deducted."
        )
        return "\n".join(lines)
