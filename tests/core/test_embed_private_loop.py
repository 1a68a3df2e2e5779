"""Sync embedding jobs of more than two rounds run on one event loop of their own (aiohttp),
not from a thread pool: threads sharing the GIL to decode ~1.4 MB answers are slower than
one loop (``bench/embeddings.py``). Which path ran is seen from the threads alive while
``on_progress`` is called: the pool's are named ``workersai_N``, the helper thread of a job
started under a running loop ``workersai-loop``; a job on the caller's own thread has none.

Each text ``"t <i>"`` is answered with the vector ``[i, <request size>]`` (wire reference
§6: ``{"shape", "data", "pooling"}``), so order is checked whatever order requests complete in.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests._embedding_answers import EmbeddingAnswers
from tests.conftest import LOOPBACK, settle_ast_after_keyboard_interrupt
from workersai import AsyncWorkersAI, ModelInputError, RetryPolicy, WorkersAI
from workersai._concurrency import run_on_private_loop
from workersai._json import _gc_untrack_function, untrack_number_lists
from workersai.testing import RecordedRequest, Reply, WorkersAIServer
from workersai.usage import track_usage

pytestmark = LOOPBACK

BGE = "@cf/baai/bge-base-en-v1.5"


def texts(n: int) -> list[str]:
    return [f"t {i}" for i in range(n)]


@pytest.fixture
def answers() -> EmbeddingAnswers:
    return EmbeddingAnswers(0.01)


@pytest.fixture
def emulator(answers: EmbeddingAnswers) -> Iterator[WorkersAIServer]:
    with WorkersAIServer(answers) as srv:
        yield srv


@pytest.fixture
def client(emulator: WorkersAIServer, fast_retries: RetryPolicy) -> Iterator[WorkersAI]:
    with WorkersAI("acct", "tok", base_url=emulator.base_url, retry_policy=fast_retries) as c:
        yield c


class Progress:
    """``on_progress`` that notes the counts, its thread and the package's threads alive."""

    def __init__(self) -> None:
        self.done: list[int] = []
        self.callers: set[int] = set()
        self.package_threads: set[str] = set()

    def __call__(self, done: int, total: int) -> None:
        self.done.append(done)
        self.callers.add(threading.get_ident())
        self.package_threads |= {
            t.name.split("_")[0] for t in threading.enumerate() if t.name.startswith("workersai")
        }


def first_values(vectors: list[list[float]]) -> list[int]:
    return [int(v[0]) for v in vectors]


# -- which path --------------------------------------------------------------------------------


def test_a_long_job_runs_on_one_loop_in_the_calling_thread(
    client: WorkersAI, emulator: WorkersAIServer, answers: EmbeddingAnswers
) -> None:
    progress = Progress()
    result = client.embed(BGE, texts(1000), max_concurrency=2, on_progress=progress)
    assert first_values(result.vectors) == list(range(1000))
    assert result.shape == [1000, 2]
    assert progress.package_threads == set()  # no pool, no helper thread
    assert progress.callers == {threading.get_ident()}
    assert progress.done == [100 * k for k in range(1, 11)]
    assert len(emulator.requests) == 10
    assert answers.peak == 2  # two in flight, never more


@pytest.mark.parametrize(
    ("count", "concurrency", "package_threads"),
    [(400, 2, {"workersai"}), (500, 2, set()), (1600, 8, {"workersai"}), (1700, 8, set())],
    ids=["two-rounds", "past-two-rounds", "two-rounds-of-8", "past-two-rounds-of-8"],
)
def test_a_job_of_at_most_two_rounds_keeps_the_pooled_connections(
    client: WorkersAI, count: int, concurrency: int, package_threads: set[str]
) -> None:
    progress = Progress()
    result = client.embed(BGE, texts(count), max_concurrency=concurrency, on_progress=progress)
    assert first_values(result.vectors) == list(range(count))
    assert progress.package_threads == package_threads
    assert progress.callers == {threading.get_ident()}


