"""A user-supplied ``http_client`` gets the whole request — headers, query, timeout — and a
stream through it is read as it arrives, on the sync and the async client; and every attempt
of a request is logged at DEBUG by its label.

Requests on pools the package creates skip httpx's per-call machinery
(``workersai._transport._Routes``); a client the user passes goes through its own
``build_request``/``send`` instead (its hooks, auth and cookies apply), so that second path
needs its own checks.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import LOOPBACK
from workersai import AsyncWorkersAI, InvalidInputError, RetryPolicy, WorkersAI
from workersai.testing import Reply, WorkersAIServer, sse_body

pytestmark = [LOOPBACK]

LLAMA = "@cf/meta/llama-3.1-8b-instruct-fast"
USER = [{"role": "user", "content": "hi"}]
FAST = RetryPolicy(initial_delay=0.001, max_delay=0.01)
OK = Reply.result({"response": "ok"})


def _sync(base_url: str, **kwargs: Any) -> tuple[WorkersAI, httpx.Client]:
    http = httpx.Client()
    return WorkersAI("acct", "tok", base_url=base_url, http_client=http, **kwargs), http


def _async(base_url: str, **kwargs: Any) -> tuple[AsyncWorkersAI, httpx.AsyncClient]:
    http = httpx.AsyncClient()
    client = AsyncWorkersAI("acct", "tok", base_url=base_url, http_client=http, **kwargs)
    return client, http


# -- the request ----------------------------------------------------------------------------


def _check_request(server: WorkersAIServer) -> None:
    [request] = server.requests
    assert request.path == f"/client/v4/accounts/acct/ai/run/{LLAMA}"
    # binding options such as queueRequest travel as query parameters (per reference §1.2)
    assert request.query == {"queueRequest": "true"}
    assert request.headers["authorization"] == "Bearer tok"  # per reference §1.1
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-team"] == "search"
    assert request.json() == {"prompt": "hi"}


def test_a_user_http_client_sends_the_headers_and_the_query(server: WorkersAIServer) -> None:
    server.enqueue(OK)
    client, http = _sync(server.base_url, retry_policy=FAST)
    with http:
        result = client.run(
            LLAMA, {"prompt": "hi"}, query={"queueRequest": "true"}, headers={"x-team": "search"}
        )
    assert result == {"response": "ok"}
    _check_request(server)


async def test_an_async_user_http_client_sends_the_headers_and_the_query(
    server: WorkersAIServer,
) -> None:
    server.enqueue(OK)
    client, http = _async(server.base_url, retry_policy=FAST)
    async with http:
        result = await client.run(
            LLAMA, {"prompt": "hi"}, query={"queueRequest": "true"}, headers={"x-team": "search"}
        )
    assert result == {"response": "ok"}
    _check_request(server)


# -- a stream is read as it arrives ------------------------------------------------------------


class _GatedStream:
    """A loopback server answering one stream request: the first event, then — only once the
    test opens the gate (after the caller got that event), or after ``wait`` seconds — the
    rest. ``gate_was_open`` says which: a client that buffers the whole body before handing
    out its first event never opens the gate."""

    FIRST = sse_body([{"response": "Hel"}], done=False)  # per reference §3.3
    REST = sse_body([{"response": "lo"}])

    def __init__(self, wait: float = 5.0) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._wait = wait
        self.gate = threading.Event()
        self.gate_was_open: bool | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/client/v4"

    @staticmethod
    def _chunk(data: bytes) -> bytes:
        return f"{len(data):x}\r\n".encode() + data + b"\r\n"

    def _serve(self) -> None:
        conn, _ = self._listener.accept()
        with conn:
            conn.settimeout(10)
            head = b""
            while b"\r\n\r\n" not in head:
                head += conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                b"transfer-encoding: chunked\r\n\r\n" + self._chunk(self.FIRST)
            )
            self.gate_was_open = self.gate.wait(self._wait)
            conn.sendall(self._chunk(self.REST) + b"0\r\n\r\n")

    def close(self) -> None:
        self._thread.join(timeout=10)
        self._listener.close()


@pytest.fixture
def gated() -> Iterator[_GatedStream]:
    server = _GatedStream()
    yield server
    server.close()


def test_a_stream_through_a_user_http_client_is_read_as_it_arrives(gated: _GatedStream) -> None:
    client, http = _sync(gated.base_url, retry_policy=FAST)
    texts = []
    with http, client.stream_chat(LLAMA, USER) as stream:
        for chunk in stream:
            if chunk.text:
                texts.append(chunk.text)
                gated.gate.set()
    assert texts == ["Hel", "lo"]
    assert gated.gate_was_open is True  # "Hel" reached the caller before "lo" was sent


async def test_an_async_stream_through_a_user_http_client_is_read_as_it_arrives(
    gated: _GatedStream,
) -> None:
    client, http = _async(gated.base_url, retry_policy=FAST)
    texts = []
    async with http:
        stream = await client.stream_chat(LLAMA, USER)
        async with stream:
            async for chunk in stream:
                if chunk.text:
                    texts.append(chunk.text)
                    gated.gate.set()
    assert texts == ["Hel", "lo"]
    assert gated.gate_was_open is True


# -- every attempt is logged --------------------------------------------------------------------


def _attempts(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "workersai._transport"
        and r.levelno == logging.DEBUG
        and not r.getMessage().startswith("Async HTTP:")  # the engine chosen, at construction
    ]


@pytest.mark.parametrize("user_client", [False, True], ids=["owned pool", "user http_client"])
def test_each_attempt_is_logged_at_debug_by_its_label(
    server: WorkersAIServer, caplog: pytest.LogCaptureFixture, user_client: bool
) -> None:
    server.enqueue(Reply.error(429, 3040, "Capacity temporarily exceeded, please try again."), OK)
    if user_client:
        client, http = _sync(server.base_url, retry_policy=FAST)
    else:
        client, http = WorkersAI("acct", "tok", base_url=server.base_url, retry_policy=FAST), None
    with caplog.at_level(logging.DEBUG, logger="workersai._transport"):
        assert client.chat(LLAMA, USER).text == "ok"
    # the label names the route, never the account id (nor, of course, the token)
    assert _attempts(caplog) == [f"POST /ai/run/{LLAMA}"] * 2
    if http is not None:
        http.close()


@pytest.mark.parametrize("user_client", [False, True], ids=["owned pool", "user http_client"])
def test_each_async_attempt_is_logged_at_debug_by_its_label(
    server: WorkersAIServer, caplog: pytest.LogCaptureFixture, user_client: bool
) -> None:
    server.enqueue(Reply.error(429, 3040, "Capacity temporarily exceeded, please try again."), OK)

    async def main() -> str:
        if user_client:
            client, http = _async(server.base_url, retry_policy=FAST)
            async with http:
                return (await client.chat(LLAMA, USER)).text
        client = AsyncWorkersAI("acct", "tok", base_url=server.base_url, retry_policy=FAST)
        try:
            return (await client.chat(LLAMA, USER)).text
        finally:
            await client.aclose()

    with caplog.at_level(logging.DEBUG, logger="workersai._transport"):
        assert asyncio.run(main()) == "ok"
    assert _attempts(caplog) == [f"POST /ai/run/{LLAMA}"] * 2


# -- a wrong object is refused, naming what is expected -----------------------------------------


async def test_a_wrong_http_client_or_retry_policy_is_refused_by_what_is_expected() -> None:
    cases: list[tuple[Any, dict[str, Any], str]] = [
        (WorkersAI, {"http_client": httpx.AsyncClient()}, "an httpx.Client, not AsyncClient"),
        (AsyncWorkersAI, {"http_client": httpx.Client()}, "an httpx.AsyncClient, not Client"),
        (WorkersAI, {"retry_policy": {"initial_delay": 1}}, "a RetryPolicy, not dict"),
        (AsyncWorkersAI, {"retry_policy": {"initial_delay": 1}}, "a RetryPolicy, not dict"),
    ]
    for flavour, kwargs, expected in cases:
        with pytest.raises(InvalidInputError) as info:
            flavour("acct", "tok", **kwargs)
        [(field, value)] = kwargs.items()
        assert info.value.message == f"{field} must be {expected}"
        assert info.value.field == field
        if isinstance(value, (httpx.Client, httpx.AsyncClient)):
            await value.aclose() if isinstance(value, httpx.AsyncClient) else value.close()


# -- a transport given to an owned pool wins over the engine -----------------------------------


def test_a_transport_given_to_an_owned_async_pool_is_used_instead_of_the_engine() -> None:
    from workersai._transport import _OwnedAsyncClient

    given = httpx.MockTransport(lambda request: httpx.Response(204))
    built: list[dict[str, Any]] = []

    def engine(**kwargs: Any) -> httpx.AsyncBaseTransport:
        built.append(kwargs)
        return httpx.AsyncHTTPTransport()

    async def main() -> None:
        client = _OwnedAsyncClient(asyncio.get_running_loop(), engine, transport=given)
        assert client._transport is given
        await client.aclose()

    asyncio.run(main())
    assert built == []  # the engine built nothing: the given transport serves the client


# -- the default timeout is not rebuilt per request ----------------------------------------------


def _recording(transport: Any, method: str) -> list[dict[str, Any]]:
    """The timeout extension of every request ``transport`` handles from now on."""
    seen: list[dict[str, Any]] = []
    real = getattr(transport, method)

    def handle(request: httpx.Request) -> Any:
        seen.append(request.extensions["timeout"])
        return real(request)

    setattr(transport, method, handle)
    return seen


def test_requests_on_the_default_timeout_share_one_timeout_mapping(
    server: WorkersAIServer,
) -> None:
    # An owned pool's request costs a copy of its headers and a Content-Length: the default
    # timeout's mapping is built once per client, and only a per-call timeout builds its own.
    server.handler = lambda request: OK
    client = WorkersAI("acct", "tok", base_url=server.base_url, timeout=30.0)
    seen = _recording(client._transport.client._transport, "handle_request")
    client.chat(LLAMA, USER)
    client.chat(LLAMA, USER)
    client.chat(LLAMA, USER, timeout=7.0)
    assert seen[0] is seen[1]
    assert seen[0] == {"connect": 5.0, "read": 30.0, "write": 30.0, "pool": 30.0}
    assert seen[2] == {"connect": 5.0, "read": 7.0, "write": 7.0, "pool": 7.0}
    client.close()


@pytest.mark.parametrize("engine", ["aiohttp", "httpx"])
async def test_async_requests_on_the_default_timeout_share_one_timeout_mapping(
    engine: str, server: WorkersAIServer
) -> None:
    server.handler = lambda request: OK
    client = AsyncWorkersAI(
        "acct", "tok", base_url=server.base_url, timeout=30.0, http_backend=engine,  # type: ignore[arg-type]
    )  # fmt: skip
    await client.chat(LLAMA, USER)  # the pool exists from here on
    [pool] = client._transport._clients.values()
    seen = _recording(pool._transport, "handle_async_request")
    await client.chat(LLAMA, USER)
    await client.chat(LLAMA, USER)
    await client.chat(LLAMA, USER, timeout=7.0)
    assert seen[0] is seen[1]
    assert seen[0] == {"connect": 5.0, "read": 30.0, "write": 30.0, "pool": 30.0}
    assert seen[2] == {"connect": 5.0, "read": 7.0, "write": 7.0, "pool": 7.0}
    await client.aclose()


def test_an_owned_async_pool_of_httpx_gets_the_limits_it_is_given() -> None:
    from workersai._transport import _OwnedAsyncClient

    limits = httpx.Limits(max_connections=7, max_keepalive_connections=5)

    async def main() -> tuple[int, int]:
        client = _OwnedAsyncClient(asyncio.get_running_loop(), None, limits=limits)
        pool = client._transport._pool  # type: ignore[attr-defined]
        await client.aclose()
        return pool._max_connections, pool._max_keepalive_connections

    assert asyncio.run(main()) == (7, 5)
