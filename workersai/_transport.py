"""HTTP transport: one pooled httpx client per object, the package's only retry layer.

Retries (modelled on openai-python's ``_base_client``, ``_should_retry`` and
``_calculate_retry_timeout``):

* 408, 409, 429 and 5xx responses whose error is retryable, connection errors and timeouts;
* never 3036 ("daily free allocation used up"): no header can make a retry succeed before the
  allocation resets, so not even ``x-should-retry: true`` retries it;
* otherwise ``x-should-retry: true|false`` from the server wins (it can retry a 400);
* backoff ``min(0.5 · 2ⁿ, 8) s`` with up to 25 % jitter; ``retry-after-ms`` / ``Retry-After``
  (seconds or HTTP date) is honoured when it is between 0 and 60 s — a longer (or negative)
  value falls back to the computed backoff, as in openai-python, instead of giving up;
* the request body is encoded once and the same bytes are re-sent, so a retry can neither
  lose nor change what the caller sent; a request that succeeded is never sent again;
* a request marked ``idempotent=False`` (a Batch API submit, which queues and bills a job) is
  retried only when the failure proves it was not accepted: the connection could not be
  opened, or the server rejected it with 429 — never after a read error, a reset or a 5xx,
  where the job may already be queued;
* a stream is retried only until its first event has been delivered — after that a failure
  surfaces on the stream, never as a silently shorter answer.

Requests on a pool this module created skip httpx's per-call client machinery
(``build_request`` re-parsing the URL and merging headers, cookies, auth and redirect
handling, none of which the package uses — the API authenticates by token, so no cookie is
stored or sent): the URL is parsed and the headers merged once per route and header set, and
the request goes straight to the pool's transport (proxies from the environment included). A
user-supplied ``http_client`` is used exactly as given (its headers, cookies, auth and event
hooks apply).

The async pool is aiohttp's (see :mod:`workersai._aiohttp`) when ``httpx-aiohttp`` is
installed — several times faster than httpx's own under concurrency — and httpx's otherwise;
``AsyncWorkersAI(http_backend=...)`` or ``WORKERSAI_ASYNC_HTTP`` chooses explicitly.

Async clients are bound to the event loop that created them (an httpx ``AsyncClient``
reused from another loop fails with "Event loop is closed", langchain-ai/langchain#35783),
so :class:`AsyncTransport` keeps one client per running loop. 30 ``asyncio.run`` calls must
not keep 30 pools open: a client closes itself when its loop shuts down its async generators
(``asyncio.run`` and ``asyncio.Runner`` do, before closing the loop), and each lookup drops
the clients of loops that were closed without that; since a closed loop can run nothing,
their sockets are released synchronously — an ``aclose()`` is never scheduled on a loop
other than the client's own. The same holds on both engines (an aiohttp session is bound to
its loop as well).
"""

from __future__ import annotations

import asyncio
import email.utils
import importlib.util
import logging
import math
import os
import random
import ssl
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import httpx

from workersai import _json
from workersai._envelope import (
    error_from_response,
    event_stream_body,
    unexpected_answer,
    unwrap_envelope,
)
from workersai._sse import ServerSentEvent, SSEDecoder
from workersai._version import __version__
from workersai.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    DailyLimitExceededError,
    InvalidInputError,
    WorkersAIError,
)

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
DEFAULT_MAX_RETRIES = 2
# Every connection of the pool kept alive, so a job with up to 100 requests in flight reuses
# its connections (with httpx's default of 20, every request past the 20th in flight opened and
# closed its own: ~15% more CPU for a 10,000-prompt job at concurrency 32). At most 100 open at
# once: 1,000 concurrent streams queue for a connection instead of holding 1,000 sockets.
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100)
USER_AGENT = f"workersai-python/{__version__} httpx/{httpx.__version__}"


def check_seconds(name: str, value: Any) -> float:
    """``value`` as a positive, finite number of seconds, or :class:`InvalidInputError`."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise InvalidInputError(
            f"{name} must be a positive number of seconds, got {value!r}", field=name
        )
    return float(value)


def coerce_timeout(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    """A real timeout: ``None`` means the default (60 s, connect 5 s), never "wait forever";
    in an ``httpx.Timeout``, a phase left ``None`` gets the default's value."""
    if timeout is None:
        return DEFAULT_TIMEOUT
    if isinstance(timeout, httpx.Timeout):
        default = DEFAULT_TIMEOUT.as_dict()
        given = timeout.as_dict().items()
        return httpx.Timeout(
            **{phase: default[phase] if seconds is None else seconds for phase, seconds in given}
        )
    seconds = check_seconds("timeout", timeout)
    return httpx.Timeout(seconds, connect=min(5.0, seconds))


