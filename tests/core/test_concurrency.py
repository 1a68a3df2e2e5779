"""The bounded maps under every bulk call (embeddings, reranking, image URLs, Batch API
polls): at most N in flight, results in input order, ``on_result(index, result)`` in the
caller's thread or task, and the first failure stops the rest — nothing queued starts,
nothing keeps running, no exception is left unretrieved. And the private loop of a sync
caller's async job, when something interrupts it twice.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from typing import Any

import pytest

from tests.conftest import settle_ast_after_keyboard_interrupt
from workersai import InvalidInputError
from workersai._concurrency import (
    amap_bounded,
    check_concurrency,
    gather_or_cancel,
    map_bounded,
    run_on_private_loop,
)


class CallError(Exception):
    pass


@pytest.mark.parametrize("value", [0, -1, 1.5, "8", True, None])
def test_concurrency_must_be_a_positive_integer(value: Any) -> None:
    with pytest.raises(InvalidInputError, match="max_concurrency") as err:
        check_concurrency(value)
    assert err.value.field == "max_concurrency"  # the error names the argument to fix


# -- map_bounded (threads) -----------------------------------------------------------------


def test_results_come_back_in_input_order_and_on_result_gets_each() -> None:
    seen: list[tuple[int, Any, int]] = []

    def slow_first(n: int) -> int:
        time.sleep(0.05 if n == 0 else 0.0)
        return n * 10

    results = map_bounded(
        [0, 1, 2, 3],
        slow_first,
        max_concurrency=4,
        on_result=lambda index, result: seen.append((index, result, threading.get_ident())),
    )
    assert results == [0, 10, 20, 30]
    assert sorted(seen) == [(i, i * 10, threading.get_ident()) for i in range(4)]
    assert seen[-1][0] == 0  # reported as it completed, the slow one last


def test_each_result_is_reported_while_others_still_run() -> None:
    # The first call finishes only once the second's result has been reported: progress
    # comes as calls complete, not all at the end.
    reported = threading.Event()

    def call(n: int) -> bool:
        return reported.wait(5) if n == 0 else True

    results = map_bounded(
        [0, 1],
        call,
        max_concurrency=2,
        on_result=lambda index, result: reported.set() if index == 1 else None,
    )
    assert results == [True, True]


@pytest.mark.parametrize("limit", [2, 8])
def test_exactly_max_concurrency_calls_run_at_once(limit: int) -> None:
    # Every call waits for `limit` of them to be running: fewer threads would time out.
    everyone = threading.Barrier(limit, timeout=5)
    running = [0]
    peak = [0]
    lock = threading.Lock()

    def call(n: int) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        everyone.wait()
        with lock:
            running[0] -= 1
        return n

    assert map_bounded(list(range(limit * 2)), call, max_concurrency=limit) == list(
        range(limit * 2)
    )
    assert peak[0] == limit


def test_one_at_a_time_runs_in_the_calling_thread() -> None:
    threads: set[int] = set()
    seen: list[tuple[int, int]] = []
    results = map_bounded(
        [1, 2, 3],
        lambda n: threads.add(threading.get_ident()) or n + 1,
        max_concurrency=1,
        on_result=lambda index, result: seen.append((index, result)),
    )
    assert results == [2, 3, 4]
    assert threads == {threading.get_ident()}
    assert seen == [(0, 2), (1, 3), (2, 4)]


def test_the_first_failure_is_raised_at_once_and_nothing_queued_starts() -> None:
    started: list[int] = []
    release = threading.Event()

    def call(n: int) -> int:
        started.append(n)
        if n == 0:
            raise CallError("first")
        release.wait(5)  # still running when the failure is raised
        return n

    begun = time.monotonic()
    with pytest.raises(CallError, match="first"):
        map_bounded(list(range(10)), call, max_concurrency=2)
    assert time.monotonic() - begun < 2  # raised without waiting for the running call
    assert not release.is_set()
    release.set()
    time.sleep(0.1)
    # the failed call, the one running beside it, and at most the next one, which the freed
    # thread may take before the failure is seen: the rest of the queue is never made
    assert sorted(started)[:2] == [0, 1]
    assert len(started) <= 3


# -- amap_bounded and gather_or_cancel (tasks) ------------------------------------------------


async def test_async_results_in_order_and_on_result_gets_each() -> None:
    seen: list[tuple[int, Any]] = []

    async def slow_first(n: int) -> int:
        await asyncio.sleep(0.05 if n == 0 else 0.0)
        return n * 10

    results = await amap_bounded(
        [0, 1, 2, 3],
        slow_first,
        max_concurrency=4,
        on_result=lambda index, result: seen.append((index, result)),
    )
    assert results == [0, 10, 20, 30]
    assert sorted(seen) == [(i, i * 10) for i in range(4)]
    assert seen[-1][0] == 0


async def test_async_one_at_a_time_runs_in_the_callers_task() -> None:
    caller = asyncio.current_task()
    tasks: set[Any] = set()
    seen: list[tuple[int, int]] = []

    async def call(n: int) -> int:
        tasks.add(asyncio.current_task())
        return n + 1

    results = await amap_bounded(
        [1, 2], call, max_concurrency=1, on_result=lambda index, r: seen.append((index, r))
    )
    assert results == [2, 3]
    assert tasks == {caller}
    assert seen == [(0, 2), (1, 3)]


async def test_siblings_of_a_failure_are_stopped_before_it_is_raised() -> None:
    cleaned: list[str] = []

    async def fails() -> None:
        await asyncio.sleep(0)
        raise CallError("first")

    async def sleeps() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            cleaned.append("sleeper")

    with pytest.raises(CallError, match="first"):
        await gather_or_cancel([fails(), sleeps()])
    assert cleaned == ["sleeper"]  # already stopped when the failure arrives


async def test_no_failure_is_left_unretrieved(caplog: pytest.LogCaptureFixture) -> None:
    async def fails(message: str) -> None:
        await asyncio.sleep(0)
        raise CallError(message)

    with pytest.raises(CallError):
        await gather_or_cancel([fails("one"), fails("two"), fails("three")])
    gc.collect()  # an unretrieved exception is logged when its task is collected
    await asyncio.sleep(0)
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]


# -- the private loop, interrupted twice ------------------------------------------------------


def test_an_interruption_raised_again_while_stopping_the_job_is_still_waited_out() -> None:
    # Ctrl-C in one task; stopping the job makes another raise it again: the job is still
    # waited out before the first interruption propagates.
    stopped: list[str] = []

    async def job(post: Any) -> None:
        async def interrupts() -> None:
            raise KeyboardInterrupt("first")

        async def interrupts_when_cancelled() -> None:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                raise KeyboardInterrupt("again") from None

        loop = asyncio.get_running_loop()
        second = loop.create_task(interrupts_when_cancelled())
        await asyncio.sleep(0)
        first = loop.create_task(interrupts())
        try:
            await asyncio.sleep(10)
        finally:  # the job's clean-up, which must not be cut short
            second.cancel()
            await asyncio.wait([second])
            stopped.append("job")
            assert isinstance(first.exception(), KeyboardInterrupt)
            assert isinstance(second.exception(), KeyboardInterrupt)

    with pytest.raises(KeyboardInterrupt, match="first"):
        run_on_private_loop(job)
    settle_ast_after_keyboard_interrupt()
    assert stopped == ["job"]
