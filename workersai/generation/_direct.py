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

import asyncio
import contextvars
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from workersai._client import AsyncWorkersAI, WorkersAI
from workersai.errors import WorkersAIError
from workersai.generation._output import OutputFile, answer_line, error_line
from workersai.generation._records import Record
from workersai.generation._report import GenerationReport, Progress
from workersai.results import ChatResult

__all__ = ["Job", "arun_direct", "run_direct"]

Outcome = tuple[Record, "ChatResult | BaseException", float]


class Job:
    """Writes each outcome and keeps the count: the one writer of a run."""

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

    def chat_options(self, record: Record) -> dict[str, Any]:
        options = dict(record.params)
        if self.fallback_models:  # else the client's own fallback_models apply
            options["fallback_models"] = self.fallback_models
        return options

    def answered(self, record: Record, result: ChatResult, latency_ms: int | None) -> None:
        self.output.write(answer_line(record, result, latency_ms))
        self.report.record_answer(result.model or record.model, result.usage)
        self.progress.update()

    def failed(self, record: Record, error: BaseException) -> None:
        self.output.write(error_line(record.id, error))
        self.report.record_failure(record.model)
        self.progress.update()

    def handle(self, outcome: Outcome) -> None:
        record, result, seconds = outcome
        if isinstance(result, ChatResult):
            self.answered(record, result, round(seconds * 1000))
        elif isinstance(result, WorkersAIError):
            self.failed(record, result)
        else:  # a bug, not a failed request: stop the run (what was written stays)
            raise result


# --------------------------------------------------------------------------------------
# Sync: daemon threads
# --------------------------------------------------------------------------------------


class _Workers:
    """``count`` daemon threads running ``ask`` on submitted records; outcomes come back on
    :attr:`outcomes`. Each call runs in a copy of the submitting context, so usage trackers
    (:func:`workersai.usage.track_usage`) around the run see its requests."""

    def __init__(self, count: int, client: WorkersAI, job: Job) -> None:
        self._client = client
        self._job = job
        self._tasks: queue.Queue[tuple[contextvars.Context, Record] | None] = queue.Queue()
        self.outcomes: queue.Queue[Outcome] = queue.Queue()
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
            self.outcomes.put(context.run(self._ask, record))

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

    def stop(self) -> None:
        for _ in range(self._count):
            self._tasks.put(None)


def run_direct(
    client: WorkersAI, job: Job, records: Iterator[Record], max_concurrency: int
) -> None:
    """Answer ``records`` with at most ``max_concurrency`` requests in flight. On Ctrl-C the
    answers that arrived are written and ``KeyboardInterrupt`` is raised again."""
    workers = _Workers(max_concurrency, client, job)
    in_flight = 0
    try:
        for record in records:
            while in_flight >= max_concurrency:
                job.handle(workers.outcomes.get())
                in_flight -= 1
            workers.submit(record)
            in_flight += 1
        while in_flight:
            job.handle(workers.outcomes.get())
            in_flight -= 1
    except KeyboardInterrupt:
        # Paid for and arrived: written. Still in flight: dropped, asked again next run.
        while True:
            try:
                outcome = workers.outcomes.get_nowait()
            except queue.Empty:
                break
            job.handle(outcome)
            in_flight -= 1
        job.report.pending += in_flight
        raise
    finally:
        workers.stop()


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
    """Async twin of :func:`run_direct`: on cancellation (Ctrl-C under ``asyncio.run``) the
    answers that arrived are written, the requests in flight cancelled."""
    pending: set[asyncio.Task[Outcome]] = set()

    async def settle(until: int) -> None:
        nonlocal pending
        while len(pending) > until:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                job.handle(task.result())

    try:
        for record in records:
            await settle(max_concurrency - 1)
            pending.add(asyncio.ensure_future(_aask(client, job, record)))
        await settle(0)
    except BaseException:
        for task in pending:
            if task.done() and not task.cancelled():
                job.handle(task.result())
            else:
                task.cancel()
        still = [task for task in pending if not task.done() or task.cancelled()]
        job.report.pending += len(still)
        await asyncio.gather(*pending, return_exceptions=True)
        raise
