"""The retry layer's rules where a small change would go unnoticed: which ``Retry-After``
values are obeyed (0 s and the cap itself included), which failures of a request that must not
be sent twice are retried anyway (it never left), the note such a failure carries, the retry
log line, and error bodies that are not JSON — on the sync client and on both async
transports. Waits are read from the retry log (the delay it reports is the one slept), never
timed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests._every_client import CLIENT_KINDS, ClientMaker
from tests.conftest import LOOPBACK
from workersai import (
    APIConnectionError,
    APIError,
    CapacityExceededError,
    DailyLimitExceededError,
    InternalServerError,
    RetryPolicy,
)
from workersai.testing import Reply, WorkersAIServer

LLAMA = "@cf/meta/llama-3.1-8b-instruct-fast"
BGE_M3 = "@cf/baai/bge-m3"
USER = [{"role": "user", "content": "hi"}]
OK = Reply.result({"response": "ok"})
QUEUED = Reply.result({"status": "queued", "request_id": "job-1", "model": BGE_M3})
ITEMS = [{"query": "q", "contexts": [{"text": "a"}]}]
CAPACITY = (429, 3040, "Capacity temporarily exceeded, please try again.")
RUN_LABEL = f"POST /ai/run/{LLAMA}"
# A backoff that cannot be mistaken for any Retry-After below.
BACKOFF = RetryPolicy(initial_delay=0.002, max_delay=0.002, max_retry_after=0.05, jitter=0.0)

Make = Callable[..., Any]


@pytest.fixture(params=CLIENT_KINDS)
def make(request: pytest.FixtureRequest) -> Iterator[ClientMaker]:
    maker = ClientMaker(request.param)
    yield maker
    maker.close()


@pytest.fixture
def retry_log(caplog: pytest.LogCaptureFixture) -> Callable[[], list[logging.LogRecord]]:
    caplog.set_level(logging.INFO, logger="workersai._transport")
    return lambda: [r for r in caplog.records if r.name == "workersai._transport" and r.args]


def _delays(records: list[logging.LogRecord]) -> list[float]:
    """The delay each "Retrying ... in %.2fs" record was given, unrounded."""
    return [float(r.args[1]) for r in records if isinstance(r.args, tuple)]  # type: ignore[arg-type]


# -- Retry-After -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "0"}, 0.0),  # "now" is a usable value, not a missing one
        ({"Retry-After": "0.05"}, 0.05),  # exactly the cap: still obeyed
        ({"retry-after-ms": "30"}, 0.03),
        ({"retry-after-ms": "20", "Retry-After": "0.04"}, 0.02),  # the ms header wins
        ({"retry-after-ms": "soon", "Retry-After": "0.04"}, 0.04),  # unreadable ms: seconds
        ({"Retry-After": "0.06"}, 0.002),  # past the cap: the backoff
        ({"Retry-After": "-1"}, 0.002),  # negative: the backoff
        ({"Retry-After": "nan"}, 0.002),
        ({"Retry-After": "soon"}, 0.002),  # neither seconds nor a date
        ({}, 0.002),
    ],
    ids=["0", "cap", "ms", "ms-wins", "bad-ms", "past-cap", "negative", "nan", "junk", "none"],
)
def test_the_wait_before_a_retry(
    make: Make,
    server: WorkersAIServer,
    retry_log: Callable[[], list[logging.LogRecord]],
    headers: dict[str, str],
    expected: float,
) -> None:
    server.enqueue(Reply.error(*CAPACITY, headers=headers), OK)
    assert make(server.base_url, retry_policy=BACKOFF).chat(LLAMA, USER).text == "ok"
    assert _delays(retry_log()) == [pytest.approx(expected)]


def test_the_retry_log_line_says_what_failed_and_how_long_it_waits(
    make: Make, server: WorkersAIServer, retry_log: Callable[[], list[logging.LogRecord]]
) -> None:
    server.enqueue(
        Reply.error(*CAPACITY, headers={"Retry-After": "0"}),
        Reply.html(503),
        Reply.connection_reset(),
        OK,
    )
    make(server.base_url, retry_policy=BACKOFF, max_retries=3).chat(LLAMA, USER)
    assert [r.getMessage() for r in retry_log()] == [
        f"Retrying {RUN_LABEL} in 0.00s (retry 1 of 3) after HTTP 429 [3040]",
        f"Retrying {RUN_LABEL} in 0.00s (retry 2 of 3) after HTTP 503",
        f"Retrying {RUN_LABEL} in 0.00s (retry 3 of 3) after APIConnectionError",
    ]
    assert all(r.levelno == logging.INFO for r in retry_log())


# -- the daily allocation (3036) ---------------------------------------------------------------


@pytest.mark.parametrize("code", [3036, 4006], ids=["3036", "4006-its-older-spelling"])
def test_the_daily_allocation_is_never_retried_even_when_the_server_says_retry(
    make: Make, server: WorkersAIServer, code: int
) -> None:
    # no header can make a retry succeed before 00:00 UTC (x-should-retry wins everywhere else)
    failure = Reply.error(
        429,
        code,
        "You have used up your daily free allocation of 10,000 neurons.",
        headers={"x-should-retry": "true", "Retry-After": "0"},
    )
    server.enqueue(failure, OK)
    with pytest.raises(DailyLimitExceededError) as info:
        make(server.base_url, retry_policy=BACKOFF).chat(LLAMA, USER)
    assert len(server.requests) == 1 and info.value.retries_taken == 0


# -- requests that must not be sent twice -------------------------------------------------------


@LOOPBACK
def test_a_batch_submit_that_could_not_connect_is_retried_without_the_not_retried_note(
    make: Make,
) -> None:
    server = WorkersAIServer()
    url = server.base_url
    server.stop()  # nothing listens there: the submit never left
    client = make(url, retry_policy=BACKOFF, max_retries=2)
    with pytest.raises(APIConnectionError) as info:
        client.batch.submit(BGE_M3, ITEMS)
    assert info.value.retries_taken == 2  # retried: no job can have been queued
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert "not retried" not in str(info.value)


def test_a_refused_batch_submit_is_retried_until_accepted(
    make: Make, server: WorkersAIServer
) -> None:
    server.enqueue(Reply.error(*CAPACITY), Reply.error(*CAPACITY), QUEUED)
    client = make(server.base_url, retry_policy=BACKOFF, max_retries=2)
    assert client.batch.submit(BGE_M3, ITEMS).request_id == "job-1"
    assert len(server.requests) == 3


def test_a_batch_submit_that_may_have_been_queued_says_why_it_was_not_retried(
    make: Make, server: WorkersAIServer
) -> None:
    server.enqueue(Reply.html(502), QUEUED)
    with pytest.raises(InternalServerError) as info:
        make(server.base_url, retry_policy=BACKOFF).batch.submit(BGE_M3, ITEMS)
    assert len(server.requests) == 1
    hint = info.value.hint or ""
    # the note first, then the error's own hint, both kept
    assert hint.startswith(
        f"POST /ai/run/{BGE_M3} was not retried: the server may have accepted it before "
        "failing, and sending it again could do (and bill) the work twice. Check before "
        "resending. "
    )
    assert len(hint) > hint.index("Check before resending. ") + len("Check before resending. ")


def test_a_batch_submit_without_retries_allowed_has_no_not_retried_note(
    make: Make, server: WorkersAIServer
) -> None:
    # max_retries=0: no request is retried, so there is nothing particular to explain
    server.enqueue(Reply.html(502), QUEUED)
    with pytest.raises(InternalServerError) as info:
        make(server.base_url, retry_policy=BACKOFF, max_retries=0).batch.submit(BGE_M3, ITEMS)
    assert "not retried" not in str(info.value)


def test_the_not_retried_note_is_the_whole_hint_of_an_error_without_one(
    make: Make, server: WorkersAIServer
) -> None:
    server.enqueue(Reply.error(409, None, "conflict"), QUEUED)  # retryable, and no hint of its own
    with pytest.raises(APIError) as info:
        make(server.base_url, retry_policy=BACKOFF).batch.submit(BGE_M3, ITEMS)
    assert len(server.requests) == 1
    assert info.value.status_code == 409
    assert info.value.hint == (
        f"POST /ai/run/{BGE_M3} was not retried: the server may have accepted it before "
        "failing, and sending it again could do (and bill) the work twice. Check before "
        "resending."
    )


# -- error answers that are not JSON --------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "text"),
    [(b"upstream exploded", "upstream exploded"), (b"bad \xff byte", "bad \ufffd byte")],
    ids=["utf-8", "invalid-utf-8"],
)
def test_a_binary_error_body_is_kept_as_text(
    make: Make, server: WorkersAIServer, body: bytes, text: str
) -> None:
    server.enqueue(Reply(500, {"content-type": "application/octet-stream"}, body))
    with pytest.raises(InternalServerError) as info:
        make(server.base_url, retry_policy=BACKOFF, max_retries=0).chat(LLAMA, USER)
    assert info.value.body == text
    assert text in info.value.message


def test_an_error_carries_the_response_headers_request_id_and_retry_after(
    make: Make, server: WorkersAIServer
) -> None:
    headers = {"cf-ray": "8f0c0ffee-LHR", "Retry-After": "0.01"}
    server.enqueue(*(Reply.error(*CAPACITY, headers=headers) for _ in range(2)))
    with pytest.raises(CapacityExceededError) as info:
        make(server.base_url, retry_policy=BACKOFF, max_retries=1).chat(LLAMA, USER)
    assert info.value.request_id == "8f0c0ffee-LHR"
    assert info.value.retry_after == 0.01
    assert info.value.retries_taken == 1
