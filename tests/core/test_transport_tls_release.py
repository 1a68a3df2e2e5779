"""The sockets of an async client whose event loop was closed without ``aclose()`` are released
(``_abandon``), on both async engines: over TLS too, and in every pool of the client — the
direct one and those of proxy mounts.

A loop closed without its normal shutdown (``loop.close()`` with no ``shutdown_asyncgens()``)
can run nothing, so the client cannot ``aclose()`` there: ``workersai._transport`` finds the
asyncio socket transport under each pooled connection and closes it directly. Under TLS the
layers differ by engine — httpx's anyio pool does TLS in memory over a plain socket transport
(``AnyIOStream`` → anyio ``TLSStream.transport_stream`` → ``SocketStream._transport``), aiohttp
uses asyncio's TLS transport, which wraps the socket's (``_ssl_protocol._transport``) — and a
connection left open is a descriptor leaked until the process ends ("unclosed transport" at
best, when the collector finds it).

Each test keeps the abandoned client referenced while it checks the server's side, so the
sockets it sees closed were released, not collected; and a dropped client is released by its
own ``__del__`` at once (no reference cycle leaves it to the cyclic collector, which may
finalise its socket transports first: "unclosed transport"). Through a forward proxy (an
``http://`` URL) httpx's pool holds one connection layer more, released too.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import trustme

from tests.conftest import LOOPBACK
from workersai import AsyncWorkersAI, RetryPolicy, _transport
from workersai._aiohttp import AiohttpEngine
from workersai._transport import AsyncTransport, PreparedRequest

pytestmark = [LOOPBACK]

LLAMA = "@cf/meta/llama-3.1-8b-instruct-fast"
USER = [{"role": "user", "content": "hi"}]
FAST = RetryPolicy(initial_delay=0.001, max_delay=0.01)
ENGINES = ["aiohttp", "httpx"]
# The success envelope around a classic chat result (per reference §1.2 and §3.2)
ANSWER = b'{"result": {"response": "ok"}, "success": true, "errors": [], "messages": []}'


class _LoopbackServer:
    """An HTTP/1.1 keep-alive server on 127.0.0.1 (over TLS when given a context) answering
    every request — direct or as a forward proxy — with :data:`ANSWER`, and recording which of
    its connections the client closed."""

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self._context = context
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._lock = threading.Condition()
        self._sockets: list[socket.socket] = []
        self.closed: list[bool] = []  # per accepted connection, in order
        self.requests: list[str] = []  # request lines ("POST http://host/path HTTP/1.1")
        self.handshakes = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        return f"{'https' if self._context else 'http'}://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # stopped
            with self._lock:
                index = len(self.closed)
                self.closed.append(False)
                self._sockets.append(conn)
            threading.Thread(target=self._serve, args=(conn, index), daemon=True).start()

    def _serve(self, conn: socket.socket, index: int) -> None:
        stream: socket.socket = conn
        try:
            conn.settimeout(30)
            if self._context is not None:
                stream = self._context.wrap_socket(conn, server_side=True)
                with self._lock:
                    self.handshakes += 1
            buffer = b""
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = stream.recv(65536)
                    if not data:
                        return  # the client closed the connection
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                length = next(
                    (
                        int(v)
                        for n, _, v in (x.partition(":") for x in lines[1:])
                        if n.strip().lower() == "content-length"
                    ),
                    0,
                )
                while len(buffer) < length:
                    data = stream.recv(65536)
                    if not data:
                        return
                    buffer += data
                buffer = buffer[length:]
                with self._lock:
                    self.requests.append(lines[0])
                stream.sendall(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    + f"content-length: {len(ANSWER)}\r\n\r\n".encode()
                    + ANSWER
                )
        except OSError:  # reset, TLS EOF, timeout: closed too
            return
        finally:
            stream.close()
            with self._lock:
                self.closed[index] = True
                self._lock.notify_all()

    def wait_closed(self, indexes: list[int], timeout: float = 5.0) -> bool:
        """Whether the client closed each of these connections (within ``timeout``)."""
        with self._lock:
            return self._lock.wait_for(lambda: all(self.closed[i] for i in indexes), timeout)

    def stop(self) -> None:
        self._listener.close()
        with self._lock:
            for conn in self._sockets:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@pytest.fixture(autouse=True)
def _earlier_garbage_collected() -> None:
    """Collect what earlier tests left behind first: its warnings are not this test's."""
    gc.collect()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A throwaway certificate authority, made for this run (nothing is stored)."""
    return trustme.CA()


@pytest.fixture
def tls_server(ca: trustme.CA) -> Iterator[_LoopbackServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = _LoopbackServer(context)
    yield server
    server.stop()


@pytest.fixture
def plain_server() -> Iterator[_LoopbackServer]:
    server = _LoopbackServer()
    yield server
    server.stop()


@pytest.fixture
def trusting_pools(ca: trustme.CA, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pools the transport creates verify certificates against the test CA."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    monkeypatch.setattr(_transport, "ssl_context", lambda: context)


@pytest.fixture
def abandoned(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The id of every client ``_abandon`` was called with (it still does its work; ids, so
    that recording a client does not keep it from being collected)."""
    calls: list[int] = []
    real = _transport._abandon

    def recording(client: Any) -> None:
        calls.append(id(client))
        real(client)

    monkeypatch.setattr(_transport, "_abandon", recording)
    return calls