def _check_option(name: str, value: Any, kind: type, label: str) -> None:
    # A wrong object here would only fail at the first request, deep inside httpx.
    if value is not None and not isinstance(value, kind):
        raise InvalidInputError(f"{name} must be {label}, not {type(value).__name__}", field=name)


@lru_cache(maxsize=1)
def ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle costs ~10 ms: do it once per process, not once per client.
    return httpx.create_ssl_context()


# -- which async HTTP engine ---------------------------------------------------------------

#: Environment variable choosing the async HTTP engine: ``aiohttp`` or ``httpx``.
ASYNC_HTTP_ENV = "WORKERSAI_ASYNC_HTTP"
HttpBackend = Literal["aiohttp", "httpx"]
_BACKENDS = ("aiohttp", "httpx")
_AIOHTTP_HINT = "Install it with `pip install 'workersai[speed]'` (httpx-aiohttp and aiohttp)."


@lru_cache(maxsize=1)
def aiohttp_installed() -> bool:
    """Whether ``httpx-aiohttp`` (and so aiohttp) can be imported; nothing is imported."""
    return all(importlib.util.find_spec(name) is not None for name in ("httpx_aiohttp", "aiohttp"))


def choose_async_backend(
    http_backend: str | None, http_client: httpx.AsyncClient | None
) -> tuple[str, str]:
    """``(backend, why)``: ``"http_client"`` when one is given (it always wins), else the
    ``http_backend`` argument, else ``WORKERSAI_ASYNC_HTTP``, else aiohttp when
    ``httpx-aiohttp`` is installed and httpx's own pool otherwise."""
    if http_client is not None:
        if http_backend is not None:
            raise InvalidInputError(
                "pass http_client or http_backend, not both: the client you pass is used as is",
                field="http_backend",
            )
        return "http_client", "an http_client was passed"
    if http_backend is not None:
        return _checked_backend(http_backend, "http_backend"), "the http_backend argument"
    chosen = os.environ.get(ASYNC_HTTP_ENV, "").strip().lower()
    if chosen:
        return _checked_backend(chosen, ASYNC_HTTP_ENV), ASYNC_HTTP_ENV
    if aiohttp_installed():
        return "aiohttp", "httpx-aiohttp is installed"
    return "httpx", "httpx-aiohttp is not installed"


def _checked_backend(value: Any, name: str) -> str:
    if value not in _BACKENDS:
        raise InvalidInputError(f"{name} must be 'aiohttp' or 'httpx', got {value!r}", field=name)
    if value == "aiohttp" and not aiohttp_installed():
        raise InvalidInputError(
            f"{name} asks for aiohttp, but httpx-aiohttp is not installed",
            field=name,
            hint=_AIOHTTP_HINT,
        )
    return str(value)


def _aiohttp_engine(**kwargs: Any) -> httpx.AsyncBaseTransport:
    from workersai._aiohttp import AiohttpEngine  # imports aiohttp: only when used

    return AiohttpEngine(**kwargs)


# -- the pools this module creates -----------------------------------------------------------


class _Routes:
    """What every request of an owned client would otherwise rebuild: the parsed URL, the
    pool transport serving it and the merged headers (the client's defaults — Accept-
    Encoding, Connection — under the request's own, plus Host), once per route and header
    set. A client's routes are few (one per model and kind of call) and the headers of a
    route rarely change, so a request costs a copy of its headers and a Content-Length."""

    _MAX = 256  # model ids and extra headers come from callers: stay bounded

    def __init__(self, transport_for: Callable[[httpx.URL], Any], headers: httpx.Headers):
        self._transport_for = transport_for
        self._defaults = list(headers.items())
        # Keyed by the request's headers, so it holds the token as the pool's requests do;
        # nothing shows it (no repr), and it goes with the client.
        self._routes: dict[tuple[Any, ...], tuple[httpx.URL, Any, httpx.Headers]] = {}

    def _route(self, req: PreparedRequest) -> tuple[httpx.URL, Any, httpx.Headers]:
        url = httpx.URL(req.url)
        names = {name.lower() for name in req.headers}
        # Every URL here has a host (the base URL is checked when the client is built).
        headers = [("Host", url.netloc.decode("ascii"))]  # pragma: no mutate (any case)
        headers += [(k, v) for k, v in self._defaults if k not in names]
        headers += req.headers.items()
        return url, self._transport_for(url), httpx.Headers(headers)

    def request(self, req: PreparedRequest, timeout: dict[str, float | None]) -> tuple[Any, Any]:
        """The ``httpx.Request`` of ``req`` and the transport that sends it."""
        key = (req.url, *req.headers.items())
        route = self._routes.get(key)
        if route is None:
            if len(self._routes) >= self._MAX:
                self._routes.clear()
            route = self._routes[key] = self._route(req)
        url, transport, shared = route
        if req.params:  # the query does not change which pool serves the URL
            url = url.copy_merge_params(req.params)
        headers = httpx.Headers(shared)
        content = req.content or b""
        if content or req.method in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(len(content))  # pragma: no mutate (any case)
        request = httpx.Request(
            req.method,
            url,
            headers=headers,
            stream=httpx.ByteStream(content),
            extensions={"timeout": timeout},
        )
        request.read()  # the same bytes object, now also request.content
        return request, transport


