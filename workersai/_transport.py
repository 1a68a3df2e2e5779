"""HTTP transport: one pooled httpx client per object, the package's only retry layer.

Retries (modelled on openai-python's ``_base_client``):

* 408, 409, 429 and 5xx responses whose error is retryable (never 3036 "daily allocation
  used up", never other 4xx), connection errors and timeouts;
* backoff ``min(0.5 · 2ⁿ, 8) s`` with up to 25 % jitter; ``retry-after-ms`` / ``Retry-After``
  (seconds or HTTP date) honoured when ≤ 60 s, and a longer wait is not retried at all;
* ``x-should-retry: true|false`` from the server wins;
* the request body is encoded once and the same bytes are re-sent, so a retry can neither
  lose nor change what the caller sent; a request that succeeded is never sent again;
* a stream is retried only until its first event has been delivered — after that a failure
  surfaces on the stream, never as a silently shorter answer.

Async clients are bound to the event loop that created them (an httpx ``AsyncClient``
reused from another loop fails with "Event loop is closed", langchain-ai/langchain#35783),
so :class:`AsyncTransport` keeps one client per running loop.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import random
import ssl
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import httpx

from workersai import _json
from workersai._sse import ServerSentEvent, SSEDecoder
from workersai._version import __version__
from workersai.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    InvalidInputError,
    WorkersAIError,
    error_from_response,
)

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
DEFAULT_MAX_RETRIES = 2
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
USER_AGENT = f"workersai-python/{__version__} httpx/{httpx.__version__}"


def coerce_timeout(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    """A real timeout: ``None`` means the default (60 s, connect 5 s), never "wait forever"."""
    if timeout is None:
        return DEFAULT_TIMEOUT
    if isinstance(timeout, httpx.Timeout):
        if timeout.read is None and timeout.connect is None:
            return DEFAULT_TIMEOUT
        return timeout
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise InvalidInputError(
            f"timeout must be a positive number of seconds, got {timeout!r}", field="timeout"
        )
    return httpx.Timeout(float(timeout), connect=min(5.0, float(timeout)))


def _check_option(name: str, value: Any, kind: type, label: str) -> None:
    # A wrong object here would only fail at the first request, deep inside httpx.
    if value is not None and not isinstance(value, kind):
        raise InvalidInputError(f"{name} must be {label}, not {type(value).__name__}", field=name)


@lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle costs ~10 ms: do it once per process, not once per client.
    return httpx.create_ssl_context()


class _OwnedClient(httpx.Client):
    """An ``httpx.Client`` we created: closed when garbage-collected, so a client object the
    user never closed does not leave sockets behind."""

    def __del__(self) -> None:
        if not self.is_closed:
            try:
                self.close()
            except Exception:  # noqa: S110 - interpreter shutdown; nothing left to do
                pass


class _OwnedAsyncClient(httpx.AsyncClient):
    """Async twin of :class:`_OwnedClient`: closes on the running loop if there is one."""

    def __del__(self) -> None:
        if self.is_closed:
            return
        try:
            asyncio.get_running_loop().create_task(self.aclose())
        except Exception:  # noqa: S110 - no running loop: the loop's end closed the sockets
            pass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff settings. The number of retries is the client's ``max_retries``."""

    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    jitter: float = 0.25

    def backoff(self, retries_taken: int) -> float:
        delay = min(self.initial_delay * (2.0 ** min(retries_taken, 30)), self.max_delay)
        return max(delay * (1 - self.jitter * random.random()), 0.0)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from ``retry-after-ms``, ``Retry-After`` seconds or ``Retry-After`` HTTP date."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return float(raw_ms) / 1000.0
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        parsed = email.utils.parsedate_tz(raw)
        if parsed is None:
            return None
        return float(email.utils.mktime_tz(parsed) - time.time())


@dataclass(slots=True)
class PreparedRequest:
    """A request encoded once; every attempt sends exactly these bytes."""

    method: str
    url: str
    headers: dict[str, str]
    content: bytes | None
    params: dict[str, str] | None
    timeout: httpx.Timeout
    max_retries: int
    model: str | None
    label: str  # "POST /ai/run/@cf/..." — for logs and errors, without the account id


@dataclass(frozen=True, slots=True)
class StreamOpened:
    """Marker yielded when a stream's response headers arrive."""

    headers: httpx.Headers


@dataclass(frozen=True, slots=True)
class JSONAnswer:
    """Marker yielded when a stream request was answered with a JSON body instead of SSE."""

    body: Any
    headers: httpx.Headers


def _transport_error(exc: httpx.TransportError, req: PreparedRequest) -> APIConnectionError:
    if isinstance(exc, httpx.TimeoutException):
        kind = type(exc).__name__.replace("Timeout", " timeout").strip().lower()
        return APITimeoutError(
            f"{req.label} timed out ({kind}; read timeout {req.timeout.read}s).",
            hint="Raise `timeout` for long generations, or stream the answer.",
        )
    return APIConnectionError(
        f"{req.label} failed: {type(exc).__name__}: {exc}".rstrip(": "),
        hint="Check network access to the API (base_url) and any proxy.",
    )


