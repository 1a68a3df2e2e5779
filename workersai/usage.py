"""What a run cost: token usage, neurons and estimated USD per model.

Prices and the estimate of one request live in :mod:`workersai.pricing` (re-exported here:
:func:`estimate_cost`, :class:`CostEstimate`, :func:`price_source`); results carry that
estimate as their ``cost`` (``ChatResult.cost``, ``EmbeddingResult.cost``; :func:`run_cost`
for a generic ``run()``, which reads image tiles, audio seconds or characters off the request
and its answer).

:class:`UsageTracker` totals many requests, thread- and task-safe; the LangChain callback and
the LlamaIndex handler are thin wrappers around it.

Every request the clients complete is recorded into the trackers active at that moment:
those of :func:`track_usage` blocks in the current context (threads and tasks started inside
inherit it) and of each open :class:`UsageScope`, and those made process-wide with
:meth:`UsageTracker.attach`.

Example:
    >>> with track_usage() as tracker:
    ...     client.chat("@cf/meta/llama-3.3-70b-instruct-fp8-fast", messages)
    ...     client.embed("@cf/baai/bge-base-en-v1.5", texts)
    >>> print(tracker.summary())
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from typing import Any

from typing_extensions import Unpack

from workersai.errors import UnexpectedResponseError
from workersai.images import ImageResult, image_size
from workersai.models import ModelInfo, get_model_info
from workersai.pricing import (
    USD_PER_1K_NEURONS,
    CostEstimate,
    CostFacts,
    estimate_cost,
    price_source,
)
from workersai.results import Usage

# CostEstimate, estimate_cost, price_source and USD_PER_1K_NEURONS live in workersai.pricing
# (below the result types, which carry a cost); they are part of this module's API too.
__all__ = [
    "USD_PER_1K_NEURONS",
    "CostEstimate",
    "ModelUsage",
    "UsageScope",
    "UsageTotals",
    "UsageTracker",
    "active_trackers",
    "estimate_cost",
    "is_tracking",
    "price_source",
    "record_request",
    "record_run",
    "run_cost",
    "track_usage",
]


@dataclass(slots=True)
class ModelUsage:
    """Totals for one model (or for all models).

    Attributes:
        known_usd: Estimated USD of the requests whose cost is known.
        unpriced_requests: Requests whose cost is unknown (no price, or no usage reported).
        unpriced_reasons: Why, one entry per distinct reason.
    """

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
    unpriced_reasons: tuple[str, ...] = ()

    @property
    def usd(self) -> float | None:
        """Estimated USD; ``None`` if any request's cost is unknown (never a misleading 0)."""
        return None if self.unpriced_requests else self.known_usd

    def add(self, other: ModelUsage) -> None:
        for f in fields(self):
            if f.name == "unpriced_reasons":
                new = [r for r in other.unpriced_reasons if r not in self.unpriced_reasons]
                self.unpriced_reasons = (*self.unpriced_reasons, *new)
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def usd_text(self) -> str:
        """``0.000775``; ``>=0.000775`` when some requests are unpriced; ``unknown`` if all
        are. (ASCII: summaries go to consoles of any encoding.)"""
        if not self.unpriced_requests:
            return f"{self.known_usd:.6f}"
        if self.unpriced_requests < self.requests:
            return f">={self.known_usd:.6f}"
        return "unknown"


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
        **facts: Unpack[CostFacts],
    ) -> CostEstimate:
        """Add one request; returns its cost estimate (``facts``: see :func:`estimate_cost`)."""
        cost = estimate_cost(model, usage, **facts)
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
            if cost.reason is not None:  # always given with usd None by estimate_cost
                entry.unpriced_reasons = (cost.reason,)
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
            return iter(sorted((model, replace(u)) for model, u in self.by_model.items()))

    @property
    def total(self) -> ModelUsage:
        out = ModelUsage()
        with self._lock:
            for usage in self.by_model.values():
                out.add(usage)
        return out

    def summary(self) -> str:
        """A printable table, one line per model plus the total.

        When some requests could not be priced, the total is a lower bound (``>=``) and a line
        says how many and why; it is never presented as the run's cost.
        """
        rows = list(self)
        total = ModelUsage()
        for _, usage in rows:
            total.add(usage)
        row = "{:<46} {:>8} {:>9} {:>9} {:>9} {:>10}"
        lines = [row.format("model", "requests", "input", "output", "neurons", "est. USD")]
        for model, usage in [*rows, ("total", total)]:
            neurons = f"{usage.neurons:.1f}" if usage.neurons else "-"
            lines.append(
                row.format(
                    model,
                    usage.requests,
                    usage.prompt_tokens,
                    usage.completion_tokens,
                    neurons,
                    usage.usd_text(),
                )
            )
        if total.unpriced_requests:
            why = "; ".join(
                f"{model}: {', '.join(usage.unpriced_reasons)}"
                for model, usage in rows
                if usage.unpriced_requests
            )
            known = (
                f"at least ${total.known_usd:.6f}"
                if total.unpriced_requests < total.requests
                else "unknown"
            )
            lines.append(
                f"Estimated cost {known} ({total.unpriced_requests} of {total.requests} "
                f"requests unpriced: {why})."
            )
        lines.append(f"Prices: {price_source([model for model, _ in rows] or None)}.")
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
    def known_cost(self) -> float:
        """Estimated USD of the requests that could be priced: a lower bound of the run's
        cost when :attr:`unpriced_requests` is not 0, the cost itself when it is."""
        return self.tracker.total.known_usd

    @property
    def unpriced_requests(self) -> int:
        """Requests whose cost is unknown (no published price, or no usage reported —
        embeddings, for one); :attr:`total_cost` is ``None`` while there are any."""
        return self.tracker.total.unpriced_requests

    @property
    def by_model(self) -> dict[str, ModelUsage]:
        """A snapshot of the totals per model id."""
        return dict(self.tracker)

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
        partial = (
            f", known_usd={total.known_usd:.6f}, unpriced_requests={total.unpriced_requests}"
            if total.unpriced_requests
            else ""
        )
        return (
            f"{type(self).__name__}(requests={total.requests}, "
            f"prompt_tokens={total.prompt_tokens}, completion_tokens={total.completion_tokens}, "
            f"neurons={total.neurons:g}, usd={usd}{partial})"
        )


