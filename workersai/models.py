"""The model catalog: ids, tasks, capabilities, limits and prices.

A snapshot of ``GET /ai/models/search`` (plus facts read off each model's input/output
schema) ships in ``workersai/data/models.json``; :meth:`WorkersAI.list_models` fetches the
live list, parsed by the same code, and refreshes the catalog (prices included).

Short names resolve to full ids::

    >>> resolve_model("llama-3.3-70b-instruct-fp8-fast")
    '@cf/meta/llama-3.3-70b-instruct-fp8-fast'
"""

from __future__ import annotations

import difflib
import functools
import logging
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from importlib import resources
from types import MappingProxyType
from typing import Any

from workersai import _json
from workersai.errors import InvalidInputError

__all__ = [
    "ModelCatalog",
    "ModelInfo",
    "ModelPrice",
    "ParamRange",
    "Retirement",
    "get_catalog",
    "get_model_info",
    "resolve_model",
    "search_page",
    "search_params",
    "suggest_models",
    "task_name",
]

logger = logging.getLogger(__name__)

_URL_BREAKING = re.compile(r"[\s?#%\\]")

# Cloudflare's task names, and the slugs we also accept.
#: The defaults every client and adapter uses when no model is given.
DEFAULT_CHAT_MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
DEFAULT_EMBEDDING_MODEL = "@cf/baai/bge-base-en-v1.5"

TASKS: dict[str, str] = {
    "text-generation": "Text Generation",
    "text-embeddings": "Text Embeddings",
    "text-classification": "Text Classification",
    "text-to-image": "Text-to-Image",
    "automatic-speech-recognition": "Automatic Speech Recognition",
    "translation": "Translation",
    "summarization": "Summarization",
    "image-classification": "Image Classification",
    "image-to-text": "Image-to-Text",
    "object-detection": "Object Detection",
    "text-to-speech": "Text-to-Speech",
}


def task_name(task: str) -> str:
    """Cloudflare's task name for a slug or a name (``text-generation`` → ``Text Generation``)."""
    if not isinstance(task, str):
        raise InvalidInputError(f"task must be a string, got {type(task).__name__}", field="task")
    key = task.strip().lower().replace(" ", "-").replace("_", "-")
    return TASKS.get(key, task)


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """One published price, e.g. ``0.29 USD per M input tokens``."""

    unit: str
    price: float
    currency: str = "USD"

    @property
    def kind(self) -> str:
        """What the price is charged by (wire reference §1.4 units).

        One of ``tokens_in``, ``tokens_cached``, ``tokens_out``, ``audio_minute``, ``tile``
        (512×512 output tile), ``tile_step`` (per tile and step), ``input_tile``,
        ``input_tile_step``, ``step``, ``request``, ``character`` or ``unknown``.
        """
        unit = self.unit.lower()
        if _unit_scale(unit) is None:
            return "unknown"
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
            return "character"
        return "unknown"

    @property
    def per_unit(self) -> float:
        """The price of one unit of :attr:`kind`: ``0.29`` "per M input tokens" → ``2.9e-07``
        per token, ``0.03`` "per 1k characters" → ``3e-05`` per character."""
        scale = _unit_scale(self.unit)
        return self.price / scale if scale else self.price


# "per M input tokens", "per 1k characters", "per million tokens"; not "per 512 by 512 tile".
_PRICE_SCALE = re.compile(r"per\s+(\d+(?:\.\d+)?)?\s*(k|m|thousand|million)\b")
_SCALES = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6}


def _unit_scale(unit: str) -> float | None:
    """How many units one price is for (``1e6`` for "per M ..."); ``None`` for a nonsense
    count such as "per 0k tokens" (or one too large to be a number)."""
    match = _PRICE_SCALE.match(unit.strip().lower())
    if match is None:
        return 1.0
    count = float(match.group(1)) if match.group(1) else 1.0
    return count * _SCALES[match.group(2)] if 0 < count < float("inf") else None


_TOKEN_KINDS = {"input": "tokens_in", "output": "tokens_out", "cached": "tokens_cached"}


@dataclass(frozen=True, slots=True)
class ParamRange:
    """A numeric input parameter's documented type, range and default."""

    type: str
    minimum: float | None = None
    maximum: float | None = None
    default: float | None = None