def _on_a_bare_loop(coro: Any) -> Any:
    """Run ``coro`` on a loop then close it the abrupt way: no ``shutdown_asyncgens()``, so
    nothing closes the loop's client (unlike ``asyncio.run``)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def _resource_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


# -- TLS ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("trusting_pools")
@pytest.mark.parametrize("engine", ENGINES)
def test_the_next_lookup_releases_the_tls_sockets_of_a_closed_loop(
    engine: str, tls_server: _LoopbackServer, abandoned: list[int]
) -> None:
    client = AsyncWorkersAI(
        "acct", "tok", base_url=f"{tls_server.url}/client/v4", http_backend=engine,
        retry_policy=FAST,
    )  # fmt: skip
    assert _on_a_bare_loop(client.chat(LLAMA, USER)).text == "ok"
    [old] = client._transport._clients.values()  # held: only a release can close its socket
    assert tls_server.handshakes == 1 and tls_server.closed == [False]

    errors: list[dict[str, Any]] = []

    async def next_call() -> str:
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: errors.append(ctx))
        return (await client.chat(LLAMA, USER)).text

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        assert asyncio.run(next_call()) == "ok"  # its lookup drops the dead loop's client
        assert tls_server.wait_closed([0])  # the first loop's TLS connection, released
        assert abandoned == [id(old)]
        del old
        gc.collect()  # collecting the released client neither releases it again nor warns
    assert len(abandoned) == 1
    assert _resource_warnings(caught) == []
    assert errors == []
    assert tls_server.wait_closed([0, 1])  # the second loop's, by asyncio.run's own close
    assert len(tls_server.requests) == 2


@pytest.mark.usefixtures("trusting_pools")
@pytest.mark.parametrize("engine", ENGINES)
def test_a_collected_client_releases_the_tls_sockets_of_its_closed_loop(
    engine: str, tls_server: _LoopbackServer, abandoned: list[int]
) -> None:
    holder = [
        AsyncWorkersAI(
            "acct", "tok", base_url=f"{tls_server.url}/client/v4", http_backend=engine,
            retry_policy=FAST,
        )
    ]  # fmt: skip
    for _ in range(3):  # three loops, three connections, each released at the next lookup
        assert _on_a_bare_loop(holder[0].chat(LLAMA, USER)).text == "ok"
    assert tls_server.handshakes == 3
    assert tls_server.wait_closed([0, 1])
    assert tls_server.closed[2] is False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        gc.disable()  # released when its last reference goes, not by the cyclic collector,
        try:  # which finalises garbage in no set order (sockets before the client)
            holder.clear()  # the last loop's client goes with it
            assert tls_server.wait_closed([2])
        finally:
            gc.enable()
        gc.collect()
    assert len(abandoned) == 3
    assert _resource_warnings(caught) == []


# -- every pool of the client: the direct one and the proxy mounts -----------------------------


def _request(url: str) -> PreparedRequest:
    return PreparedRequest(
        method="POST",
        url=url,
        headers={"content-type": "application/json"},
        content=b"{}",
        params=None,
        timeout=httpx.Timeout(10.0),
        max_retries=0,
        model=None,
        label=f"POST {url}",
    )


@pytest.fixture
def proxy_env(plain_server: _LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Plain-HTTP URLs go through the loopback server as a proxy, but 127.0.0.1 itself is
    reached directly (NO_PROXY: httpx mounts ``None`` for it, a mount that is no pool)."""
    for name in ("ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy", "http_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", plain_server.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")


@pytest.mark.usefixtures("proxy_env")
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("release", ["next lookup", "aclose", "collection"])
def test_a_closed_loop_releases_the_sockets_of_every_pool_including_proxy_mounts(
    engine: str, release: str, plain_server: _LoopbackServer, abandoned: list[int]
) -> None:
    transport = AsyncTransport(http_backend=engine, retry_policy=FAST)  # type: ignore[arg-type]
    direct = _request(f"{plain_server.url}/direct")
    proxied = _request("http://proxied.invalid/through-the-proxy")

    async def both() -> None:
        await transport.request(direct)
        await transport.request(proxied)

    _on_a_bare_loop(both())
    assert plain_server.requests == [
        "POST /direct HTTP/1.1",
        "POST http://proxied.invalid/through-the-proxy HTTP/1.1",
    ]
    [old] = transport._clients.values()
    mounts = list(old._mounts.values())
    assert None in mounts  # the NO_PROXY mount: not a pool, skipped without stopping the walk
    engine_type: type = AiohttpEngine if engine == "aiohttp" else httpx.AsyncHTTPTransport
    assert isinstance(old._transport, engine_type)
    assert any(isinstance(m, engine_type) for m in mounts)
    assert plain_server.closed == [False, False]  # one connection per pool, both kept alive

    held = [old]  # only a release can close the sockets while the client is held
    del old
    errors: list[dict[str, Any]] = []

    async def release_now() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: errors.append(ctx))
        if release == "next lookup":
            await transport.request(direct)
        else:
            await transport.aclose()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        if release == "collection":
            transport._clients.clear()  # the transport lets it go: the client is dropped
            gc.disable()  # released by its own __del__ at once, not by the cyclic collector
            try:
                held.clear()
                assert plain_server.wait_closed([0, 1])
            finally:
                gc.enable()
        else:
            asyncio.run(release_now())
        assert plain_server.wait_closed([0, 1])  # the direct pool's and the proxy pool's
        assert len(abandoned) == 1
        held.clear()
        gc.collect()  # collecting a released client releases nothing twice, warns of nothing
    assert len(abandoned) == 1
    assert _resource_warnings(caught) == []
    assert errors == []


