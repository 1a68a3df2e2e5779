"""A scripted loopback server that answers like Workers AI — for tests, benchmarks and demos.

Point a client at it with ``base_url`` and script what it answers, faults included::

    from workersai import WorkersAI
    from workersai.testing import Reply, WorkersAIServer

    with WorkersAIServer() as server:
        server.enqueue(Reply.error(429, 3040, "Capacity temporarily exceeded, please try again.",
                                   headers={"Retry-After": "0"}))
        server.enqueue(Reply.result({"response": "Hello!", "usage": {"prompt_tokens": 3,
                                     "completion_tokens": 2, "total_tokens": 5}}))
        client = WorkersAI("acct", "token", base_url=server.base_url)
        assert client.chat("@cf/meta/llama-3.3-70b-instruct-fp8-fast", [{"role": "user",
                           "content": "hi"}]).text == "Hello!"
        assert len(server.requests) == 2          # one 429, one success

Replies are served in order from the queue; when it is empty the ``handler`` (if set)
answers, otherwise the server answers 599 so a missing script fails loudly. Every request
is recorded (method, path, query, headers, body).

Faults: HTTP errors with Cloudflare envelopes, HTML bodies, ``Retry-After``, connection
resets before or in the middle of a body, stalls past the client's timeout, SSE streams
that end without ``[DONE]`` or are cut, and malformed SSE lines.
"""

from __future__ import annotations

import json
import random
import socket
import struct
import sys
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "ECHO_USAGE",
    "FAULTS",
    "FaultStorm",
    "RecordedRequest",
    "Reply",
    "WorkersAIServer",
    "echo_answer",
    "echo_vector",
    "envelope",
    "sse_body",
]


