"""The single retry layer: what is retried, how long it waits, that nothing is sent twice
after a success, timeouts, and async clients bound to their event loop."""

from __future__ import annotations

import asyncio
import email.utils
import time

import httpx
import pytest

from tests.conftest import LOOPBACK
from workersai import (
    APIConnectionError,
    APITimeoutError,
    AsyncWorkersAI,
    BadRequestError,
    CapacityExceededError,
    DailyLimitExceededError,
    InternalServerError,
    RetryPolicy,
    WorkersAI,
)
from workersai._transport import DEFAULT_TIMEOUT, PreparedRequest, _Routes, parse_retry_after
from workersai.testing import Reply, WorkersAIServer

LLAMA = "@cf/meta/llama-3.1-8b-instruct-fast"
USER = [{"role": "user", "content": "hi"}]
OK = Reply.result({"response": "ok"})
CAPACITY = (429, 3040, "Capacity temporarily exceeded, please try again.")


def _client(server: WorkersAIServer, policy: RetryPolicy, **kwargs: object) -> WorkersAI:
    return WorkersAI("acct", "tok", base_url=server.base_url, retry_policy=policy, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "failure",
    [
        Reply.error(*CAPACITY),
        Reply.error(429, None, "Rate limited."),
        Reply.error(408, 3007, "Request timeout"),
        Reply.error(409, None, "conflict"),
        Reply.html(500, "<h1>Internal</h1>"),
        Reply.html(502),
        Reply.html(503, "<html>Service Unavailable</html>"),
        Reply.connection_reset(),
        Reply.reset_mid_body(),
    ],
    ids=["3040", "429", "408", "409", "500", "502", "503", "reset", "reset-mid-body"],
)
def test_retryable_failures_are_retried_and_success_is_final(
    server: WorkersAIServer, fast_retries: RetryPolicy, failure: Reply
) -> None:
    server.enqueue(failure, OK, Reply.result({"response": "never requested"}))
    assert _client(server, fast_retries).chat(LLAMA, USER).text == "ok"
    assert len(server.requests) == 2  # one failure, one success, nothing after
    assert server.requests[0].body == server.requests[1].body
    assert server.pending == 1


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (
            Reply.error(
                429, 3036, "You have used up your daily free allocation of 10,000 neurons."
            ),
            DailyLimitExceededError,
        ),
        (
            Reply.error(400, 5006, "AiError: Bad input: Error: oneOf at '/' not met"),
            BadRequestError,
        ),
        (Reply.error(401, 10000, "Authentication error"), None),
        (
            Reply.error(
                404,
                7003,
                "Could not route to /client/v4/accounts/acct/ai/run/x, perhaps your object identifier is invalid?",
            ),
            None,
        ),
        (Reply.error(413, 3006, "Request is too large"), None),
    ],
    ids=["3036", "5006", "10000", "7003", "3006"],
)
def test_non_retryable_errors_are_sent_once(
    server: WorkersAIServer,
    fast_retries: RetryPolicy,
    failure: Reply,
    error: type[Exception] | None,
) -> None:
    server.enqueue(failure, OK)
    with pytest.raises(error or Exception) as info:
        _client(server, fast_retries).chat(LLAMA, USER)
    assert len(server.requests) == 1
    assert info.value.retries_taken == 0  # type: ignore[attr-defined]


def test_retries_stop_after_max_retries(server: WorkersAIServer, fast_retries: RetryPolicy) -> None:
    server.enqueue(*(Reply.error(*CAPACITY) for _ in range(5)))
    with pytest.raises(CapacityExceededError) as info:
        _client(server, fast_retries, max_retries=3).chat(LLAMA, USER)
    assert len(server.requests) == 4
    assert info.value.retries_taken == 3
    assert info.value.status_code == 429 and info.value.code == 3040


def test_max_retries_zero_sends_once(server: WorkersAIServer, fast_retries: RetryPolicy) -> None:
    server.enqueue(Reply.html(503), OK)
    with pytest.raises(InternalServerError):
        _client(server, fast_retries, max_retries=0).chat(LLAMA, USER)
    assert len(server.requests) == 1


def test_retry_after_is_honoured(server: WorkersAIServer) -> None:
    policy = RetryPolicy(initial_delay=0.0, max_delay=0.0, max_retry_after=5.0)
    server.enqueue(Reply.error(*CAPACITY, headers={"Retry-After": "0.4"}), OK)
    start = time.monotonic()
    _client(server, policy).chat(LLAMA, USER)
    assert time.monotonic() - start >= 0.4
    assert len(server.requests) == 2


