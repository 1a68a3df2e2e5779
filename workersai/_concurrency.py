"""Many calls at once, at most N in flight, results in input order: threads for the sync
clients (no event loop, so safe inside Jupyter), tasks on the running loop for the async ones,
and :func:`run_on_private_loop` for sync jobs whose answers take real CPU to decode: threads
fighting over the GIL for that work are slower than one event loop doing all of it.

The first failure is raised and what has not started is dropped — a failed job stops paying
for requests whose results would be thrown away. Retries are the transport's job, never
this module's.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

from workersai.errors import InvalidInputError

__all__ = [
    "Post",
    "amap_bounded",
    "check_concurrency",
    "gather_or_cancel",
    "map_bounded",
    "run_on_private_loop",
]

_T = TypeVar("_T")
_R = TypeVar("_R")

OnResult = Callable[[int, Any], None]
"""``on_result(index, result)``, called as each call completes (in the calling thread/loop)."""

Post = Callable[[Callable[[], None]], None]
"""``post(fn)``: have ``fn()`` called in the thread that started a private-loop job."""


def check_concurrency(value: Any, name: str = "max_concurrency") -> int:
    """``value`` as a positive number of calls in flight, or :class:`InvalidInputError`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"{name} must be a positive integer, got {value!r}", field=name)
    if value < 1:
        raise InvalidInputError(f"{name} must be at least 1, got {value}", field=name)
    return value


def map_bounded(
    items: Sequence[_T],
    call: Callable[[_T], _R],
    *,
    max_concurrency: int,
    on_result: OnResult | None = None,
) -> list[_R]:
    """``[call(item) for item in items]`` with at most ``max_concurrency`` in flight (threads).

    Each call runs in a copy of the caller's context, so usage trackers
    (:mod:`workersai.usage`) and tracing context follow the work into the pool's threads.
    """
    workers = min(check_concurrency(max_concurrency), len(items))
    results: list[Any] = [None] * len(items)
    if workers <= 1:
        for index, item in enumerate(items):
            results[index] = call(item)
            if on_result is not None:
                on_result(index, results[index])
        return results
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="workersai")
    try:
        pending: dict[Future[_R], int] = {
            pool.submit(contextvars.copy_context().run, call, item): index
            for index, item in enumerate(items)
        }
        while pending:
            # Each completion as it happens (FIRST_EXCEPTION would wait for all of them when
            # none fails, and report progress only at the end).
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                index = pending.pop(future)
                results[index] = future.result()  # raises the first failure
                if on_result is not None:
                    on_result(index, results[index])
    finally:
        # On failure (or Ctrl-C) drop the queued calls instead of making them.
        pool.shutdown(wait=False, cancel_futures=True)
    return results


async def amap_bounded(
    items: Sequence[_T],
    call: Callable[[_T], Awaitable[_R]],
    *,
    max_concurrency: int,
    on_result: OnResult | None = None,
) -> list[_R]:
    """Async twin of :func:`map_bounded`: bounded tasks on the running event loop."""
    workers = min(check_concurrency(max_concurrency), len(items))
    results: list[Any] = [None] * len(items)
    if workers <= 1:
        for index, item in enumerate(items):
            results[index] = await call(item)
            if on_result is not None:
                on_result(index, results[index])
        return results
    queue = iter(range(len(items)))

    async def worker() -> None:
        # Workers pull the next item in input order, so at most `workers` are in flight.
        for index in queue:
            results[index] = await call(items[index])
            if on_result is not None:
                on_result(index, results[index])

    await gather_or_cancel([worker() for _ in range(workers)])
    return results


async def gather_or_cancel(aws: Sequence[Awaitable[_T]]) -> list[_T]:
    """``asyncio.gather`` that cancels the siblings of the first failure (3.10 has no
    TaskGroup): no call keeps running, and no exception is left unretrieved."""
    tasks = [asyncio.ensure_future(aw) for aw in aws]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()
        # return_exceptions: every outcome retrieved, none raised from here. (Without it the
        # same first failure would be raised again: asyncio runs the done tasks' callbacks
        # first, so no input tells the two apart.)
        await asyncio.gather(*tasks, return_exceptions=True)  # pragma: no mutate


def run_on_private_loop(job: Callable[[Post], Coroutine[Any, Any, _R]]) -> _R:
    """Run the coroutine ``job(post)`` on an event loop of its own, for a sync caller;
    return its result or raise its exception.

    The loop runs in this thread when none is running here (the usual case; it is never
    made this thread's current loop), and in a helper thread under a running loop
    (Jupyter) while this one waits. Either way every function the job hands to ``post`` is
    called in this thread, in order (progress callbacks stay where the thread-pool path calls
    them), and the job runs in a copy of this thread's context (usage trackers follow it).
    If the wait is interrupted (Ctrl-C) or a posted function raises, the job is cancelled —
    its tasks stop and close their connections — before the exception propagates.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run_here(job)
    return _run_in_helper_thread(job)


def _run_here(job: Callable[[Post], Coroutine[Any, Any, _R]]) -> _R:
    # This thread rather than a helper: the buffers of the answers are freed and reused where
    # they were allocated (a new thread gets a fresh malloc arena, paid again in page faults).
    loop = asyncio.new_event_loop()
    try:
        task = loop.create_task(job(lambda fn: fn()))
        try:
            return loop.run_until_complete(task)
        except BaseException:
            # Ctrl-C (or a posted function's error) lands here with the job mid-flight: cancel
            # it once and let it clean up (close its connections). A KeyboardInterrupt in one
            # of its tasks is raised out of the loop again by each task it passes through on
            # the way up: keep waiting until the job is done.
            task.cancel()
            while not task.done():
                try:
                    loop.run_until_complete(asyncio.wait([task]))
                except BaseException:  # noqa: S112 - the same interruption, already propagating
                    continue
            if not task.cancelled():
                task.exception()  # retrieved here, so asyncio does not log it as never retrieved
            raise
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())  # DNS lookups' threads
        finally:
            loop.close()


def _run_in_helper_thread(job: Callable[[Post], Coroutine[Any, Any, _R]]) -> _R:
    inbox: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
    started: list[tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]] = []
    cancelled = threading.Event()

    async def main() -> _R:
        task = asyncio.current_task()
        assert task is not None
        started.append((asyncio.get_running_loop(), task))
        if cancelled.is_set():  # cancelled before the loop could be told
            raise asyncio.CancelledError
        return await job(lambda fn: inbox.put(("call", fn)))

    def run() -> None:
        try:
            inbox.put(("done", asyncio.run(main())))
        except BaseException as exc:  # handed to the caller's thread, raised there
            # (the label is for the reader: what is neither "call" nor "done" is raised)
            inbox.put(("failed", exc))  # pragma: no mutate

    thread = threading.Thread(
        target=contextvars.copy_context().run,
        args=(run,),
        name="workersai-loop",
        # Joined below in any case: being a daemon only matters when that wait is itself cut
        # short (a second Ctrl-C), and then the interpreter must still be able to exit.
        daemon=True,  # pragma: no mutate
    )
    thread.start()
    try:
        while True:
            kind, value = inbox.get()
            if kind == "call":
                value()
            elif kind == "done":
                return value
            else:
                raise value
    except BaseException:
        cancelled.set()
        if started:
            loop, task = started[0]
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:  # the loop already finished: nothing left to cancel
                pass
        raise
    finally:
        thread.join()
