"""JSON encoding and decoding, with orjson as an optional speed-up.

Embedding responses are large arrays of floats; orjson decodes them several times faster
than the standard library. Both paths give identical Python values.
"""

from __future__ import annotations

import json
from typing import Any

try:  # pragma: no cover - exercised when the optional dependency is installed
    import orjson

    _HAVE_ORJSON = True
except ImportError:  # pragma: no cover
    _HAVE_ORJSON = False

JSONDecodeError = json.JSONDecodeError


def loads(data: bytes | bytearray | str) -> Any:
    """Decode JSON; raises ``json.JSONDecodeError`` (a ``ValueError``) on bad input."""
    if _HAVE_ORJSON:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            # Normalise to the stdlib error type so callers catch one thing.
            text = data if isinstance(data, str) else data.decode("utf-8", "replace")
            raise json.JSONDecodeError(str(exc), text, 0) from None
    return json.loads(data)


def dumps(obj: Any) -> bytes:
    """Encode to compact UTF-8 JSON bytes (non-ASCII kept as UTF-8, not escaped)."""
    if _HAVE_ORJSON:
        try:
            return orjson.dumps(obj)
        except TypeError:
            pass  # e.g. non-str dict keys or an int beyond 64 bits: the stdlib handles those
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def dumps_str(obj: Any) -> str:
    """Like :func:`dumps` but returns ``str``."""
    return dumps(obj).decode("utf-8")
