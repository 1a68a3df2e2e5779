"""Typed inputs per task, with the documented ranges (wire reference §3.1, §6–§8).

:func:`validate_input` checks a request payload before anything is sent and raises
:class:`~workersai.errors.InvalidInputError` naming the field and the allowed range. The
payload itself is sent unchanged: validation never rewrites values, and fields the schema
does not know pass through (new models add parameters faster than any client).

Where the catalog knows a model's own ranges (``top_p`` is 0–2 on older Llamas but
0.001–1 on Llama 3.3) or values (``reasoning_effort``: see :func:`reasoning_efforts`), those
are checked as well.

Example:
    >>> validate_input("@cf/meta/llama-3.3-70b-instruct-fp8-fast",
    ...                {"messages": [{"role": "user", "content": "hi"}], "temperature": 9})
    Traceback (most recent call last):
    InvalidInputError: temperature: Input should be less than or equal to 5 (got 9)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from workersai.errors import InvalidInputError
from workersai.models import ModelInfo, get_model_info

__all__ = [
    "ChatMessage",
    "EmbeddingInput",
    "ImageToTextInput",
    "RerankInput",
    "SpeechRecognitionInput",
    "SummarizationInput",
    "TextClassificationInput",
    "TextGenerationInput",
    "TextToImageInput",
    "TextToSpeechInput",
    "TranslationInput",
    "reasoning_efforts",
    "validate_input",
]

DEFAULT_MAX_EMBEDDING_BATCH = 100

# Every reasoning_effort value a Workers AI model publishes; which ones a model takes is
# :func:`reasoning_efforts`.
ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]
# The OpenAI-compatible schema's values (§1.3), for models that publish nothing else.
_DEFAULT_EFFORTS = frozenset({"low", "medium", "high"})
# What the recent models' servers accept although their schema page lists no enum: sglang
# validates "'none', 'low', 'medium', 'high' or 'max'" (decolua/9router#2665, kimi-k2.7-code);
# gemma-4 documents high/none (cloudflare-docs PR #33541). Wire reference §10.9.
_OPEN_EFFORTS = frozenset({"none", "low", "medium", "high", "max"})


class _Input(BaseModel):
    # strict: a value of the wrong type is an error, never silently converted.
    model_config = ConfigDict(extra="allow", strict=True)


class ChatMessage(_Input):
    """One chat message in OpenAI form (``content`` may be text or content parts)."""

    role: str = Field(min_length=1)
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class TextGenerationInput(_Input):
    """Text generation (``/ai/run`` with ``prompt`` or ``messages``)."""

    prompt: str | None = Field(default=None, min_length=1)
    messages: list[ChatMessage] | None = Field(default=None, min_length=1)
    raw: bool | None = None
    stream: bool | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=5)
    top_p: float | None = Field(default=None, ge=0, le=2)
    top_k: int | None = Field(default=None, ge=1, le=50)
    seed: int | None = Field(default=None, ge=1, le=9_999_999_999)
    repetition_penalty: float | None = Field(default=None, ge=0, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    lora: str | None = Field(default=None, min_length=1)
    response_format: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    reasoning_effort: ReasoningEffort | None = None
    chat_template_kwargs: dict[str, Any] | None = None
    stop: str | list[str] | None = None

    @model_validator(mode="after")
    def _prompt_xor_messages(self) -> TextGenerationInput:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("send exactly one of 'prompt' or 'messages'")
        if self.response_format is not None:
            kind = self.response_format.get("type")
            if kind not in ("json_object", "json_schema", "text"):
                raise ValueError(
                    "response_format.type must be 'json_object', 'json_schema' or 'text'"
                )
        if isinstance(self.tool_choice, str) and self.tool_choice not in (
            "auto",
            "none",
            "required",
        ):
            raise ValueError("tool_choice must be 'auto', 'none', 'required' or a function")
        return self


class EmbeddingInput(_Input):
    """Text embeddings (BGE family and friends). ``pooling`` defaults to ``mean`` server-side;
    ``cls`` vectors are not comparable with ``mean`` vectors."""

    text: str | list[str] | None = None
    pooling: Literal["mean", "cls"] | None = None
    queries: str | list[str] | None = None
    documents: str | list[str] | None = None
    instruction: str | None = None

    @model_validator(mode="after")
    def _has_text(self) -> EmbeddingInput:
        items = [self.text, self.queries, self.documents]
        if all(x is None for x in items):
            raise ValueError("send 'text' (or 'queries'/'documents' for qwen3-embedding)")
        for value in items:
            texts = [value] if isinstance(value, str) else value or []
            if any(not t for t in texts):
                raise ValueError("texts must be non-empty strings (Workers AI rejects '')")
        return self


class _Context(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    text: str = Field(min_length=1)


class RerankInput(_Input):
    """``@cf/baai/bge-reranker-base``: score ``contexts`` against ``query``."""

    query: str = Field(min_length=1)
    contexts: list[_Context] = Field(min_length=1)
    top_k: int | None = Field(default=None, ge=1)


class TranslationInput(_Input):
    """``@cf/meta/m2m100-1.2b``."""

    text: str = Field(min_length=1)
    target_lang: str = Field(min_length=2)
    source_lang: str | None = Field(default=None, min_length=2)


class SummarizationInput(_Input):
    """``summarize()``: the text and the summary's length in tokens (the retired
    ``@cf/facebook/bart-large-cnn`` took these fields; a chat model gets them as a prompt and
    ``max_tokens``)."""

    input_text: str = Field(min_length=1)
    max_length: int | None = Field(default=None, ge=1)


class TextClassificationInput(_Input):
    """``@cf/huggingface/distilbert-sst-2-int8``."""

    text: str = Field(min_length=1)


class TextToImageInput(_Input):
    """Text-to-image, ranges every family shares. Each model's own ranges (num_steps ≤ 20
    for Stable Diffusion, steps ≤ 8 for flux-1-schnell, 2–10 guidance for phoenix, ...) and
    accepted fields come from the catalog (see :func:`workersai.images.build_image_request`)."""

    prompt: str = Field(min_length=1)
    negative_prompt: str | None = None
    height: int | None = Field(default=None, ge=1)
    width: int | None = Field(default=None, ge=1)
    num_steps: int | None = Field(default=None, ge=1)
    steps: int | None = Field(default=None, ge=1)
    # Documented as 0-1 for the Stable Diffusion family (the schemas carry no bounds).
    strength: float | None = Field(default=None, ge=0, le=1)
    guidance: float | None = Field(default=None, ge=0)
    seed: int | None = Field(default=None, ge=0)
    image: list[int] | str | None = None
    image_b64: str | None = None
    mask: list[int] | str | None = None


class SpeechRecognitionInput(_Input):
    """Whisper family: ``audio`` as uint8 list (whisper) or base64 (large-v3-turbo).

    Turbo's decoding options (wire reference §8.3) are typed; others pass through."""

    audio: list[int] | str | dict[str, Any]
    task: Literal["transcribe", "translate"] | None = None
    language: str | None = Field(default=None, min_length=2)
    vad_filter: bool | None = None
    initial_prompt: str | None = None
    prefix: str | None = None
    beam_size: int | None = Field(default=None, ge=1)
    condition_on_previous_text: bool | None = None
    no_speech_threshold: float | None = Field(default=None, ge=0, le=1)
    compression_ratio_threshold: float | None = Field(default=None, ge=0)
    log_prob_threshold: float | None = None
    hallucination_silence_threshold: float | None = Field(default=None, ge=0)