def decode_body(response: httpx.Response) -> Any:
    """JSON value of a JSON body; text for other text; ``bytes`` for binary content."""
    content_type = response.headers.get("content-type", "").lower()
    data = response.content
    if "json" in content_type or (not content_type and data[:1] in (b"{", b"[")):
        try:
            return _json.loads(data)
        except ValueError:
            return data.decode("utf-8", "replace")
    if content_type.startswith("text/"):
        return data.decode(response.encoding or "utf-8", "replace")
    return data


def _status_error(response: httpx.Response, req: PreparedRequest) -> APIError:
    body = decode_body(response)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    error = error_from_response(
        response.status_code, body, headers=response.headers, model=req.model
    )
    error.retry_after = parse_retry_after(response.headers)
    return error


class _RetryLogic:
    """Decisions shared by the sync and async transports."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy

    def delay(
        self,
        error: WorkersAIError,
        retries_taken: int,
        req: PreparedRequest,
        headers: Mapping[str, str] | None = None,
    ) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to give up."""
        if retries_taken >= req.max_retries:
            return None
        should = (headers or {}).get("x-should-retry")
        if should == "false":
            return None
        if should != "true" and not error.is_retryable:
            return None
        retry_after = error.retry_after if isinstance(error, APIError) else None
        if retry_after is not None and math.isfinite(retry_after):
            if retry_after > self.policy.max_retry_after:
                return None  # the server wants a long pause: retrying now cannot succeed
            return max(retry_after, 0.0)
        return self.policy.backoff(retries_taken)

    def log_retry(
        self, req: PreparedRequest, error: WorkersAIError, delay: float, retry: int
    ) -> None:
        cause = (
            f"HTTP {error.status_code} {list(error.codes) or ''}".strip()
            if isinstance(error, APIError)
            else type(error).__name__
        )
        logger.info(
            "Retrying %s in %.2fs (retry %d of %d) after %s",
            req.label,
            delay,
            retry,
            req.max_retries,
            cause,
        )


def _finalise(error: WorkersAIError, retries_taken: int) -> WorkersAIError:
    if isinstance(error, (APIError, APIConnectionError)):
        error.retries_taken = retries_taken
    return error


