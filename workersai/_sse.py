"""Incremental Server-Sent Events decoder (WHATWG ``text/event-stream`` rules).

Feed it bytes exactly as they come off the socket — split anywhere, even inside a UTF-8
character or between the ``\\r`` and ``\\n`` of a CRLF — and it returns each complete event
once. It handles LF, CR and CRLF line ends, ``:`` comment lines, ``data:`` with or without
the space, multi-line ``data`` (joined with ``\\n``), ``event``/``id``/``retry`` fields and
ignores unknown fields.

Why not httpx-sse: its ``EventSource`` insists on a ``text/event-stream`` content type, but
a Workers AI stream request can legitimately be answered with JSON (gpt-oss on ``/ai/run``,
wire reference §3.3), and we want one pure, fuzzable decoder shared by the sync and async
paths rather than two line iterators.

Leniency beyond the spec: at end of input an event whose ``data`` lines are complete is still
dispatched even if the final blank line never came, because servers routinely omit it.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from workersai._json import ascii_int

__all__ = ["SSEDecoder", "ServerSentEvent"]

_EOL = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event."""

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Stateful decoder: :meth:`feed` chunks, then :meth:`flush` at end of stream."""

    __slots__ = ("_buffer", "_data", "_event", "_id", "_retry", "_skip_lf", "_utf8")

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._skip_lf = False  # last chunk ended in "\r": a leading "\n" belongs to it
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes | str) -> list[ServerSentEvent]:
        """Decode a chunk; returns the events it completed (possibly none)."""
        text = chunk if isinstance(chunk, str) else self._utf8.decode(chunk)
        if not text:
            return []
        if self._skip_lf and text[0] == "\n":
            text = text[1:]
        buffer = self._buffer + text
        events: list[ServerSentEvent] = []
        start = 0  # pragma: no mutate (a slice from None starts at 0 too)
        for match in _EOL.finditer(buffer):
            event = self._line(buffer[start : match.start()])
            if event is not None:
                events.append(event)
            start = match.end()
        # A final "\r" is always a line end already consumed above (the regex matches it).
        self._skip_lf = buffer.endswith("\r")
        self._buffer = buffer[start:]
        return events

    def flush(self) -> list[ServerSentEvent]:
        """End of stream: returns a final event still pending, if any."""
        # The decoder's last word: U+FFFD for a stream cut inside a character ("" otherwise).
        events = self.feed(self._utf8.decode(b"", final=True))
        if self._buffer:
            self._line(self._buffer)  # a non-empty line never dispatches by itself
            self._buffer = ""  # pragma: no mutate (nothing is fed after flush; kept for hygiene)
        event = self._dispatch()
        if event is not None:
            events.append(event)
        return events

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        # A ":" comment line parses as the field "", ignored like any unknown field.
        name, sep, value = line.partition(":")
        if sep and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry" and (retry := ascii_int(value)) is not None:
            self._retry = retry
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        if not self._data:
            self._event = ""
            return None
        event = ServerSentEvent(
            data="\n".join(self._data),
            event=self._event or "message",
            id=self._id,
            retry=self._retry,
        )
        self._data = []
        self._event = ""
        return event
