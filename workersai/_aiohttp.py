"""The aiohttp engine of the async transport, through ``httpx-aiohttp``.

httpx's own async pool (httpcore on anyio) is the bottleneck of a busy event loop; aiohttp's
connector is several times faster. ``httpx-aiohttp`` puts aiohttp under an
``httpx.AsyncClient``, so the rest of the package keeps its httpx types (requests, responses,
headers, timeouts, exceptions). :class:`AiohttpEngine` is its ``AiohttpTransport`` with what
the package's promises need on top:

* **Exceptions.** httpx-aiohttp 0.2 maps every ``aiohttp.ClientConnectionError`` to
  ``httpx.ConnectTimeout`` — a refused connection, a reset after the request was sent and a
  server that hung up before answering all look like "could not connect". The retry layer
  needs the difference (a Batch API submit is resent only when it surely never arrived), so
  every aiohttp error is mapped here by what it means: connect errors and connect/pool
  timeouts → ``ConnectError`` / ``ConnectTimeout``; read timeouts → ``ReadTimeout``; a
  server that hung up, a truncated or malformed answer → ``RemoteProtocolError``; any other
  connection failure → ``ReadError``. Reading a body maps the same way.
* **Timeouts.** httpx's ``connect`` becomes aiohttp's ``sock_connect``, ``read`` its
  ``sock_read`` (before the headers and between body chunks, as in httpx), ``pool`` its
  ``connect`` (waiting for a pooled connection plus connecting); there is no total timeout,
  as in httpx, so a long stream that keeps sending is never cut. aiohttp has no write
  timeout.
* **One retry layer.** aiohttp resends an idempotent request once by itself when a kept-alive
  connection was closed under it; that is switched off, so every attempt is counted (and
  logged) by :mod:`workersai._transport`.
* **Connection slots.** Requests past the connection limit wait in a queue of the engine's
  own (within httpx's ``pool`` timeout, as ``PoolTimeout``) before aiohttp builds anything
  for them: a thousand queued calls cost a few hundred bytes each, not aiohttp's ~4 KiB.
* **Closing.** A session is bound to the event loop it was created on (lazily, at the first
  request). :meth:`AiohttpEngine.aclose` closes it on that loop; when the loop is gone,
  :meth:`AiohttpEngine.open_transports` and :meth:`AiohttpEngine.forget` let the transport
  release the sockets directly and mark the session closed, so no "Unclosed client session"
  or "Unclosed connector" warning follows.

This module imports aiohttp: it is only imported once an async client is about to use it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import httpx
import httpx_aiohttp

__all__ = ["AiohttpEngine", "to_httpx_error"]


def to_httpx_error(exc: BaseException) -> httpx.TransportError | None:
    """The httpx exception meaning what aiohttp's ``exc`` means; ``None`` if it is not a
    transport failure."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message)  # connecting, or waiting for the pool
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):  # Socket/ServerTimeoutError
        return httpx.ReadTimeout(message)
    if isinstance(exc, (aiohttp.ClientProxyConnectionError, aiohttp.ClientHttpProxyError)):
        return httpx.ProxyError(message)
    if isinstance(exc, (aiohttp.ClientConnectorError, aiohttp.ServerFingerprintMismatch)):
        # refused, DNS, TLS handshake or certificate: the request never left
        return httpx.ConnectError(message)
    if isinstance(exc, (aiohttp.NonHttpUrlClientError, aiohttp.InvalidURL)):
        return httpx.UnsupportedProtocol(message)
    if isinstance(
        exc,
        (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientResponseError),
    ):
        return httpx.RemoteProtocolError(message)
    if isinstance(exc, (aiohttp.ClientError, OSError)):  # reset, broken pipe...
        return httpx.ReadError(message)
    return None


@contextmanager
def _mapped() -> Iterator[None]:
    try:
        yield
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        mapped = to_httpx_error(exc)
        if mapped is None:  # pragma: no cover - to_httpx_error maps all three
            raise
        raise mapped from exc


class _Body(httpx.AsyncByteStream):
    """The body of an aiohttp response, chunk by chunk as it arrives (an iterator object,
    not one more async generator between the socket and the reader). Closing it gives
    the engine's connection slot back."""

    def __init__(self, response: aiohttp.ClientResponse, release: Callable[[], None]) -> None:
        self._response = response
        self._release: Callable[[], None] | None = release

    def __aiter__(self) -> _Body:
        return self

    async def __anext__(self) -> bytes:
        with _mapped():
            chunk = await self._response.content.readany()
        if not chunk:
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        release, self._release = self._release, None
        try:
            # Back to the pool when the body was read to its end, closed otherwise.
            with _mapped():
                await self._response.__aexit__(None, None, None)
        finally:
            if release is not None:
                release()


