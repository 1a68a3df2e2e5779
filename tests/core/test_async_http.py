"""The async HTTP engines: which one is used and why, and what each must keep.

aiohttp (through httpx-aiohttp) is the default async engine when installed, httpx's own
pool otherwise. Every promise below is checked on both (and on the sync client where it
has one): timeouts really enforced (on connect, before the headers, in the middle of a
body, between stream events — and no total timeout), errors mapped by what they mean,
gzip and binary bodies, large embedding batches, Batch API polls, cancellation, proxies,
clean shutdown; and the request the owned pools send (headers once each, per-call overrides
winning, settings replaced after the first request taking effect).

The transport, streaming and fault-storm suites also run on both engines (see
``ASYNC_HTTP_SUITES`` in ``tests/conftest.py``).
"""

from __future__ import annotations

import asyncio
import gc
import gzip
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import httpx
import httpx_aiohttp
import pytest

from tests._blocking import BlockingAsyncClient
from tests.conftest import LOOPBACK
from workersai import (
    APIConnectionError,
    APITimeoutError,
    AsyncWorkersAI,
    GatewayOptions,
    InvalidInputError,
    RetryPolicy,
    WorkersAI,
    _transport,
)
from workersai._aiohttp import AiohttpEngine, to_httpx_error
from workersai._transport import choose_async_backend
from workersai.testing import Reply, WorkersAIServer, echo_answer, echo_vector

pytestmark = [LOOPBACK, pytest.mark.filterwarnings("error::ResourceWarning")]

LLAMA = "@cf/meta/llama-3.1-8b-instruct-fast"
BGE = "@cf/baai/bge-small-en-v1.5"
USER = [{"role": "user", "content": "hi"}]
OK = Reply.result({"response": "ok"})
FAST = RetryPolicy(initial_delay=0.001, max_delay=0.01)
ENGINES = ["aiohttp", "httpx"]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["sync", *ENGINES])
def kind(request: pytest.FixtureRequest) -> str:
    """The sync client, or the async client (behind a blocking facade) on each engine."""
    return str(request.param)


def make(kind: str, base_url: str, **kwargs: Any) -> Any:
    """A client of ``kind`` with the sync interface; the fixture teardown closes facades."""
    kwargs = {"base_url": base_url, "retry_policy": FAST, **kwargs}
    if kind == "sync":
        return WorkersAI("acct", "tok", **kwargs)
    return BlockingAsyncClient("acct", "tok", http_backend=kind, **kwargs)


def aclient(engine: str, base_url: str, **kwargs: Any) -> AsyncWorkersAI:
    kwargs = {"base_url": base_url, "retry_policy": FAST, **kwargs}
    return AsyncWorkersAI("acct", "tok", http_backend=engine, **kwargs)  # type: ignore[arg-type]


# -- which engine, and why ---------------------------------------------------------------------


@pytest.fixture
def no_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKERSAI_ASYNC_HTTP", raising=False)


@pytest.mark.usefixtures("no_choice")
def test_aiohttp_is_the_default_when_installed() -> None:
    client = AsyncWorkersAI("acct", "tok")
    assert client.http_backend == "aiohttp"
    assert "http_backend='aiohttp'" in repr(client)
    assert WorkersAI("acct", "tok").http_backend == "httpx"


@pytest.mark.usefixtures("no_choice")
async def test_without_httpx_aiohttp_the_httpx_pool_is_used(
    monkeypatch: pytest.MonkeyPatch, server: WorkersAIServer
) -> None:
    monkeypatch.setattr(_transport, "aiohttp_installed", lambda: False)
    client = AsyncWorkersAI("acct", "tok", base_url=server.base_url)
    assert client.http_backend == "httpx"
    server.enqueue(OK)
    assert (await client.chat(LLAMA, USER)).text == "ok"
    pool = client._transport.client._transport
    assert type(pool) is httpx.AsyncHTTPTransport  # exactly today's transport
    await client.aclose()
    with pytest.raises(InvalidInputError, match="not installed") as info:
        AsyncWorkersAI("acct", "tok", http_backend="aiohttp")
    assert "pip install" in (info.value.hint or "")


