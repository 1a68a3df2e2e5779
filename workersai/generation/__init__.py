"""Bulk generation: thousands of prompts to answers, resumable, with model fallback (issue 15).

:func:`generate` (and :func:`agenerate`) sends every record of a JSON Lines file — or of any
iterable of dicts — to a text-generation model and appends one JSON line per record to ``out``
as its answer arrives. Run it again with the same arguments and it does only what is missing.
``workersai generate`` is the same job on the command line.

Input records: ``{"id": ..., "prompt": "..."}`` or ``{"id": ..., "messages": [...]}``, with
optional ``model``, ``temperature``, ``max_tokens`` and ``system``; every other field is carried
to the output. Output lines: ``id``, the carried fields, ``model`` (the model that answered),
``response``, ``reasoning`` / ``tool_calls`` when present, ``usage``, ``finish_reason``,
``cost_usd`` when known and ``latency_ms`` — or ``id`` and ``error`` (``type``, ``code``,
``message``) for a record that failed after its retries and fallbacks.

What it guarantees:

* exactly one line per id in the output: ids already answered are skipped, lines are written
  whole as answers arrive, a torn last line (a kill mid-write) is cut off and redone, and
  with ``retry_failed=True`` error lines are replaced, not duplicated (see
  :mod:`workersai.generation._output` for fsync and locking);
* a killed run (SIGKILL, power loss) pays twice at most for the requests that were in flight
  (power loss: also the answers of the last ``fsync_interval`` seconds); Ctrl-C writes what
  arrived and raises :class:`GenerationInterrupted` with the report;
* malformed input lines are reported with their numbers and skipped; a model id that matches
  no model fails the run before the first request, with the closest ids;
* records are streamed: memory does not grow with the input (only the ids are kept);
* ``use_batch_api=True`` queues the records as Batch API jobs and saves their ids beside the
  output, so a resumed run polls them instead of queueing (and paying) again.

Example:
    >>> import workersai
    >>> report = workersai.generate("prompts.jsonl", out="answers.jsonl",
    ...                             model="@cf/meta/llama-3.3-70b-instruct-fp8-fast",
    ...                             fallback_models=["@cf/qwen/qwen3-30b-a3b-fp8"],
    ...                             max_concurrency=16)
    >>> print(report.summary())
    >>> for line in workersai.generation.read_output("answers.jsonl"):
    ...     print(line["id"], line.get("response"))
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from typing import IO, Any

from workersai import _json
from workersai._client import AsyncWorkersAI, WorkersAI
from workersai._concurrency import check_concurrency
from workersai._fallback import check_fallback_models
from workersai.batch import BatchWaitOptions, _checked_options
from workersai.errors import InvalidInputError
from workersai.generation._batch import (
    BatchRun,
    Ledger,
    arun_batch,
    check_batch_models,
    run_batch,
)
from workersai.generation._direct import Job, arun_direct, run_direct
from workersai.generation._output import OutputFile, OutputState
from workersai.generation._records import JobOptions, Survey, open_records, record_key, survey
from workersai.generation._report import (
    GenerationReport,
    ModelTotals,
    ProgressMode,
    make_progress,
)
from workersai.models import DEFAULT_CHAT_MODEL, get_catalog, resolve_model, suggest_models

__all__ = [
    "GenerationInterrupted",
    "GenerationReport",
    "ModelTotals",
    "agenerate",
    "generate",
    "read_output",
]

Records = str | os.PathLike[str] | IO[str] | Iterable[Mapping[str, Any]]


class GenerationInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped :func:`generate`; what arrived was written. Run again to resume.

    Attributes:
        report: How far the run got.
    """

    def __init__(self, report: GenerationReport) -> None:
        done = report.answered + report.already_done
        super().__init__(f"interrupted: {done} of {report.records} records answered")
        self.report = report


