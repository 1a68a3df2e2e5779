"""What a generation run did — :class:`GenerationReport` — and how it shows progress."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from workersai.generation._records import BadLine
from workersai.pricing import estimate_cost
from workersai.results import Usage

__all__ = ["GenerationReport", "ModelTotals", "Progress", "ProgressMode", "make_progress"]

ProgressMode = Literal["auto", "bar", "lines", "off"]


@dataclass
class ModelTotals:
    """One model's share of a run: records answered (by it) and failed (asked of it first),
    tokens, neurons and estimated USD of the answers."""

    answered: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    neurons: float = 0.0
    known_usd: float = 0.0
    unpriced: int = 0

    @property
    def usd(self) -> float | None:
        """Estimated USD; ``None`` when some answer could not be priced (never a made-up 0)."""
        return None if self.unpriced else self.known_usd

    def usd_text(self) -> str:
        if not self.unpriced:
            return f"{self.known_usd:.6f}"
        return f">={self.known_usd:.6f}" if self.unpriced < self.answered else "unknown"

    def add(self, other: ModelTotals) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class GenerationReport:
    """What a run of :func:`workersai.generate` did.

    Attributes:
        out: The output file.
        records: Valid records in the input.
        answered: Records answered by this run.
        failed: Records that failed in this run (after retries and fallbacks); their error
            lines are in the output.
        already_done: Records answered by earlier runs (skipped).
        failed_before: Error lines of earlier runs still in the output (not retried; use
            ``retry_failed=True``).
        skipped: Malformed input lines, with their numbers.
        pending: Records not finished: an interrupted run, or Batch API jobs still queued.
        interrupted: The run was stopped (Ctrl-C) before the end.
        repaired: A torn last line of the output was cut off (its record was redone).
        by_model: Per model (the one that answered; for failures, the one asked first).
        elapsed: Seconds the run took.
    """

    out: Path
    records: int = 0
    answered: int = 0
    failed: int = 0
    already_done: int = 0
    failed_before: int = 0
    skipped: list[BadLine] = field(default_factory=list)
    pending: int = 0
    interrupted: bool = False
    repaired: bool = False
    by_model: dict[str, ModelTotals] = field(default_factory=dict)
    elapsed: float = 0.0

    @property
    def complete(self) -> bool:
        """Every record of the input is answered in the output, and no line was skipped."""
        return (
            not self.skipped
            and self.answered + self.already_done == self.records
            and not self.failed
            and not self.failed_before
        )

    @property
    def exit_code(self) -> int:
        """``0`` when :attr:`complete`, else ``1`` (the CLI's exit code)."""
        return 0 if self.complete else 1

    @property
    def total(self) -> ModelTotals:
        out = ModelTotals()
        for totals in self.by_model.values():
            out.add(totals)
        return out

    def record_answer(self, model: str, usage: Usage | None, cost_usd: float | None) -> None:
        """One answer of ``model`` (``cost_usd``: its estimate, ``None`` when unknown)."""
        totals = self.by_model.setdefault(model, ModelTotals())
        totals.answered += 1
        self.answered += 1
        if usage is not None:
            totals.prompt_tokens += usage.prompt_tokens
            totals.completion_tokens += usage.completion_tokens
            totals.neurons += usage.neurons or 0.0
        if cost_usd is None:
            totals.unpriced += 1
        else:
            totals.known_usd += cost_usd

    def add_usage(self, model: str, usage: Usage) -> None:
        """Tokens and cost reported for a whole Batch API job whose items carried none."""
        totals = self.by_model.setdefault(model, ModelTotals())
        totals.prompt_tokens += usage.prompt_tokens
        totals.completion_tokens += usage.completion_tokens
        totals.neurons += usage.neurons or 0.0
        cost = estimate_cost(model, usage)
        if cost.usd is not None:
            totals.known_usd += cost.usd

    def record_failure(self, model: str) -> None:
        self.by_model.setdefault(model, ModelTotals()).failed += 1
        self.failed += 1

    def summary(self) -> str:
        """A printable summary: counts, then one line per model and the total."""
        done = self.answered + self.already_done
        lines = [f"{self.out.name}: {done} of {self.records} records answered"]
        parts = [f"{self.answered} now"]
        if self.already_done:
            parts.append(f"{self.already_done} by earlier runs")
        lines[0] += f" ({', '.join(parts)})"
        if self.failed or self.failed_before:
            failed = f"failed: {self.failed}"
            if self.failed_before:
                failed += (
                    f" (+{self.failed_before} from earlier runs, kept; retry_failed redoes them)"
                )
            lines.append(failed)
        if self.skipped:
            lines.append(f"skipped: {len(self.skipped)} malformed input lines")
            lines.extend(f"  {bad}" for bad in self.skipped[:10])
            if len(self.skipped) > 10:
                lines.append(f"  ... and {len(self.skipped) - 10} more")
        if self.pending:
            lines.append(f"not finished: {self.pending}")
        if self.repaired:
            lines.append("a torn last line of the output was cut off and its record redone")
        if self.by_model:
            row = "{:<44} {:>8} {:>6} {:>10} {:>10} {:>9} {:>10}"
            lines.append(
                row.format(
                    "model", "answered", "failed", "input tok", "output tok", "neurons", "est. USD"
                )
            )
            for model, totals in [*sorted(self.by_model.items()), ("total", self.total)]:
                neurons = f"{totals.neurons:.1f}" if totals.neurons else "-"
                lines.append(
                    row.format(
                        model,
                        totals.answered,
                        totals.failed,
                        f"{totals.prompt_tokens:,}",
                        f"{totals.completion_tokens:,}",
                        neurons,
                        totals.usd_text(),
                    )
                )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


# --------------------------------------------------------------------------------------
# Progress
# --------------------------------------------------------------------------------------


class Progress:
    """Progress of a run; this base class shows nothing."""

    def __init__(self, total: int, report: GenerationReport) -> None:
        self.total = total
        self.report = report
        self.done = 0

    def update(self) -> None:
        self.done += 1

    def close(self) -> None:
        pass

    def status(self) -> str:
        totals = self.report.total
        tokens = totals.prompt_tokens + totals.completion_tokens
        return f"{tokens:,} tokens, ${totals.known_usd:.4f}"


class _Bar(Progress):
    """A tqdm bar: records done/total, rate and ETA, tokens and cost as its postfix."""

    def __init__(self, total: int, report: GenerationReport, tqdm: Any, stream: IO[str]) -> None:
        super().__init__(total, report)
        self._bar = tqdm(total=total, unit="rec", desc="generate", file=stream, dynamic_ncols=True)
        self._shown = 0.0

    def update(self) -> None:
        super().update()
        self._bar.update(1)
        now = time.monotonic()
        if now - self._shown > 0.5:  # the postfix costs a redraw: twice a second is enough
            self._shown = now
            self._bar.set_postfix_str(self.status(), refresh=False)

    def close(self) -> None:
        self._bar.set_postfix_str(self.status(), refresh=False)
        self._bar.close()


class _Lines(Progress):
    """A plain line now and then (for logs and pipes): every ``every`` seconds, and at 100 %."""

    def __init__(
        self, total: int, report: GenerationReport, stream: IO[str], every: float = 10.0
    ) -> None:
        super().__init__(total, report)
        self._stream = stream
        self._every = every
        self._start = self._last = time.monotonic()

    def update(self) -> None:
        super().update()
        now = time.monotonic()
        if now - self._last >= self._every or self.done == self.total:
            self._last = now
            self._emit(now)

    def _emit(self, now: float) -> None:
        rate = self.done / max(now - self._start, 1e-9)
        left = self.total - self.done
        eta = f", ETA {_duration(left / rate)}" if rate > 0 and left else ""
        percent = 100 * self.done // self.total if self.total else 100
        counts = f"{self.done:,}/{self.total:,} ({percent}%)"
        print(
            f"generate: {counts}, {rate:.1f}/s{eta}, {self.status()}",
            file=self._stream,
            flush=True,
        )


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    get_ipython = getattr(shell, "get_ipython", None)
    return bool(get_ipython and type(get_ipython()).__name__ == "ZMQInteractiveShell")


def make_progress(
    mode: ProgressMode, total: int, report: GenerationReport, stream: IO[str] | None = None
) -> Progress:
    """The progress display for ``mode``: ``"bar"`` (tqdm; plain lines without it),
    ``"lines"``, ``"off"``, or ``"auto"`` — a bar on a terminal or in a notebook, plain lines
    otherwise."""
    stream = stream or sys.stderr
    if mode == "off" or total <= 0:
        return Progress(total, report)
    if mode == "auto":
        interactive = _in_notebook() or bool(getattr(stream, "isatty", lambda: False)())
        mode = "bar" if interactive else "lines"
    if mode == "bar":
        try:
            from tqdm.auto import tqdm
        except ImportError:  # tqdm is optional (workersai[all])
            pass
        else:
            return _Bar(total, report, tqdm, stream)
    return _Lines(total, report, stream)