def test_a_client_passed_in_is_used_for_every_job(emulator: WorkersAIServer) -> None:
    sent: list[str] = []
    with httpx.Client(event_hooks={"request": [lambda r: sent.append(str(r.url))]}) as http:
        client = WorkersAI("acct", "tok", base_url=emulator.base_url, http_client=http)
        progress = Progress()
        result = client.embed(BGE, texts(1000), max_concurrency=2, on_progress=progress)
    assert first_values(result.vectors) == list(range(1000))
    assert len(sent) == 10  # every request through the user's client
    assert progress.package_threads == {"workersai"}


def test_declining_aiohttp_keeps_the_thread_pool(
    client: WorkersAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKERSAI_ASYNC_HTTP", "httpx")
    progress = Progress()
    result = client.embed(BGE, texts(1000), max_concurrency=2, on_progress=progress)
    assert first_values(result.vectors) == list(range(1000))
    assert progress.package_threads == {"workersai"}


async def test_under_a_running_loop_the_job_runs_in_a_helper_thread(client: WorkersAI) -> None:
    # Jupyter runs cells inside a loop: the job gets a thread with a loop of its own.
    assert asyncio.get_running_loop() is not None
    progress = Progress()
    result = client.embed(BGE, texts(1000), max_concurrency=2, on_progress=progress)
    assert first_values(result.vectors) == list(range(1000))
    assert progress.package_threads == {"workersai-loop"}
    assert progress.callers == {threading.get_ident()}  # still called in this thread
    assert progress.done == [100 * k for k in range(1, 11)]
    assert not [t for t in threading.enumerate() if t.name == "workersai-loop"]


# -- retries, errors, interruptions --------------------------------------------------------


def test_a_retried_request_keeps_its_place(
    client: WorkersAI, emulator: WorkersAIServer, answers: EmbeddingAnswers
) -> None:
    failed: list[str] = []

    def capacity_once(request: RecordedRequest) -> Reply:
        first = request.json()["text"][0]
        if first == "t 300" and not failed:
            failed.append(first)
            return Reply.error(429, 3040, "Capacity temporarily exceeded, please try again.")
        return answers(request)

    emulator.handler = capacity_once
    result = client.embed(BGE, texts(1000), max_concurrency=2)
    assert first_values(result.vectors) == list(range(1000))
    assert len(emulator.requests) == 11  # the transport's one retry, no other layer


def test_a_bad_request_fails_fast_and_the_rest_is_not_sent(
    client: WorkersAI, emulator: WorkersAIServer, answers: EmbeddingAnswers
) -> None:
    def bad_first(request: RecordedRequest) -> Reply:
        if request.json()["text"][0] == "t 0":
            return Reply.error(400, 5006, "AiError: Bad input: Error: oneOf at '/' not met")
        return answers(request)

    emulator.handler = bad_first
    with pytest.raises(ModelInputError) as err:
        client.embed(BGE, texts(2000), max_concurrency=2)
    assert err.value.code == 5006
    assert len(emulator.requests) <= 3  # the first failure stops the job


@pytest.mark.parametrize("under_a_loop", [False, True], ids=["caller-thread", "helper-thread"])
@pytest.mark.parametrize("exc_type", [RuntimeError, KeyboardInterrupt])
def test_an_exception_in_the_caller_stops_the_job(
    client: WorkersAI,
    emulator: WorkersAIServer,
    under_a_loop: bool,
    exc_type: type[BaseException],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A raising on_progress, or Ctrl-C while waiting: the job is cancelled, not left sending.
    def stop(done: int, total: int) -> None:
        raise exc_type("stop")

    def embed() -> None:
        client.embed(BGE, texts(3000), max_concurrency=2, on_progress=stop)

    async def embed_under_a_loop() -> None:
        embed()

    with pytest.raises(exc_type, match="stop"):
        asyncio.run(embed_under_a_loop()) if under_a_loop else embed()
    settle_ast_after_keyboard_interrupt()
    time.sleep(0.1)  # requests already on the wire may still be arriving
    sent = len(emulator.requests)
    time.sleep(0.1)
    # of 30: the first, the one in flight beside it, and at most the pair started before the
    # caller's thread saw the failure; then nothing more
    assert len(emulator.requests) == sent <= 5
    assert not [t for t in threading.enumerate() if t.name == "workersai-loop"]
    gc.collect()  # a task whose exception nobody retrieved would be logged now
    assert not [r for r in caplog.records if r.name == "asyncio"]


def test_usage_is_recorded_in_the_callers_context(
    client: WorkersAI, emulator: WorkersAIServer
) -> None:
    with track_usage() as tracker:
        client.embed(BGE, texts(1000), max_concurrency=2)
    assert tracker.by_model[BGE].requests == 10


# -- the private loop itself ---------------------------------------------------------------------


def test_run_on_private_loop_posts_to_the_caller_in_order_with_its_context() -> None:
    marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="unset")
    marker.set("caller")
    calls: list[tuple[int, int]] = []

    async def job(post: Any) -> str:
        for n in range(5):
            await asyncio.sleep(0)
            post(lambda n=n: calls.append((n, threading.get_ident())))
        return marker.get()

    assert run_on_private_loop(job) == "caller"
    assert calls == [(n, threading.get_ident()) for n in range(5)]

    async def under_a_loop() -> str:
        return run_on_private_loop(job)

    calls.clear()
    assert asyncio.run(under_a_loop()) == "caller"
    assert calls == [(n, threading.get_ident()) for n in range(5)]


@pytest.mark.parametrize("under_a_loop", [False, True], ids=["caller-thread", "helper-thread"])
def test_run_on_private_loop_raises_the_jobs_exception(under_a_loop: bool) -> None:
    class JobError(Exception):
        pass

    async def job(post: Any) -> None:
        await asyncio.sleep(0)
        raise JobError("from the job")

    async def run() -> None:
        run_on_private_loop(job)

    with pytest.raises(JobError, match="from the job"):
        asyncio.run(run()) if under_a_loop else run_on_private_loop(job)


def test_the_caller_keeps_its_event_loop_setting() -> None:
    # The private loop is never made the calling thread's current loop.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:

        async def job(post: Any) -> int:
            return 1

        assert run_on_private_loop(job) == 1
        assert asyncio.get_event_loop_policy().get_event_loop() is loop
    finally:
        asyncio.set_event_loop(None)
        loop.close()


# -- vectors and the cycle collector ---------------------------------------------------------------


@pytest.mark.parametrize("count", [300, 1000], ids=["thread-pool", "private-loop"])
def test_vectors_are_off_the_cycle_collectors_books(client: WorkersAI, count: int) -> None:
    vectors = client.embed(BGE, texts(count), max_concurrency=2).vectors
    assert not any(gc.is_tracked(v) for v in vectors)
    vectors[0].append(1.5)  # still ordinary lists
    assert vectors[0][-1] == 1.5


async def test_async_vectors_are_off_the_cycle_collectors_books(
    emulator: WorkersAIServer,
) -> None:
    async with AsyncWorkersAI("acct", "tok", base_url=emulator.base_url) as client:
        vectors = (await client.embed(BGE, texts(300))).vectors
    assert len(vectors) == 300
    assert not any(gc.is_tracked(v) for v in vectors)


def test_the_untrack_function_is_cpythons() -> None:
    untrack = _gc_untrack_function()
    assert untrack is not None  # CPython: the suite runs on it
    row = [0.5, 1.5]
    untrack(row)
    assert not gc.is_tracked(row)
    assert row == [0.5, 1.5]


def test_only_lists_of_numbers_are_untracked() -> None:
    floats, ints, strings, dicts, empty = [0.5, 1.0], [1, 2], ["x"], [{"a": 1}], []
    rows: list[Any] = [floats, ints, strings, dicts, empty, (1.0, 2.0)]
    assert all(gc.is_tracked(row) for row in rows[:5])
    untrack_number_lists(rows)
    assert [gc.is_tracked(row) for row in rows[:5]] == [False, False, True, True, True]