# --------------------------------------------------------------------------------------
# Which trackers see a request
# --------------------------------------------------------------------------------------


class _Active:
    """A tracker pushed onto a context; once closed it records nothing, wherever it was
    inherited (a context's value can only be reset in that context)."""

    __slots__ = ("closed", "tracker")

    def __init__(self, tracker: UsageTracker) -> None:
        self.tracker = tracker
        self.closed = False


_CONTEXT_TRACKERS: ContextVar[tuple[_Active, ...]] = ContextVar(
    "workersai_usage_trackers", default=()
)
_GLOBAL_TRACKERS: list[UsageTracker] = []
_GLOBAL_LOCK = threading.Lock()


def _push(tracker: UsageTracker) -> tuple[_Active, Token[tuple[_Active, ...]]] | None:
    """Make ``tracker`` active in this context; ``None`` if it already is (pushing it again
    would record every request into it twice)."""
    active = _CONTEXT_TRACKERS.get()
    if any(a.tracker is tracker and not a.closed for a in active):
        return None
    entry = _Active(tracker)
    # Scopes closed from another context leave dead entries behind: drop them here.
    token = _CONTEXT_TRACKERS.set((*(a for a in active if not a.closed), entry))
    return entry, token


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
    pushed = _push(tracker)
    if pushed is None:
        yield tracker
        return
    try:
        yield tracker
    finally:
        _CONTEXT_TRACKERS.reset(pushed[1])


class UsageScope:
    """Record this context's requests into ``tracker`` until :meth:`close`.

    What a ``track_usage`` block does, for scopes that do not nest as blocks: framework
    events that start in one place and end in another. :meth:`close` may be called from any
    thread, task or context; the scope then stops recording everywhere it was active —
    including the threads and tasks started inside it, which inherited it.

    Example:
        >>> scope = UsageScope(tracker)   # on an event's start
        >>> ...
        >>> scope.close()                 # on its end, wherever that runs
        True
    """

    def __init__(self, tracker: UsageTracker) -> None:
        self.tracker = tracker
        self._pushed = _push(tracker)

    def close(self) -> bool:
        """Stop recording. Returns ``False`` when called in another context than the one
        that opened the scope: it is closed all the same, but requests made in the closing
        context (which never had the scope) were not recorded by it."""
        pushed, self._pushed = self._pushed, None
        if pushed is None:  # already closed, or the tracker was already active: nothing to undo
            return True
        entry, token = pushed
        entry.closed = True
        current = _CONTEXT_TRACKERS.get()
        try:
            _CONTEXT_TRACKERS.reset(token)
        except ValueError:  # the token belongs to another context
            return False
        # Scopes need not close in the order they opened: keep those opened after this one.
        remaining = tuple(a for a in current if not a.closed)
        if remaining != _CONTEXT_TRACKERS.get():
            _CONTEXT_TRACKERS.set(remaining)
        return True


def active_trackers() -> tuple[UsageTracker, ...]:
    """The trackers a request completed now is recorded into (each once)."""
    context = tuple(a.tracker for a in _CONTEXT_TRACKERS.get() if not a.closed)
    if not _GLOBAL_TRACKERS:
        return context
    with _GLOBAL_LOCK:
        everyone = (*context, *_GLOBAL_TRACKERS)
    unique: dict[int, UsageTracker] = {id(t): t for t in everyone}
    return tuple(unique.values())


def is_tracking(tracker: UsageTracker) -> bool:
    """Whether ``tracker`` already receives this context's requests from the core."""
    return any(t is tracker for t in active_trackers())


def record_request(model: str, usage: Usage | None, **facts: Unpack[CostFacts]) -> None:
    """Called by the clients once per completed request; cheap when nothing is tracking.

    ``facts`` are what a non-token price is charged by (see :func:`estimate_cost`)."""
    for tracker in active_trackers():
        tracker.record(model, usage, **facts)