def read_output(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """The lines of an output file as dicts, one at a time (a torn last line is left out)."""
    with open(path, "rb") as lines:
        for raw in lines:
            if raw.endswith(b"\n") and raw.strip():
                try:
                    yield _json.loads(raw)
                except ValueError:
                    continue


# --------------------------------------------------------------------------------------
# Checks before any request
# --------------------------------------------------------------------------------------


def _job_options(
    model: str,
    fallback_models: Sequence[str],
    system: str | None,
    temperature: float | None,
    max_tokens: int | None,
) -> JobOptions:
    if system is not None and not isinstance(system, str):
        raise InvalidInputError("system must be a string", field="system")
    if temperature is not None and (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not math.isfinite(temperature)
    ):
        raise InvalidInputError("temperature must be a number", field="temperature")
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        raise InvalidInputError("max_tokens must be a positive whole number", field="max_tokens")
    return JobOptions(
        model=resolve_model(model),
        fallback_models=check_fallback_models(fallback_models),
        system=system or None,
        temperature=temperature,
        max_tokens=max_tokens,
    )


def _check_fsync_interval(value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise InvalidInputError(
            f"fsync_interval must be a number of seconds (0 or more), got {value!r}",
            field="fsync_interval",
        )
    return float(value)


def _progress_mode(progress: bool | str) -> ProgressMode:
    if progress is True:
        return "auto"
    if progress is False:
        return "off"
    if progress in ("auto", "bar", "lines", "off"):
        return progress  # type: ignore[return-value]
    raise InvalidInputError(
        f"progress must be True, False, 'auto', 'bar', 'lines' or 'off', got {progress!r}",
        field="progress",
    )


def _unknown_to_catalog(found: Survey, options: JobOptions) -> list[tuple[str, int]]:
    catalog = get_catalog()
    unknown = found.unknown_models()
    unknown += [(m, 0) for m in options.fallback_models if m not in catalog]
    return unknown


def _check_unknown(unknown: list[tuple[str, int]]) -> None:
    """After a live refresh of the catalog: models still unknown fail the run."""
    catalog = get_catalog()
    left = [(model, line) for model, line in unknown if model not in catalog]
    if not left:
        return
    parts = []
    for model, line in left:
        where = f"line {line}" if line else "fallback_models"
        close = suggest_models(model)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        parts.append(f"{model!r} ({where}).{hint}")
    raise InvalidInputError(
        "Workers AI lists no model " + " ".join(parts),
        field="model",
        hint="Nothing was sent. `workersai models --live --task text-generation` lists the "
        "models your account can use.",
    )


class _Run:
    """The parts of a run that do no network I/O, shared by :func:`generate` and
    :func:`agenerate`."""

    def __init__(
        self,
        stack: ExitStack,
        records: Records,
        out: str | os.PathLike[str],
        options: JobOptions,
        *,
        retry_failed: bool,
        use_batch_api: bool,
        progress: ProgressMode,
        fsync_interval: float,
    ) -> None:
        self.started = time.monotonic()
        self.options = options
        self.use_batch_api = use_batch_api
        self.retry_failed = retry_failed
        self.progress_mode = progress
        path = stack.enter_context(open_records(records))
        self.output = stack.enter_context(OutputFile(out, fsync_interval=fsync_interval))
        self.found = survey(path, options)
        self.unknown = _unknown_to_catalog(self.found, options)
        self.report = GenerationReport(out=self.output.path, records=self.found.records)
        self.report.skipped = list(self.found.bad)
        self.state = OutputState()

    def start(self) -> tuple[Job, set[str]]:
        """Open the output (cut a torn line, drop error lines to redo); returns the job and
        the keys not to ask again."""
        _check_unknown(self.unknown)
        if self.use_batch_api:
            check_batch_models([*self.found.models, *self.options.fallback_models])
        self.state = self.output.open(retry_failed=self.retry_failed)
        report = self.report
        report.repaired = self.state.repaired
        keys = self.found.first_lines
        report.already_done = sum(1 for key in self.state.answered if key in keys)
        report.failed_before = sum(1 for key in self.state.failed if key in keys)
        done = self.state.answered | self.state.failed
        todo = report.records - report.already_done - report.failed_before
        progress = make_progress(self.progress_mode, todo, report)
        return Job(self.output, report, progress, self.options.fallback_models), done

    def batch_run(self, job: Job, done: set[str], wait: BatchWaitOptions | None) -> BatchRun:
        return BatchRun(
            job,
            self.found,
            set(done),
            retry_failed=self.retry_failed,
            options=_checked_options(wait),
        )

    def finish(self, job: Job | None) -> GenerationReport:
        if job is not None:
            job.progress.close()
        report = self.report
        report.elapsed = time.monotonic() - self.started
        finished = report.answered + report.already_done + report.failed + report.failed_before
        report.pending = report.records - finished
        return report


def _check_direct_after_batch(run: _Run, done: set[str]) -> None:
    """A direct run must not ask again what queued Batch API jobs will answer."""
    book = Ledger(run.output.path)
    waiting = [
        chunk.number
        for chunk in book.chunks.values()
        if chunk.request_id is not None and any(record_key(i) not in done for i in chunk.ids)
    ]
    if waiting:
        raise InvalidInputError(
            f"{book.path.name} holds Batch API jobs of this output that are not collected yet.",
            field="use_batch_api",
            hint="Run again with use_batch_api=True (--batch-api) to collect them; asking "
            "those records directly would pay for them twice.",
        )


# --------------------------------------------------------------------------------------
# The job
# --------------------------------------------------------------------------------------


def generate(
    records: Records,
    *,
    out: str | os.PathLike[str],
    model: str = DEFAULT_CHAT_MODEL,
    fallback_models: Sequence[str] = (),
    max_concurrency: int = 8,
    system: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    retry_failed: bool = False,
    use_batch_api: bool = False,
    batch_wait: BatchWaitOptions | None = None,
    progress: bool | str = True,
    fsync_interval: float = 1.0,
    client: WorkersAI | None = None,
) -> GenerationReport:
    """Answer every record of ``records`` into ``out``; run again to finish what is missing.

    Args:
        records: A JSON Lines file (path), a text stream of JSON lines (``sys.stdin``) or an
            iterable of dicts (each one record).
        out: The JSON Lines output file; created, or resumed when it exists.
        model: The model of records without their own ``model``.
        fallback_models: Models asked in order when a record's model is out of capacity or
            not available to the account (see :mod:`workersai._fallback`).
        max_concurrency: Requests in flight at once.
        system, temperature, max_tokens: Defaults for records without their own.
        retry_failed: Redo the records whose earlier attempt failed (their error lines are
            replaced).
        use_batch_api: Queue the records through the asynchronous Batch API (models with
            ``async_queue``); a resumed run polls the queued jobs.
        batch_wait: Polling interval and how long to wait for queued jobs.
        progress: ``True`` (a bar on a terminal or in a notebook, plain lines otherwise),
            ``False``, or ``"bar"`` / ``"lines"``.
        fsync_interval: Seconds between fsyncs of the output (0: after every line).
        client: The client to use (default: one from the environment, with one kept-alive
            connection per request in flight, closed at the end). A client of your own
            keeps 20 connections alive: above ``max_concurrency=20``, give it an
            ``http_client`` whose ``httpx.Limits`` keep as many.

    Returns:
        What the run did; ``report.complete`` when every record is answered.

    Raises:
        InvalidInputError: bad arguments or an unknown model — before any request.
        GenerationInterrupted: Ctrl-C; what arrived is written, ``.report`` says how far.
    """
    options = _job_options(model, fallback_models, system, temperature, max_tokens)
    check_concurrency(max_concurrency)
    fsync_interval = _check_fsync_interval(fsync_interval)
    mode = _progress_mode(progress)
    job: Job | None = None
    with ExitStack() as stack:
        run = _Run(
            stack,
            records,
            out,
            options,
            retry_failed=retry_failed,
            use_batch_api=use_batch_api,
            progress=mode,
            fsync_interval=fsync_interval,
        )
        if client is None:
            client = stack.enter_context(WorkersAI())
        if run.unknown:
            client.list_models(task="Text Generation")  # refresh the catalog, once
        job, done = run.start()
        try:
            if use_batch_api:
                run_batch(client, run.batch_run(job, done, batch_wait))
            else:
                _check_direct_after_batch(run, done)
                run_direct(client, job, run.found.iter_records(done), max_concurrency)
        except KeyboardInterrupt:
            run.report.interrupted = True
            raise GenerationInterrupted(run.finish(job)) from None
    return run.finish(job)


async def agenerate(
    records: Records,
    *,
    out: str | os.PathLike[str],
    model: str = DEFAULT_CHAT_MODEL,
    fallback_models: Sequence[str] = (),
    max_concurrency: int = 8,
    system: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    retry_failed: bool = False,
    use_batch_api: bool = False,
    batch_wait: BatchWaitOptions | None = None,
    progress: bool | str = True,
    fsync_interval: float = 1.0,
    client: AsyncWorkersAI | None = None,
) -> GenerationReport:
    """Async twin of :func:`generate` (requests are tasks on the running loop; reading the
    input and writing lines happen on the loop too — they are small and fast)."""
    options = _job_options(model, fallback_models, system, temperature, max_tokens)
    check_concurrency(max_concurrency)
    fsync_interval = _check_fsync_interval(fsync_interval)
    mode = _progress_mode(progress)
    job: Job | None = None
    with ExitStack() as stack:
        run = _Run(
            stack,
            records,
            out,
            options,
            retry_failed=retry_failed,
            use_batch_api=use_batch_api,
            progress=mode,
            fsync_interval=fsync_interval,
        )
        own_client = client is None
        client = client or AsyncWorkersAI()
        try:
            if run.unknown:
                await client.list_models(task="Text Generation")
            job, done = run.start()
            try:
                if use_batch_api:
                    await arun_batch(client, run.batch_run(job, done, batch_wait))
                else:
                    _check_direct_after_batch(run, done)
                    await arun_direct(client, job, run.found.iter_records(done), max_concurrency)
            except (asyncio.CancelledError, KeyboardInterrupt):
                run.report.interrupted = True
                run.finish(job)
                raise
        finally:
            if own_client:
                await client.aclose()
    return run.finish(job)
