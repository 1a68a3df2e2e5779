"""Workers AI's asynchronous Batch API (wire reference §1.6): the whole feature, sync and async.

Submit: ``POST /ai/run/{model}?queueRequest=true`` with ``{"requests": [...]}`` →
``{"status": "queued", "request_id"}``. Poll: the same URL with ``{"request_id"}`` until
the result holds ``responses`` (each with ``id``, ``result``, ``success``,
``external_reference``). Only models with the ``async_queue`` property accept batches.

Nothing documents the order of ``responses``, so the client sends every item with an
``external_reference`` — its index, unless the caller set one — and :meth:`BatchJob.results`
restores submission order from those references (the ones the submitting client sent when
it is the same client, else references that are the indices ``"0"``…``"N-1"``), then from
the items' integer ``id``. An answer that allows neither raises
:class:`~workersai.errors.UnexpectedResponseError` instead of guessing.

A submit queues and bills a job, so it is never resent once it may have reached the server
(the transport's ``idempotent=False`` rule); polls are safe to retry. A finished job's usage is
recorded once, however often it is polled.

This module holds the job types, the requests, what a client remembers about its jobs
(:class:`BatchBook`), :class:`BatchAPI` / :class:`AsyncBatchAPI` (``client.batch``) with one
shared polling schedule, and the embedding runner that queues an
:class:`~workersai._embeddings.EmbeddingPlan` as jobs (``client.embed(..., use_batch_api=True)``).

Use it through a client::

    job = client.batch.submit("@cf/baai/bge-m3", [{"text": ["a", "b"]}])
    done = client.batch.wait("@cf/baai/bge-m3", job.request_id)
    done.results()          # each request's result, in submission order
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workersai import _json
from workersai._concurrency import gather_or_cancel
from workersai._embeddings import (
    EmbeddingPlan,
    EmbeddingRequest,
    ProgressCallback,
    parse_embedding_response,
)
from workersai._json import ascii_int
from workersai._transport import (
    AsyncTransport,
    PreparedRequest,
    SyncTransport,
    check_seconds,
    read_result,
)
from workersai.errors import InvalidInputError, UnexpectedResponseError, WorkersAIError
from workersai.models import resolve_model
from workersai.results import EmbeddingResult, Usage
from workersai.usage import record_request

__all__ = [
    "AsyncBatchAPI",
    "BatchAPI",
    "BatchItem",
    "BatchJob",
    "BatchTimeoutError",
    "BatchWaitOptions",
]

MAX_JOB_BYTES = 10_000_000
"""What one job may carry: "Total payload < 10 MB" (§1.6)."""
EMBEDDING_JOB_BYTES = 9_000_000
"""Where the embedding runner splits jobs: under :data:`MAX_JOB_BYTES`, with room for the
envelope."""

PENDING = frozenset({"queued", "running"})


@dataclass(frozen=True, slots=True)
class BatchWaitOptions:
    """How to wait for queued jobs (``client.embed(..., use_batch_api=True, batch_wait=...)``).

    Attributes:
        poll_interval: Seconds before the first poll; each later wait is ×1.5, up to
            ``max_poll_interval``.
        timeout: Seconds to wait for all jobs before :class:`BatchTimeoutError`.
        max_job_bytes: Where the embedding runner splits the requests into jobs (the API
            takes at most 10 MB per job).
    """

    poll_interval: float = 1.0
    max_poll_interval: float = 30.0
    timeout: float = 3600.0
    max_job_bytes: int = EMBEDDING_JOB_BYTES


class BatchTimeoutError(WorkersAIError):
    """A batch job did not finish within the wait limit; poll it again later."""

    def __init__(self, message: str, *, request_id: str) -> None:
        super().__init__(message, hint=f"Poll again with client.batch.poll(model, {request_id!r}).")
        self.request_id = request_id


def _item_id(raw: Any) -> int | None:
    """The item's integer ``id`` (a digit string counts); ``None`` when it has none."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    return ascii_int(raw.strip()) if isinstance(raw, str) else None


def _reference(raw: Any) -> str | None:
    """An ``external_reference`` as text (a number echoed back compares equal to its string)."""
    if raw is None or isinstance(raw, str):
        return raw
    return str(raw)


