"""What a LangChain run cost on Workers AI: requests, tokens, neurons and estimated USD.

Two ways to count, one handler:

``with get_workersai_callback() as cb:`` (sees everything)
    Every Workers AI request completed inside the block is recorded by the ``workersai``
    core itself (:func:`workersai.usage.track_usage`): chat models (invoke, stream, batch,
    agents), embeddings — whose LangChain interface has no callbacks — rerankers, images,
    speech, Batch API jobs. Threads and tasks started inside inherit the block's context
    (``batch``/``abatch`` executors, LangGraph nodes and tools do), so their requests count
    too. The handler is also registered for LangChain's callbacks inside the block, like
    ``get_openai_callback``.

``config={"callbacks": [cb]}`` only (chat models only)
    The handler counts each chat model run from ``on_llm_end``: the message's
    ``usage_metadata`` under ``response_metadata["model_name"]``. It cannot see embeddings
    or rerankers (no callbacks); neurons come from ``response_metadata["neurons"]``.

Each request is counted once, whichever way the handler is reached: when the core already
records into the handler's tracker in the run's context — inside the ``with`` block, with
the handler passed in ``config`` as well — ``on_llm_end`` leaves the run alone. The core
records a request and LangChain calls ``on_llm_end`` in the same thread or task, so the two
never disagree. Only runs of ``ChatWorkersAI`` are counted.

Example:
    >>> from langchain_workersai import ChatWorkersAI, WorkersAIEmbeddings, get_workersai_callback
    >>> with get_workersai_callback() as cb:
    ...     ChatWorkersAI().batch(["Hello", "Bonjour"])
    ...     WorkersAIEmbeddings().embed_documents(["a", "b"])
    >>> cb.requests, cb.total_tokens, cb.total_cost, cb.unpriced_requests
    (3, 96, None, 1)
    >>> cb.known_cost  # the two chat requests; the embeddings report no usage to price
    5.92e-05
    >>> print(cb)  # per model, and which requests could not be priced, and why
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from langchain_core.tracers.context import register_configure_hook

from langchain_workersai.chat_models import PROVIDER
from workersai.results import Usage
from workersai.usage import UsageTotals, UsageTracker, is_tracking, track_usage

__all__ = ["WorkersAICallbackHandler", "get_workersai_callback"]


class WorkersAICallbackHandler(UsageTotals, BaseCallbackHandler):
    """Totals of Workers AI requests, tokens, neurons and estimated USD, per model.

    Thread- and task-safe; one handler can be shared by any number of concurrent runs.
    Use it through :func:`get_workersai_callback` to see everything (embeddings included),
    or pass it in ``config={"callbacks": [handler]}`` to count chat model runs only.
    The totals are its attributes (``total_tokens``, ``total_cost`` — ``None``, never a
    misleading 0, while a price is unknown —, ``by_model``, …: see
    :class:`~workersai.usage.UsageTotals`), kept by its ``tracker``.

    Example:
        >>> handler = WorkersAICallbackHandler()
        >>> llm.invoke("Hello", config={"callbacks": [handler]})
        >>> handler.total_tokens, handler.total_cost
        (57, 3.221e-05)
    """

    # Counting is a lock and a few additions: run it in the caller's thread or task, where
    # it can see whether the core already records this context's requests.
    run_inline: bool = True

    def __init__(self, tracker: UsageTracker | None = None) -> None:
        super().__init__()
        self.tracker = tracker if tracker is not None else UsageTracker()

    @property
    def successful_requests(self) -> int:
        """Alias of :attr:`requests` (the name ``get_openai_callback`` uses)."""
        return self.requests

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        """Count a ChatWorkersAI run, unless the core already counts it for this handler."""
        if is_tracking(self.tracker):
            return
        fallback_model = (response.llm_output or {}).get("model_name")
        for generations in response.generations:
            # One list per prompt, and each prompt is one request (its first generation
            # carries the request's usage).
            generation = generations[0] if generations else None
            if not isinstance(generation, ChatGeneration):
                continue
            message = generation.message
            if not isinstance(message, AIMessage):
                continue
            metadata = message.response_metadata
            if metadata.get("model_provider") != PROVIDER:
                continue
            model = metadata.get("model_name") or fallback_model or "unknown"
            self.tracker.record(model, _convert_usage_metadata(message, metadata))


def _convert_usage_metadata(message: AIMessage, metadata: Mapping[str, Any]) -> Usage | None:
    usage = message.usage_metadata
    if usage is None:
        return None
    cached = (usage.get("input_token_details") or {}).get("cache_read")
    reasoning = (usage.get("output_token_details") or {}).get("reasoning")
    neurons = metadata.get("neurons")
    return Usage(
        prompt_tokens=usage["input_tokens"],
        completion_tokens=usage["output_tokens"],
        total_tokens=usage["total_tokens"],
        cached_tokens=cached,
        reasoning_tokens=reasoning,
        neurons=float(neurons) if isinstance(neurons, (int, float)) else None,
    )


# One variable, registered once (a hook per call would pile up in LangChain's hook list).
_workersai_callback: ContextVar[WorkersAICallbackHandler | None] = ContextVar(
    "workersai_callback", default=None
)
register_configure_hook(_workersai_callback, inheritable=True)


@contextmanager
def get_workersai_callback() -> Iterator[WorkersAICallbackHandler]:
    """Count every Workers AI request completed inside the block.

    Chat models, embeddings, rerankers, images and speech; sync and async, ``batch`` and
    ``abatch``, agents and their tools — including threads and tasks started inside the
    block, which inherit its context. (Threads you start yourself with ``threading.Thread``
    do not: run their target in ``contextvars.copy_context()``.) Nested blocks each count
    what happens inside them.

    Example:
        >>> from langchain_workersai import get_workersai_callback
        >>> with get_workersai_callback() as cb:
        ...     for chunk in chain.stream({"topic": "the sea"}):
        ...         pass
        ...     agent.invoke({"messages": [("user", "What is 6 × 7?")]})
        >>> print(cb)
        model                                          requests     input    output   neurons   est. USD
        @cf/meta/llama-3.3-70b-instruct-fp8-fast              3       412        61         -   0.000257
        total                                                 3       412        61         -   0.000257
        Prices: bundled price table of 2026-05-01 (21 days old); call WorkersAI().list_models() to refresh.
        Estimate as of 2026-05-22 10:14 UTC; the daily free allocation (10,000 neurons) is not deducted.
    """  # noqa: E501
    handler = WorkersAICallbackHandler()
    token = _workersai_callback.set(handler)
    try:
        with track_usage(handler.tracker):
            yield handler
    finally:
        _workersai_callback.reset(token)
