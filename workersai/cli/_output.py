"""What every ``workersai`` command prints the same way: errors, hints and saved images.

Both the command module (:mod:`workersai.cli`) and the demo (:mod:`workersai.cli.demo`)
import this at module level; it imports neither of them, so no import cycle needs a
deferred import to close.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

from workersai._media import mime_for_path
from workersai.errors import APIError, WorkersAIError
from workersai.images import ImageNotConvertedWarning, ImageResult

__all__ = ["CommandError", "describe_error", "err", "report", "save_image", "saved_image_line"]


class CommandError(Exception):
    """A user mistake the CLI explains in plain words (exit code 1, no traceback)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def err(text: str = "") -> None:
    """One line on stderr, flushed (progress and notes never mix with stdout's output)."""
    print(text, file=sys.stderr, flush=True)


def report(message: str, hint: str | None) -> None:
    """The two lines of a failure: ``error: …`` and, when there is one, ``hint: …``."""
    err(f"error: {message}")
    if hint:
        err(f"hint: {hint}")


def describe_error(exc: WorkersAIError) -> tuple[str, str | None]:
    """``(message, hint)`` of a core error; the message ends with Cloudflare's code."""
    code = f" [{exc.code}]" if isinstance(exc, APIError) and exc.code else ""
    return f"{exc.message}{code}", exc.hint


def save_image(image: ImageResult, path: str | os.PathLike[str]) -> str:
    """Save ``image`` to ``path`` and return the one line that says where and how.

    When the conversion to the format the file name asks for cannot run (no Pillow), the
    image is saved in its own format next to it, and the line says so and why: the picture
    was paid for and is never lost, and no warning machinery is printed at the user.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ImageNotConvertedWarning)
        written = image.save(path)
    kept = next(
        (w.message for w in caught if isinstance(w.message, ImageNotConvertedWarning)), None
    )
    return saved_image_line(image, written, kept)


def saved_image_line(
    image: ImageResult, path: Path, kept: ImageNotConvertedWarning | None = None
) -> str:
    """``saved out.png: 1024x1024 JPEG image (…) by <model>, converted to PNG``, or, when
    the conversion could not run, ``saved out.jpg: … — not out.png: converting JPEG to PNG
    needs Pillow (pip install pillow)``."""
    line = f"saved {path}: {image.describe()}"
    if kept is not None:
        return f"{line} — not {kept.asked}: {kept.reason}"
    wanted = mime_for_path(path)
    if wanted is not None and wanted != image.mime_type:
        line += f", converted to {wanted.split('/', 1)[1].upper()}"
    return line
