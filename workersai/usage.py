"""What a run cost: token usage, neurons and estimated USD per model.

Workers AI bills in neurons (10,000 free per day) and publishes a USD price per model in the
``price`` property of ``/ai/models/search`` — per million input/output/cached tokens for text,
per audio minute for speech, per 512×512 tile and step for images, per request or per 1k
characters for others (wire reference §1.4). :func:`estimate_cost` turns a result's usage into
dollars with those prices; a model without a usable price gives ``usd=None`` — unknown, never 0.

:class:`UsageTracker` totals many requests, thread- and task-safe; the LangChain callback and
the LlamaIndex handler are thin wrappers around it.

Every request the clients complete is recorded into the trackers active at that moment:
those of :func:`track_usage` blocks in the current context (threads and tasks started inside
inherit it) and those made process-wide with :meth:`UsageTracker.attach`.

Example:
    >>> with track_usage() as tracker:
    ...     client.chat("@cf/meta/llama-3.3-70b-instruct-fp8-fast", messages)
    ...     client.embed("@cf/baai/bge-base-en-v1.5", texts)
    >>> print(tracker.summary())
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timezone
from typing import Any

from workersai.models import ModelInfo, get_catalog, get_model_info
from workersai.responses import Usage

__all__ = [
    "CostEstimate",
    "ModelUsage",
    "UsageTotals",
    "UsageTracker",
    "active_trackers",
    "estimate_cost",
    "is_tracking",
    "price_source",
    "record_request",
    "record_run",
    "track_usage",
]

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

    def attach(self) -> UsageTracker:
        """Receive every request of the process (all threads and tasks) until :meth:`detach`."""
        with _GLOBAL_LOCK:
            if not any(t is self for t in _GLOBAL_TRACKERS):
                _GLOBAL_TRACKERS.append(self)
        return self

    def detach(self) -> None:
        with _GLOBAL_LOCK:
            _GLOBAL_TRACKERS[:] = [t for t in _GLOBAL_TRACKERS if t is not self]

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


class UsageTotals:
    """The totals of ``self.tracker`` as attributes: what the LangChain and LlamaIndex usage
    handlers share (``print(handler)`` prints the summary table)."""

    tracker: UsageTracker

    @property
    def requests(self) -> int:
        """Completed requests (a stream is one request; retried attempts are not counted)."""
        return self.tracker.total.requests

    @property
    def prompt_tokens(self) -> int:
        return self.tracker.total.prompt_tokens

    @property
    def completion_tokens(self) -> int:
        return self.tracker.total.completion_tokens

    @property
    def total_tokens(self) -> int:
        return self.tracker.total.total_tokens

    @property
    def cached_tokens(self) -> int:
        return self.tracker.total.cached_tokens

    @property
    def reasoning_tokens(self) -> int:
        return self.tracker.total.reasoning_tokens

    @property
    def neurons(self) -> float:
        """Neurons as reported by the API (only some responses carry them)."""
        return self.tracker.total.neurons

    @property
    def total_cost(self) -> float | None:
        """Estimated USD, or ``None`` when any request's cost is unknown (never a made-up 0)."""
        return self.tracker.total.usd

    @property
    def by_model(self) -> dict[str, ModelUsage]:
        """A snapshot of the totals per model id."""
        return {model: replace(usage) for model, usage in self.tracker}

    def summary(self) -> str:
        """A printable table, one line per model plus the total."""
        return self.tracker.summary()

    def reset(self) -> None:
        """Start counting from zero."""
        self.tracker.reset()

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        total = self.tracker.total
        usd = "unknown" if total.usd is None else f"{total.usd:.6f}"
        return (
            f"{type(self).__name__}(requests={total.requests}, "
            f"prompt_tokens={total.prompt_tokens}, completion_tokens={total.completion_tokens}, "
            f"neurons={total.neurons:g}, usd={usd})"
        )


# --------------------------------------------------------------------------------------
# Which trackers see a request
# --------------------------------------------------------------------------------------

_CONTEXT_TRACKERS: ContextVar[tuple[UsageTracker, ...]] = ContextVar(
    "workersai_usage_trackers", default=()
)
_GLOBAL_TRACKERS: list[UsageTracker] = []
_GLOBAL_LOCK = threading.Lock()


