"""What a LlamaIndex run cost on Workers AI: requests, tokens, neurons and estimated USD.

:class:`WorkersAIUsageHandler` is a callback handler — add it to ``Settings.callback_manager``
like ``TokenCountingHandler`` — and :func:`workersai_usage` a context manager; both total
requests, tokens, neurons and estimated USD per model, thread- and task-safe.

How each request is counted exactly once
    The ``workersai`` core records every request it completes into the usage trackers
    active in the current context (:func:`workersai.usage.track_usage`). That record is the
    source of truth — usage as the API reported it, neurons included, one record per HTTP
    request however LlamaIndex batches — and the handler's events only decide *which*
    requests belong to the handler:

    * ``with workersai_usage() as usage:`` makes the handler's tracker active for the block,
      so everything the block does counts: LLM calls, embeddings, reranking, image tools,
      Whisper, in threads and tasks started inside (they inherit the context; LlamaIndex's
      ``asyncio_run`` and workflow steps do).
    * In a callback manager, an ``EMBEDDING`` or ``RERANKING`` event makes the tracker
      active for the duration of the event, so the core records exactly the requests made
      inside it (``WorkersAIEmbedding`` sends one event for many concurrent batch requests).
      An ``LLM`` event of :class:`~llamaindex_workersai.WorkersAI` is counted when it ends,
      from the final response, which carries the core's usage for that request in
      ``additional_kwargs`` (LLM events may end inside a stream generator, long after they
      started, so they cannot scope the tracker). A stream that is never read never ends
      its event: past :data:`MAX_OPEN_LLM_EVENTS` open events the oldest is forgotten, with
      a warning.
    * An embedding or reranking event that ends in another thread, task or context than it
      started in still closes its scope (with a warning: requests made outside the starting
      context were not counted).
    * Whenever the tracker is already active in the event's context — the handler is in
      ``Settings.callback_manager`` *and* the code runs inside ``workersai_usage(handler)``
      — the events leave counting to the core. The core records a request and LlamaIndex
      ends its event in the same thread or task, so the two never disagree.

    The instrumentation dispatcher is not used: ``EmbeddingEndEvent`` carries no usage and
    its events have no scope to track a request by.

What the handler alone does not see
    Requests made outside LLM, embedding and reranking events (``WorkersAIImageToolSpec``,
    ``WorkersAIWhisperReader``, direct core calls) — use the context manager for those.

Embeddings: Workers AI's embeddings endpoint reports no token usage (wire reference §6.1),
so embedding requests are counted but their cost is reported as unknown (``None``), unless
they went through the Batch API, whose finished jobs report usage.

``TokenCountingHandler`` works alongside: ``WorkersAI`` responses carry the wire ``usage`` in
``raw`` (and flat token counts in ``additional_kwargs``), which it reads instead of
re-tokenising; embeddings it counts with its tokenizer, as for any provider.

Example:
    >>> from llama_index.core import Settings
    >>> from llamaindex_workersai import WorkersAIUsageHandler
    >>> usage = WorkersAIUsageHandler()
    >>> Settings.callback_manager.add_handler(usage)
    >>> index = VectorStoreIndex.from_documents(documents)
    >>> index.as_query_engine().query("What is Workers AI?")
    >>> usage.requests, usage.prompt_tokens, usage.total_cost
    (3, 655, None)
    >>> print(usage)  # per model; the embedding model's cost is unknown (no usage reported)
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from llama_index.core.callbacks import CBEventType, EventPayload
from llama_index.core.callbacks.base_handler import BaseCallbackHandler

from llamaindex_workersai.llms import WorkersAI
from workersai.models import resolve_model
from workersai.results import Usage
from workersai.usage import UsageScope, UsageTotals, UsageTracker, is_tracking, track_usage

__all__ = ["WorkersAIUsageHandler", "workersai_usage"]

logger = logging.getLogger(__name__)

# Events whose requests happen between their start and end, in the same context.
_SCOPED_EVENTS = frozenset({CBEventType.EMBEDDING, CBEventType.RERANKING})

#: LLM events that started and have not ended, kept at most: a stream that is never read
#: never ends its event, and must not be remembered forever.
MAX_OPEN_LLM_EVENTS = 1024


class WorkersAIUsageHandler(UsageTotals, BaseCallbackHandler):
    """Totals of Workers AI requests, tokens, neurons and estimated USD, per model.

    Add it to ``Settings.callback_manager`` (or a component's ``callback_manager``) to count
    the requests of LLM, embedding and reranking events; use :func:`workersai_usage` to
    count everything in a block. Thread- and task-safe. Read the totals from its
    attributes, as listed by :class:`~workersai.usage.UsageTotals` (``requests``,
    ``total_tokens``, ``total_cost``, ``by_model``, …); its ``tracker`` holds them.

    Example:
        >>> from llama_index.core.callbacks import CallbackManager
        >>> usage = WorkersAIUsageHandler()
        >>> llm = WorkersAI(callback_manager=CallbackManager([usage]))
        >>> llm.complete("Capital of Portugal?")
        >>> usage.requests, usage.total_tokens, usage.total_cost
        (1, 34, 1.574e-05)
    """

    def __init__(self, tracker: UsageTracker | None = None) -> None:
        super().__init__(event_starts_to_ignore=[], event_ends_to_ignore=[])
        self.tracker = tracker if tracker is not None else UsageTracker()
        # event id → model of a WorkersAI LLM event in progress, oldest first
        self._llm_events: OrderedDict[str, str] = OrderedDict()
        # event id → the tracking scope an embedding/reranking event opened
        self._scopes: dict[str, UsageScope] = {}
        self._events_lock = threading.Lock()  # events start and end in many threads

    def on_event_start(
        self,
        event_type: CBEventType,
        payload: dict[str, Any] | None = None,
        event_id: str = "",
        parent_id: str = "",
        **kwargs: Any,
    ) -> str:
        if event_type is CBEventType.LLM:
            serialized = (payload or {}).get(EventPayload.SERIALIZED)
            if isinstance(serialized, Mapping) and serialized.get("class_name") == (
                WorkersAI.class_name()
            ):
                with self._events_lock:
                    self._llm_events[event_id] = str(serialized.get("model_name") or "unknown")
                    overflow = len(self._llm_events) > MAX_OPEN_LLM_EVENTS
                    dropped = self._llm_events.popitem(last=False)[0] if overflow else None
                if dropped is not None:
                    logger.warning(
                        "LLM event %s never ended (a stream that was never read to its end?); "
                        "forgetting it: if it ends now its request is not counted. More than "
                        "%d WorkersAI LLM events are open at once.",
                        dropped,
                        MAX_OPEN_LLM_EVENTS,
                    )
        elif event_type in _SCOPED_EVENTS and not is_tracking(self.tracker):
            scope = UsageScope(self.tracker)
            with self._events_lock:
                self._scopes[event_id] = scope
        return event_id

    def on_event_end(
        self,
        event_type: CBEventType,
        payload: dict[str, Any] | None = None,
        event_id: str = "",
        **kwargs: Any,
    ) -> None:
        with self._events_lock:
            scope = self._scopes.pop(event_id, None)
            model = self._llm_events.pop(event_id, None) if scope is None else None
        if scope is not None:
            if not scope.close():
                # Closed all the same: the starting context no longer records into the
                # tracker. But requests made where the event ended were not counted.
                logger.warning(
                    "%s event %s ended in another thread, task or context than it started "
                    "in; Workers AI requests made outside its starting context were not "
                    "counted (use workersai_usage() around the code to count everything)",
                    event_type.value,
                    event_id,
                )
            return
        if model is None or payload is None or is_tracking(self.tracker):
            return
        response = payload.get(EventPayload.RESPONSE, payload.get(EventPayload.COMPLETION))
        extra = getattr(response, "additional_kwargs", None)
        if not isinstance(extra, Mapping):  # the call failed: no completed request
            return
        self.tracker.record(str(extra.get("model") or resolve_model(model)), _usage_of(extra))

    def start_trace(self, trace_id: str | None = None) -> None:
        return

    def end_trace(
        self,
        trace_id: str | None = None,
        trace_map: dict[str, list[str]] | None = None,
    ) -> None:
        return


def _usage_of(extra: Mapping[str, Any]) -> Usage | None:
    """The core's usage, as ``WorkersAI`` puts it (flat) in ``additional_kwargs``."""
    if "prompt_tokens" not in extra:
        return None
    return Usage(
        prompt_tokens=int(extra["prompt_tokens"]),
        completion_tokens=int(extra.get("completion_tokens") or 0),
        total_tokens=int(extra.get("total_tokens") or 0),
        cached_tokens=extra.get("cached_tokens"),
        reasoning_tokens=extra.get("reasoning_tokens"),
        neurons=extra.get("neurons"),
    )


@contextmanager
def workersai_usage(
    handler: WorkersAIUsageHandler | None = None,
) -> Iterator[WorkersAIUsageHandler]:
    """Count every Workers AI request completed inside the block.

    LLM calls, embeddings, reranking, image tools and Whisper; sync and async, agents and
    query engines — including threads and tasks started inside the block, which inherit its
    context. Pass a handler that is also in ``Settings.callback_manager`` to keep one set of
    totals: inside the block its events defer to the core, so nothing is counted twice.

    Example:
        >>> from llamaindex_workersai import workersai_usage
        >>> with workersai_usage() as usage:
        ...     index = VectorStoreIndex.from_documents(documents)
        ...     response = await FunctionAgent(tools=tools, llm=llm).run("What is 6 × 7?")
        >>> usage.requests, usage.by_model["@cf/baai/bge-base-en-v1.5"].requests
        (4, 2)
    """
    handler = handler if handler is not None else WorkersAIUsageHandler()
    with track_usage(handler.tracker):
        yield handler