def test_the_argument_then_the_environment_choose(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKERSAI_ASYNC_HTTP", "httpx")
    assert AsyncWorkersAI("acct", "tok").http_backend == "httpx"
    assert AsyncWorkersAI("acct", "tok", http_backend="aiohttp").http_backend == "aiohttp"
    monkeypatch.setenv("WORKERSAI_ASYNC_HTTP", " AIOHTTP ")
    assert AsyncWorkersAI("acct", "tok").http_backend == "aiohttp"
    monkeypatch.setenv("WORKERSAI_ASYNC_HTTP", "curl")
    with pytest.raises(InvalidInputError) as info:
        AsyncWorkersAI("acct", "tok")
    assert info.value.field == "WORKERSAI_ASYNC_HTTP"
    with pytest.raises(InvalidInputError) as info:
        AsyncWorkersAI("acct", "tok", http_backend="requests")  # type: ignore[arg-type]
    assert info.value.field == "http_backend"


async def test_a_user_client_always_wins(
    monkeypatch: pytest.MonkeyPatch, server: WorkersAIServer
) -> None:
    monkeypatch.setenv("WORKERSAI_ASYNC_HTTP", "httpx")
    seen: list[str] = []

    async def hook(request: httpx.Request) -> None:
        seen.append(request.url.path)

    http = httpx_aiohttp.HttpxAiohttpClient(event_hooks={"request": [hook]})
    client = AsyncWorkersAI("acct", "tok", base_url=server.base_url, http_client=http)
    assert client.http_backend == "http_client"
    assert "http_backend='http_client'" in repr(client)
    server.enqueue(OK)
    assert (await client.chat(LLAMA, USER)).text == "ok"
    assert seen == [f"/client/v4/accounts/acct/ai/run/{LLAMA}"]  # its hooks ran: used as is
    await client.aclose()
    assert not http.is_closed  # the user's to close
    with pytest.raises(InvalidInputError) as info:
        AsyncWorkersAI("acct", "tok", http_client=http, http_backend="httpx")
    assert info.value.message == (
        "pass http_client or http_backend, not both: the client you pass is used as is"
    )
    assert info.value.field == "http_backend"
    await http.aclose()


@pytest.mark.sync_only  # it chooses, it builds no client
async def test_every_choice_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKERSAI_ASYNC_HTTP", raising=False)
    async with httpx.AsyncClient() as http:
        assert choose_async_backend(None, http) == ("http_client", "an http_client was passed")
    assert choose_async_backend("httpx", None) == ("httpx", "the http_backend argument")
    assert choose_async_backend(None, None) == ("aiohttp", "httpx-aiohttp is installed")
    monkeypatch.setenv("WORKERSAI_ASYNC_HTTP", "httpx")
    assert choose_async_backend(None, None) == ("httpx", "WORKERSAI_ASYNC_HTTP")
    monkeypatch.delenv("WORKERSAI_ASYNC_HTTP")
    monkeypatch.setattr(_transport, "aiohttp_installed", lambda: False)
    assert choose_async_backend(None, None) == ("httpx", "httpx-aiohttp is not installed")


@pytest.mark.usefixtures("no_choice")
def test_the_choice_and_the_reason_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="workersai._transport"):
        AsyncWorkersAI("acct", "tok")
        AsyncWorkersAI("acct", "tok", http_backend="httpx")
    assert [r.getMessage() for r in caplog.records] == [
        "Async HTTP: aiohttp (httpx-aiohttp is installed)",
        "Async HTTP: httpx (the http_backend argument)",
    ]


def test_aiohttp_is_imported_only_when_an_async_client_is_used() -> None:
    code = (
        "import sys, workersai\n"
        "client = workersai.AsyncWorkersAI('acct', 'tok')\n"
        "print(client.http_backend, 'aiohttp' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "WORKERSAI_ASYNC_HTTP"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert done.stdout.split() == ["aiohttp", "False"]


# -- timeouts, really enforced -------------------------------------------------------------------


class ScriptedServer:
    """A loopback socket server that answers each request with a script of raw writes and
    pauses — what WorkersAIServer cannot do: stall after the headers, between events at
    chosen moments. Records each request's raw head."""

    def __init__(self) -> None:
        self.heads: list[bytes] = []
        self.scripts: list[list[bytes | float]] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}/client/v4"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            buffer = b""
            while not self._stop.is_set():
                try:
                    while b"\r\n\r\n" not in buffer:
                        data = conn.recv(65536)
                        if not data:
                            return
                        buffer += data
                    head, _, buffer = buffer.partition(b"\r\n\r\n")
                    length = 0
                    for line in head.split(b"\r\n")[1:]:
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value)
                    while len(buffer) < length:
                        buffer += conn.recv(65536)
                    buffer = buffer[length:]
                    self.heads.append(head)
                    script = self.scripts.pop(0) if self.scripts else [_json_reply(OK_BODY)]
                    for step in script:
                        if isinstance(step, float):
                            time.sleep(step)
                        else:
                            conn.sendall(step)
                except OSError:
                    return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()