@contextmanager
def track_usage(tracker: UsageTracker | None = None) -> Iterator[UsageTracker]:
    """Record every request completed inside the block (and in threads/tasks it starts).

    Example:
        >>> with track_usage() as usage:
        ...     client.chat(model, messages)
        >>> usage.total.total_tokens
        41
    """
    tracker = tracker if tracker is not None else UsageTracker()
    active = _CONTEXT_TRACKERS.get()
    if any(t is tracker for t in active):  # already tracking here: pushing it again would
        yield tracker  # record every request into it twice
        return
    token = _CONTEXT_TRACKERS.set((*active, tracker))
    try:
        yield tracker
    finally:
        _CONTEXT_TRACKERS.reset(token)


def active_trackers() -> tuple[UsageTracker, ...]:
    """The trackers a request completed now is recorded into (each once)."""
    context = _CONTEXT_TRACKERS.get()
    if not _GLOBAL_TRACKERS:
        return context
    with _GLOBAL_LOCK:
        everyone = (*context, *_GLOBAL_TRACKERS)
    unique: dict[int, UsageTracker] = {id(t): t for t in everyone}
    return tuple(unique.values())


def is_tracking(tracker: UsageTracker) -> bool:
    """Whether ``tracker`` already receives this context's requests from the core."""
    return any(t is tracker for t in active_trackers())


def record_request(
    model: str,
    usage: Usage | None,
    *,
    audio_seconds: float | None = None,
    image_tiles: int | None = None,
    input_image_tiles: int = 0,
    steps: int | None = None,
    characters: int | None = None,
) -> None:
    """Called by the clients once per completed request; cheap when nothing is tracking."""
    trackers = active_trackers()
    for tracker in trackers:
        tracker.record(
            model,
            usage,
            audio_seconds=audio_seconds,
            image_tiles=image_tiles,
            input_image_tiles=input_image_tiles,
            steps=steps,
            characters=characters,
        )


def _cost_facts(info: ModelInfo | None, inputs: Any, output: Any) -> dict[str, Any]:
    """What a non-token price is charged by, read off a request and its answer."""
    if info is None:
        return {}
    task = info.task.lower()
    form = getattr(inputs, "fields", inputs)  # a Multipart form (FLUX.2) or a JSON mapping
    fields_in: Mapping[str, Any] = form if isinstance(form, Mapping) else {}
    if task == "text-to-image":

        def param(name: str) -> Any:
            spec = info.params.get(name)
            return fields_in.get(name, spec.default if spec is not None else None)

        width, height = float(param("width") or 1024), float(param("height") or 1024)
        steps = fields_in.get("num_steps", fields_in.get("steps"))
        if steps is None:
            steps = param("num_steps") or param("steps")
        tiles = math.ceil(width / 512) * math.ceil(height / 512)
        return {"image_tiles": tiles, "steps": int(steps) if steps is not None else None}
    if task == "automatic speech recognition" and isinstance(output, Mapping):
        info_block = output.get("transcription_info")
        if isinstance(info_block, Mapping) and isinstance(info_block.get("duration"), (int, float)):
            return {"audio_seconds": float(info_block["duration"])}
        ends = [w.get("end") for w in output.get("words") or () if isinstance(w, Mapping)]
        ends += [s.get("end") for s in output.get("segments") or () if isinstance(s, Mapping)]
        numeric = [e for e in ends if isinstance(e, (int, float))]
        return {"audio_seconds": float(max(numeric))} if numeric else {}
    if task == "text-to-speech":
        text = fields_in.get("prompt", fields_in.get("text"))
        return {"characters": len(text)} if isinstance(text, str) else {}
    return {}


def record_run(model: str, inputs: Any, output: Any) -> None:
    """Record a generic ``run()``: token usage from the answer, and for images, speech and
    TTS the quantities their prices are charged by."""
    if not active_trackers():
        return
    usage = Usage.from_wire(output.get("usage")) if isinstance(output, Mapping) else None
    facts = _cost_facts(get_model_info(model), inputs, output)
    record_request(model, usage, **facts)