def _weak_transport_for(
    client: httpx.Client | httpx.AsyncClient,
) -> Callable[[httpx.URL], Any]:
    """The client's ``_transport_for_url`` through a weak method, for its routes: the bound
    method would be a reference cycle, leaving a dropped client to the cyclic collector,
    which finalises garbage in no set order — its sockets could warn "unclosed" before
    ``__del__`` closes them."""
    method = weakref.WeakMethod(client._transport_for_url)

    def transport_for(url: httpx.URL) -> Any:
        return method()(url)  # type: ignore[misc]  # (routes go with their client: never None)

    return transport_for


class _OwnedClient(httpx.Client):
    """An ``httpx.Client`` we created: closed when garbage-collected, so a client object the
    user never closed does not leave sockets behind."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.routes = _Routes(_weak_transport_for(self), self.headers)

    def __del__(self) -> None:
        if not self.is_closed:
            try:
                self.close()
            except Exception:  # noqa: S110 - interpreter shutdown; nothing left to do
                pass


def _asyncio_transport(stream: Any) -> asyncio.BaseTransport | None:
    """The asyncio transport under a connection: an httpcore network stream (AnyIOStream →
    anyio TLS or socket stream → asyncio transport) or an asyncio transport itself (aiohttp's;
    a TLS one wraps the socket's, see :func:`_release_now`); ``None`` if the layers are not
    the expected ones."""
    # The deepest chain (httpx's pool, TLS through an HTTPS proxy: AnyIOStream → TLSStream →
    # TLSStream → SocketStream → transport) ends at the 5th step: a 6th changes nothing.
    for _ in range(5):  # pragma: no mutate
        if isinstance(stream, asyncio.BaseTransport):
            return stream
        stream = next(
            (
                getattr(stream, name)
                for name in ("_stream", "transport_stream", "_transport")
                if getattr(stream, name, None) is not None
            ),
            None,
        )
    return None


def _release_now(transport: asyncio.BaseTransport) -> None:
    """Close the socket of a connection whose event loop is closed, under its TLS layers."""
    # asyncio's TLS transports (aiohttp's; two through an HTTPS proxy) wrap the socket's.
    tls_layers: list[asyncio.BaseTransport] = []
    while True:
        inner = getattr(getattr(transport, "_ssl_protocol", None), "_transport", None)
        if inner is None:
            break
        tls_layers.append(transport)  # pragma: no mutate (Python 3.10 only, see below)
        transport = inner
    try:
        transport.abort()  # type: ignore[attr-defined]
    except Exception:  # noqa: S110 - a closed loop refuses the call_soon abort() needs
        pass
    # What abort() schedules and a closed loop never runs: the protocol's connection_lost,
    # then sock.close() in its `finally`. Calling it directly is the only way to free the
    # descriptor (the transport's TransportSocket has no close()).
    # (getattr defaults: for asyncio versions without these internals; see _abandon)
    lost = getattr(transport, "_call_connection_lost", None)  # pragma: no mutate
    if callable(lost) and getattr(transport, "_sock", None) is not None:  # pragma: no mutate
        try:
            lost(None)
        except Exception:  # noqa: S110 - the socket was closed in its `finally` regardless
            pass
    # The TLS protocol's connection_lost marks its transport closed on Python 3.11+. On 3.10
    # it calls call_soon first, which the closed loop refuses, and the transport would then
    # warn "unclosed transport" when collected although its socket is closed. (Mutants of
    # these lines change nothing on 3.11, where mutmut runs; the 3.10 suite covers them.)
    for layer in tls_layers:
        if getattr(layer, "_closed", None) is False:  # pragma: no mutate
            layer._closed = True  # type: ignore[attr-defined]  # pragma: no mutate


def _abandon(client: httpx.AsyncClient) -> None:
    """Release every pooled socket of an ``AsyncClient`` whose event loop is closed.

    Neither httpx nor aiohttp can close a pool but with an ``await`` on the loop its
    connections were opened on; once that loop is closed nothing can be awaited there, and
    scheduling the close on another loop fails with "Event loop is closed" (a "Task
    exception was never retrieved" at best). So the sockets are closed directly.
    """
    # The getattr defaults below serve httpx/httpcore/anyio versions that lack an attribute;
    # with the pinned ones each exists, so mutating a default changes nothing measurable.
    mounts = getattr(client, "_mounts", {})  # pragma: no mutate
    pools = [getattr(client, "_transport", None), *mounts.values()]  # pragma: no mutate
    for pool in pools:
        forget = getattr(pool, "forget", None)
        if callable(forget):  # the aiohttp engine: its session's connections
            for transport in pool.open_transports():
                found = _asyncio_transport(transport)
                if found is not None:
                    _release_now(found)
            forget()
            continue
        connection_pool = getattr(pool, "_pool", None)  # pragma: no mutate
        connections = getattr(connection_pool, "_connections", None) or ()  # pragma: no mutate
        for connection in list(connections):
            # AsyncHTTPConnection → its HTTP/1.1 or HTTP/2 connection → the network stream;
            # through a forward proxy (an http:// URL) one level more: the forwarding
            # connection → its AsyncHTTPConnection to the proxy → HTTP/1.1 → the stream
            inner = getattr(connection, "_connection", None)  # pragma: no mutate
            if getattr(inner, "_network_stream", None) is None:
                inner = getattr(inner, "_connection", None)  # pragma: no mutate
            found = _asyncio_transport(getattr(inner, "_network_stream", None))  # pragma: no mutate
            if found is not None:
                _release_now(found)
    if isinstance(client, _OwnedAsyncClient):
        client._abandoned = True


_CLOSING: set[asyncio.Task[None]] = set()  # strong references: a bare task may be GC'd mid-run


def _close_on(loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient) -> None:
    """Start ``client.aclose()`` as a task of ``loop`` (call from that loop's thread)."""
    if client.is_closed:
        return
    task = loop.create_task(client.aclose())
    _CLOSING.add(task)
    task.add_done_callback(_CLOSING.discard)


async def _close_at_loop_shutdown(
    client_ref: weakref.ref[httpx.AsyncClient],
) -> AsyncIterator[None]:  # pragma: no mutate block
    # Not mutated: mutmut wraps a mutated async generator in a second one, and the loop's
    # shutdown_asyncgens() then acloses both at once ("aclose(): asynchronous generator is
    # already running"), which fails every test of loop shutdown whatever the mutant.
    # Never resumed: an event loop's shutdown_asyncgens() — run by asyncio.run() and
    # asyncio.Runner before they close the loop — acloses every async generator the loop saw
    # start, and this `finally` then closes the pool while its loop can still run the close.
    try:
        yield
    finally:
        client = client_ref()
        if client is not None and not client.is_closed:
            await client.aclose()


async def _start(agen: AsyncIterator[None]) -> None:
    await agen.__anext__()


class _OwnedAsyncClient(httpx.AsyncClient):
    """Async twin of :class:`_OwnedClient`, bound to the event loop it was created on.

    ``engine`` builds its pool transports (aiohttp's); ``None`` keeps httpx's own. Proxies
    from the environment get a pool of the same engine, through httpx's mounts.

    When garbage-collected it closes on its own loop if that loop is alive; if the loop is
    closed it releases its sockets directly (see :func:`_abandon`) — it never schedules an
    ``aclose()`` on whatever other loop happens to be running.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        engine: Callable[..., httpx.AsyncBaseTransport] | None = None,
        **kwargs: Any,
    ) -> None:
        self._engine = engine  # read by _init_transport, which super().__init__ calls
        self._abandoned = False
        super().__init__(**kwargs)
        self.routes = _Routes(_weak_transport_for(self), self.headers)
        self._loop_ref = weakref.ref(loop)
        # The loop only holds its async generators weakly: keep this one alive with us.
        self._closer = _close_at_loop_shutdown(weakref.ref(self))
        task = loop.create_task(_start(self._closer))
        _CLOSING.add(task)
        task.add_done_callback(_CLOSING.discard)

    def _init_transport(  # type: ignore[override]
        self,
        # httpx passes verify, trust_env and limits on every call: the defaults are never used.
        verify: Any = True,  # pragma: no mutate
        trust_env: bool = True,  # pragma: no mutate
        limits: Any = DEFAULT_LIMITS,
        **kwargs: Any,
    ) -> httpx.AsyncBaseTransport:
        if self._engine is None or kwargs.get("transport") is not None:
            # trust_env only picks CA files for a verify that is not an SSLContext, and
            # verify always is one: not passing it would change nothing.
            return super()._init_transport(
                verify=verify,
                trust_env=trust_env,  # pragma: no mutate
                limits=limits,
                **kwargs,
            )
        return self._engine(verify=verify, trust_env=trust_env, limits=limits)

    def _init_proxy_transport(  # type: ignore[override]
        self,
        proxy: httpx.Proxy,
        # httpx passes verify, cert, trust_env, http1, http2 and limits on every call: these
        # defaults are never used, so mutating them changes nothing.
        verify: Any = True,  # pragma: no mutate
        trust_env: bool = True,  # pragma: no mutate
        limits: Any = DEFAULT_LIMITS,
        **kwargs: Any,
    ) -> httpx.AsyncBaseTransport:
        if self._engine is None:
            # Not passing trust_env or **kwargs would change nothing either: httpx's defaults
            # are the values the package uses (trust_env=True, cert=None, http1=True,
            # http2=False), and verify is always an SSLContext, which trust_env cannot change.
            return super()._init_proxy_transport(
                proxy,
                verify=verify,
                trust_env=trust_env,  # pragma: no mutate
                limits=limits,
                **kwargs,  # pragma: no mutate
            )
        return self._engine(verify=verify, trust_env=trust_env, limits=limits, proxy=proxy)

    def __del__(self) -> None:
        try:
            if self.is_closed or self._abandoned:
                return
            loop = self._loop_ref()
            if loop is None or loop.is_closed():
                _abandon(self)
                return
            # On its own running loop the close starts now; through call_soon_threadsafe it
            # would start one loop turn later, the same close: an equivalent mutant.
            try:
                running: asyncio.AbstractEventLoop | None = (
                    asyncio.get_running_loop()  # pragma: no mutate
                )
            except RuntimeError:
                running = None
            if running is loop:
                _close_on(loop, self)
            else:
                loop.call_soon_threadsafe(_close_on, loop, self)
        except Exception:  # noqa: S110 - interpreter shutdown or a loop closed meanwhile
            pass


# The backoff doubles at most this many times: past it the delay is max_delay for any real
# policy (0.5 s · 2³⁰ is 17 years), so the cap only keeps 2.0 ** n finite.
_MAX_DOUBLINGS = 30


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff settings. The number of retries is the client's ``max_retries``."""

    initial_delay: float = 0.5
    max_delay: float = 8.0
    # The longest Retry-After obeyed; a longer one is replaced by the backoff, not obeyed.
    max_retry_after: float = 60.0
    jitter: float = 0.25

    def backoff(self, retries_taken: int) -> float:
        delay = min(
            self.initial_delay * (2.0 ** min(retries_taken, _MAX_DOUBLINGS)), self.max_delay
        )
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


def check_headers(headers: Mapping[Any, Any]) -> None:
    """Every header a string an HTTP/1.1 header can carry (else httpx fails mid-send).

    Values are never shown: Authorization and cf-aig-authorization carry secrets.
    """
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise InvalidInputError(
                f"header {name!r} must be a string, got {type(value).__name__}", field="headers"
            )
        if not value.isascii() or not value.isprintable():
            raise InvalidInputError(
                f"header {name!r} holds non-ASCII or control characters", field="headers"
            )


def merge_headers(headers: dict[str, str], extra: Mapping[str, str]) -> None:
    """Add ``extra`` to ``headers``, each replacing a header of the same name whatever its
    case (``x-team`` then ``X-Team`` is one header, the latter's value, not two)."""
    names = {name.lower(): name for name in headers}
    for name, value in extra.items():
        previous = names.get(name.lower())
        if previous is not None and previous != name:
            del headers[previous]
        headers[name] = value
        names[name.lower()] = name


@dataclass(slots=True)
class PreparedRequest:
    """A request encoded once; every attempt sends exactly these bytes."""

    method: str
    url: str
    # Authorization (and cf-aig-authorization) live here: never in a repr, a log or a traceback.
    headers: dict[str, str] = field(repr=False)
    content: bytes | None = field(repr=False)  # the caller's data, possibly megabytes of it
    params: dict[str, str] | None
    timeout: httpx.Timeout
    max_retries: int
    model: str | None
    label: str  # "POST /ai/run/@cf/..." — for logs and errors, without the account id
    # False when sending twice has an effect (a Batch API submit queues and bills a job).
    idempotent: bool = True


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
        kind = type(exc).__name__.lower().replace("timeout", " timeout").strip()  # "read timeout"
        return APITimeoutError(
            f"{req.label} timed out ({kind}; read timeout {req.timeout.read}s).",
            hint="Raise `timeout` for long generations, or stream the answer.",
        )
    return APIConnectionError(
        f"{req.label} failed: {type(exc).__name__}: {exc}".removesuffix(": "),  # empty str(exc)
        hint="Check network access to the API (base_url) and any proxy.",
    )


def decode_body(response: httpx.Response) -> Any:
    """JSON value of a JSON body; text for other text; ``bytes`` for binary content."""
    content_type = response.headers.get(
        "content-type",  # pragma: no mutate (httpx headers ignore case)
        "",
    ).lower()
    data = response.content
    if "json" in content_type or (not content_type and data[:1] in (b"{", b"[")):
        try:
            return _json.loads(data)
        except ValueError:
            return data.decode("utf-8", "replace")  # pragma: no mutate ("UTF-8" is the same)
    if content_type.startswith("text/"):
        return response.text  # the charset's, else UTF-8; undecodable bytes replaced
    return data


def read_result(response: httpx.Response, model: str | None = None) -> Any:
    """The ``result`` of a successful answer: the v4 envelope unwrapped, other JSON as is,
    binary bodies as ``bytes``, other text as ``str``. A 2xx ``success: false`` body raises
    its typed error; an HTML page, an empty body or an event stream raises
    :class:`~workersai.errors.UnexpectedResponseError` (wire reference §10.2)."""
    body = decode_body(response)
    problem = unexpected_answer(
        body,
        response.headers.get(
            "content-type",  # pragma: no mutate (httpx headers ignore case)
            "",
        ),
        status=response.status_code,
        headers=response.headers,
        model=model,
        allow_text=True,
        allow_binary=True,
    )
    if problem is not None:
        raise problem
    return unwrap_envelope(
        body, status_code=response.status_code, headers=response.headers, model=model
    )


def read_checked_body(
    response: httpx.Response, model: str | None = None, *, event_stream: bool = False
) -> Any:
    """The decoded JSON body of a successful answer, envelope kept (the parsers unwrap it).

    A 2xx ``success: false`` body raises its typed error. A body that is not JSON — an HTML
    page, plain text, an empty body, binary data, a JSON-typed body that does not parse —
    raises :class:`~workersai.errors.UnexpectedResponseError` naming its content type (wire
    reference §10.2). An event stream comes back as an :class:`EventStreamBody` when the
    caller reads one (``event_stream``: chat assembles it), else raises too.
    """
    content_type = response.headers.get(
        "content-type",  # pragma: no mutate (httpx headers ignore case)
        "",
    )
    if event_stream and "text/event-stream" in content_type.lower():
        return event_stream_body(response.content)
    body = decode_body(response)
    problem = unexpected_answer(
        body,
        content_type,
        status=response.status_code,
        headers=response.headers,
        model=model,
        # decode_body returns the text of a JSON-typed body that does not parse; a JSON
        # string answer is text too, but its body starts with the quote.
        invalid_json=isinstance(body, str) and response.content.lstrip()[:1] != b'"',
    )
    if problem is not None:
        raise problem
    unwrap_envelope(body, status_code=response.status_code, headers=response.headers, model=model)
    return body


def _status_error(response: httpx.Response, req: PreparedRequest) -> APIError:
    body = decode_body(response)
    if isinstance(body, bytes):
        body = body.decode(errors="replace")  # UTF-8
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
        cause: BaseException | None = None,
    ) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to give up."""
        if retries_taken >= req.max_retries:
            return None
        if isinstance(error, APIError) and (
            isinstance(error, DailyLimitExceededError) or 3036 in error.codes
        ):
            return None  # the allocation resets at 00:00 UTC: no header makes a retry succeed
        should = (headers or {}).get(
            "x-should-retry"  # pragma: no mutate (httpx headers: any case is the same header)
        )
        if should == "false":
            return None
        if should != "true":
            if not error.is_retryable:
                return None
            if not req.idempotent and not _surely_not_accepted(error, cause):
                return None
        retry_after = error.retry_after if isinstance(error, APIError) else None
        if (
            retry_after is not None
            and math.isfinite(retry_after)
            and 0 <= retry_after <= self.policy.max_retry_after
        ):
            return retry_after
        # No usable Retry-After (absent, negative, or longer than we are willing to block):
        # the computed backoff, as openai-python does, rather than giving up at once.
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


# Failures that happen before a request is on the wire: the server cannot have acted on it.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def _surely_not_accepted(error: WorkersAIError, cause: BaseException | None) -> bool:
    """Whether a failed non-idempotent request certainly had no effect, so resending it
    cannot do the work twice: it never left (connect errors), or it was refused (429)."""
    if isinstance(cause, _NOT_SENT):
        return True
    return isinstance(error, APIError) and error.status_code == 429


def _finalise(
    error: WorkersAIError,
    retries_taken: int,
    req: PreparedRequest | None = None,
    cause: BaseException | None = None,
) -> WorkersAIError:
    if isinstance(error, (APIError, APIConnectionError)):
        error.retries_taken = retries_taken
    if (
        req is not None
        and not req.idempotent
        and error.is_retryable
        and retries_taken < req.max_retries
        and not _surely_not_accepted(
            # Equivalent to None here: a failure that surely was not sent, with retries left,
            # is retried (see _RetryLogic.delay), never finalised.
            error,
            cause,  # pragma: no mutate
        )
    ):
        note = (
            f"{req.label} was not retried: the server may have accepted it before failing, "
            "and sending it again could do (and bill) the work twice. Check before resending."
        )
        error.hint = f"{note} {error.hint}" if error.hint else note
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
        self._timeout_ext = timeout.as_dict()
        self._lock = threading.Lock()
        self._retry = _RetryLogic(retry_policy or RetryPolicy())

    @property
    def backend(self) -> str:
        """``"httpx"``, or ``"http_client"`` when the client was passed in."""
        return "httpx" if self._owns_client else "http_client"

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = _OwnedClient(
                        timeout=self._timeout, limits=DEFAULT_LIMITS, verify=ssl_context()
                    )
        return self._client

    def close(self) -> None:
        if self._client is not None and self._owns_client:
            self._client.close()
            self._client = None

    def _send_once(self, req: PreparedRequest) -> httpx.Response:
        client = self.client
        logger.debug(req.label)  # no args: the label is never %-formatted
        if isinstance(client, _OwnedClient):
            # The fast path reuses the dict the default timeout gives: either branch is equal.
            timeout = self._timeout_ext if req.timeout is self._timeout else req.timeout.as_dict()
            request, transport = client.routes.request(req, timeout)
            response: httpx.Response = transport.handle_request(request)
            response.request = request
            return response
        request = client.build_request(
            req.method,
            req.url,
            content=req.content,
            headers=req.headers,
            params=req.params,
            timeout=req.timeout,
        )
        return client.send(request, stream=True)

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
                    # `or` would change nothing here: a response read to its end is closed by
                    # read(), one whose read failed by httpcore's pool. (Not so on aiohttp.)
                    if not (
                        response.is_success and stream  # pragma: no mutate
                    ):
                        response.close()
            delay = self._retry.delay(error, retries_taken, req, headers, cause)
            if delay is None:
                raise _finalise(
                    error,
                    retries_taken,
                    req,
                    cause,  # pragma: no mutate (no different from None here: see _finalise)
                ) from cause
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
            delivered = False  # pragma: no mutate (only its truth is read: None acts the same)
            try:
                yield StreamOpened(response.headers)
                # httpx headers ignore case, and any default lacks "text/event-stream"
                content_type = response.headers.get("content-type", "")  # pragma: no mutate
                if "text/event-stream" not in content_type:
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
            # `cause` only matters to non-idempotent requests, and a stream request is idempotent
            delay = self._retry.delay(error, retries_taken, req, None, cause)  # pragma: no mutate
            if delay is None:
                if cause is None:
                    return  # an empty stream: the reader reports it as truncated
                raise _finalise(error, retries_taken) from cause
            retries_taken += 1
            self._retry.log_retry(req, error, delay, retries_taken)
            time.sleep(delay)


class AsyncTransport:
    """Async twin of :class:`SyncTransport`, with one ``httpx.AsyncClient`` per event loop,
    on aiohttp's pool or httpx's (see :func:`choose_async_backend`)."""

    def __init__(
        self,
        *,
        http_client: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry_policy: RetryPolicy | None = None,
        http_backend: HttpBackend | None = None,
    ) -> None:
        _check_option("http_client", http_client, httpx.AsyncClient, "an httpx.AsyncClient")
        _check_option("retry_policy", retry_policy, RetryPolicy, "a RetryPolicy")
        self._backend, why = choose_async_backend(http_backend, http_client)
        logger.debug("Async HTTP: %s (%s)", self._backend, why)
        self._engine = _aiohttp_engine if self._backend == "aiohttp" else None
        self._user_client = http_client
        # Weak keys so a loop can be collected; a client with open connections keeps its
        # loop alive, though, which is why closed loops are also pruned on every lookup.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _OwnedAsyncClient] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()  # loops of several threads may share this transport
        self._timeout = timeout
        self._timeout_ext = timeout.as_dict()
        self._retry = _RetryLogic(retry_policy or RetryPolicy())

    @property
    def backend(self) -> str:
        """``"aiohttp"`` or ``"httpx"`` (the pool's engine), or ``"http_client"`` when the
        client was passed in."""
        return self._backend

    @property
    def client(self) -> httpx.AsyncClient:
        if self._user_client is not None:
            return self._user_client
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._clients.get(loop)
            stale = len(self._clients) > (0 if client is None else 1)
            dead = self._prune() if stale else []
            if client is None or client.is_closed:
                client = _OwnedAsyncClient(
                    loop,
                    self._engine,
                    timeout=self._timeout,
                    limits=DEFAULT_LIMITS,
                    verify=ssl_context(),
                )
                self._clients[loop] = client
        for old in dead:
            _abandon(old)
        return client

    def _prune(self) -> list[_OwnedAsyncClient]:
        """Remove the clients of closed loops (caller holds the lock); returns them."""
        dead = [(loop, c) for loop, c in list(self._clients.items()) if loop.is_closed()]
        for loop, _ in dead:
            del self._clients[loop]
        return [c for _, c in dead]

    async def aclose(self) -> None:
        """Close the client of the running loop and release those of closed loops (clients
        of other live loops stay usable there)."""
        if self._user_client is not None:
            return
        with self._lock:
            client = self._clients.pop(asyncio.get_running_loop(), None)
            dead = self._prune()
        for old in dead:
            _abandon(old)
        if client is not None:
            await client.aclose()

    async def _send_once(self, req: PreparedRequest) -> httpx.Response:
        client = self.client
        logger.debug(req.label)  # no args: the label is never %-formatted
        if isinstance(client, _OwnedAsyncClient):
            # The fast path reuses the dict the default timeout gives: either branch is equal.
            timeout = self._timeout_ext if req.timeout is self._timeout else req.timeout.as_dict()
            request, transport = client.routes.request(req, timeout)
            response: httpx.Response = await transport.handle_async_request(request)
            response.request = request
            return response
        request = client.build_request(
            req.method,
            req.url,
            content=req.content,
            headers=req.headers,
            params=req.params,
            timeout=req.timeout,
        )
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
            delay = self._retry.delay(error, retries_taken, req, headers, cause)
            if delay is None:
                raise _finalise(
                    error,
                    retries_taken,
                    req,
                    cause,  # pragma: no mutate (no different from None here: see _finalise)
                ) from cause
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
            delivered = False  # pragma: no mutate (only its truth is read: None acts the same)
            try:
                yield StreamOpened(response.headers)
                # httpx headers ignore case, and any default lacks "text/event-stream"
                content_type = response.headers.get("content-type", "")  # pragma: no mutate
                if "text/event-stream" not in content_type:
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
            # `cause` only matters to non-idempotent requests, and a stream request is idempotent
            delay = self._retry.delay(error, retries_taken, req, None, cause)  # pragma: no mutate
            if delay is None:
                if cause is None:
                    return
                raise _finalise(error, retries_taken) from cause
            retries_taken += 1
            self._retry.log_retry(req, error, delay, retries_taken)
            await asyncio.sleep(delay)
