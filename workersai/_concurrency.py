"""Many calls at once, at most N in flight, results in input order: threads for the sync
clients (no event loop, so safe inside Jupyter), tasks on the running loop for the async ones.

The first failure is raised and what has not started is dropped — a failed job stops paying
for requests whose results would be thrown away. Retries are the transport's job, never
this module's.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

from workersai.errors import InvalidInputError

__all__ = ["amap_bounded", "check_concurrency", "gather_or_cancel", "map_bounded"]

_T = TypeVar("_T")
_R = TypeVar("_R")

OnResult = Callable[[int, Any], None]
"""``on_result(index, result)``, called as each call completes (in the calling thread/loop)."""


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
            finished, _ = wait(pending, return_when=FIRST_EXCEPTION)
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
        await asyncio.gather(*tasks, return_exceptions=True)