@dataclass(slots=True)
class BatchItem:
    """One request's outcome inside a finished batch.

    ``id`` is the API's item id (``None`` if it sent none usable); ``external_reference``
    the reference the item was submitted with (the index, unless the caller set one).
    """

    id: int | None
    result: Any
    success: bool
    external_reference: str | None = None


@dataclass(slots=True)
class BatchJob:
    """State of a batch job: ``queued``, ``running`` or ``done``."""

    request_id: str
    status: str
    model: str | None = None
    items: list[BatchItem] = field(default_factory=list)
    usage: Usage | None = None
    raw: Any = None
    # the external_reference of each submitted item, in order, when this client submitted it
    references: list[str | None] | None = field(default=None, repr=False)

    @property
    def done(self) -> bool:
        return self.status == "done"

    def results(self) -> list[Any]:
        """Each request's result in submission order; raises if any request failed."""
        failed = [item for item in self.items if not item.success]
        if failed:
            ids = ", ".join(_label(item) for item in failed[:10])
            raise WorkersAIError(
                f"{len(failed)} request(s) of batch {self.request_id} failed ({ids})",
                hint="Inspect job.items for each request's error.",
            )
        return [item.result for item in self.ordered_items()]

    def ordered_items(self) -> list[BatchItem]:
        """The items in submission order (see the module docstring for how it is known)."""
        items = self.items
        refs = [item.external_reference for item in items]
        if self.references is not None:
            position: dict[str | None, int] = {
                ref: i for i, ref in enumerate(self.references) if ref is not None
            }
            if len(position) == len(self.references):
                if len(items) != len(position):
                    raise self._malformed(
                        f"answered {len(items)} responses for {len(position)} requests"
                    )
                if len(set(refs)) == len(items) and all(ref in position for ref in refs):
                    return sorted(items, key=lambda item: position[item.external_reference])
        index: dict[str | None, int] = {str(i): i for i in range(len(items))}
        if set(refs) == index.keys():  # the indices, each once (as many as the items)
            return sorted(items, key=lambda item: index[item.external_reference])
        ids = [item.id for item in items]
        if all(i is not None for i in ids) and len(set(ids)) == len(items):
            return sorted(items, key=lambda item: item.id or 0)
        raise self._malformed(
            "has responses whose order cannot be known (no distinct external_reference "
            "or integer id on every item)"
        )

    def _malformed(self, problem: str) -> UnexpectedResponseError:
        return UnexpectedResponseError(
            f"Batch {self.request_id} {problem}", model=self.model, body=self.raw
        )

    @classmethod
    def from_result(
        cls,
        result: Any,
        *,
        request_id: str | None = None,
        references: Sequence[str | None] | None = None,
    ) -> BatchJob:
        if not isinstance(result, Mapping):
            raise UnexpectedResponseError(
                f"Unexpected Batch API answer: {result!r:.120}", body=result
            )
        job_id = str(result.get("request_id") or request_id or "")
        model = result.get("model") if isinstance(result.get("model"), str) else None
        refs = [_reference(ref) for ref in references] if references is not None else None
        if isinstance(result.get("responses"), list):
            items = []
            for item in result["responses"]:
                if not isinstance(item, Mapping):
                    raise UnexpectedResponseError(
                        f"Unexpected item in batch {job_id}: {item!r:.120}",
                        model=model,
                        body=result,
                    )
                items.append(
                    BatchItem(
                        id=_item_id(item.get("id")),
                        result=item.get("result"),
                        success=bool(item.get("success", True)),
                        external_reference=_reference(item.get("external_reference")),
                    )
                )
            return cls(
                request_id=job_id,
                status="done",
                model=model,
                items=items,
                usage=Usage.from_wire(result.get("usage")),
                raw=result,
                references=refs,
            )
        status = str(result.get("status") or "")
        if status not in PENDING:
            raise UnexpectedResponseError(
                f"Unexpected Batch API status {status!r} for {job_id}", body=result
            )
        return cls(request_id=job_id, status=status, model=model, raw=result, references=refs)


