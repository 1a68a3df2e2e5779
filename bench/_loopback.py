"""A fast loopback chat server for the benchmarks, in its own process.

A small asyncio HTTP/1.1 server written for benchmarking (one event loop, keep-alive,
TCP_NODELAY, answers encoded once), so it adds as little as it can to what is measured:

* a JSON chat answer (``"Hello there!"`` with usage) to any request;
* to a stream request (``"stream":true``), ``STREAM_EVENTS`` SSE events ``STREAM_GAP`` apart
  — slow on purpose, so that many streams are open at once;
* to a stream request whose last message is ``"probe <t>"`` (``t`` a ``time.monotonic()``
  value, the same clock in every process on Linux and macOS), the headers at once, the
  first event at exactly ``t``, the rest 50 ms later: the client's time to its first chunk
  minus ``t`` is what the client adds to a streamed token.

Use ``with chat_server() as base_url: ...``.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

USAGE = {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
ANSWER = json.dumps(
    {
        "result": {"response": "Hello there!", "usage": USAGE},
        "success": True,
        "errors": [],
        "messages": [],
    },
    separators=(",", ":"),
).encode()
STREAM_EVENTS = 20
STREAM_GAP = 0.05  # seconds between streamed events: 1,000 streams stay open together
_PROBE = re.compile(rb'"content":"probe ([0-9.]+)"')


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _event(data: dict[str, Any]) -> bytes:
    return _chunk(b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n")


async def _until(moment: float) -> None:
    """Sleep until ``time.monotonic() == moment``: the loop's timer for most of the wait,
    a spin for the last millisecond (timers fire late by up to a millisecond)."""
    if moment - time.monotonic() > 0.002:
        await asyncio.sleep(moment - time.monotonic() - 0.001)
    while time.monotonic() < moment:
        pass


def _serve(port_queue: Any) -> None:
    json_reply = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
        % len(ANSWER)
        + ANSWER
    )
    sse_head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    tail = _event({"response": "", "usage": USAGE}) + _chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n"

    async def stream(writer: asyncio.StreamWriter, probe: float | None) -> None:
        writer.write(sse_head)
        if probe is not None:
            await writer.drain()
            await _until(probe)
            writer.write(_event({"response": "Hello", "p": "abcdef"}))
            await asyncio.sleep(0.05)
            writer.write(_event({"response": " there!", "p": "abc"}) + tail)
            return
        for index in range(STREAM_EVENTS):
            await asyncio.sleep(STREAM_GAP)
            writer.write(_event({"response": f"token{index} ", "p": "abcdefgh"}))
        writer.write(tail)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                if b'"stream":true' not in body:
                    writer.write(json_reply)
                    continue
                found = _PROBE.search(body)
                await stream(writer, float(found.group(1)) if found else None)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=2048)
        port_queue.put(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


@contextmanager
def chat_server() -> Iterator[str]:
    """The server in a child process; yields its ``base_url``."""
    context = multiprocessing.get_context("spawn")
    queue: Any = context.Queue()
    process = context.Process(target=_serve, args=(queue,), daemon=True)
    process.start()
    try:
        yield f"http://127.0.0.1:{queue.get(timeout=60)}/client/v4"
    finally:
        process.kill()
        process.join(timeout=5)
