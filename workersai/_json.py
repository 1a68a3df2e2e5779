"""Values on the wire: JSON encoding and decoding (orjson as an optional speed-up), and whole
numbers sent as text.

Embedding responses are large arrays of floats; orjson decodes them several times faster
than the standard library. Both paths give identical Python values.

Numbers arrive as text in headers, SSE fields, ids, error codes and usage counts.
``str.isdigit()`` is true for "¹" and other Unicode digits that ``int()`` refuses, and HTTP
headers decode as Latin-1, so a server can send one: :func:`ascii_int` counts ASCII digits only.
"""

from __future__ import annotations

import ctypes
import json
import sys
from collections.abc import Callable, Iterable
from typing import Any

from workersai.errors import InvalidInputError

try:  # pragma: no cover - exercised when the optional dependency is installed
    import orjson

    _HAVE_ORJSON = True
except ImportError:  # pragma: no cover
    _HAVE_ORJSON = False

JSONDecodeError = json.JSONDecodeError


def _not_json(name: str) -> Any:
    # NaN and ±Infinity are not JSON: orjson refuses them, so the standard library must too
    # (else the text "NaN" in a number field would become a float that no JSON can carry).
    # (the position is not read: the whole value is refused)
    raise json.JSONDecodeError(f"{name} is not a JSON value", name, 0)  # pragma: no mutate


def loads(data: bytes | bytearray | str) -> Any:
    """Decode JSON; raises ``json.JSONDecodeError`` (a ``ValueError``) on bad input."""
    if _HAVE_ORJSON:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            # The stdlib's own type (orjson's subclasses it), with orjson's message and place;
            # orjson keeps no text of bytes that are not UTF-8, so decode those here.
            text = exc.doc or (data if isinstance(data, str) else data.decode(errors="replace"))
            raise json.JSONDecodeError(exc.msg, text, exc.pos) from None
    try:
        return json.loads(data, parse_constant=_not_json)
    except UnicodeDecodeError as exc:  # bytes that are not UTF-8: not JSON either, as orjson says
        text = exc.object.decode(errors="replace")
        raise json.JSONDecodeError(str(exc), text, exc.start) from None


def dumps(obj: Any) -> bytes:
    """Encode to compact UTF-8 JSON bytes (non-ASCII kept as UTF-8, not escaped).

    Raises:
        InvalidInputError: text that is not valid Unicode (a lone surrogate such as
            ``"\\udcff"``, left by ``bytes.decode(errors="surrogateescape")``), a value
            JSON cannot hold, or nesting too deep to encode.
    """
    if _HAVE_ORJSON:
        try:
            return orjson.dumps(obj)
        except TypeError:
            pass  # e.g. non-str dict keys or an int beyond 64 bits: the stdlib handles those
    try:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()  # UTF-8
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"The request holds text that is not valid Unicode ({exc.object[exc.start : exc.end]!r}"
            " is a lone surrogate) and cannot be sent as UTF-8.",
            hint="Decode bytes with errors='replace' (not 'surrogateescape') before passing them.",
        ) from None
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"The request cannot be encoded as JSON: {exc}") from None
    except RecursionError:
        raise InvalidInputError(
            "The request is nested too deeply to be encoded as JSON.",
            hint="Flatten deeply nested values (tool schemas, metadata).",
        ) from None


def _gc_untrack_function() -> Callable[[object], None] | None:
    """CPython's ``PyObject_GC_UnTrack`` (a prototype of our own, so the shared
    ``ctypes.pythonapi`` attribute keeps its settings); ``None`` elsewhere."""
    if sys.implementation.name != "cpython":  # pragma: no cover - CI runs CPython
        return None
    try:
        untrack: Callable[[object], None] = ctypes.PYFUNCTYPE(None, ctypes.py_object)(
            ("PyObject_GC_UnTrack", ctypes.pythonapi)
        )
    except (AttributeError, OSError):  # pragma: no cover - an embedded build without it
        return None
    return untrack


_gc_untrack = _gc_untrack_function()


def untrack_number_lists(rows: Iterable[Any]) -> None:
    """Take decoded lists of numbers (embedding vectors) off the cycle collector's books.

    CPython tracks every list for cycle detection, and every collection that runs while a
    large embedding job arrives walks each number of each vector again: about a fifth of
    the CPU of 10,000 texts embedded (``bench/embeddings.py``). A list of numbers cannot be
    part of a reference cycle, so it needs no tracking (CPython untracks tuples and dicts of
    atomic values by itself, lists never). Only lists whose first item is a number are
    untracked. That is safe even if a later item is a container: decoded JSON is a tree, so
    a cycle through such a list needs the caller to build one, and the worst it could then
    do is leak that cycle. The lists stay ordinary lists in every other way.
    """
    if _gc_untrack is None:  # pragma: no cover - not CPython
        return
    for row in rows:
        if type(row) is list and row and type(row[0]) in (float, int):
            _gc_untrack(row)


def dumps_str(obj: Any) -> str:
    """Like :func:`dumps` but returns ``str``."""
    return dumps(obj).decode("utf-8")  # pragma: no mutate (codec names ignore case)


def ascii_int(text: str) -> int | None:
    """``int(text)`` for a run of ASCII digits and nothing else, else ``None``."""
    return int(text) if text.isascii() and text.isdigit() else None