OK_BODY = json.dumps({"result": {"response": "ok"}, "success": True}).encode()


def _json_reply(body: bytes, length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
        size,
        body,
    )


def _sse_head() -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    )


def _event(data: dict[str, Any] | str) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data)
    payload = f"data: {text}\n\n".encode()
    return b"%x\r\n%s\r\n" % (len(payload), payload)


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.close()


def test_a_stall_before_the_headers_is_a_read_timeout(kind: str, scripted: ScriptedServer) -> None:
    scripted.scripts = [[1.5, _json_reply(OK_BODY)]]
    client = make(kind, scripted.base_url, timeout=0.3, max_retries=0)
    start = time.monotonic()
    with pytest.raises(APITimeoutError, match="read timeout") as info:
        client.chat(LLAMA, USER)
    assert time.monotonic() - start < 1.2
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)


def test_a_stall_in_the_middle_of_a_body_is_a_read_timeout(
    kind: str, scripted: ScriptedServer
) -> None:
    # the headers and half the body at once, the rest after 1.5 s: past a 0.3 s read timeout
    half = len(OK_BODY) // 2
    scripted.scripts = [[_json_reply(OK_BODY[:half], len(OK_BODY)), 1.5, OK_BODY[half:]]]
    client = make(kind, scripted.base_url, timeout=0.3, max_retries=0)
    start = time.monotonic()
    with pytest.raises(APITimeoutError, match="read timeout"):
        client.chat(LLAMA, USER)
    assert time.monotonic() - start < 1.2


def test_a_stream_that_stalls_after_its_first_event_fails_loudly(
    kind: str, scripted: ScriptedServer
) -> None:
    scripted.scripts = [[_sse_head(), _event({"response": "Hel"}), 1.5, _event("[DONE]")]]
    client = make(kind, scripted.base_url, timeout=0.3, max_retries=2)
    chunks = []
    with pytest.raises(APITimeoutError, match="after events were delivered"):
        for chunk in client.stream_chat(LLAMA, USER):
            chunks.append(chunk)
    assert [c.text for c in chunks] == ["Hel"]
    assert len(scripted.heads) == 1  # never resent once an event was delivered


def test_there_is_no_total_timeout_a_stream_that_keeps_sending_is_not_cut(
    kind: str, scripted: ScriptedServer
) -> None:
    # eight events 0.15 s apart: 1.2 s in all, four times the 0.3 s read timeout
    script: list[bytes | float] = [_sse_head()]
    for index in range(8):
        script += [0.15, _event({"response": str(index)})]
    scripted.scripts = [[*script, _event("[DONE]"), b"0\r\n\r\n"]]
    client = make(kind, scripted.base_url, timeout=0.3, max_retries=0)
    text = "".join(c.text for c in client.stream_chat(LLAMA, USER))
    assert text == "01234567"