def _label(item: BatchItem) -> str:
    if item.external_reference is not None:
        return f"reference {item.external_reference!r}"
    return f"id {item.id}" if item.id is not None else "no id"


# --------------------------------------------------------------------------------------
# Requests, and what a client remembers about its jobs
# --------------------------------------------------------------------------------------

PrepareRequest = Callable[..., PreparedRequest]
"""The client's request builder (credentials, headers, URL): ``_ClientBase._prepare``."""


def _job_request(
    prepare: PrepareRequest, model: str, body: Mapping[str, Any], *, idempotent: bool = True
) -> tuple[str, PreparedRequest]:
    model_id = resolve_model(model)
    prepared = prepare(
        "POST",
        f"run/{model_id}",
        json_body=body,
        params={"queueRequest": "true"},
        model=model_id,
        idempotent=idempotent,
    )
    size = len(prepared.content or b"")
    if size > MAX_JOB_BYTES:
        raise InvalidInputError(
            f"The batch is {size / 1e6:.1f} MB; the Batch API takes at most "
            f"{MAX_JOB_BYTES // 1_000_000} MB per job (wire reference §1.6).",
            field="requests",
            hint="Split the requests into several jobs.",
        )
    return model_id, prepared


def submit_request(
    prepare: PrepareRequest, model: str, requests: Sequence[Mapping[str, Any]]
) -> tuple[str, PreparedRequest, list[Any]]:
    """The submit request, and each item's ``external_reference`` in submission order.

    Items without one get their index (``"0"``, ``"1"``, …): the answer's ``responses``
    come back in no documented order, and the reference is what puts them back in
    submission order (:meth:`BatchJob.results`). A reference the caller set is kept.
    """
    if isinstance(requests, (str, bytes, Mapping)) or not isinstance(requests, Sequence):
        raise InvalidInputError(
            f"requests must be a list of model inputs, got {type(requests).__name__}",
            field="requests",
        )
    if not requests:
        raise InvalidInputError("a batch needs at least one request", field="requests")
    items: list[Mapping[str, Any]] = []
    for index, item in enumerate(requests):
        if not isinstance(item, Mapping):
            raise InvalidInputError(
                f"requests[{index}] must be a model input (mapping), got {type(item).__name__}",
                field=f"requests.{index}",
            )
        if item.get("external_reference") is None:
            item = {**item, "external_reference": str(index)}
        items.append(item)
    # Submitting queues and bills a job: a retry after the server may have accepted it
    # would queue it twice (see the transport's idempotent rule). Polls are safe to retry.
    body = {"requests": items}
    # idempotent=None would read as False too (the transport tests `not req.idempotent`)
    model_id, prepared = _job_request(prepare, model, body, idempotent=False)  # pragma: no mutate
    return model_id, prepared, [item["external_reference"] for item in items]


def poll_request(
    prepare: PrepareRequest, model: str, request_id: str
) -> tuple[str, PreparedRequest]:
    if not isinstance(request_id, str) or not request_id.strip():
        raise InvalidInputError(
            f"request_id must be the non-empty id of a submitted job, got {request_id!r}",
            field="request_id",
        )
    return _job_request(prepare, model, {"request_id": request_id})


class BatchBook:
    """What a client's Batch API remembers about jobs (for the sync and async APIs alike).

    * the ``external_reference`` of each item of the jobs it submitted, so a poll can put
      the responses back in submission order whatever references the caller chose;
    * which finished jobs it has recorded in the usage trackers: a job counts once, when it
      is first seen done — by a poll, a wait or a submit answered done at once — however
      often it is polled afterwards.
    """

    _MAX_JOBS = 4096  # bound on both memories; the oldest entries go first

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._references: OrderedDict[str, list[str | None]] = OrderedDict()
        self._recorded: OrderedDict[str, None] = OrderedDict()

    def _remember(self, store: OrderedDict[str, Any], key: str, value: Any) -> None:
        store[key] = value
        store.move_to_end(key)
        while len(store) > self._MAX_JOBS:
            store.popitem(last=False)  # pragma: no mutate (last=None is False too)

    def job(
        self,
        model_id: str,
        result: Any,
        *,
        request_id: str | None = None,
        references: list[Any] | None = None,
    ) -> BatchJob:
        job = BatchJob.from_result(result, request_id=request_id, references=references)
        with self._lock:
            if job.references is not None:
                if job.request_id:  # a job without an id can never be polled
                    self._remember(self._references, job.request_id, list(job.references))
            elif job.request_id in self._references:
                job.references = list(self._references[job.request_id])
        if job.done:
            self._record_once(model_id, job)
        return job

    def _record_once(self, model_id: str, job: BatchJob) -> None:
        if job.request_id:
            with self._lock:
                if job.request_id in self._recorded:
                    return
                self._remember(self._recorded, job.request_id, None)
        _record_batch_usage(model_id, job)