def _as_bool(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _as_int(value: Any) -> int | None:
    try:
        return int(float(value)) if value not in (None, "") else None
    except (TypeError, ValueError, OverflowError):  # OverflowError: "inf", "1e400"
        return None


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


@dataclass(frozen=True, slots=True)
class Retirement:
    """When a model was retired and what to use instead.

    Workers AI answers a retired model with error 5028 ("This model was deprecated on
    2026-05-30. Please use an alternative model"); Cloudflare names a successor only for some
    (Kimi K2.5 → K2.6), the others are our choice of the closest current model.
    """

    on: date
    replacement: str | None = None
    #: Why this replacement (or what Cloudflare said), for the error's hint.
    note: str = ""


def _retirement(item: Mapping[str, Any], props: Mapping[str, Any]) -> Retirement | None:
    """The bundled ``retired`` record, else a ``planned_deprecation_date`` that has passed
    (what a live ``/ai/models/search?include_deprecated=true`` listing publishes)."""
    raw = item.get("retired")
    if isinstance(raw, Mapping):
        on = _as_date(raw.get("on"))
        if on is not None:
            replacement = raw.get("replacement")
            return Retirement(
                on,
                replacement if isinstance(replacement, str) and replacement else None,
                str(raw.get("note") or ""),
            )
    planned = _as_date(props.get("planned_deprecation_date"))
    if planned is not None and planned <= datetime.now(timezone.utc).date():
        return Retirement(planned)
    return None


def _as_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if isinstance(value, str) else None
    except ValueError:
        return None


def _accepts_images(task: str, model_id: str, derived: Mapping[str, Any]) -> bool:
    if not derived.get("vision"):
        return False
    if task.lower() != "text generation":
        return True
    # Several text schemas carry a generic `image` field; chat image input needs content parts
    # (or a dedicated vision model such as llama-3.2-11b-vision).
    return bool(derived.get("content_parts")) or "vision" in model_id


@dataclass(frozen=True)
class ModelInfo:
    """What the catalog knows about one model.

    ``accepts`` lists the input fields of the model's schema; ``params`` the documented
    numeric ranges, used to validate input before any request; ``retired`` says when the
    model was retired and what replaces it (``None`` for a current model).
    """

    id: str
    task: str
    description: str = ""
    context_window: int | None = None
    max_input_tokens: int | None = None
    function_calling: bool = False
    reasoning: bool = False
    vision: bool = False
    content_parts: bool = False
    embedding_dimensions: int | None = None
    max_batch: int | None = None
    input_format: str = "json"
    output_format: str = "json"
    output_content_type: str | None = None
    accepts: frozenset[str] = frozenset()
    async_queue: bool = False
    lora: bool = False
    beta: bool = False
    openai_output: bool | None = None
    price: tuple[ModelPrice, ...] = ()
    terms: str | None = None
    params: Mapping[str, ParamRange] = field(default_factory=dict)
    string_limits: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    properties: Mapping[str, Any] = field(default_factory=dict)
    retired: Retirement | None = None

    @property
    def short_name(self) -> str:
        """The id without its ``@cf/<author>/`` prefix."""
        return self.id.rsplit("/", 1)[-1]

    @property
    def author(self) -> str | None:
        parts = self.id.split("/")
        return parts[1] if len(parts) >= 3 else None

    @functools.cached_property
    def rates(self) -> Mapping[str, float]:
        """USD per unit of each :attr:`ModelPrice.kind` the model is charged by (per token,
        per audio minute, per tile...). Prices in other currencies are left out. Parsed once
        per entry: every chat result's cost estimate reads it."""
        return {p.kind: p.per_unit for p in self.price if p.currency.upper() == "USD"}

    @functools.cached_property
    def unusable_price(self) -> str | None:
        """Why the published price cannot give a USD estimate (``"not priced in USD"``,
        ``"unsupported price unit '…'"``), or ``None``. Read once per entry, like
        :attr:`rates`: every result's cost estimate asks."""
        if any(p.currency.upper() != "USD" for p in self.price):
            return "not priced in USD"
        unsupported = [p.unit for p in self.price if p.kind == "unknown"]
        return f"unsupported price unit {unsupported[0]!r}" if unsupported else None

    def price_per_token(self, kind: str) -> float | None:
        """USD per token for ``kind`` ``"input"``, ``"output"`` or ``"cached"`` (cached input),
        when the model publishes a per-token price."""
        return self.rates.get(_TOKEN_KINDS.get(kind, ""))

    @classmethod
    def from_search_result(cls, item: Mapping[str, Any]) -> ModelInfo:
        """Build from one ``/ai/models/search`` result object (optionally with ``derived``)."""
        # Defensive throughout: this also reads live /ai/models/search answers.
        props: dict[str, Any] = {}
        raw_props = item.get("properties")
        for prop in raw_props if isinstance(raw_props, list) else ():
            if isinstance(prop, Mapping) and "property_id" in prop:
                props[str(prop["property_id"])] = prop.get("value")
        raw_derived = item.get("derived")
        derived: Mapping[str, Any] = raw_derived if isinstance(raw_derived, Mapping) else {}
        task = item.get("task")
        task_label = str(task.get("name") or "") if isinstance(task, Mapping) else str(task or "")
        prices: list[ModelPrice] = []
        raw_prices = props.get("price")
        for entry in raw_prices if isinstance(raw_prices, list) else ():
            if isinstance(entry, Mapping) and isinstance(entry.get("price"), (int, float)):
                prices.append(
                    ModelPrice(
                        unit=str(entry.get("unit", "")),
                        price=float(entry["price"]),
                        currency=str(entry.get("currency", "USD")),
                    )
                )
        raw_params = derived.get("params")
        params = {
            str(name): ParamRange(
                type=str(spec.get("type", "number")),
                minimum=_as_number(spec.get("minimum")),
                maximum=_as_number(spec.get("maximum")),
                default=_as_number(spec.get("default")),
            )
            for name, spec in (raw_params.items() if isinstance(raw_params, Mapping) else ())
            if isinstance(spec, Mapping)
        }
        raw_accepts = derived.get("accepts")
        accepts = frozenset(
            a for a in (raw_accepts if isinstance(raw_accepts, list) else ()) if isinstance(a, str)
        )
        raw_limits = derived.get("string_limits")
        string_limits = {
            str(k): v
            for k, v in (raw_limits.items() if isinstance(raw_limits, Mapping) else ())
            if isinstance(v, Mapping)
        }
        return cls(
            id=str(item.get("name") or item.get("id")),
            task=task_label,
            description=str(item.get("description") or ""),
            context_window=_as_int(props.get("context_window")),
            max_input_tokens=_as_int(props.get("max_input_tokens")),
            # Only the published property counts: most schemas list `tools`, but Workers AI
            # answers 400 to tools on models without `function_calling` (wire reference §4).
            function_calling=_as_bool(props.get("function_calling")),
            reasoning=_as_bool(props.get("reasoning")) or bool(derived.get("reasoning")),
            vision=_accepts_images(task_label, str(item.get("name") or ""), derived),
            content_parts=bool(derived.get("content_parts")),
            embedding_dimensions=_as_int(props.get("output_dimensions"))
            or _as_int(derived.get("embedding_dimensions")),
            max_batch=_as_int(derived.get("max_batch")),
            input_format=str(derived.get("input_format") or "json"),
            output_format=str(derived.get("output_format") or "json"),
            output_content_type=derived.get("output_content_type"),
            accepts=accepts,
            async_queue=_as_bool(props.get("async_queue")),
            lora=_as_bool(props.get("lora")) or bool(derived.get("lora")),
            beta=_as_bool(props.get("beta")),
            openai_output=derived.get("openai_output"),
            price=tuple(prices),
            terms=props.get("terms") if isinstance(props.get("terms"), str) else None,
            params=MappingProxyType(params),
            string_limits=MappingProxyType(string_limits),
            properties=MappingProxyType(props),
            retired=_retirement(item, props),
        )


class ModelCatalog:
    """A thread-safe table of :class:`ModelInfo` keyed by model id."""

    def __init__(self, models: Iterable[ModelInfo] = (), *, as_of: str | None = None) -> None:
        self._lock = threading.Lock()
        self._models: dict[str, ModelInfo] = {m.id: m for m in models}
        self._short_index: dict[str, str] | None = None
        self.as_of = as_of
        #: When live data from ``list_models()`` last refreshed entries of the table (UTC), if
        #: ever. A filtered listing refreshes only the models it returned: see :meth:`live_at`.
        self.refreshed_at: datetime | None = None
        self._live_at: dict[str, datetime] = {}

    def __len__(self) -> int:
        return len(self._models)

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and self.get(model) is not None

    def all(self, *, include_retired: bool = False) -> list[ModelInfo]:
        """Every model, by id; retired models only when asked for."""
        models = sorted(self._models.values(), key=lambda m: m.id)
        return models if include_retired else [m for m in models if m.retired is None]

    def by_task(self, task: str, *, include_retired: bool = False) -> list[ModelInfo]:
        wanted = task_name(task).lower()
        return [m for m in self.all(include_retired=include_retired) if m.task.lower() == wanted]

    def get(self, model: str) -> ModelInfo | None:
        """Info for a full id or a short name; ``None`` when unknown."""
        if not isinstance(model, str):
            return None
        found = self._models.get(model)
        if found is not None:
            return found
        resolved = self._resolve_short(model)
        return self._models.get(resolved) if resolved else None

    def resolve(self, model: str) -> str:
        """Full model id for ``model``.

        Full ids (``@cf/…``, ``@hf/…``) and ids of other providers (containing ``/``) pass
        through unchanged, known or not — new models appear before the catalog knows them.
        A bare name must match a known model's short name.

        Raises:
            InvalidInputError: a bare name that matches no known model.
        """
        if not isinstance(model, str):
            raise InvalidInputError(
                f"model must be a model id string, got {type(model).__name__}", field="model"
            )
        name = model.strip()
        if not name:
            raise InvalidInputError("model must be a non-empty model id", field="model")
        if _URL_BREAKING.search(name):
            # The id becomes part of the URL path: "?", "#" or a space would send the
            # request somewhere else than /ai/run/<model>.
            raise InvalidInputError(
                f"model {name!r} is not a model id (it contains spaces or URL syntax)",
                field="model",
            )
        if name.startswith("@") or name in self._models:
            return name
        resolved = self._resolve_short(name)
        if resolved:
            return resolved
        if "/" in name:
            return name
        close = self.suggest(name)
        raise InvalidInputError(
            f"Unknown model {name!r}: pass a full Workers AI model id such as "
            "'@cf/meta/llama-3.3-70b-instruct-fp8-fast'.",
            field="model",
            hint=("Did you mean: " + ", ".join(close) + "?") if close else None,
        )

    def suggest(self, model: str, n: int = 3) -> list[str]:
        """Known current ids closest to ``model`` (by short name), best first.

        A retired model is never suggested: when it is the closest match, its replacement
        is (``llama-3.1-70b`` → ``@cf/meta/llama-3.3-70b-instruct-fp8-fast``).
        """
        short = model.strip().rsplit("/", 1)[-1].lower()
        by_short: dict[str, ModelInfo] = {}
        for info in sorted(self._models.values(), key=_preference):
            by_short.setdefault(info.short_name.lower(), info)
        matches = difflib.get_close_matches(short, list(by_short), n=len(by_short), cutoff=0.6)
        found: list[str] = []
        for match in matches:
            info = by_short[match]
            current = self.current(info.id)
            if current is not None and current != model and current not in found:
                found.append(current)
        return found[:n]

    def current(self, model: str) -> str | None:
        """``model``'s id if it is current, its replacement's if it was retired (following
        replacements that were retired in turn), ``None`` if it was retired without one."""
        info = self.get(model)
        seen: set[str] = set()
        while info is not None and info.retired is not None and info.id not in seen:
            seen.add(info.id)
            replacement = info.retired.replacement
            if replacement is None:
                return None
            info = self.get(replacement) or ModelInfo(id=replacement, task="")
        return info.id if info is not None else model

    def update(self, models: Iterable[ModelInfo]) -> None:
        """Add or replace entries with live data (``list_models``); each becomes live as of now.

        The live entry's own values win, a missing price included; facts only the bundled
        snapshot knows (read off the model's schema: ``params``, ``accepts``, ...) are kept
        when the new entry lacks them. Models the listing did not return keep their bundled
        data and stay bundled (:meth:`live_at` is ``None`` for them).
        """
        now = datetime.now(timezone.utc)
        with self._lock:
            updated = False
            for info in models:
                old = self._models.get(info.id)
                if old is not None and not info.params and not info.accepts:
                    info = _merge_live(old, info)
                self._models[info.id] = info
                self._live_at[info.id] = now
                updated = True
            self._short_index = None
            if updated:
                self.refreshed_at = now

    def live_at(self, model: str) -> datetime | None:
        """When live data last refreshed ``model``'s entry (UTC); ``None`` if it is bundled."""
        info = self.get(model)
        return self._live_at.get(info.id) if info is not None else None

    def _resolve_short(self, name: str) -> str | None:
        index = self._short_index
        if index is None:
            # Current models first, then "@cf/" ids, so a short name shared by a retired and a
            # current model, or by an "@hf/" and an "@cf/" model, means the second one.
            index = {}
            for info in sorted(self._models.values(), key=_preference):
                index.setdefault(info.short_name.lower(), info.id)
                if info.author:
                    index.setdefault(f"{info.author}/{info.short_name}".lower(), info.id)
            self._short_index = index
        return index.get(name.lower())


def _preference(info: ModelInfo) -> tuple[bool, bool, str]:
    return (info.retired is not None, not info.id.startswith("@cf/"), info.id)


def _merge_live(old: ModelInfo, new: ModelInfo) -> ModelInfo:
    """A live entry over the snapshot's: its published properties win, even when they say
    less than the snapshot did (no price, no function calling); what only the model's schema
    tells (params, accepts, vision, formats, ...) stays from the snapshot."""
    return replace(
        old,
        # A live search result always names both; an empty one is a malformed answer.
        task=new.task or old.task,
        description=new.description or old.description,
        context_window=new.context_window,
        max_input_tokens=new.max_input_tokens,
        function_calling=new.function_calling,
        # Published properties or'd with what the schema shows (only the snapshot has it).
        reasoning=new.reasoning or old.reasoning,
        lora=new.lora or old.lora,
        # Also derived from the schema's output shape when the property is absent.
        embedding_dimensions=new.embedding_dimensions or old.embedding_dimensions,
        async_queue=new.async_queue,
        beta=new.beta,
        price=new.price,
        terms=new.terms,
        properties=new.properties,
        # A live listing shows only a planned date; the bundled record also knows the successor.
        retired=old.retired or new.retired,
    )


_catalog: ModelCatalog | None = None
_catalog_lock = threading.Lock()


def get_catalog() -> ModelCatalog:
    """The process-wide catalog, loaded from the bundled snapshot on first use."""
    global _catalog
    if _catalog is None:
        with _catalog_lock:
            if _catalog is None:
                raw = resources.files("workersai").joinpath("data/models.json").read_bytes()
                data = _json.loads(raw)
                _catalog = ModelCatalog(
                    (ModelInfo.from_search_result(item) for item in data.get("models", [])),
                    as_of=data.get("generated_at"),
                )
    return _catalog


def resolve_model(model: str) -> str:
    """Full model id for a full id or a known short name (see :meth:`ModelCatalog.resolve`)."""
    return get_catalog().resolve(model)


def get_model_info(model: str) -> ModelInfo | None:
    """Catalog entry for ``model``, or ``None`` when unknown."""
    return get_catalog().get(model)


@functools.cache
def warn_if_retired(model: str) -> None:
    """Log a warning (once per model) when ``model`` is retired.

    The request is still sent: Cloudflare aliases some retired ids (Kimi K2.5 → K2.6) and
    the REST answer for the others is not documented; when it is an error it arrives as
    :class:`~workersai.errors.ModelRetiredError` naming the replacement (wire reference §10.4).
    """
    info = get_model_info(model)
    retired = info.retired if info is not None else None
    if info is None or retired is None:
        return
    instead = f"; use {retired.replacement} instead" if retired.replacement else ""
    logger.warning(
        "%s was retired on %s%s. %s", info.id, retired.on.isoformat(), instead, retired.note
    )


def suggest_models(model: str, n: int = 3) -> list[str]:
    """Known current model ids closest to ``model`` (never a retired one)."""
    return get_catalog().suggest(model, n)


# --------------------------------------------------------------------------------------
# GET /ai/models/search (wire reference §1.4): what list_models() sends and reads
# --------------------------------------------------------------------------------------


def search_params(
    *,
    task: str | None,
    search: str | None,
    author: str | None,
    per_page: int,
    include_deprecated: bool,
    hide_experimental: bool,
) -> dict[str, str]:
    """The query of a models search (without ``page``), checked before any request."""
    if isinstance(per_page, bool) or not isinstance(per_page, int) or per_page < 1:
        raise InvalidInputError(
            f"per_page must be a positive integer, got {per_page!r}", field="per_page"
        )
    for name, value in (("search", search), ("author", author)):
        if value is not None and not isinstance(value, str):
            raise InvalidInputError(
                f"{name} must be a string, got {type(value).__name__}", field=name
            )
    params = {"per_page": str(per_page)}
    if task:
        params["task"] = task_name(task)
    if search:
        params["search"] = search
    if author:
        params["author"] = author
    if include_deprecated:
        params["include_deprecated"] = "true"
    if hide_experimental:
        params["hide_experimental"] = "true"
    return params


def search_page(result: Any, raw: Any) -> tuple[list[ModelInfo], bool]:
    """The models of one page of a search (``result``), and whether more pages follow
    (from the envelope's ``result_info``, in ``raw``)."""
    listed = result if isinstance(result, list) else []
    items = [ModelInfo.from_search_result(i) for i in listed if isinstance(i, Mapping)]
    info = raw.get("result_info") if isinstance(raw, Mapping) else None
    more = False
    if isinstance(info, Mapping):
        page, per_page = info.get("page"), info.get("per_page")
        total = info.get("total_count")
        if not isinstance(per_page, int) or isinstance(per_page, bool):
            per_page = 0
        if isinstance(page, int) and isinstance(total, int) and per_page:
            more = page * per_page < total
        else:
            more = bool(items) and len(items) >= per_page > 0
    return items, more
