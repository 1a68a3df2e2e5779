"""Whole numbers sent as text (headers, SSE fields, ids, error codes, usage counts).

``str.isdigit()`` is true for "¹" and other Unicode digits that ``int()`` refuses, and HTTP
headers decode as Latin-1, so a server can send one: only ASCII digits count.
"""

from __future__ import annotations


def ascii_int(text: str) -> int | None:
    """``int(text)`` for a run of ASCII digits and nothing else, else ``None``."""
    return int(text) if text.isascii() and text.isdigit() else None