def _record_batch_usage(model_id: str, job: BatchJob) -> None:
    """A finished job of N items is N requests. The job's ``usage`` (wire reference §1.6)
    covers all of them, so it is recorded with the first and the others add no tokens; a
    job without one is recorded item by item with each result's own ``usage``, if any."""
    items: list[Any] = list(job.items) or [None]
    if job.usage is not None:
        record_request(model_id, job.usage)
        for _ in items[1:]:
            record_request(model_id, Usage())
        return
    for item in items:
        result = item.result if item is not None else None
        record_request(
            model_id, Usage.from_wire(result.get("usage")) if isinstance(result, Mapping) else None
        )


def _check_wait_seconds(poll_interval: float, max_poll_interval: float, timeout: float) -> None:
    """Each of a wait's durations is a positive, finite number of seconds."""
    check_seconds("poll_interval", poll_interval)
    check_seconds("max_poll_interval", max_poll_interval)
    check_seconds("timeout", timeout)


def poll_waits(poll_interval: float, max_poll_interval: float) -> Iterator[float]:
    """Seconds to wait before each poll of a queued job: ``poll_interval``, then ×1.5 each
    time, at most ``max_poll_interval`` (the one schedule of every Batch API poller).

    Example:
        >>> waits = poll_waits(1.0, 3.0)
        >>> [next(waits) for _ in range(5)]
        [1.0, 1.5, 2.25, 3.0, 3.0]
    """
    wait = poll_interval
    while True:
        yield wait
        wait = min(wait * 1.5, max_poll_interval)


class _PollSchedule:
    """When to poll one job again (:func:`poll_waits`), until ``deadline``
    (``time.monotonic()``)."""

    def __init__(
        self,
        request_id: str,
        poll_interval: float,
        max_poll_interval: float,
        timeout: float,
        started: float,
    ) -> None:
        self.request_id = request_id
        self.waits = poll_waits(poll_interval, max_poll_interval)
        self.timeout = timeout
        self.deadline = started + timeout

    @classmethod
    def checked(
        cls, request_id: str, poll_interval: float, max_poll_interval: float, timeout: float
    ) -> _PollSchedule:
        _check_wait_seconds(poll_interval, max_poll_interval, timeout)
        return cls(request_id, poll_interval, max_poll_interval, timeout, time.monotonic())

    def next_wait(self, job: BatchJob) -> float:
        """Seconds to sleep before the next poll of a pending ``job``; raises
        :class:`BatchTimeoutError` when the next poll would come after the deadline."""
        wait = next(self.waits)
        if time.monotonic() + wait > self.deadline:
            raise BatchTimeoutError(
                f"Batch {self.request_id} still {job.status} after {self.timeout:.0f}s",
                request_id=self.request_id,
            )
        return wait


# --------------------------------------------------------------------------------------
# client.batch
# --------------------------------------------------------------------------------------


class _BatchAPIBase:
    """What :class:`BatchAPI` and :class:`AsyncBatchAPI` share: everything but the I/O."""

    def __init__(self, prepare: PrepareRequest, book: BatchBook) -> None:
        self._prepare = prepare
        self._book = book

    def _job(self, model_id: str, response: Any, **known: Any) -> BatchJob:
        return self._book.job(model_id, read_result(response, model_id), **known)