_INPUT_IMAGE = re.compile(r"input_image_\d+")


def _number(value: Any) -> float | None:
    """A numeric JSON value or form field (``"1024"``); ``None`` for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, (str, bytes)):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _tiles(width: float, height: float) -> int:
    return math.ceil(width / 512) * math.ceil(height / 512)


def _image_tiles_of(data: Any) -> int | None:
    """512×512 tiles of an encoded image, from its header; ``None`` if unreadable."""
    if isinstance(data, tuple) and len(data) == 3:  # a form file: (name, bytes, type)
        data = data[1]
    size = image_size(bytes(data)) if isinstance(data, (bytes, bytearray)) else None
    if size is None or size[0] <= 0 or size[1] <= 0:
        return None
    return _tiles(*size)


def _output_image_tiles(model: str, output: Any) -> int | None:
    try:
        image = ImageResult.from_output(output, model)
    except UnexpectedResponseError:
        return None
    return _image_tiles_of(image.data)


def _cost_facts(info: ModelInfo | None, inputs: Any, output: Any) -> CostFacts:
    """What a non-token price is charged by, read off a request and its answer."""
    if info is None:
        return {}
    task = info.task.lower()
    form = getattr(inputs, "fields", inputs)  # a Multipart form (FLUX.2) or a JSON mapping
    fields_in: Mapping[str, Any] = form if isinstance(form, Mapping) else {}
    if task == "text-to-image":

        def param(*names: str) -> float | None:
            for name in names:
                value = _number(fields_in.get(name))
                if value is not None:
                    return value
            for name in names:
                spec = info.params.get(name)
                if spec is not None and spec.default is not None:
                    return _number(spec.default)
            return None

        # The image's real size when it can be read; else what was asked for (the models'
        # default is 1024×1024).
        tiles = _output_image_tiles(info.id, output)
        if tiles is None:
            tiles = _tiles(param("width") or 1024, param("height") or 1024)
        steps = param("num_steps", "steps")
        # FLUX.2 is also charged per 512×512 tile of each input image (input_image_0..3).
        input_tiles: int | None = 0
        for name, value in fields_in.items():
            if _INPUT_IMAGE.fullmatch(name):
                counted = _image_tiles_of(value)
                input_tiles = (
                    None if counted is None or input_tiles is None else input_tiles + counted
                )
        return {
            "image_tiles": tiles,
            "input_image_tiles": input_tiles,
            "steps": round(steps) if steps is not None else None,
        }
    if task == "automatic speech recognition" and isinstance(output, Mapping):
        info_block = output.get("transcription_info")  # whisper-large-v3-turbo
        if not isinstance(info_block, Mapping):
            info_block = output.get("metadata")  # Deepgram nova-3
        if isinstance(info_block, Mapping):
            duration = _number(info_block.get("duration"))
            if duration is not None:
                return {"audio_seconds": duration}
        ends = [w.get("end") for w in output.get("words") or () if isinstance(w, Mapping)]
        ends += [s.get("end") for s in output.get("segments") or () if isinstance(s, Mapping)]
        numeric = [e for e in ends if isinstance(e, (int, float)) and not isinstance(e, bool)]
        return {"audio_seconds": float(max(numeric))} if numeric else {}
    if task == "text-to-speech":
        text = fields_in.get("prompt", fields_in.get("text"))
        return {"characters": len(text)} if isinstance(text, str) else {}
    return {}


def _run_facts(model: str, inputs: Any, output: Any) -> tuple[Usage | None, CostFacts]:
    usage = Usage.from_wire(output.get("usage")) if isinstance(output, Mapping) else None
    return usage, _cost_facts(get_model_info(model), inputs, output)


def run_cost(model: str, inputs: Any, output: Any) -> CostEstimate:
    """Estimated cost of one :meth:`~workersai.WorkersAI.run` of ``model`` from its inputs
    and its answer — token usage, and for images, speech and TTS the quantities their
    prices are charged by (image tiles and steps, FLUX.2 input images, audio seconds,
    characters). The same estimate :func:`record_run` records.

    Example:
        >>> form = Multipart({"prompt": "the fox, in winter", "steps": "20",
        ...                   "input_image_0": ("fox.png", fox_png, "image/png")})
        >>> flux2 = "@cf/black-forest-labs/flux-2-dev"
        >>> run_cost(flux2, form, client.run(flux2, form)).usd  # 1024×1024 in and out
        0.09904
    """
    usage, facts = _run_facts(model, inputs, output)
    return estimate_cost(model, usage, **facts)


def record_run(model: str, inputs: Any, output: Any) -> None:
    """Record a generic ``run()``: token usage from the answer, and for images, speech and
    TTS the quantities their prices are charged by (see :func:`run_cost`)."""
    if not active_trackers():
        return
    usage, facts = _run_facts(model, inputs, output)
    record_request(model, usage, **facts)
