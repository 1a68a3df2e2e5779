"""Transport fixes: async clients of closed event loops are released (no fd leak, no
"Event loop is closed"), the token never shows in a repr, the Retry-After / 3036 policy, and
Batch API submits that are not resent once the server may have accepted them."""

from __future__ import annotations

import asyncio
import gc
import os
import time
import warnings
import weakref
from typing import Any

import pytest

from workersai import (
    APIConnectionError,
    AsyncWorkersAI,
    DailyLimitExceededError,
    GatewayOptions,
    InternalServerError,
    RetryPolicy,
    WorkersAI,
)
from workersai.testing import Reply, WorkersAIServer

LLAMA = "@cf/meta/llama-3.1-8b-instruct-fast"
BGE_M3 = "@cf/baai/bge-m3"
USER = [{"role": "user", "content": "hi"}]
OK = Reply.result({"response": "ok"})
QUEUED = {"status": "queued", "request_id": "job-1", "model": BGE_M3}
DONE = {"responses": [{"id": 0, "result": {"response": []}, "success": True}]}
ITEMS = [{"query": "q", "contexts": [{"text": "a"}]}]
SENTINEL = "sentinel-token-3f9a"


def _open_fds() -> int | None:
    fd_dir = "/proc/self/fd"
    return len(os.listdir(fd_dir)) if os.path.isdir(fd_dir) else None


def _settled_fds(limit: int, timeout: float = 3.0) -> int | None:
    """Open fds once they have dropped to ``limit`` (the server closes its end of a released
    connection from its own thread, a moment later), or the count at the timeout."""
    deadline = time.monotonic() + timeout
    count = _open_fds()
    while count is not None and count > limit and time.monotonic() < deadline:
        time.sleep(0.02)
        count = _open_fds()
    return count


# -- 1. async clients of closed loops ---------------------------------------------------------


def _run_with_asyncio_run(coro: Any) -> Any:
    return asyncio.run(coro)


def _run_on_a_bare_loop(coro: Any) -> Any:
    # closed without shutdown_asyncgens(): nothing runs at the loop's end, so only the next
    # lookup (or garbage collection) can release what the loop's client held
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


RUNNERS = pytest.mark.parametrize(
    "run", [_run_with_asyncio_run, _run_on_a_bare_loop], ids=["asyncio.run", "bare-loop"]
)


@RUNNERS
def test_thirty_event_loops_leave_one_client_and_no_open_sockets(
    server: WorkersAIServer, fast_retries: RetryPolicy, run: Any
) -> None:
    server.handler = lambda request: OK
    client = AsyncWorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)
    gc.collect()
    before = _open_fds()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for _ in range(30):
            assert run(client.chat(LLAMA, USER)).text == "ok"
        gc.collect()
    # every lookup drops the clients of closed loops: only the last loop's is left
    assert len(client._transport._clients) <= 1
    assert len(server.requests) == 30
    if before is not None:
        # at most the last loop's connection (its two ends) is still open, not 30 of them
        after = _settled_fds(before + 2)
        assert after is not None and after - before <= 2
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_asyncio_run_closes_its_client_before_the_loop_closes(
    server: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    server.handler = lambda request: OK
    client = AsyncWorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)
    asyncio.run(client.chat(LLAMA, USER))
    [(loop, pool)] = list(client._transport._clients.items())
    assert loop.is_closed() and pool.is_closed  # closed by aclose() on its own loop


@RUNNERS
def test_a_client_collected_while_another_loop_runs_closes_without_errors(
    server: WorkersAIServer, fast_retries: RetryPolicy, run: Any
) -> None:
    # bench/embeddings.py: a client of a finished asyncio.run() was garbage-collected inside
    # the next one, whose loop then ran AsyncClient.aclose() for connections of the dead loop
    # ("Task exception was never retrieved ... RuntimeError('Event loop is closed')").
    server.handler = lambda request: OK
    holder = [AsyncWorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)]
    run(holder[0].chat(LLAMA, USER))
    gc.collect()
    before = _open_fds()
    errors: list[dict[str, Any]] = []

    async def collect_elsewhere() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: errors.append(ctx))
        holder.clear()
        gc.collect()
        for _ in range(5):  # give any close scheduled on this loop the chance to run
            await asyncio.sleep(0.01)
        gc.collect()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        asyncio.run(collect_elsewhere())
        gc.collect()
    assert errors == []
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    if before is not None:
        after = _settled_fds(before - 2)
        assert after is not None
        if run is _run_on_a_bare_loop:
            assert after < before  # the dead loop's connection was released on collection
        else:
            assert after <= before  # asyncio.run() had already closed it


@pytest.mark.parametrize("cls", [WorkersAI, AsyncWorkersAI])
def test_a_dropped_client_is_freed_at_once_not_by_the_cyclic_gc(cls: type) -> None:
    # A reference cycle (client ⇄ client.batch) left the client to the cyclic GC, which
    # finalises a whole cycle in no particular order: asyncio's transports could be collected
    # (warning "unclosed transport") before the client that would have closed them.
    gc.collect()
    gc.disable()
    try:
        client = cls("acct", "tok")
        assert client.batch.poll is not None
        ref = weakref.ref(client)
        del client
        assert ref() is None
    finally:
        gc.enable()


