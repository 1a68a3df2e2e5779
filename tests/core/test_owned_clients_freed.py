"""A client the package created is freed the moment its last reference goes — by reference
counting, not by the cyclic collector, which finalises garbage in no set order and could let
a socket warn "unclosed" before the client's ``__del__`` closes it. The routes of an owned
client reach its pools through a weak method for that reason (a bound method would be a
reference cycle)."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import LOOPBACK
from workersai import AsyncWorkersAI, WorkersAI
from workersai.testing import Reply, WorkersAIServer

pytestmark = LOOPBACK

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
USER = [{"role": "user", "content": "hi"}]


@pytest.fixture
def no_cyclic_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_a_dropped_sync_client_is_freed_by_reference_counting(
    server: WorkersAIServer, no_cyclic_gc: None
) -> None:
    server.enqueue(Reply.result({"response": "hi"}))
    client = WorkersAI("acct", "tok", base_url=server.base_url)
    client.chat(LLAMA, USER)  # the pool and a route exist now
    http = weakref.ref(client._transport.client)
    del client
    assert http() is None


def test_a_dropped_async_client_is_freed_by_reference_counting(
    server: WorkersAIServer, no_cyclic_gc: None
) -> None:
    server.enqueue(Reply.result({"response": "hi"}))
    refs: list[weakref.ref[Any]] = []

    async def main() -> None:
        client = AsyncWorkersAI("acct", "tok", base_url=server.base_url, http_backend="httpx")
        await client.chat(LLAMA, USER)
        refs.append(weakref.ref(client._transport.client))
        await client.aclose()

    asyncio.run(main())
    assert refs[0]() is None
