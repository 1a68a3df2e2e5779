"""``use_batch_api=True``: the job through Workers AI's asynchronous Batch API (wire reference
§1.6), for large, non-urgent runs on the models that support it (``async_queue``).

Records are queued in jobs of at most :data:`CHUNK_RECORDS` records of one model. A submit
queues and bills a job, so what was submitted is written down first, in a ledger beside the
output (``<OUTPUT>.batches.jsonl``, one JSON line per event, each fsynced):

1. ``{"chunk": n, "model", "ids": [...]}`` — before the submit is sent;
2. ``{"chunk": n, "request_id": "..."}`` — once Workers AI answered with the job's id;
   or ``{"chunk": n, "not_queued": true}`` — when the submit surely queued nothing (refused
   with a 4xx, or never sent).

A resumed run reads the ledger and *polls* the jobs it holds instead of queueing their records
again. A chunk with only its first line is one whose submit may or may not have been queued
(the process died, or the answer was lost): its records are written as error lines
(``BatchSubmitUncertainError``) instead of being queued a second time; ``retry_failed`` queues them
again once you have checked. So a crash never queues and bills the same records twice
without being asked to.

Items are built for the model as a direct request would be (its schema checks the
parameters); the ``messages`` of a record go as a rendered ``prompt`` to models whose batch
items take only prompts (Llama 3.3, §1.6). Each item's answer is read like a direct one;
``latency_ms`` is left out (a queued request has none worth the name).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from workersai import _json
from workersai._chat import ChatRequest, build_chat_request, parse_chat_response
from workersai._client import AsyncWorkersAI, WorkersAI
from workersai._envelope import error_from_response
from workersai._fallback import fallback_reason
from workersai._messages import render_prompt
from workersai.batch import MAX_JOB_BYTES, BatchJob, BatchWaitOptions, poll_waits
from workersai.errors import APIError, InvalidInputError, UnexpectedResponseError, WorkersAIError
from workersai.generation._direct import Job
from workersai.generation._records import Record, Survey, record_key
from workersai.models import get_model_info

__all__ = ["CHUNK_RECORDS", "BatchRun", "arun_batch", "check_batch_models", "run_batch"]

#: Records per Batch API job (also kept under the API's 10 MB per job).
CHUNK_RECORDS = 500
_CHUNK_BYTES = MAX_JOB_BYTES - 500_000
# Batch items of these models take a prompt, not messages (wire reference §1.6).
_PROMPT_ONLY = frozenset({"@cf/meta/llama-3.3-70b-instruct-fp8-fast"})


def check_batch_models(models: Sequence[str]) -> None:
    """Every model must accept Batch API jobs (``async_queue``), checked before any request."""
    refused = [m for m in models if not ((info := get_model_info(m)) and info.async_queue)]
    if refused:
        raise InvalidInputError(
            f"The Batch API does not take {', '.join(refused)} (no async_queue property).",
            field="model",
            hint="Batch models: `workersai models --task text-generation --json` shows which; "
            "or run without use_batch_api / --batch-api.",
        )


@dataclass
class Chunk:
    """One Batch API job of the ledger."""

    number: int
    model: str
    ids: list[Any]
    request_id: str | None = None
    not_queued: bool = False
    started: float = field(default_factory=time.monotonic)


class Ledger:
    """``<OUTPUT>.batches.jsonl``: what was submitted, appended and fsynced line by line."""

    def __init__(self, output: Path) -> None:
        self.path = output.with_name(output.name + ".batches.jsonl")
        self.chunks: dict[int, Chunk] = {}
        if self.path.exists():
            with self.path.open("rb") as existing:
                for raw in existing:
                    self._apply(raw)

    def _apply(self, raw: bytes) -> None:
        if not raw.endswith(b"\n"):
            return  # torn: the submit it announced was never sent (the line comes first)
        try:
            entry = _json.loads(raw)
        except ValueError:
            return
        if not isinstance(entry, dict) or not isinstance(entry.get("chunk"), int):
            return
        number = entry["chunk"]
        if "ids" in entry and isinstance(entry["ids"], list):
            self.chunks[number] = Chunk(number, str(entry.get("model")), entry["ids"])
        elif number in self.chunks:
            chunk = self.chunks[number]
            if isinstance(entry.get("request_id"), str):
                chunk.request_id = entry["request_id"]
            if entry.get("not_queued"):
                chunk.not_queued = True

    def _append(self, entry: dict[str, Any]) -> None:
        with open(self.path, "ab") as ledger:
            ledger.write(_json.dumps(entry) + b"\n")
            ledger.flush()
            os.fsync(ledger.fileno())

    def submitting(self, model: str, records: Sequence[Record]) -> Chunk:
        chunk = Chunk(max(self.chunks, default=0) + 1, model, [r.id for r in records])
        self._append({"chunk": chunk.number, "model": model, "ids": chunk.ids})
        self.chunks[chunk.number] = chunk
        return chunk

    def queued(self, chunk: Chunk, request_id: str) -> None:
        self._append({"chunk": chunk.number, "request_id": request_id})
        chunk.request_id = request_id

    def refused(self, chunk: Chunk) -> None:
        self._append({"chunk": chunk.number, "not_queued": True})
        chunk.not_queued = True


class BatchSubmitUncertainError(WorkersAIError):
    """A Batch API submit that may have been queued: its records are not queued again."""


def _surely_not_queued(error: BaseException) -> bool:
    if isinstance(error, InvalidInputError):
        return True  # refused before sending
    if isinstance(error, APIError):
        return 400 <= error.status_code < 500 and error.status_code != 408
    cause = error.__cause__
    return isinstance(cause, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))


class BatchRun:
    """Everything of a Batch API run but the I/O (shared by the sync and async drivers)."""

    def __init__(
        self,
        job: Job,
        found: Survey,
        finished: set[str],
        *,
        retry_failed: bool,
        options: BatchWaitOptions,
    ) -> None:
        self.job = job
        self.found = found
        self.finished = finished  # keys with a line in the output
        self.options = options
        self.ledger = Ledger(job.output.path)
        self.chain = [*job.fallback_models]
        # the chunk each key was last submitted in: only that chunk's answer counts
        self.latest: dict[str, int] = {}
        for chunk in self.ledger.chunks.values():
            for record_id in chunk.ids:
                self.latest[record_key(record_id)] = chunk.number
        self.polls: list[Chunk] = []
        self.uncertain: list[Chunk] = []
        for chunk in self.ledger.chunks.values():
            open_keys = self._open_keys(chunk)
            if not open_keys or chunk.not_queued:
                continue
            if chunk.request_id is not None:
                self.polls.append(chunk)
            elif not retry_failed:
                self.uncertain.append(chunk)
        self.records: dict[str, Record] = {}

    def _open_keys(self, chunk: Chunk) -> list[str]:
        keys = [record_key(i) for i in chunk.ids]
        return [k for k in keys if self.latest.get(k) == chunk.number and k not in self.finished]

    def skip(self) -> set[str]:
        """Keys not to queue: in the output, or in a job being polled or of uncertain fate."""
        waiting = {k for chunk in [*self.polls, *self.uncertain] for k in self._open_keys(chunk)}
        return self.finished | waiting

    def index_waiting(self) -> None:
        """The records of the jobs to poll (their carried fields go into the output)."""
        wanted = {k for chunk in self.polls for k in self._open_keys(chunk)}
        wanted |= {k for chunk in self.uncertain for k in self._open_keys(chunk)}
        if wanted:
            for record in self.found.iter_records():
                if record.key in wanted:
                    record.messages = []  # only the id, model and carried fields are needed
                    self.records[record.key] = record

    def settle_uncertain(self) -> None:
        """Write the records of submits that may have been queued as error lines."""
        for chunk in self.uncertain:
            error = BatchSubmitUncertainError(
                f"The Batch API submit of chunk {chunk.number} ({chunk.model}) may have been "
                "queued before the previous run stopped; not queued again, to avoid paying twice.",
                hint="Check your Workers AI usage, then run again with retry_failed "
                "(--retry-failed) to queue these records again.",
            )
            for key in self._open_keys(chunk):
                self._fail(key, chunk.model, error)
        self.uncertain = []

    def chunks(self) -> Iterator[tuple[str, list[Record]]]:
        """The records to queue, by model, :data:`CHUNK_RECORDS` (and < 10 MB) at a time."""
        groups: dict[str, tuple[list[Record], int]] = {}
        for record in self.found.iter_records(self.skip()):
            group, size = groups.get(record.model, ([], 0))
            weight = len(_json.dumps(record.messages)) + 200
            if group and (len(group) >= CHUNK_RECORDS or size + weight > _CHUNK_BYTES):
                yield record.model, group
                group, size = [], 0
            group.append(record)
            groups[record.model] = (group, size + weight)
        for model, (group, _) in groups.items():
            if group:
                yield model, group

    def models_for(self, model: str) -> list[str]:
        return [model, *(m for m in self.chain if m != model)]

    def items(self, model: str, records: Sequence[Record]) -> list[dict[str, Any]]:
        items = []
        for record in records:
            if model in _PROMPT_ONLY:
                prompt = render_prompt(record.messages, model, raw=False)
                request = build_chat_request(model, prompt=prompt, params=record.params)
            else:
                request = build_chat_request(model, record.messages, params=record.params)
            items.append(request.body)
        return items

    def submitting(self, model: str, records: Sequence[Record]) -> Chunk:
        """Write down the submit before it is sent; its answer is now the one that counts."""
        chunk = self.ledger.submitting(model, records)
        for record in records:
            self.latest[record.key] = chunk.number
        return chunk

    def submitted(self, chunk: Chunk, records: Sequence[Record], job: BatchJob) -> None:
        self.ledger.queued(chunk, job.request_id)
        for record in records:
            record.messages = []
            self.records[record.key] = record
        self.polls.append(chunk)
        if job.done:
            self.collect(chunk, job)

    def submit_failed(
        self, chunk: Chunk, records: Sequence[Record], error: WorkersAIError, *, last: bool
    ) -> bool:
        """A submit raised ``error``; ``True`` when the records go to the next model (the
        submit surely queued nothing and the model cannot take it), else they fail."""
        if _surely_not_queued(error):
            self.ledger.refused(chunk)
            if not last and fallback_reason(error) is not None:
                return True
        elif not error.hint or "twice" not in error.hint:
            note = "The submit may have been queued: its records are not queued again."
            error.hint = f"{note} {error.hint}" if error.hint else note
        for record in records:
            self._fail(record.key, record.model, error)
        return False

    def collect(self, chunk: Chunk, job: BatchJob) -> None:
        """A finished job: one output line per record still open."""
        self.polls = [c for c in self.polls if c is not chunk]
        request = ChatRequest(
            model=chunk.model, endpoint="native", route=f"run/{chunk.model}", body={}, stream=False
        )
        job.references = [str(index) for index in range(len(chunk.ids))]
        try:
            items = job.ordered_items()
            if len(items) != len(chunk.ids):
                raise UnexpectedResponseError(
                    f"Batch {job.request_id} answered {len(items)} items for {len(chunk.ids)}",
                    model=chunk.model,
                )
        except UnexpectedResponseError as exc:
            for key in self._open_keys(chunk):
                self._fail(key, chunk.model, exc)
            return
        with_usage = False
        for record_id, item in zip(chunk.ids, items, strict=True):
            key = record_key(record_id)
            record = self.records.get(key)
            if record is None or key in self.finished or self.latest.get(key) != chunk.number:
                continue
            if item.success:
                result = parse_chat_response(item.result, request)
                with_usage = with_usage or result.usage is not None
                self.job.answered(record, result, None)
            else:
                self.job.failed(record.id, chunk.model, _item_error(item.result, chunk.model))
            self.finished.add(key)
        if not with_usage and job.usage is not None:
            self.job.report.add_usage(chunk.model, job.usage)

    def _fail(self, key: str, model: str, error: BaseException) -> None:
        record = self.records.get(key)
        record_id = record.id if record is not None else _json.loads(key)
        self.job.failed(record_id, model, error)
        self.finished.add(key)

    def expired(self) -> bool:
        return bool(self.polls) and all(
            time.monotonic() - chunk.started > self.options.timeout for chunk in self.polls
        )


def _item_error(result: Any, model: str) -> WorkersAIError:
    """The error of a failed batch item (its result holds the error body, if anything)."""
    if isinstance(result, dict) and ("errors" in result or "error" in result):
        return error_from_response(400, result, model=model)
    text = result if isinstance(result, str) else _json.dumps_str(result)
    return WorkersAIError(f"The batch item failed: {text[:500]}")


# --------------------------------------------------------------------------------------
# Drivers
# --------------------------------------------------------------------------------------


def run_batch(client: WorkersAI, run: BatchRun) -> None:
    """Queue what is left, then poll every job until done (or ``options.timeout``)."""
    run.index_waiting()
    run.settle_uncertain()
    for model, records in run.chunks():
        candidates = run.models_for(model)
        for index, candidate in enumerate(candidates):
            chunk = run.submitting(candidate, records)
            try:
                job = client.batch.submit(candidate, run.items(candidate, records))
            except WorkersAIError as exc:
                if run.submit_failed(chunk, records, exc, last=index + 1 == len(candidates)):
                    continue
                break
            run.submitted(chunk, records, job)
            break
    waits = poll_waits(run.options.poll_interval, run.options.max_poll_interval)
    while run.polls and not run.expired():
        time.sleep(next(waits))
        for chunk in list(run.polls):
            assert chunk.request_id is not None
            job = client.batch.poll(chunk.model, chunk.request_id)
            if job.done:
                run.collect(chunk, job)


async def arun_batch(client: AsyncWorkersAI, run: BatchRun) -> None:
    """Async twin of :func:`run_batch`."""
    run.index_waiting()
    run.settle_uncertain()
    for model, records in run.chunks():
        candidates = run.models_for(model)
        for index, candidate in enumerate(candidates):
            chunk = run.submitting(candidate, records)
            try:
                job = await client.batch.submit(candidate, run.items(candidate, records))
            except WorkersAIError as exc:
                if run.submit_failed(chunk, records, exc, last=index + 1 == len(candidates)):
                    continue
                break
            run.submitted(chunk, records, job)
            break
    waits = poll_waits(run.options.poll_interval, run.options.max_poll_interval)
    while run.polls and not run.expired():
        await asyncio.sleep(next(waits))
        for chunk in list(run.polls):
            assert chunk.request_id is not None
            job = await client.batch.poll(chunk.model, chunk.request_id)
            if job.done:
                run.collect(chunk, job)