async def test_aclose_also_releases_the_clients_of_closed_loops(
    server: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    server.handler = lambda request: OK
    client = AsyncWorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)

    def in_another_loop() -> None:
        asyncio.run(client.chat(LLAMA, USER))

    await asyncio.get_running_loop().run_in_executor(None, in_another_loop)
    assert (await client.chat(LLAMA, USER)).text == "ok"
    await client.aclose()
    assert len(client._transport._clients) == 0


# -- 2. the token in a repr --------------------------------------------------------------------


def test_prepared_request_repr_shows_no_secret() -> None:
    client = WorkersAI(
        "acct",
        SENTINEL,
        base_url="http://127.0.0.1:9",
        gateway=GatewayOptions(id="gw", authorization=f"{SENTINEL}-gateway"),
    )
    prepared = client._prepare("POST", f"run/{LLAMA}", json_body={"prompt": "hi"}, model=LLAMA)
    assert prepared.headers["Authorization"] == f"Bearer {SENTINEL}"  # it is sent...
    assert SENTINEL not in repr(prepared)  # ...and never shown
    assert SENTINEL not in str(prepared)
    assert prepared.label in repr(prepared)


# -- 7. Retry-After and 3036 ------------------------------------------------------------------


def test_a_retry_after_beyond_the_cap_falls_back_to_the_backoff(
    server: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    # openai-python: a Retry-After outside (0, 60] s is ignored for the computed backoff
    server.enqueue(Reply.error(429, 3040, "Capacity", headers={"Retry-After": "3600"}), OK)
    client = WorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)
    start = time.monotonic()
    assert client.chat(LLAMA, USER).text == "ok"
    assert time.monotonic() - start < 2.0  # the backoff, not an hour
    assert len(server.requests) == 2


def test_a_retry_after_in_the_past_waits_the_backoff_not_zero(server: WorkersAIServer) -> None:
    policy = RetryPolicy(initial_delay=0.3, max_delay=0.3, jitter=0.0)
    past = "Wed, 21 Oct 2015 07:28:00 GMT"
    server.enqueue(Reply.error(429, 3040, "Capacity", headers={"Retry-After": past}), OK)
    client = WorkersAI("acct", "tok", base_url=server.base_url, retry_policy=policy)
    start = time.monotonic()
    client.chat(LLAMA, USER)
    assert time.monotonic() - start >= 0.3


@pytest.mark.parametrize(
    "headers",
    [{"x-should-retry": "true"}, {"x-should-retry": "true", "Retry-After": "0"}, {}],
    ids=["x-should-retry", "x-should-retry+retry-after", "no-headers"],
)
def test_3036_is_never_retried_whatever_the_headers_say(
    server: WorkersAIServer, fast_retries: RetryPolicy, headers: dict[str, str]
) -> None:
    server.enqueue(
        Reply.error(429, 3036, "daily free allocation used up", headers=headers),
        OK,
    )
    client = WorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)
    with pytest.raises(DailyLimitExceededError) as info:
        client.chat(LLAMA, USER)
    assert info.value.retries_taken == 0
    assert len(server.requests) == 1


# -- 4. Batch API submits are not resent once they may have been accepted ----------------------


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (Reply.connection_reset(), APIConnectionError),
        (Reply.reset_mid_body(), APIConnectionError),
        (Reply.html(502), InternalServerError),
        (Reply.html(500), InternalServerError),
    ],
    ids=["reset-after-send", "reset-mid-answer", "502", "500"],
)
def test_a_batch_submit_is_not_resent_after_the_server_may_have_queued_it(
    server: WorkersAIServer, fast_retries: RetryPolicy, failure: Reply, error: type
) -> None:
    server.enqueue(failure, Reply.result(QUEUED))
    client = WorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)
    with pytest.raises(error) as info:
        client.batch.submit(BGE_M3, ITEMS)
    assert len(server.requests) == 1  # a second submit would queue (and bill) the job twice
    assert "not retried" in str(info.value)


def test_a_refused_batch_submit_is_retried(
    server: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    # 429: the job was refused, not queued, so sending it again is safe
    server.enqueue(Reply.error(429, 3040, "Capacity"), Reply.result(QUEUED))
    client = WorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)
    assert client.batch.submit(BGE_M3, ITEMS).request_id == "job-1"
    assert len(server.requests) == 2


def test_batch_polls_are_still_retried(server: WorkersAIServer, fast_retries: RetryPolicy) -> None:
    server.enqueue(Reply.connection_reset(), Reply.html(503), Reply.result(DONE))
    client = WorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)
    assert client.batch.poll(BGE_M3, "job-1").done
    assert len(server.requests) == 3


async def test_an_async_batch_submit_is_not_resent_either(
    server: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    server.enqueue(Reply.connection_reset())
    server.handler = lambda request: Reply.result(QUEUED)  # what a resent submit would get
    client = AsyncWorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)
    with pytest.raises(APIConnectionError):
        await client.batch.submit(BGE_M3, ITEMS)
    assert len(server.requests) == 1
    server.handler = None
    server.enqueue(Reply.connection_reset(), Reply.result(DONE))
    assert (await client.batch.poll(BGE_M3, "job-1")).done
    assert len(server.requests) == 3
    await client.aclose()