# -- a loop closed while a connection was still being opened -----------------------------------


@pytest.mark.usefixtures("trusting_pools")
def test_a_loop_closed_mid_connect_leaves_the_next_call_working(
    tls_server: _LoopbackServer,
) -> None:
    # The first loop is closed while its call still waits for a TLS handshake that never
    # comes: httpx's pool holds a connection with no network stream yet, which the release
    # of that loop's client must skip (not fail on) at the next call's lookup. (aiohttp's
    # pool only holds connections once open; and its pending call, collected on a closed
    # loop, fails to clean up — an "Event loop is closed" of aiohttp's own.)
    engine = "httpx"
    silent = socket.create_server(("127.0.0.1", 0))  # accepts (backlog), never answers
    client = AsyncWorkersAI(
        "acct", "tok", base_url=f"https://127.0.0.1:{silent.getsockname()[1]}/client/v4",
        http_backend=engine, retry_policy=FAST,
    )  # fmt: skip
    loop = asyncio.new_event_loop()
    try:
        pending = loop.create_task(client.chat(LLAMA, USER))
        loop.run_until_complete(asyncio.sleep(0.3))
        assert not pending.done()  # still opening its connection
    finally:
        loop.close()
    [old] = client._transport._clients.values()
    [connection] = old._transport._pool._connections
    assert connection._connection is None  # in the pool, without a network stream yet
    del old, connection
    client.base_url = f"{tls_server.url}/client/v4"
    with warnings.catch_warnings():
        # the pending call's own socket is not in any pool yet: asyncio reports it when the
        # task is collected ("Task was destroyed but it is pending!"), as for any task a
        # closed loop left behind
        warnings.simplefilter("ignore", ResourceWarning)
        assert asyncio.run(client.chat(LLAMA, USER)).text == "ok"
        del pending, loop
        gc.collect()
    silent.close()
    assert len(client._transport._clients) == 1


# -- a client dropped while its own loop runs --------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_a_client_dropped_inside_its_running_loop_is_closed_there_cleanly(
    engine: str, plain_server: _LoopbackServer, abandoned: list[int]
) -> None:
    # Its loop can still run an aclose(): that is what happens (no socket is torn down under
    # the running loop, which would then fail on the transports it still schedules for).
    errors: list[dict[str, Any]] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: errors.append(ctx))
        holder = [
            AsyncWorkersAI(
                "acct", "tok", base_url=f"{plain_server.url}/client/v4", http_backend=engine,
                retry_policy=FAST,
            )
        ]  # fmt: skip
        assert (await holder[0].chat(LLAMA, USER)).text == "ok"
        holder.clear()  # dropped without aclose(), its loop running
        for _ in range(10):
            await asyncio.sleep(0.01)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        asyncio.run(main())
        gc.collect()
    assert plain_server.wait_closed([0])
    assert abandoned == []  # closed on its loop, not released from outside
    assert errors == []
    assert _resource_warnings(caught) == []


@pytest.mark.parametrize("engine", ENGINES)
def test_a_client_dropped_from_another_thread_is_closed_on_its_loop(
    engine: str, plain_server: _LoopbackServer, abandoned: list[int]
) -> None:
    # Its loop idles in another thread: the close must be handed to that loop thread-safely
    # (which also wakes it), not started from this thread, where the idle loop never sees it.
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    holder = [
        AsyncWorkersAI(
            "acct", "tok", base_url=f"{plain_server.url}/client/v4", http_backend=engine,
            retry_policy=FAST,
        )
    ]  # fmt: skip
    try:
        call = asyncio.run_coroutine_threadsafe(holder[0].chat(LLAMA, USER), loop)
        assert call.result(timeout=10).text == "ok"
        del call
        time.sleep(0.1)  # the loop thread has let go of the finished call (and its client)
        gc.disable()  # this thread drops the last reference, not a collection in the loop's
        try:
            holder.clear()
        finally:
            gc.enable()
        assert plain_server.wait_closed([0])  # closed by its own loop, woken for it
        assert abandoned == []
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