def envelope(result: Any = None, *, errors: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """Cloudflare's v4 envelope around ``result`` (or around ``errors``)."""
    return {"result": result, "success": not errors, "errors": list(errors), "messages": []}


def sse_body(
    events: Iterable[str | Mapping[str, Any]], *, done: bool = True, crlf: bool = False
) -> bytes:
    """Encode events as a ``text/event-stream`` body (dicts JSON-encoded, strings as is)."""
    eol = "\r\n" if crlf else "\n"
    parts = []
    for event in events:
        data = event if isinstance(event, str) else json.dumps(event, separators=(",", ":"))
        parts.append(f"data: {data}{eol}{eol}")
    if done:
        parts.append(f"data: [DONE]{eol}{eol}")
    return "".join(parts).encode("utf-8")


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        """The body as JSON; ``None`` when empty or not JSON (raw audio, images, forms)."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def model(self) -> str | None:
        """The model id of an ``/ai/run/{model}`` request."""
        marker = "/ai/run/"
        return self.path.split(marker, 1)[1] if marker in self.path else None


@dataclass
class Reply:
    """One scripted answer. Build with the class methods."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunks: list[bytes] | None = None  # streamed with chunked encoding
    chunk_delay: float = 0.0
    delay: float = 0.0  # before the status line
    reset: bool = False  # close the connection without answering
    cut_after: int | None = None  # send this many body bytes (or chunks), then cut

    @classmethod
    def json(
        cls,
        body: Any,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
    ) -> Reply:
        data = json.dumps(body, separators=(",", ":")).encode()
        return cls(
            status, {"content-type": "application/json", **(headers or {})}, data, delay=delay
        )

    @classmethod
    def result(
        cls, result: Any, headers: Mapping[str, str] | None = None, delay: float = 0.0
    ) -> Reply:
        """A successful ``/ai/run`` answer: ``result`` inside the v4 envelope."""
        return cls.json(envelope(result), 200, headers, delay)

    @classmethod
    def error(
        cls, status: int, code: int | None, message: str, headers: Mapping[str, str] | None = None
    ) -> Reply:
        """An error envelope ``{"errors": [{"code", "message"}], "success": false}``."""
        error = {"code": code, "message": message} if code is not None else {"message": message}
        return cls.json(envelope(None, errors=[error]), status, headers)

    @classmethod
    def html(
        cls, status: int, text: str = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    ) -> Reply:
        return cls(status, {"content-type": "text/html"}, text.encode())

    @classmethod
    def binary(
        cls, data: bytes, content_type: str = "image/png", headers: Mapping[str, str] | None = None
    ) -> Reply:
        return cls(200, {"content-type": content_type, **(headers or {})}, data)

    @classmethod
    def sse(
        cls,
        events: Iterable[str | Mapping[str, Any]],
        *,
        done: bool = True,
        crlf: bool = False,
        chunk_size: int | None = None,
        chunk_delay: float = 0.0,
        cut_after_chunks: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """An SSE stream. ``done=False`` ends it cleanly without ``[DONE]`` (truncated);
        ``cut_after_chunks`` drops the connection mid-stream; ``chunk_size`` splits the body
        at arbitrary byte offsets."""
        body = sse_body(events, done=done, crlf=crlf)
        if chunk_size:
            chunks = [body[i : i + chunk_size] for i in range(0, len(body), chunk_size)]
        else:  # one network chunk per event
            sep = b"\r\n\r\n" if crlf else b"\n\n"
            chunks = [piece + sep for piece in body.split(sep) if piece]
        return cls(
            200,
            {"content-type": "text/event-stream", **(headers or {})},
            chunks=chunks,
            chunk_delay=chunk_delay,
            cut_after=cut_after_chunks,
        )

    @classmethod
    def raw_sse(cls, body: bytes, *, chunk_size: int | None = None) -> Reply:
        """An SSE stream from literal bytes (for malformed lines, comments, CRLF...)."""
        chunks = (
            [body[i : i + chunk_size] for i in range(0, len(body), chunk_size)]
            if chunk_size
            else [body]
        )
        return cls(200, {"content-type": "text/event-stream"}, chunks=chunks)

    @classmethod
    def connection_reset(cls) -> Reply:
        """Close the connection without any answer."""
        return cls(reset=True)

    @classmethod
    def reset_mid_body(cls, body: Any = None, sent_bytes: int = 10) -> Reply:
        """Send the headers and part of a JSON body, then close the connection."""
        reply = cls.json(body if body is not None else envelope({"response": "x" * 200}))
        reply.cut_after = sent_bytes
        return reply

    @classmethod
    def stall(cls, seconds: float, then: Reply | None = None) -> Reply:
        """Wait ``seconds`` before answering (past a client's read timeout)."""
        reply = then or cls.result({"response": "late"})
        reply.delay = seconds
        return reply


Handler = Callable[[RecordedRequest], Reply]


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and
    # the client's delayed ACK add ~40 ms to every keep-alive request.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            # The client went away mid-body (a killed process): as for a real API, a request
            # that never arrived whole was never received, so it is not recorded.
            self.close_connection = True
            return
        parts = urlsplit(self.path)
        recorded = RecordedRequest(
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        reply = self.server.owner._next_reply(recorded)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.reset:
            self._abort()
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.chunks is not None:
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for index, chunk in enumerate(reply.chunks):
                if reply.cut_after is not None and index >= reply.cut_after:
                    self._abort()
                    return
                if reply.chunk_delay:
                    time.sleep(reply.chunk_delay)
                if not chunk:
                    continue  # a zero-length chunk would end the body early
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            return
        self.send_header("content-length", str(len(reply.body)))
        self.end_headers()
        if reply.cut_after is not None:
            self.wfile.write(reply.body[: reply.cut_after])
            self.wfile.flush()
            self._abort()
            return
        self.wfile.write(reply.body)
        self.wfile.flush()

    def _abort(self) -> None:
        self.close_connection = True
        try:
            # linger 0: the peer sees a reset (RST), not an orderly close
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    do_GET = _handle  # noqa: N815 - http.server's method naming
    do_POST = _handle  # noqa: N815 - http.server's method naming
    do_PUT = _handle  # noqa: N815 - http.server's method naming
    do_DELETE = _handle  # noqa: N815 - http.server's method naming


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, owner: WorkersAIServer, address: tuple[str, int]) -> None:
        self.owner = owner
        super().__init__(address, _RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out or was cut off leaves a broken pipe behind: expected here.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class WorkersAIServer:
    """A loopback HTTP server speaking the Workers AI wire format, run in a thread.

    Attributes:
        base_url: Pass as ``base_url`` to a client (``http://127.0.0.1:<port>/client/v4``).
        requests: Every request received, in arrival order.
        handler: Answers requests when the queue is empty.
    """

    def __init__(
        self, handler: Handler | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.handler = handler
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server = _Server(self, (host, port))
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/client/v4"

    def start(self) -> WorkersAIServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, daemon=True, kwargs={"poll_interval": 0.05}
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> WorkersAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def enqueue(self, *replies: Reply) -> None:
        """Add replies, served in order."""
        with self._lock:
            self._queue.extend(replies)

    @property
    def pending(self) -> int:
        """Replies not served yet."""
        with self._lock:
            return len(self._queue)

    def _next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self._queue:
                return self._queue.popleft()
        if self.handler is not None:
            return self.handler(request)
        return Reply.error(599, None, f"no scripted reply for {request.method} {request.path}")


# --------------------------------------------------------------------------------------
# A correct answer to anything, and fault storms around it
# --------------------------------------------------------------------------------------

#: The usage :func:`echo_answer` reports for every chat answer.
ECHO_USAGE = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}


def echo_vector(text: str) -> list[float]:
    """The vector :func:`echo_answer` gives ``text``: its length and its CRC-32, so a test can
    check that each vector came back for the right text, in the right place."""
    return [float(len(text)), float(zlib.crc32(text.encode("utf-8")))]


def echo_answer(request: RecordedRequest) -> Reply:
    """A correct Workers-AI-shaped answer to any chat or embeddings request — the ``answer``
    to give :class:`FaultStorm` when the content does not matter, only that it comes back.

    Chat answers ``"echo <last message>"`` with :data:`ECHO_USAGE` (a stream: three native
    events with ``p`` padding and the usage trailer); embeddings answer one
    :func:`echo_vector` per text in the ``{"shape", "data", "pooling"}`` envelope.
    """
    body = request.json()
    body = body if isinstance(body, dict) else {}
    texts = body.get("text")
    if isinstance(texts, str):
        texts = [texts]
    if isinstance(texts, list):
        vectors = [echo_vector(str(t)) for t in texts]
        return Reply.result({"shape": [len(vectors), 2], "data": vectors, "pooling": "mean"})
    messages = body.get("messages") or [{}]
    content = messages[-1].get("content", "") if isinstance(messages[-1], dict) else ""
    content = content or str(body.get("prompt", ""))
    if body.get("stream"):
        events = [{"response": "echo ", "p": "pad"}, {"response": content}]
        return Reply.sse([*events, {"response": "", "usage": ECHO_USAGE}])
    return Reply.result({"response": f"echo {content}", "usage": ECHO_USAGE})


#: Faults a :class:`FaultStorm` injects, by name. ``*_after_events`` only apply to streams.
FAULTS: dict[str, Callable[[], Reply]] = {
    "429": lambda: Reply.error(429, None, "Rate limited.", headers={"Retry-After": "0"}),
    "3040": lambda: Reply.error(429, 3040, "Capacity temporarily exceeded, please try again."),
    "3036": lambda: Reply.error(
        429, 3036, "You have used up your daily free allocation of 10,000 neurons."
    ),
    "500": lambda: Reply.html(500, "<html><body>Internal Server Error</body></html>"),
    "502": lambda: Reply.html(502),
    "503": lambda: Reply.html(503, "<html><body>Service Unavailable</body></html>"),
    "reset": Reply.connection_reset,
    "reset_mid_body": Reply.reset_mid_body,
}
STREAM_FAULTS: dict[str, Callable[[list[Any]], Reply]] = {
    "truncated_after_events": lambda events: Reply.sse(events[:1], done=False),
    "cut_after_events": lambda events: Reply.sse(events, cut_after_chunks=1),
    "malformed_event": lambda events: Reply.raw_sse(
        sse_body(events[:1], done=False) + b'data: {"response": "bro\n\ndata: [DONE]\n\n'
    ),
}


class FaultStorm:
    """A handler that answers like Workers AI and injects faults, reproducibly.

    Each logical request is identified by ``key(request)`` (by default its body). For every
    attempt, a seeded random draw picks a fault with probability ``fault_rate``; ``stall``
    answers after ``stall_seconds`` (past a client's timeout). ``answer(request)`` builds the
    correct reply; for streams return ``Reply.sse(events)`` and the stream faults reuse the
    events. Afterwards :attr:`log` tells, per key, what each attempt got — so a test can
    check every call ended with the right answer or the right typed error, and that nothing
    was re-sent after a success (:attr:`resent_after_success`).
    """

    def __init__(
        self,
        answer: Callable[[RecordedRequest], Reply],
        *,
        seed: int = 0,
        fault_rate: float = 0.3,
        faults: Sequence[str] = (*FAULTS, "stall"),
        stream_faults: Sequence[str] = tuple(STREAM_FAULTS),
        stall_seconds: float = 1.0,
        key: Callable[[RecordedRequest], str] | None = None,
    ) -> None:
        self.answer = answer
        self.seed = seed
        self.fault_rate = fault_rate
        self.faults = list(faults)
        self.stream_faults = list(stream_faults)
        self.stall_seconds = stall_seconds
        self.key = key or (lambda request: request.body.decode("utf-8", "replace"))
        self.log: dict[str, list[str]] = {}
        self.resent_after_success: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, request: RecordedRequest) -> Reply:
        key = self.key(request)
        with self._lock:
            attempts = self.log.setdefault(key, [])
            if attempts and attempts[-1] == "ok":
                self.resent_after_success.append(key)
            attempt = len(attempts)
        rng = random.Random(f"{self.seed}:{key}:{attempt}")
        reply = self.answer(request)
        outcome, served = "ok", reply
        if rng.random() < self.fault_rate:
            is_stream = (
                reply.chunks is not None
                and reply.headers.get("content-type") == "text/event-stream"
            )
            choices = self.faults + (self.stream_faults if is_stream else [])
            outcome = rng.choice(choices)
            if outcome == "stall":
                served = Reply(reply.status, dict(reply.headers), reply.body, reply.chunks)
                served.delay = self.stall_seconds
            elif outcome in FAULTS:
                served = FAULTS[outcome]()
            else:
                served = STREAM_FAULTS[outcome](self._events(reply))
        with self._lock:
            self.log[key].append(outcome)
        return served

    @staticmethod
    def _events(reply: Reply) -> list[Any]:
        events = []
        for chunk in reply.chunks or []:
            for line in chunk.decode("utf-8").splitlines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    events.append(line[6:])
        return events