class AiohttpEngine(httpx_aiohttp.AiohttpTransport):
    """An ``httpx.AsyncBaseTransport`` over one ``aiohttp.ClientSession`` (see the module
    docstring for what it adds to httpx-aiohttp).

    httpx-aiohttp provides the settings (TLS context from ``verify``, proxy, limits), the
    lazily created session and its closing; sending is done here, because what needs
    fixing is there: the exception mapping, and the response headers — read from
    ``raw_headers`` only, they come back empty from aiohttp look-alikes such as vcrpy's
    cassette player, which fill ``headers`` alone.
    """

    def __init__(
        self,
        *,
        verify: Any = True,
        trust_env: bool = True,
        limits: httpx.Limits,
        proxy: httpx.Proxy | None = None,
    ) -> None:
        super().__init__(
            verify=verify, trust_env=trust_env, limits=limits, proxy=proxy, client=self._session
        )
        # Requests past the connection limit wait here, before aiohttp builds anything for
        # them (~4 KiB each in its own queue): a thousand queued streams cost 4 MiB less.
        self._slots = asyncio.Semaphore(limits.max_connections or 2**30)

    def _session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self.limits.max_connections or 0,
            keepalive_timeout=self.limits.keepalive_expiry,
            ssl=self.ssl_context,
        )
        # Proxies come from httpx (its mounts honour HTTP(S)_PROXY and NO_PROXY), bodies
        # are decoded by httpx (gzip, deflate, zstd), as on the httpx transport.
        session = aiohttp.ClientSession(connector=connector, trust_env=False)
        # aiohttp would resend a GET on a stale kept-alive connection by itself, invisibly
        # to the retry layer (and to its count); the package has one retry layer.
        if hasattr(session, "_retry_connection"):
            session._retry_connection = False
        return session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        timeout = request.extensions.get("timeout") or {}
        await self._acquire(timeout.get("pool"))
        try:
            response = await self._send(request, timeout)
        except BaseException:
            self._slots.release()
            raise
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode()
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers or list(response.headers.items()),
            stream=_Body(response, self._slots.release),
            request=request,
            extensions=extensions,
        )

    async def _acquire(self, pool_timeout: float | None) -> None:
        """A connection slot, within the pool timeout (as httpx's ``PoolTimeout``)."""
        if not self._slots.locked():
            await self._slots.acquire()  # free: no waiting, no timer
            return
        try:
            await asyncio.wait_for(self._slots.acquire(), pool_timeout)
        except asyncio.TimeoutError:
            raise httpx.PoolTimeout("Timed out waiting for a connection from the pool") from None

    async def _send(self, request: httpx.Request, timeout: dict[str, Any]) -> Any:
        proxy = self.proxy
        assert isinstance(self.client, aiohttp.ClientSession)
        with _mapped():
            return await self.client.request(
                request.method,
                str(request.url),
                headers=request.headers,
                data=request.content or None,
                allow_redirects=False,
                auto_decompress=False,
                timeout=aiohttp.ClientTimeout(
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                    connect=timeout.get("pool"),
                ),
                server_hostname=request.extensions.get("sni_hostname"),
                proxy=str(proxy.url) if proxy else None,
                proxy_auth=aiohttp.BasicAuth(*proxy.auth) if proxy and proxy.auth else None,
                proxy_headers=proxy.headers if proxy else None,
            ).__aenter__()

    def open_transports(self) -> list[asyncio.BaseTransport]:
        """The asyncio transports of every connection the session holds (pooled or in use),
        for releasing them when the session's event loop is closed."""
        session = self.client
        connector = session.connector if isinstance(session, aiohttp.ClientSession) else None
        if connector is None:
            return []
        protocols = [p for pool in connector._conns.values() for p, _ in pool]
        protocols += list(connector._acquired)
        return [p.transport for p in protocols if p.transport is not None]

    def forget(self) -> None:
        """Mark the session closed without touching its (closed) event loop: call after
        releasing :meth:`open_transports`."""
        session = self.client
        if isinstance(session, aiohttp.ClientSession) and session.connector is not None:
            session.connector._close()  # on a closed loop: only marks it closed and clears
