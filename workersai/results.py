"""The normalised shapes of Workers AI results.

Whatever shape a model answered in — classic ``{"response": ...}``, an OpenAI
``chat.completion``, a bare string, legacy or OpenAI tool calls (wire reference §3.2) — the
core hands the adapters one :class:`ChatResult`; streams yield :class:`ChatChunk`s ending
with exactly one final chunk that carries usage and the finish reason.

These are plain dataclasses (not pydantic models): a stream creates one per token.

Results carry their estimated ``cost`` (:class:`~workersai.pricing.CostEstimate`), computed
when read from the model's published price and the usage — the estimate the usage trackers
record (:func:`workersai.pricing.estimate_cost`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workersai._json import ascii_int
from workersai.pricing import CostEstimate, estimate_cost

__all__ = [
    "ChatChunk",
    "ChatResult",
    "EmbeddingResult",
    "ToolCall",
    "ToolCallChunk",
    "Usage",
]


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return ascii_int(value)
    return None


def _max(a: float | None, b: float | None) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


@dataclass(slots=True)
class Usage:
    """Token usage as reported by Workers AI.

    ``neurons`` is Workers AI's billing unit, present on some responses. Streams report
    usage repeatedly (and sometimes an all-zero trailer, wire reference §4): the core merges
    those reports with :meth:`merge` (field-wise maximum), never by summing.
    ``total_tokens`` is never below ``prompt_tokens + completion_tokens`` (§10.8).
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    neurons: float | None = None

    @classmethod
    def from_wire(cls, raw: Any) -> Usage | None:
        """Parse a usage object (``prompt_tokens``/``input_tokens`` spellings both accepted)."""
        if not isinstance(raw, Mapping):
            return None
        prompt = _int(raw.get("prompt_tokens", raw.get("input_tokens"))) or 0
        completion = _int(raw.get("completion_tokens", raw.get("output_tokens"))) or 0
        # A report can count only one side: 39/0/39 then 0/1/1 (§10.8).
        total = max(_int(raw.get("total_tokens")) or 0, prompt + completion)
        prompt_details = raw.get("prompt_tokens_details") or raw.get("input_tokens_details")
        completion_details = raw.get("completion_tokens_details") or raw.get(
            "output_tokens_details"
        )
        cached = (
            _int(prompt_details.get("cached_tokens"))
            if isinstance(prompt_details, Mapping)
            else None
        )
        reasoning = (
            _int(completion_details.get("reasoning_tokens"))
            if isinstance(completion_details, Mapping)
            else None
        )
        neurons_raw = raw.get("neurons")
        neurons = (
            float(neurons_raw)
            if isinstance(neurons_raw, (int, float)) and not isinstance(neurons_raw, bool)
            else None
        )
        return cls(prompt, completion, total, cached, reasoning, neurons)

    def as_dict(self) -> dict[str, Any]:
        """The counts as JSON, in the wire's own names; the optional ones only when reported.

        Example:
            >>> Usage(39, 1, 40).as_dict()
            {'prompt_tokens': 39, 'completion_tokens': 1, 'total_tokens': 40}
        """
        out: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }
        for name in ("cached_tokens", "reasoning_tokens", "neurons"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    def merge(self, other: Usage | None) -> Usage:
        """Two reports of the same request's usage as one.

        The stream formats of the wire reference report *running totals* — usage on every
        chunk, growing (§3.3), the same usage twice, then an all-zero trailer (§4) — so each
        count is the maximum of the reports, never their sum. A report may also count one
        side only (``39/0/39`` for the prompt, then ``0/1/1`` for the answer, §10.8): the
        maxima are ``39`` and ``1``, and the total is never below their sum (``40``, not
        ``39``).
        """
        if other is None:
            return self
        prompt = max(self.prompt_tokens, other.prompt_tokens)
        completion = max(self.completion_tokens, other.completion_tokens)
        return Usage(
            prompt,
            completion,
            max(self.total_tokens, other.total_tokens, prompt + completion),
            _max(self.cached_tokens, other.cached_tokens),
            _max(self.reasoning_tokens, other.reasoning_tokens),
            _max(self.neurons, other.neurons),
        )

    def __add__(self, other: Usage) -> Usage:
        """Sum of two *different* requests' usage (for totals across calls)."""

        def add(a: float | None, b: float | None) -> Any:
            return None if a is None and b is None else (a or 0) + (b or 0)

        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.total_tokens + other.total_tokens,
            add(self.cached_tokens, other.cached_tokens),
            add(self.reasoning_tokens, other.reasoning_tokens),
            add(self.neurons, other.neurons),
        )


