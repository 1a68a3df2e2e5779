"""The job's output: one JSON line per record, appended as each answer arrives.

What makes a run safe to kill at any moment (issue 15):

* each line is one ``write()`` to a file opened with ``O_APPEND``: it lands whole, after the
  lines before it, or — if the process dies inside the call — as a torn last line;
* lines go to the file as soon as their answer arrives (no buffer in the process), so a
  SIGKILL loses only the answers still in flight. ``fsync`` — which protects against power
  loss, not against a killed process — runs at most once per ``fsync_interval`` seconds
  (default 1 s) and at the end: an fsync per line would cost a disk flush per answer, and
  what a power cut can lose is then the last second of answers, which the next run redoes;
* the next run reads the file first: ids already answered are skipped; a torn or unreadable
  last line is cut off and its record redone; with ``retry_failed`` the error lines are
  removed (the file is rewritten to a temporary file and renamed over it, so a crash leaves
  the old or the new file, never half of one) and their records redone;
* an exclusive lock (``flock``) keeps two runs from writing the same file.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workersai import _json
from workersai.errors import WorkersAIError
from workersai.generation._records import Record, record_key
from workersai.results import ChatResult

try:  # POSIX; elsewhere two runs on one file are not prevented
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

__all__ = ["OutputFile", "OutputState", "answer_line", "error_line"]


@dataclass
class OutputState:
    """What an existing output file holds."""

    answered: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    lines: int = 0
    #: A torn or unreadable last line that was cut off (its record is redone).
    repaired: bool = False


class OutputFile:
    """The output file of one run: read, repaired, then appended to (see the module docstring).

    Use as a context manager; :meth:`open` reads the file and takes the lock.
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync_interval: float = 1.0) -> None:
        self.path = Path(path)
        self.fsync_interval = fsync_interval
        self._fd: int | None = None
        self._last_sync = 0.0
        self._unsynced = False

    # -- opening --------------------------------------------------------------------------

    def open(self, *, retry_failed: bool = False) -> OutputState:
        """Lock the file, read what it holds, cut a torn last line, and with
        ``retry_failed`` remove the error lines. Returns what remains."""
        if self.path.parent and not self.path.parent.is_dir():
            raise WorkersAIError(
                f"Cannot write {self.path}: the folder {self.path.parent} does not exist.",
                hint="Create the folder or choose another output path.",
            )
        self._fd = self._open_locked()
        state = self._scan()
        if retry_failed and state.failed:
            self._rewrite(lambda key, is_error: not is_error)
            state.failed = set()
        return state

    def _open_locked(self) -> int:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise WorkersAIError(
                    f"Another run is writing {self.path}.",
                    hint="Wait for it to finish (or stop it), then run again to resume.",
                ) from None
        return fd

    def _scan(self) -> OutputState:
        state = OutputState()
        good_end = 0
        with open(self.path, "rb") as existing:
            for number, raw in enumerate(existing, 1):
                parsed = _parse_line(raw)
                if parsed is None:
                    if existing.read(1):  # not the last line: not ours to drop silently
                        raise WorkersAIError(
                            f"{self.path} line {number} is not an output record.",
                            hint="This file was edited by hand or by another program: fix or "
                            "remove that line, or choose another output file.",
                        )
                    state.repaired = True  # a torn last line: cut it, redo its record
                    break
                key, is_error = parsed
                (state.failed if is_error else state.answered).add(key)
                state.lines += 1
                good_end += len(raw)
        if state.repaired:
            assert self._fd is not None
            os.ftruncate(self._fd, good_end)
            os.fsync(self._fd)
        state.failed -= state.answered
        return state

    def _rewrite(self, keep: Callable[[str, bool], bool]) -> None:
        """Rewrite the file with the lines ``keep(key, is_error)`` accepts, atomically."""
        temporary = self.path.with_name(f".{self.path.name}.rewrite")
        with open(self.path, "rb") as source, open(temporary, "wb") as target:
            for raw in source:
                parsed = _parse_line(raw)
                if parsed is not None and keep(*parsed):
                    target.write(raw)
            target.flush()
            os.fsync(target.fileno())
        os.replace(temporary, self.path)
        _fsync_dir(self.path.parent)
        old, self._fd = self._fd, None
        self._fd = self._open_locked()  # the new file, locked before the old lock goes
        if old is not None:
            os.close(old)

    # -- appending ------------------------------------------------------------------------

    def write(self, line: dict[str, Any]) -> None:
        """Append one record as one line, at once (see the module docstring)."""
        assert self._fd is not None, "open() the output first"
        data = _json.dumps(line) + b"\n"
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._unsynced = True
        if self.fsync_interval <= 0 or time.monotonic() - self._last_sync >= self.fsync_interval:
            self.sync()

    def sync(self) -> None:
        if self._fd is not None and self._unsynced:
            os.fsync(self._fd)
            self._unsynced = False
        self._last_sync = time.monotonic()

    def close(self) -> None:
        if self._fd is not None:
            try:
                self.sync()
            finally:
                os.close(self._fd)  # releases the lock
                self._fd = None

    def __enter__(self) -> OutputFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _parse_line(raw: bytes) -> tuple[str, bool] | None:
    """``(key, is_error)`` of a complete output line; ``None`` for a torn or foreign one."""
    if not raw.endswith(b"\n"):
        return None
    try:
        data = _json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or "id" not in data:
        return None
    return record_key(data["id"]), "error" in data


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------------
# What a line holds
# --------------------------------------------------------------------------------------


def answer_line(
    record: Record, result: ChatResult, latency_ms: int | None, cost_usd: float | None
) -> dict[str, Any]:
    """The output line of an answered record (``cost_usd``: ``result.cost.usd``, computed
    once by the caller)."""
    line: dict[str, Any] = {"id": record.id, **record.carried}
    line["model"] = result.model or record.model
    line["response"] = result.text
    if result.reasoning:
        line["reasoning"] = result.reasoning
    calls = [*result.tool_calls, *result.invalid_tool_calls]
    if calls:
        line["tool_calls"] = [
            {
                "id": c.id,
                "name": c.name,
                "arguments": c.arguments if c.is_valid else c.raw_arguments,
            }
            for c in calls
        ]
    line["usage"] = result.usage.as_dict() if result.usage is not None else None
    line["finish_reason"] = result.finish_reason
    if cost_usd is not None:
        line["cost_usd"] = cost_usd
    if latency_ms is not None:
        line["latency_ms"] = latency_ms
    return line


def error_line(record_id: Any, error: BaseException) -> dict[str, Any]:
    """The output line of a record that failed after its retries and fallbacks."""
    code = getattr(error, "code", None)
    message = getattr(error, "message", None) or str(error)
    return {
        "id": record_id,
        "error": {
            "type": type(error).__name__,
            "code": code if isinstance(code, int) else None,
            "message": message,
        },
    }