class BatchAPI(_BatchAPIBase):
    """``client.batch``: Workers AI's asynchronous Batch API."""

    def __init__(self, prepare: PrepareRequest, transport: SyncTransport, book: BatchBook) -> None:
        super().__init__(prepare, book)
        self._transport = transport

    def submit(self, model: str, requests: Sequence[Mapping[str, Any]]) -> BatchJob:
        """Queue ``requests`` (each a model input) and return the job (status ``queued``).

        Each item without an ``external_reference`` is sent with its index as one. The
        submit is not retried once it may have reached the server (a second submit would
        queue and bill the job twice); a refused (429) or unsent request still is.
        """
        model_id, prepared, references = submit_request(self._prepare, model, requests)
        return self._job(model_id, self._transport.request(prepared), references=references)

    def poll(self, model: str, request_id: str) -> BatchJob:
        """Current state of a job; ``job.done`` once its ``responses`` are in."""
        model_id, prepared = poll_request(self._prepare, model, request_id)
        return self._job(model_id, self._transport.request(prepared), request_id=request_id)

    def wait(
        self,
        model: str,
        request_id: str,
        *,
        poll_interval: float = 1.0,
        max_poll_interval: float = 30.0,
        timeout: float = 3600.0,
    ) -> BatchJob:
        """Poll with exponential backoff (×1.5 up to ``max_poll_interval``) until done."""
        schedule = _PollSchedule.checked(request_id, poll_interval, max_poll_interval, timeout)
        return self._wait(model, schedule)

    def _wait(self, model: str, schedule: _PollSchedule) -> BatchJob:
        while True:
            job = self.poll(model, schedule.request_id)
            if job.status not in PENDING:
                return job
            time.sleep(schedule.next_wait(job))


class AsyncBatchAPI(_BatchAPIBase):
    """Async twin of :class:`BatchAPI`."""

    def __init__(self, prepare: PrepareRequest, transport: AsyncTransport, book: BatchBook) -> None:
        super().__init__(prepare, book)
        self._transport = transport

    async def submit(self, model: str, requests: Sequence[Mapping[str, Any]]) -> BatchJob:
        """Async twin of :meth:`BatchAPI.submit`."""
        model_id, prepared, references = submit_request(self._prepare, model, requests)
        return self._job(model_id, await self._transport.request(prepared), references=references)

    async def poll(self, model: str, request_id: str) -> BatchJob:
        """Async twin of :meth:`BatchAPI.poll`."""
        model_id, prepared = poll_request(self._prepare, model, request_id)
        return self._job(model_id, await self._transport.request(prepared), request_id=request_id)

    async def wait(
        self,
        model: str,
        request_id: str,
        *,
        poll_interval: float = 1.0,
        max_poll_interval: float = 30.0,
        timeout: float = 3600.0,
    ) -> BatchJob:
        """Async twin of :meth:`BatchAPI.wait`."""
        schedule = _PollSchedule.checked(request_id, poll_interval, max_poll_interval, timeout)
        return await self._wait(model, schedule)

    async def _wait(self, model: str, schedule: _PollSchedule) -> BatchJob:
        while True:
            job = await self.poll(model, schedule.request_id)
            if job.status not in PENDING:
                return job
            await asyncio.sleep(schedule.next_wait(job))


# --------------------------------------------------------------------------------------
# Embeddings through the Batch API: Cloudflare's queue does the work
# --------------------------------------------------------------------------------------


def batch_job_groups(plan: EmbeddingPlan, max_bytes: int) -> list[list[EmbeddingRequest]]:
    """The plan's requests grouped into Batch API jobs of at most ``max_bytes`` of requests
    each (a request larger than that goes alone)."""
    if plan.requests and plan.requests[0].route.startswith("v1/"):
        raise InvalidInputError(
            "the Batch API needs the native endpoint", field="endpoint", hint="Drop endpoint=..."
        )
    groups: list[list[EmbeddingRequest]] = []
    size = max_bytes  # as if a job were full: the first request opens one
    for request in plan.requests:
        weight = len(_json.dumps(request.body)) + 1
        if size + weight > max_bytes:
            groups.append([])
            size = 0
        groups[-1].append(request)
        size += weight
    return groups


