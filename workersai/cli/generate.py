"""``workersai generate``: a JSON Lines file of prompts to a JSON Lines file of answers.

The command is :func:`workersai.generate` with flags: resumable (run it again to finish what
is missing), safe to kill, with model fallback and an optional Batch API mode. Exit codes:
0 when every record is answered, 1 when some failed or were skipped (the summary says which),
2 for bad arguments (a model that does not exist, a missing input file), 130 after Ctrl-C.

Example::

    workersai generate prompts.jsonl --out answers.jsonl -m llama-3.3-70b-instruct-fp8-fast \\
        --fallback-model @cf/qwen/qwen3-30b-a3b-fp8 --concurrency 16 --max-tokens 512
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import Any

from workersai._client import WorkersAI
from workersai.batch import BatchWaitOptions
from workersai.cli import _output
from workersai.cli._output import err
from workersai.errors import InvalidInputError, WorkersAIError
from workersai.generation import GenerationInterrupted, GenerationReport, generate
from workersai.models import DEFAULT_CHAT_MODEL, resolve_model

__all__ = ["add_generate_command", "run_generate"]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

DESCRIPTION = (
    "Send every record of INPUT (JSON Lines: id, prompt or messages, optional model, "
    "temperature, max_tokens, system; other fields are carried) to a text-generation model "
    "and append one JSON line per record to OUTPUT as each answer arrives. Run the same "
    "command again to resume: ids already in OUTPUT are skipped. Malformed lines are "
    "reported and skipped. Exit 0 when every record is answered, 1 when some failed, 2 for "
    "bad arguments."
)


def _model(value: str) -> str:
    try:
        return resolve_model(value)
    except WorkersAIError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("\n", " ")) from None


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {value}")
    return seconds


def add_generate_command(command: Callable[..., argparse.ArgumentParser]) -> None:
    """Register ``generate`` with the CLI's ``command(name, help, description)`` factory."""
    sub = command("generate", "answer a JSON Lines file of prompts, resumably", DESCRIPTION)
    sub.add_argument("input", help="JSON Lines records, or - for stdin")
    sub.add_argument("--out", "-o", required=True, help="JSON Lines output (resumed if it exists)")
    sub.add_argument(
        "--model",
        "-m",
        type=_model,
        default=DEFAULT_CHAT_MODEL,
        help="model of records without their own",
    )
    sub.add_argument(
        "--fallback-model",
        action="append",
        type=_model,
        default=[],
        metavar="MODEL",
        help="asked when the model is out of capacity or unavailable (repeatable, in order)",
    )
    sub.add_argument(
        "--concurrency", type=_positive_int, default=8, metavar="N", help="requests in flight (8)"
    )
    sub.add_argument("--system", help="system prompt of records without one")
    sub.add_argument("--temperature", type=float, help="temperature of records without one")
    sub.add_argument("--max-tokens", type=_positive_int, help="max_tokens of records without one")
    sub.add_argument(
        "--retry-failed", action="store_true", help="redo records whose earlier attempt failed"
    )
    sub.add_argument(
        "--batch-api",
        action="store_true",
        help="queue through the asynchronous Batch API (job ids saved beside OUTPUT)",
    )
    sub.add_argument(
        "--poll-timeout",
        type=_seconds,
        default=3600.0,
        metavar="S",
        help="with --batch-api: how long to wait for queued jobs (3600)",
    )
    sub.add_argument(
        "--no-progress", action="store_true", help="plain progress lines instead of a bar"
    )
    sub.set_defaults(run=run_generate)


def _closing_lines(report: GenerationReport) -> None:
    err(report.summary())
    rate = report.answered / report.elapsed if report.elapsed > 0 else 0.0
    err(f"{report.answered} answered in {report.elapsed:.1f}s ({rate:.1f}/s)")
    if report.failed or report.failed_before:
        err("hint: run the same command with --retry-failed to redo the failed records")
    if report.pending and not report.interrupted:
        err("hint: Batch API jobs are still queued; run the same command again to collect them")


def run_generate(args: argparse.Namespace) -> int:
    source: Any = sys.stdin if args.input == "-" else args.input
    if args.no_progress or not sys.stderr.isatty():
        progress = "lines"
    else:
        progress = "bar"
    client = WorkersAI(timeout=args.timeout, max_retries=args.max_retries)
    try:
        report = generate(
            source,
            out=args.out,
            model=args.model,
            fallback_models=args.fallback_model,
            max_concurrency=args.concurrency,
            system=args.system,
            temperature=args.temperature,
            max_tokens=args.max_tokens,
            retry_failed=args.retry_failed,
            use_batch_api=args.batch_api,
            batch_wait=BatchWaitOptions(timeout=args.poll_timeout),
            progress=progress,
            client=client,
        )
    except GenerationInterrupted as stopped:
        _closing_lines(stopped.report)
        err(
            f"interrupted: {stopped.report.answered} answered by this run; the requests in "
            "flight were dropped. Run the same command again to resume."
        )
        return EXIT_INTERRUPTED
    except InvalidInputError as exc:
        _output.report(exc.message, exc.hint)
        return EXIT_USAGE
    finally:
        client.close()
    _closing_lines(report)
    return report.exit_code