class ImageToTextInput(_Input):
    """Image-to-text (llava): an image plus an optional prompt."""

    image: list[int] | str
    prompt: str | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=5)


class TextToSpeechInput(_Input):
    """Text-to-speech: MeloTTS reads ``prompt`` (+ ``lang``), Deepgram aura ``text``."""

    prompt: str | None = Field(default=None, min_length=1)
    text: str | None = Field(default=None, min_length=1)
    lang: str | None = None

    @model_validator(mode="after")
    def _has_text(self) -> TextToSpeechInput:
        if self.prompt is None and self.text is None:
            raise ValueError("send the text to speak ('prompt' for melotts, 'text' for aura)")
        return self


_BY_TASK: dict[str, type[_Input]] = {
    "text generation": TextGenerationInput,
    "text embeddings": EmbeddingInput,
    "translation": TranslationInput,
    "summarization": SummarizationInput,
    "text-to-image": TextToImageInput,
    "automatic speech recognition": SpeechRecognitionInput,
    "image-to-text": ImageToTextInput,
    "text-to-speech": TextToSpeechInput,
}


def schema_for(info: ModelInfo | None, payload: Mapping[str, Any]) -> type[_Input] | None:
    """The input schema for a model (by catalog task), or ``None`` when unknown."""
    if info is None:
        return None
    if info.id.endswith("bge-reranker-base") or (
        info.task.lower() == "text classification" and "query" in info.accepts
    ):
        return RerankInput
    if info.task.lower() == "text classification":
        return TextClassificationInput
    return _BY_TASK.get(info.task.lower())


