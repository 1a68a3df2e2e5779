"""Direct requests: each record is one ``chat`` call of the core client, at most
``max_concurrency`` in flight, each answer written as it arrives.

Why not :func:`workersai._concurrency.map_bounded`: it takes a sequence and keeps every result
until the end (10,000 records in memory), and its pool's threads are joined at interpreter
exit, so Ctrl-C would wait for the requests in flight. Here records are read lazily, the
writer is the calling thread (or the event loop) alone, and the sync workers are daemon
threads: on Ctrl-C the answers that arrived are written, the ones in flight are dropped
(the next run asks again — the only requests ever paid twice) and the process exits now.
Retries and fallbacks happen inside ``chat`` (the transport and the core), never here.
"""

from __future__ import annotations

import contextvars
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from workersai._client import AsyncWorkersAI, WorkersAI
from workersai._concurrency import gather_or_cancel
from workersai.errors import WorkersAIError
from workersai.generation._output import OutputFile, answer_line, error_line
from workersai.generation._records import Record
from workersai.generation._report import GenerationReport, Progress
from workersai.results import ChatResult

__all__ = ["Job", "arun_direct", "run_direct"]


Outcome = tuple[Record, "ChatResult | BaseException", float]


class Job:
    """Writes each outcome and keeps the count. Thread-safe: the sync workers write their
    own answers; after :meth:`stop` nothing more is written."""

    def __init__(
        self,
        output: OutputFile,
        report: GenerationReport,
        progress: Progress,
        fallback_models: Sequence[str] = (),
    ) -> None:
        self.output = output
        self.report = report
        self.progress = progress
        self.fallback_models = list(fallback_models)
        self._lock = threading.Lock()
        self._stopped = False

    def chat_options(self, record: Record) -> dict[str, Any]:
        options = dict(record.params)
        if self.fallback_models:  # else the client's own fallback_models apply
            options["fallback_models"] = self.fallback_models
        return options

    def stop(self) -> None:
        """Write nothing more (Ctrl-C: the answers still to come are dropped, and the output
        may be closed)."""
        with self._lock:
            self._stopped = True

    def answered(self, record: Record, result: ChatResult, latency_ms: int | None) -> None:
        cost = result.cost.usd  # once: the estimate is not free, and both need it
        line = answer_line(record, result, latency_ms, cost)
        with self._lock:
            if self._stopped:
                return
            self.output.write(line)
            self.report.record_answer(result.model or record.model, result.usage, cost)
            self.progress.update()

    def failed(self, record_id: Any, model: str, error: BaseException) -> None:
        line = error_line(record_id, error)
        with self._lock:
            if self._stopped:
                return
            self.output.write(line)
            self.report.record_failure(model)
            self.progress.update()

    def handle(self, outcome: Outcome) -> None:
        record, result, seconds = outcome
        if isinstance(result, ChatResult):
            self.answered(record, result, round(seconds * 1000))
        elif isinstance(result, WorkersAIError):
            self.failed(record.id, record.model, result)
        else:  # a bug, not a failed request: stop the run (what was written stays)
            raise result


# --------------------------------------------------------------------------------------
# Sync: daemon threads
# --------------------------------------------------------------------------------------


class _Workers:
    """``count`` daemon threads: each takes a record, asks, writes the answer, takes the next.

    Each worker writes its own answer before it starts another request, so at any moment at
    most ``count`` requests are paid for and not written — those a kill makes the next run
    pay again. Each call runs in a copy of the submitting context, so usage trackers
    (:func:`workersai.usage.track_usage`) around the run see its requests.
    """

    def __init__(self, count: int, client: WorkersAI, job: Job, slots: threading.Semaphore):
        self._client = client
        self._job = job
        self._slots = slots
        # SimpleQueue: a fraction of Queue's cost per hand-over
        self._tasks: queue.SimpleQueue[tuple[contextvars.Context, Record] | None] = (
            queue.SimpleQueue()
        )
        self.error: BaseException | None = None  # a bug in a worker, raised by the caller
        self._count = count
        for index in range(count):
            threading.Thread(
                target=self._loop, name=f"workersai-generate-{index}", daemon=True
            ).start()

    def _loop(self) -> None:
        while True:
            item = self._tasks.get()
            if item is None:
                return
            context, record = item
            try:
                self._job.handle(context.run(self._ask, record))
            except BaseException as exc:
                self.error = exc
            finally:
                self._slots.release()

    def _ask(self, record: Record) -> Outcome:
        started = time.perf_counter()
        try:
            result: ChatResult | BaseException = self._client.chat(
                record.model, record.messages, **self._job.chat_options(record)
            )
        except Exception as exc:
            result = exc
        return record, result, time.perf_counter() - started

    def submit(self, record: Record) -> None:
        self._tasks.put((contextvars.copy_context(), record))

    def cancel(self) -> None:
        """Take back the records no worker has started (nothing sent, nothing to pay)."""
        while True:
            try:
                self._tasks.get_nowait()
            except queue.Empty:
                return

    def stop(self) -> None:
        for _ in range(self._count):
            self._tasks.put(None)


def run_direct(
    client: WorkersAI, job: Job, records: Iterator[Record], max_concurrency: int
) -> None:
    """Answer ``records`` with at most ``max_concurrency`` requests in flight (one per
    worker thread), each line written as its answer arrives. On Ctrl-C what arrived is
    written, the rest dropped, and ``KeyboardInterrupt`` raised again."""
    # A few records wait in the queue so a worker starts its next request the moment it has
    # written an answer, instead of waiting for this thread to wake up and hand it one.
    ahead = 2 * max_concurrency
    slots = threading.Semaphore(ahead)
    workers = _Workers(max_concurrency, client, job, slots)
    try:
        for record in records:
            slots.acquire()
            _raise_from(workers)
            workers.submit(record)
        for _ in range(ahead):  # every slot back: every record written
            slots.acquire()
            _raise_from(workers)
    except BaseException:
        workers.cancel()
        job.stop()  # the answers still in flight are dropped; the next run asks again
        raise
    finally:
        workers.stop()


def _raise_from(workers: _Workers) -> None:
    if workers.error is not None:
        raise workers.error


# --------------------------------------------------------------------------------------
# Async: tasks on the running loop
# --------------------------------------------------------------------------------------


async def _aask(client: AsyncWorkersAI, job: Job, record: Record) -> Outcome:
    started = time.perf_counter()
    try:
        result: ChatResult | BaseException = await client.chat(
            record.model, record.messages, **job.chat_options(record)
        )
    except Exception as exc:
        result = exc
    return record, result, time.perf_counter() - started


async def arun_direct(
    client: AsyncWorkersAI, job: Job, records: Iterator[Record], max_concurrency: int
) -> None:
    """Async twin of :func:`run_direct`: ``max_concurrency`` worker tasks take the next record
    as each finishes and write its line at once; on cancellation (Ctrl-C under
    ``asyncio.run``) the requests in flight are cancelled and everything else is written."""

    async def worker() -> None:
        for record in records:  # one shared iterator: each record goes to one worker
            job.handle(await _aask(client, job, record))

    try:
        await gather_or_cancel([worker() for _ in range(max_concurrency)])
    except BaseException:
        job.stop()
        raise