@dataclass(slots=True)
class ToolCall:
    """A complete tool call.

    Attributes:
        id: Call id; generated (``call_…``) when the model sent none.
        name: Tool name.
        arguments: Parsed arguments (string-typed values already coerced to the tool's
            declared types when the tool schema was known).
        raw_arguments: The arguments as JSON text.
        error: Why the call cannot be run (arguments that are not a JSON object, a tool
            that was not bound, a value the server corrupted); such calls are *invalid* tool
            calls (LangChain's ``invalid_tool_calls``) rather than exceptions.
    """

    id: str
    name: str
    arguments: dict[str, Any]
    raw_arguments: str
    error: str | None = None

    @property
    def is_valid(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class ToolCallChunk:
    """A streamed piece of a tool call. ``id`` and ``name`` come only on a call's first piece;
    ``arguments`` fragments concatenate (by ``index``) into the JSON text."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(slots=True)
class ChatResult:
    """A normalised text-generation result.

    Attributes:
        text: Answer text ("" when the model only called tools).
        tool_calls: Valid tool calls.
        invalid_tool_calls: Tool calls that cannot be run (see :attr:`ToolCall.error`).
        reasoning: Reasoning text of reasoning models, if any.
        usage: Token usage, if reported.
        finish_reason: ``stop``, ``length``, ``tool_calls``, ``content_filter`` or ``error``.
        model: Model id that answered.
        id: Response id (OpenAI-shaped answers only).
        parsed: The JSON value of a JSON-mode answer: the object the model returned, or
            its JSON text parsed (Markdown code fences included); else ``None``.
        gateway: AI Gateway response info (``cache_status``, ``log_id``, ``event_id``).
        raw: The decoded response body, untouched.
    """

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    invalid_tool_calls: list[ToolCall] = field(default_factory=list)
    reasoning: str | None = None
    usage: Usage | None = None
    finish_reason: str | None = None
    model: str | None = None
    id: str | None = None
    parsed: Any = None
    gateway: dict[str, str] = field(default_factory=dict)
    raw: Any = None

    @property
    def cost(self) -> CostEstimate:
        """Estimated USD of this request from the model's published price and the reported
        usage; ``usd`` is ``None`` (with a ``reason``) when either is unknown — never 0."""
        return _cost(self.model, self.usage)


@dataclass(slots=True)
class ChatChunk:
    """One streamed piece of a chat answer.

    Content chunks carry ``text``/``reasoning``/``tool_calls`` deltas. The stream ends with
    exactly one chunk with ``is_final=True`` carrying ``finish_reason``, the merged
    ``usage`` and ``model`` — so adapters attach usage once, never per token.
    """

    text: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCallChunk] = field(default_factory=list)
    is_final: bool = False
    finish_reason: str | None = None
    usage: Usage | None = None
    model: str | None = None
    id: str | None = None
    gateway: dict[str, str] = field(default_factory=dict)

    @property
    def cost(self) -> CostEstimate | None:
        """The streamed request's estimated USD on the final chunk (see
        :attr:`ChatResult.cost`); ``None`` on content chunks, which carry no usage."""
        return _cost(self.model, self.usage) if self.is_final else None


@dataclass(slots=True)
class EmbeddingResult:
    """Embedding vectors in input order.

    Attributes:
        vectors: One vector per input text.
        shape: ``[n, dimensions]`` as reported.
        pooling: ``"mean"`` or ``"cls"`` when the model reports it.
        usage: Token usage, when reported.
        model: The model id.
    """

    vectors: list[list[float]]
    shape: list[int] = field(default_factory=list)
    pooling: str | None = None
    usage: Usage | None = None
    model: str | None = None

    @property
    def cost(self) -> CostEstimate:
        """Estimated USD from the model's published per-token price; unknown
        (``usd=None``) unless the answer reported token usage, which Workers AI's
        embeddings endpoint does not (wire reference §6.1)."""
        return _cost(self.model, self.usage)


def _cost(model: str | None, usage: Usage | None) -> CostEstimate:
    return estimate_cost(model, usage)