def _format_errors(exc: ValidationError, payload: Mapping[str, Any]) -> tuple[str, str | None]:
    parts: list[str] = []
    first_field: str | None = None
    for error in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in error["loc"] if not str(p).startswith("function-"))
        first_field = first_field or loc or None
        got = ""
        # A model-level error's input is the whole payload: naming it adds only noise.
        if loc and error.get("type") not in ("missing",) and "input" in error:
            shown = repr(error["input"])
            got = f" (got {shown[:60] + '…' if len(shown) > 60 else shown})"
        parts.append(f"{loc + ': ' if loc else ''}{error['msg']}{got}")
    return "; ".join(parts), first_field


def _strings_at(payload: Mapping[str, Any], path: str) -> list[tuple[str, str]]:
    """The strings at a catalog limit's path: ``prompt`` or ``messages[].content``."""
    head, nested, key = path.partition("[].")
    value = payload.get(head)
    if not nested:
        return [(head, value)] if isinstance(value, str) else []
    found = []
    for index, item in enumerate(value if isinstance(value, list) else ()):
        text = item.get(key) if isinstance(item, Mapping) else None
        if isinstance(text, str):
            found.append((f"{head}.{index}.{key}", text))
    return found


def _bounds_text(low: float | None, high: float | None) -> str:
    """``allowed 0 to 5``, ``at most 20`` or ``at least 1`` — only the bounds that exist."""
    if low is not None and high is not None:
        return f"allowed {low} to {high}"
    return f"at most {high}" if high is not None else f"at least {low}"


def reasoning_efforts(info: ModelInfo) -> frozenset[str]:
    """The ``reasoning_effort`` values ``info``'s model takes.

    Its published ``reasoning_effort`` property when there is one (gpt-oss: low/medium/high;
    glm-5.3-flash: max/high/low, plus the values it normalises to max); ``none``…``max`` for
    the other models whose schema has ``reasoning_effort`` (kimi, gemma-4, glm, qwen3.8);
    low/medium/high otherwise.
    """
    spec = info.properties.get("reasoning_effort")
    supported = spec.get("supported_efforts") if isinstance(spec, Mapping) else None
    if isinstance(supported, list):
        values = {e for e in supported if isinstance(e, str)}
        aliases = spec.get("normalizes_to") if isinstance(spec, Mapping) else None
        if isinstance(aliases, Mapping):
            values |= {k for k in aliases if isinstance(k, str) and k != "null"}
        return frozenset(values)
    return _OPEN_EFFORTS if "reasoning_effort" in info.accepts else _DEFAULT_EFFORTS


def validate_input(
    model: str | ModelInfo | None,
    payload: Mapping[str, Any],
    *,
    schema: type[BaseModel] | None = None,
) -> None:
    """Check ``payload`` for ``model`` against the task schema and the model's own ranges.

    Args:
        model: Model id or catalog entry; unknown models are checked only against ``schema``.
        payload: The request body (JSON object) about to be sent.
        schema: Force a schema instead of choosing by the model's task.

    Raises:
        InvalidInputError: with the field and the allowed range.
    """
    info = model if isinstance(model, ModelInfo) else get_model_info(model) if model else None
    model_name = info.id if info else (model if isinstance(model, str) else None)
    chosen = schema or schema_for(info, payload)
    if chosen is not None:
        try:
            chosen.model_validate(payload)
        except ValidationError as exc:
            message, field = _format_errors(exc, payload)
            where = f" for {model_name}" if model_name else ""
            raise InvalidInputError(f"Invalid input{where}: {message}", field=field) from None
    if info is None:
        return
    effort = payload.get("reasoning_effort")
    if isinstance(effort, str) and chosen is TextGenerationInput:
        allowed = reasoning_efforts(info)
        if effort not in allowed:
            raise InvalidInputError(
                f"reasoning_effort={effort!r} is not accepted by {info.id}: use one of "
                + ", ".join(sorted(allowed)),
                field="reasoning_effort",
            )
    for name, spec in info.params.items():
        value = payload.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        low, high = spec.minimum, spec.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            raise InvalidInputError(
                f"{name}={value} is out of range for {info.id}: {_bounds_text(low, high)}",
                field=name,
            )
    for name, limits in info.string_limits.items():
        max_len = limits.get("maxLength")
        if max_len is None:
            continue
        for where, value in _strings_at(payload, name):
            if len(value) > max_len:
                raise InvalidInputError(
                    f"{where} is {len(value)} characters; {info.id} accepts at most {max_len}",
                    field=where,
                )
    texts = payload.get("text")
    if isinstance(texts, list) and info.task.lower() == "text embeddings":
        limit = info.max_batch or (DEFAULT_MAX_EMBEDDING_BATCH if "bge" in info.id else None)
        if limit is not None and len(texts) > limit:
            raise InvalidInputError(
                f"{info.id} accepts at most {limit} texts per request, got {len(texts)}; "
                "split the input (the embeddings classes do this for you)",
                field="text",
            )