class SyncTransport:
    """Sends :class:`PreparedRequest`s with retries over one lazily created ``httpx.Client``."""

    def __init__(
        self,
        *,
        http_client: httpx.Client | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        _check_option("http_client", http_client, httpx.Client, "an httpx.Client")
        _check_option("retry_policy", retry_policy, RetryPolicy, "a RetryPolicy")
        self._client = http_client
        self._owns_client = http_client is None
        self._timeout = timeout
        self._lock = threading.Lock()
        self._retry = _RetryLogic(retry_policy or RetryPolicy())

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = _OwnedClient(
                        timeout=self._timeout, limits=DEFAULT_LIMITS, verify=_ssl_context()
                    )
        return self._client

    def close(self) -> None:
        if self._client is not None and self._owns_client:
            self._client.close()
            self._client = None

    def _send_once(self, req: PreparedRequest) -> httpx.Response:
        request = self.client.build_request(
            req.method,
            req.url,
            content=req.content,
            headers=req.headers,
            params=req.params,
            timeout=req.timeout,
        )
        logger.debug("%s", req.label)
        return self.client.send(request, stream=True)

    def send(
        self, req: PreparedRequest, *, stream: bool = False, retries_taken: int = 0
    ) -> tuple[httpx.Response, int]:
        """Send with retries. Returns the response (body read unless ``stream``) and the
        number of retries taken. Raises the typed error of the last attempt."""
        while True:
            headers: httpx.Headers | None = None
            try:
                response = self._send_once(req)
            except httpx.TransportError as exc:
                error: WorkersAIError = _transport_error(exc, req)
                cause: BaseException = exc
            else:
                headers = response.headers
                try:
                    if response.is_success and stream:
                        return response, retries_taken
                    response.read()
                except httpx.TransportError as exc:
                    error, cause = _transport_error(exc, req), exc
                else:
                    if response.is_success:
                        return response, retries_taken
                    error, cause = _status_error(response, req), None  # type: ignore[assignment]
                finally:
                    if not (response.is_success and stream):
                        response.close()
            delay = self._retry.delay(error, retries_taken, req, headers)
            if delay is None:
                raise _finalise(error, retries_taken) from cause
            retries_taken += 1
            self._retry.log_retry(req, error, delay, retries_taken)
            time.sleep(delay)

    def request(self, req: PreparedRequest) -> httpx.Response:
        return self.send(req)[0]

    def iter_events(
        self, req: PreparedRequest
    ) -> Iterator[ServerSentEvent | StreamOpened | JSONAnswer]:
        """SSE events of a stream request, retried until the first event is delivered."""
        retries_taken = 0
        while True:
            response, retries_taken = self.send(req, stream=True, retries_taken=retries_taken)
            delivered = False
            try:
                yield StreamOpened(response.headers)
                if "text/event-stream" not in response.headers.get("content-type", ""):
                    response.read()
                    yield JSONAnswer(decode_body(response), response.headers)
                    return
                decoder = SSEDecoder()
                for raw in response.iter_bytes():
                    for event in decoder.feed(raw):
                        delivered = True
                        yield event
                for event in decoder.flush():
                    delivered = True
                    yield event
                if delivered:
                    return
                error: WorkersAIError = APIConnectionError(
                    f"{req.label}: the stream closed before any event"
                )
                cause: BaseException | None = None
            except httpx.TransportError as exc:
                error, cause = _transport_error(exc, req), exc
                if delivered:
                    error.message = f"{error.message} The stream broke after events were delivered."
                    raise _finalise(error, retries_taken) from exc
            finally:
                response.close()
            delay = self._retry.delay(error, retries_taken, req)
            if delay is None:
                if cause is None:
                    return  # an empty stream: the reader reports it as truncated
                raise _finalise(error, retries_taken) from cause
            retries_taken += 1
            self._retry.log_retry(req, error, delay, retries_taken)
            time.sleep(delay)


class AsyncTransport:
    """Async twin of :class:`SyncTransport`, with one ``httpx.AsyncClient`` per event loop."""

    def __init__(
        self,
        *,
        http_client: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        _check_option("http_client", http_client, httpx.AsyncClient, "an httpx.AsyncClient")
        _check_option("retry_policy", retry_policy, RetryPolicy, "a RetryPolicy")
        self._user_client = http_client
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )
        self._timeout = timeout
        self._retry = _RetryLogic(retry_policy or RetryPolicy())

    @property
    def client(self) -> httpx.AsyncClient:
        if self._user_client is not None:
            return self._user_client
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            client = _OwnedAsyncClient(
                timeout=self._timeout, limits=DEFAULT_LIMITS, verify=_ssl_context()
            )
            self._clients[loop] = client
        return client

    async def aclose(self) -> None:
        """Close the client of the running loop (clients of other loops die with their loop)."""
        if self._user_client is not None:
            return
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    async def _send_once(self, req: PreparedRequest) -> httpx.Response:
        client = self.client
        request = client.build_request(
            req.method,
            req.url,
            content=req.content,
            headers=req.headers,
            params=req.params,
            timeout=req.timeout,
        )
        logger.debug("%s", req.label)
        return await client.send(request, stream=True)

    async def send(
        self, req: PreparedRequest, *, stream: bool = False, retries_taken: int = 0
    ) -> tuple[httpx.Response, int]:
        """Async twin of :meth:`SyncTransport.send`."""
        while True:
            headers: httpx.Headers | None = None
            try:
                response = await self._send_once(req)
            except httpx.TransportError as exc:
                error: WorkersAIError = _transport_error(exc, req)
                cause: BaseException | None = exc
            else:
                headers = response.headers
                try:
                    if response.is_success and stream:
                        return response, retries_taken
                    await response.aread()
                except httpx.TransportError as exc:
                    error, cause = _transport_error(exc, req), exc
                else:
                    if response.is_success:
                        return response, retries_taken
                    error, cause = _status_error(response, req), None
                finally:
                    if not (response.is_success and stream):
                        await response.aclose()
            delay = self._retry.delay(error, retries_taken, req, headers)
            if delay is None:
                raise _finalise(error, retries_taken) from cause
            retries_taken += 1
            self._retry.log_retry(req, error, delay, retries_taken)
            await asyncio.sleep(delay)

    async def request(self, req: PreparedRequest) -> httpx.Response:
        return (await self.send(req))[0]

    async def iter_events(
        self, req: PreparedRequest
    ) -> AsyncIterator[ServerSentEvent | StreamOpened | JSONAnswer]:
        """Async twin of :meth:`SyncTransport.iter_events`."""
        retries_taken = 0
        while True:
            response, retries_taken = await self.send(req, stream=True, retries_taken=retries_taken)
            delivered = False
            try:
                yield StreamOpened(response.headers)
                if "text/event-stream" not in response.headers.get("content-type", ""):
                    await response.aread()
                    yield JSONAnswer(decode_body(response), response.headers)
                    return
                decoder = SSEDecoder()
                async for raw in response.aiter_bytes():
                    for event in decoder.feed(raw):
                        delivered = True
                        yield event
                for event in decoder.flush():
                    delivered = True
                    yield event
                if delivered:
                    return
                error: WorkersAIError = APIConnectionError(
                    f"{req.label}: the stream closed before any event"
                )
                cause: BaseException | None = None
            except httpx.TransportError as exc:
                error, cause = _transport_error(exc, req), exc
                if delivered:
                    error.message = f"{error.message} The stream broke after events were delivered."
                    raise _finalise(error, retries_taken) from exc
            finally:
                await response.aclose()
            delay = self._retry.delay(error, retries_taken, req)
            if delay is None:
                if cause is None:
                    return
                raise _finalise(error, retries_taken) from cause
            retries_taken += 1
            self._retry.log_retry(req, error, delay, retries_taken)
            await asyncio.sleep(delay)