def test_retry_after_ms_wins_over_retry_after(server: WorkersAIServer) -> None:
    policy = RetryPolicy(initial_delay=0.0, max_delay=0.0)
    server.enqueue(
        Reply.error(*CAPACITY, headers={"retry-after-ms": "250", "Retry-After": "30"}), OK
    )
    start = time.monotonic()
    _client(server, policy).chat(LLAMA, USER)
    assert 0.25 <= time.monotonic() - start < 5


def test_x_should_retry_true_retries_a_400(
    server: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    server.enqueue(Reply.error(400, None, "try again", headers={"x-should-retry": "true"}), OK)
    assert _client(server, fast_retries).chat(LLAMA, USER).text == "ok"
    assert len(server.requests) == 2


def test_x_should_retry_false_stops_a_503(
    server: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    server.enqueue(Reply(503, {"x-should-retry": "false", "content-type": "text/plain"}, b"no"), OK)
    with pytest.raises(InternalServerError):
        _client(server, fast_retries).chat(LLAMA, USER)
    assert len(server.requests) == 1


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    assert parse_retry_after({"retry-after-ms": "120"}) == 0.12
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < (parse_retry_after({"retry-after": date}) or 0) <= 31
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    policy = RetryPolicy()
    for retry, nominal in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        delays = [policy.backoff(retry) for _ in range(200)]
        assert all(nominal * 0.75 <= d <= nominal for d in delays)
        assert max(delays) - min(delays) > 0  # jittered


def test_read_timeout_is_retried_then_raised(
    server: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    server.enqueue(Reply.stall(1.0), Reply.stall(1.0))
    client = _client(server, fast_retries, timeout=0.2, max_retries=1)
    start = time.monotonic()
    with pytest.raises(APITimeoutError, match="timed out") as info:
        client.chat(LLAMA, USER)
    assert time.monotonic() - start < 0.9
    assert len(server.requests) == 2 and info.value.retries_taken == 1


def test_per_call_timeout_overrides_the_client_default(
    server: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    server.enqueue(Reply.stall(0.6))
    client = _client(server, fast_retries, timeout=0.1, max_retries=0)
    assert client.chat(LLAMA, USER, timeout=3).text == "late"


def test_default_timeout_is_real() -> None:
    assert DEFAULT_TIMEOUT.read == 60 and DEFAULT_TIMEOUT.connect == 5
    assert WorkersAI(timeout=None).timeout == DEFAULT_TIMEOUT
    assert WorkersAI(timeout=httpx.Timeout(None)).timeout == DEFAULT_TIMEOUT
    assert WorkersAI(timeout=12).timeout == httpx.Timeout(12, connect=5)


@pytest.mark.parametrize("phase", ["connect", "read", "write", "pool"])
def test_a_phase_left_none_in_an_httpx_timeout_gets_the_default(phase: str) -> None:
    # None in an httpx.Timeout means "wait forever" to httpx; the README promises never that.
    given = {"connect": 2.0, "read": 30.0, "write": 20.0, "pool": 10.0}
    timeout = WorkersAI(timeout=httpx.Timeout(**{**given, phase: None})).timeout
    assert timeout.as_dict() == {**given, phase: DEFAULT_TIMEOUT.as_dict()[phase]}
    assert WorkersAI(timeout=httpx.Timeout(**given)).timeout.as_dict() == given


@LOOPBACK
def test_connection_refused_is_a_connection_error(fast_retries: RetryPolicy) -> None:
    server = WorkersAIServer()
    url = server.base_url
    server.stop()  # nothing listens on that port any more
    client = WorkersAI("acct", "tok", base_url=url, retry_policy=fast_retries, max_retries=1)
    with pytest.raises(APIConnectionError, match="ConnectError") as info:
        client.chat(LLAMA, USER)
    assert info.value.retries_taken == 1
    assert isinstance(info.value.__cause__, httpx.ConnectError)


@pytest.mark.sync_only  # its async twin: tests/core/test_async_http.py
def test_user_supplied_http_client_is_used_and_not_closed(
    server: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    seen = []
    http = httpx.Client(event_hooks={"request": [lambda r: seen.append(r.url.path)]})
    server.enqueue(OK)
    with _client(server, fast_retries, http_client=http) as client:
        client.chat(LLAMA, USER)
    assert seen == ["/client/v4/accounts/acct/ai/run/@cf/meta/llama-3.1-8b-instruct-fast"]
    assert not http.is_closed
    http.close()


def test_headers_sent(server: WorkersAIServer, fast_retries: RetryPolicy) -> None:
    server.enqueue(OK)
    _client(server, fast_retries, default_headers={"x-team": "search"}).chat(LLAMA, USER)
    headers = server.requests[0].headers
    assert headers["authorization"] == "Bearer tok"
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("workersai-python/")
    assert headers["x-team"] == "search"


async def test_async_retries_match_sync(server: WorkersAIServer, fast_retries: RetryPolicy) -> None:
    server.enqueue(Reply.connection_reset(), Reply.error(*CAPACITY), OK)
    client = AsyncWorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)
    assert (await client.chat(LLAMA, USER)).text == "ok"
    assert len(server.requests) == 3
    server.enqueue(Reply.error(429, 3036, "daily"), OK)
    with pytest.raises(DailyLimitExceededError):
        await client.chat(LLAMA, USER)
    assert len(server.requests) == 4
    await client.aclose()


def test_async_client_survives_several_event_loops(
    server: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    # langchain-ai/langchain#35783: one AsyncClient reused across asyncio.run() calls fails with
    # "Event loop is closed" once the server keeps connections alive.
    client = AsyncWorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)
    server.enqueue(OK, OK, OK)
    texts = [asyncio.run(client.chat(LLAMA, USER)).text for _ in range(3)]
    assert texts == ["ok", "ok", "ok"]
    assert len(server.requests) == 3


async def test_async_timeout(server: WorkersAIServer, fast_retries: RetryPolicy) -> None:
    server.enqueue(Reply.stall(1.0))
    client = AsyncWorkersAI(
        "acct",
        "tok",
        base_url=server.base_url,
        retry_policy=fast_retries,
        timeout=0.2,
        max_retries=0,
    )
    with pytest.raises(APITimeoutError):
        await client.chat(LLAMA, USER)
    await client.aclose()


# -- the owned clients' routes: what each request would otherwise rebuild --------------------


def _prepared(path: str, method: str = "POST", content: bytes = b"{}") -> PreparedRequest:
    return PreparedRequest(
        method=method,
        url=f"https://api.cloudflare.com/client/v4/{path}",
        headers={"Authorization": "Bearer tok"},
        content=content,
        params=None,
        timeout=DEFAULT_TIMEOUT,
        max_retries=0,
        model=None,
        label=f"{method} /{path}",
    )


def _routes(built: list[str]) -> _Routes:
    def transport_for(url: httpx.URL) -> object:
        built.append(str(url))
        return object()

    return _Routes(transport_for, httpx.Headers({"Accept-Encoding": "gzip"}))


@pytest.mark.sync_only  # no client
def test_a_route_is_built_once_and_the_table_stays_bounded() -> None:
    built: list[str] = []
    routes = _routes(built)
    first, pool = routes.request(_prepared("a"), {})
    again, same_pool = routes.request(_prepared("a"), {})
    assert same_pool is pool and built == ["https://api.cloudflare.com/client/v4/a"]
    assert first is not again and again.headers["host"] == "api.cloudflare.com"
    for i in range(1, 256):
        routes.request(_prepared(f"m{i}"), {})
    assert len(routes._routes) == 256  # the bound (_MAX): full, not yet cleared
    routes.request(_prepared("one-more"), {})
    assert len(routes._routes) == 1  # the 257th route starts a new table


@pytest.mark.sync_only  # no client
@pytest.mark.parametrize(
    ("method", "content", "length"),
    [
        ("POST", b"", "0"),
        ("PUT", b"", "0"),
        ("PATCH", b"", "0"),
        ("GET", b"", None),
        ("DELETE", b"", None),
        ("GET", b"x", "1"),
        ("POST", b'{"a": 1}', "8"),
    ],
)
def test_content_length_is_sent_as_httpx_would(
    method: str, content: bytes, length: str | None
) -> None:
    # httpx sends Content-Length: 0 for a body-less POST/PUT/PATCH, none for GET/DELETE.
    expected = httpx.Request(method, "https://x/", content=content).headers.get("content-length")
    assert expected == length
    request, _ = _routes([]).request(_prepared("a", method, content), {})
    assert request.headers.get("content-length") == length
    assert "transfer-encoding" not in request.headers
    assert request.content == content
