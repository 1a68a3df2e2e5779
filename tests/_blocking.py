"""The sync client's interface over an ``AsyncWorkersAI``: so the sync suites (transport,
streaming, fault storm) also run on each async transport, unchanged.

``BlockingAsyncClient(*args, http_backend=..., **kwargs)`` builds an ``AsyncWorkersAI`` and
runs its calls on a private event loop in a background thread (several threads may call at
once, as the fault storm's thread pool does). Whatever a call returns is awaited there;
an ``AsyncChatStream`` comes back as an iterator and context manager, the Batch API as an
object whose methods block — so ``client.chat(...)``, ``list(client.stream_chat(...))``,
``with client.stream_chat(...) as s: s.result()`` and ``client.batch.poll(...)`` read as
they do on ``WorkersAI``.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Awaitable
from typing import Any

from workersai import AsyncChatStream, AsyncWorkersAI
from workersai.batch import AsyncBatchAPI


class _Loop:
    """An event loop running in a daemon thread until :meth:`stop`."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, awaitable: Awaitable[Any]) -> Any:
        async def wait() -> Any:
            return await awaitable

        return asyncio.run_coroutine_threadsafe(wait(), self.loop).result()

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        # what asyncio.run() does at its end: async generators closed, then the loop
        self.run(self.loop.shutdown_asyncgens())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


class _Blocking:
    """``target``'s attributes, with every awaitable they return awaited on ``loop``."""

    def __init__(self, target: Any, loop: _Loop) -> None:
        self._target = target
        self._loop = loop

    def _wrap(self, value: Any) -> Any:
        if inspect.isawaitable(value):
            value = self._loop.run(value)
        if isinstance(value, AsyncChatStream):
            return _BlockingStream(value, self._loop)
        if isinstance(value, AsyncBatchAPI):
            return _Blocking(value, self._loop)
        return value

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if callable(value) and not isinstance(value, type):
            return lambda *args, **kwargs: self._wrap(value(*args, **kwargs))
        return self._wrap(value)


class _BlockingStream(_Blocking):
    def __iter__(self) -> _BlockingStream:
        return self

    def __next__(self) -> Any:
        try:
            return self._loop.run(self._target.__anext__())
        except StopAsyncIteration:
            raise StopIteration from None

    def __enter__(self) -> _BlockingStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._loop.run(self._target.aclose())


class BlockingAsyncClient(_Blocking):
    """``WorkersAI``'s interface over an ``AsyncWorkersAI`` on ``http_backend``."""

    #: Every facade made, so a test's teardown can close the ones its body did not.
    made: list[BlockingAsyncClient] = []

    def __init__(self, *args: Any, http_backend: str, **kwargs: Any) -> None:
        super().__init__(AsyncWorkersAI(*args, http_backend=http_backend, **kwargs), _Loop())
        BlockingAsyncClient.made.append(self)

    def __enter__(self) -> BlockingAsyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if not self._loop.loop.is_closed():
            self._loop.run(self._target.aclose())
            self._loop.stop()