@pytest.fixture
def full_backlog() -> Iterator[str]:
    """A port whose accept queue is full: a connect there hangs (SYNs are dropped)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(filler)
    time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/client/v4"
    for filler in fillers:
        filler.close()
    listener.close()


def test_a_connect_that_hangs_is_a_connect_timeout_and_is_retried(
    kind: str, full_backlog: str
) -> None:
    timeout = httpx.Timeout(5.0, connect=0.2)
    client = make(kind, full_backlog, timeout=timeout, max_retries=1)
    start = time.monotonic()
    with pytest.raises(APITimeoutError, match="connect timeout") as info:
        client.chat(LLAMA, USER)
    assert time.monotonic() - start < 2.0
    assert info.value.retries_taken == 1
    assert isinstance(info.value.__cause__, httpx.ConnectTimeout)


# -- errors mapped by what they mean ---------------------------------------------------------------


def _key() -> Any:
    from aiohttp.client_reqrep import ConnectionKey

    return ConnectionKey("example.com", 443, True, True, None, None, None)


@pytest.mark.parametrize(
    ("error", "mapped"),
    [
        (aiohttp.ConnectionTimeoutError("connect"), httpx.ConnectTimeout),
        (aiohttp.SocketTimeoutError("read"), httpx.ReadTimeout),
        (aiohttp.ServerTimeoutError("read"), httpx.ReadTimeout),
        (aiohttp.ClientConnectorError(_key(), OSError(111, "refused")), httpx.ConnectError),
        (aiohttp.ServerDisconnectedError(), httpx.RemoteProtocolError),
        (aiohttp.ClientPayloadError("truncated"), httpx.RemoteProtocolError),
        (aiohttp.ClientOSError(104, "reset by peer"), httpx.ReadError),
        (aiohttp.ClientConnectionResetError("reset"), httpx.ReadError),
        (aiohttp.InvalidURL("ftp://x"), httpx.UnsupportedProtocol),
        (ConnectionResetError(104, "reset"), httpx.ReadError),
        (ValueError("not a transport error"), type(None)),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else "",
)
def test_aiohttp_errors_are_mapped_by_what_they_mean(error: Exception, mapped: type) -> None:
    # httpx-aiohttp 0.2 maps every ClientConnectionError (a reset after sending included) to
    # ConnectTimeout — "never sent" — which would let a Batch API submit be sent twice.
    assert type(to_httpx_error(error)) is mapped


def test_a_refused_connection_is_a_connect_error(kind: str) -> None:
    server = WorkersAIServer()
    url = server.base_url
    server.stop()
    client = make(kind, url, max_retries=1)
    with pytest.raises(APIConnectionError, match="ConnectError") as info:
        client.chat(LLAMA, USER)
    assert info.value.retries_taken == 1
    assert isinstance(info.value.__cause__, httpx.ConnectError)


def test_aiohttp_does_not_resend_a_get_by_itself(server: WorkersAIServer) -> None:
    # aiohttp resends an idempotent request once when a kept-alive connection drops; the
    # retry layer must see (and count) every attempt: with max_retries=0, one request.
    server.enqueue(OK, Reply.connection_reset(), OK)
    client = make("aiohttp", server.base_url, max_retries=0)
    assert client.model_schema(LLAMA) == {"response": "ok"}
    with pytest.raises(APIConnectionError):
        client.model_schema(LLAMA)  # the reset, on the kept-alive connection
    assert len(server.requests) == 2


# -- bodies ------------------------------------------------------------------------------------------


def test_gzip_bodies_are_decoded(kind: str, server: WorkersAIServer) -> None:
    body = json.dumps({"result": {"response": "compressed " * 50}, "success": True}).encode()
    headers = {"content-type": "application/json", "content-encoding": "gzip"}
    server.enqueue(Reply(200, headers, gzip.compress(body)))
    client = make(kind, server.base_url)
    assert client.chat(LLAMA, USER).text == "compressed " * 50
    assert "gzip" in server.requests[0].headers["accept-encoding"]


def test_binary_bodies_both_ways(kind: str, server: WorkersAIServer) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 400  # every byte value, 100 KB
    server.enqueue(Reply.binary(png))
    client = make(kind, server.base_url)
    assert client.run("@cf/stabilityai/stable-diffusion-xl-base-1.0", {"prompt": "x"}) == png
    audio = bytes(reversed(range(256))) * 300
    server.enqueue(Reply.result({"text": "heard"}))
    result = client.run("@cf/openai/whisper", audio, content_type="audio/mpeg", validate=False)
    assert result == {"text": "heard"}
    sent = server.requests[1]
    assert sent.body == audio and sent.headers["content-type"] == "audio/mpeg"


async def test_ten_thousand_texts_embed_in_order(engine: str, server: WorkersAIServer) -> None:
    server.handler = echo_answer
    client = aclient(engine, server.base_url)
    texts = [f"text number {i}" for i in range(10_000)]
    result = await client.embed(BGE, texts, batch_size=100, max_concurrency=8)
    assert result.vectors == [echo_vector(t) for t in texts]
    assert len(server.requests) == 100
    await client.aclose()


async def test_batch_api_polls_until_done(engine: str, server: WorkersAIServer) -> None:
    # per reference §7: submit and polls are POSTs to ?queueRequest=true; a poll is retried
    queued = {"status": "queued", "request_id": "job-1", "model": BGE}
    done = {"responses": [{"id": 0, "result": {"response": []}, "success": True}]}
    server.enqueue(
        Reply.result(queued), Reply.connection_reset(), Reply.result(queued), Reply.result(done)
    )
    client = aclient(engine, server.base_url)
    job = await client.batch.submit(BGE, [{"text": ["a"]}])
    polled = [await client.batch.poll(BGE, job.request_id) for _ in range(2)]
    assert [p.done for p in polled] == [False, True]
    assert all(r.query == {"queueRequest": "true"} for r in server.requests)
    assert [r.json() for r in server.requests[1:]] == [{"request_id": "job-1"}] * 3
    await client.aclose()


# -- cancellation, proxies, shutdown ------------------------------------------------------------------


async def test_a_cancelled_call_leaves_the_client_usable(
    engine: str, server: WorkersAIServer
) -> None:
    server.enqueue(Reply.stall(1.0), OK)
    client = aclient(engine, server.base_url)
    call = asyncio.ensure_future(client.chat(LLAMA, USER))
    await asyncio.sleep(0.2)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert (await client.chat(LLAMA, USER)).text == "ok"
    await client.aclose()


def test_a_proxy_from_the_environment_is_used(
    kind: str, server: WorkersAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.port}")
    server.enqueue(OK)
    client = make(kind, "http://workers-ai.invalid/client/v4")
    assert client.chat(LLAMA, USER).text == "ok"  # answered by the proxy: the loopback server
    assert server.requests[0].path == f"/client/v4/accounts/acct/ai/run/{LLAMA}"
    assert server.requests[0].headers["host"] == "workers-ai.invalid"
    if kind == "aiohttp":
        [pool] = client._target._transport._clients.values()
        mounts = list(pool._mounts.values())
        assert mounts and all(isinstance(mount, AiohttpEngine) for mount in mounts)


def test_asyncio_run_after_asyncio_run_leaves_nothing_unclosed(
    engine: str, server: WorkersAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.handler = echo_answer
    holder = [aclient(engine, server.base_url)]

    async def stream_and_chat() -> str:
        stream = await holder[0].stream_chat(LLAMA, USER)
        async with stream:
            async for _ in stream:
                break  # closed before its end: the connection is dropped, not pooled
        return (await holder[0].chat(LLAMA, USER)).text

    with caplog.at_level(logging.ERROR, logger="asyncio"), warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        assert [asyncio.run(stream_and_chat()) for _ in range(5)] == ["echo hi"] * 5
        holder.clear()
        gc.collect()
    assert caplog.records == []  # no "Unclosed client session", "Unclosed connector"...


# -- the request an owned pool sends ----------------------------------------------------------------


def _headers(head: bytes) -> list[tuple[str, str]]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return [(n.strip().lower(), v.strip()) for n, _, v in (line.partition(":") for line in lines)]


def test_each_header_is_sent_once_and_per_call_headers_win(
    kind: str, scripted: ScriptedServer
) -> None:
    listing = json.dumps({"result": [], "success": True}).encode()
    scripted.scripts = [[_json_reply(OK_BODY)], [_json_reply(OK_BODY)], [_json_reply(listing)]]
    client = make(kind, scripted.base_url, default_headers={"x-team": "search"})
    client.chat(LLAMA, USER)
    client.chat(LLAMA, USER, extra_headers={"Accept-Encoding": "identity", "X-Team": "ads"})
    client.list_models(max_pages=1, update_catalog=False)
    first, second, listing = (_headers(head) for head in scripted.heads)
    for sent in (first, second, listing):
        names = [name for name, _ in sent]
        assert len(names) == len(set(names)), names  # no header twice
    first_map, second_map, listing_map = dict(first), dict(second), dict(listing)
    assert first_map["host"] == scripted.base_url.split("/")[2]
    assert first_map["authorization"] == "Bearer tok"
    assert first_map["x-team"] == "search"
    assert "gzip" in first_map["accept-encoding"]
    assert int(first_map["content-length"]) == len(json.dumps({"messages": USER}).replace(" ", ""))
    assert second_map["accept-encoding"] == "identity" and second_map["x-team"] == "ads"
    assert "content-length" not in listing_map  # a GET has no body
    assert b"GET /client/v4/accounts/acct/ai/models/search?" in scripted.heads[2]


def test_settings_replaced_after_the_first_request_take_effect(
    kind: str, server: WorkersAIServer
) -> None:
    server.handler = lambda request: OK
    client = make(kind, server.base_url, session_affinity="first")
    client.chat(LLAMA, USER)
    target = client._target if kind != "sync" else client
    target.session_affinity = "second"
    target.gateway = GatewayOptions(id="gw", cache_ttl=60)
    client.chat(LLAMA, USER)
    first, second = (r.headers for r in server.requests)
    assert first["x-session-affinity"] == "first" and "cf-aig-gateway-id" not in first
    assert second["x-session-affinity"] == "second"
    assert second["cf-aig-gateway-id"] == "gw" and second["cf-aig-cache-ttl"] == "60"


def test_many_routes_stay_correct_and_bounded(kind: str, server: WorkersAIServer) -> None:
    server.handler = echo_answer
    client = make(kind, server.base_url)
    models = [f"@cf/test/model-{i}" for i in range(300)]
    for model in models:
        assert client.chat(model, [{"role": "user", "content": model}]).text == f"echo {model}"
    assert [r.model for r in server.requests] == models
    target = client._target if kind != "sync" else client
    pools: Callable[[], Any] = lambda: target._transport.client  # noqa: E731
    if kind != "sync":
        pools = lambda: next(iter(target._transport._clients.values()))  # noqa: E731
    assert len(pools().routes._routes) <= 256


# -- the aiohttp engine's connection slots ----------------------------------------------------------


async def test_past_the_connection_limit_requests_wait_within_the_pool_timeout(
    server: WorkersAIServer,
) -> None:
    engine = AiohttpEngine(limits=httpx.Limits(max_connections=1))
    url = f"{server.base_url}/accounts/acct/ai/run/{LLAMA}"
    server.enqueue(Reply.stall(0.6), OK, OK)
    async with httpx.AsyncClient(transport=engine) as http:
        slow = asyncio.ensure_future(http.post(url, content=b"{}"))
        await asyncio.sleep(0.1)
        with pytest.raises(httpx.PoolTimeout):  # the one slot is taken for 0.6 s
            await http.post(url, content=b"{}", timeout=httpx.Timeout(5.0, pool=0.2))
        assert (await slow).status_code == 200
        # the slot came back when the body was read: the next request gets it
        response = await http.post(url, content=b"{}", timeout=httpx.Timeout(5.0, pool=0.2))
        assert response.json()["result"] == {"response": "ok"}
    assert len(server.requests) == 2  # the request that timed out in the queue was never sent


async def test_a_failed_request_gives_its_connection_slot_back() -> None:
    refused = WorkersAIServer()
    url = f"{refused.base_url}/accounts/acct/ai/run/{LLAMA}"
    refused.stop()
    engine = AiohttpEngine(limits=httpx.Limits(max_connections=1))
    async with httpx.AsyncClient(transport=engine, timeout=httpx.Timeout(5.0, pool=0.2)) as http:
        for _ in range(3):  # a leaked slot would turn the second into a PoolTimeout
            with pytest.raises(httpx.ConnectError):
                await http.post(url, content=b"{}")


def test_a_small_body_holds_its_own_size_not_a_json_buffer() -> None:
    # orjson's bytes keep the 4 KiB buffer they were written in; a request body lives as long
    # as its request (retries, calls queued behind the connection limit).
    import tracemalloc

    client = WorkersAI("acct", "tok", base_url="http://127.0.0.1:9/client/v4")
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        bodies = [
            client._prepare("POST", f"run/{LLAMA}", json_body={"prompt": f"p{i}"}).content
            for i in range(500)
        ]
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert all(body is not None and len(body) < 30 for body in bodies)
    assert held < 500 * 1024  # ~100 bytes a body, not 4 KiB


def test_without_httpx_aiohttp_importable_the_httpx_pool_is_chosen() -> None:
    # httpx-aiohttp not installed (its import blocked): nothing fails, httpx's pool is used
    code = (
        "import sys\n"
        "sys.modules['httpx_aiohttp'] = None\n"
        "import workersai\n"
        "print(workersai.AsyncWorkersAI('acct', 'tok').http_backend, 'aiohttp' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "WORKERSAI_ASYNC_HTTP"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert done.stdout.split() == ["httpx", "False"]