def _job_results(group: list[EmbeddingRequest], outputs: list[Any]) -> list[EmbeddingResult]:
    if len(outputs) != len(group):
        raise UnexpectedResponseError(
            f"The Batch API returned {len(outputs)} results for {len(group)} requests",
            model=group[0].model,
            body=outputs,
        )
    # strict=True or not is the same here: the lengths were compared just above
    pairs = zip(group, outputs, strict=True)  # pragma: no mutate
    return [parse_embedding_response(out, req) for req, out in pairs]


class _JobsProgress:
    """Texts embedded so far across a run's jobs, reported as each job finishes."""

    def __init__(self, plan: EmbeddingPlan, on_progress: ProgressCallback | None) -> None:
        self.plan = plan
        self.on_progress = on_progress
        self.done = 0

    def job_done(self, group: list[EmbeddingRequest]) -> None:
        self.done += sum(request.count for request in group)
        if self.on_progress is not None:
            self.on_progress(self.done, self.plan.total)


def _schedules(
    jobs: Sequence[BatchJob], options: BatchWaitOptions, started: float
) -> list[_PollSchedule | None]:
    """One polling schedule per pending job, all sharing the run's deadline."""
    return [
        None
        if job.done
        else _PollSchedule(
            job.request_id,
            options.poll_interval,
            options.max_poll_interval,
            options.timeout,
            started,
        )
        for job in jobs
    ]


def _checked_options(options: BatchWaitOptions | None) -> BatchWaitOptions:
    options = options or BatchWaitOptions()
    _check_wait_seconds(options.poll_interval, options.max_poll_interval, options.timeout)
    size = options.max_job_bytes
    if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= MAX_JOB_BYTES:
        raise InvalidInputError(
            f"max_job_bytes must be a whole number of bytes from 1 to {MAX_JOB_BYTES:,}, "
            f"got {size!r}",
            field="batch_wait.max_job_bytes",
        )
    return options


def run_plan_on_batch_api(
    plan: EmbeddingPlan,
    batch: BatchAPI,
    *,
    options: BatchWaitOptions | None = None,
    on_progress: ProgressCallback | None = None,
) -> EmbeddingResult:
    """Queue the plan's requests as Batch API jobs, wait for them, reassemble in order.

    Each request (≤ the model's per-request limit) is one item of a job, sent with its index
    as ``external_reference``; :meth:`BatchJob.results` uses it to restore the order.
    """
    options = _checked_options(options)
    started = time.monotonic()
    groups = batch_job_groups(plan, options.max_job_bytes)
    jobs = [batch.submit(plan.model, [r.body for r in group]) for group in groups]
    progress = _JobsProgress(plan, on_progress)
    results: list[EmbeddingResult] = []
    # one job and one schedule per group by construction: strict=True or not is the same
    schedules = _schedules(jobs, options, started)
    per_group = zip(groups, jobs, schedules, strict=True)  # pragma: no mutate
    for group, job, schedule in per_group:
        if schedule is not None:
            job = batch._wait(plan.model, schedule)
        results.extend(_job_results(group, job.results()))
        progress.job_done(group)
    return plan.assemble(results)


async def arun_plan_on_batch_api(
    plan: EmbeddingPlan,
    batch: AsyncBatchAPI,
    *,
    options: BatchWaitOptions | None = None,
    on_progress: ProgressCallback | None = None,
) -> EmbeddingResult:
    """Async twin of :func:`run_plan_on_batch_api` (jobs are awaited concurrently)."""
    options = _checked_options(options)
    started = time.monotonic()
    groups = batch_job_groups(plan, options.max_job_bytes)
    jobs = [await batch.submit(plan.model, [r.body for r in group]) for group in groups]
    progress = _JobsProgress(plan, on_progress)

    async def finish(
        group: list[EmbeddingRequest], job: BatchJob, schedule: _PollSchedule | None
    ) -> list[EmbeddingResult]:
        if schedule is not None:
            job = await batch._wait(plan.model, schedule)
        parsed = _job_results(group, job.results())
        progress.job_done(group)
        return parsed

    schedules = _schedules(jobs, options, started)
    # one job and one schedule per group by construction: strict=True or not is the same
    per_group = zip(groups, jobs, schedules, strict=True)  # pragma: no mutate
    per_job = await gather_or_cancel([finish(*job) for job in per_group])
    return plan.assemble([result for job_results in per_job for result in job_results])
