"""A failed attempt gives its connection back, on both async engines: an error answer to a
stream request whose body breaks off is closed by the retry layer itself — aiohttp's engine
frees a connection slot only when the response is closed (httpx's pool closes a broken body
on its own; aiohttp's does not)."""

from __future__ import annotations

import httpx
import pytest

from workersai import APIConnectionError, APITimeoutError, AsyncWorkersAI, _transport
from workersai.testing import Reply, WorkersAIServer

LLAMA = "@cf/meta/llama-3.1-8b-instruct-fast"
USER = [{"role": "user", "content": "hi"}]
OK = Reply.result({"response": "ok"})


@pytest.mark.parametrize("engine", ["aiohttp", "httpx"])
async def test_an_error_answer_that_breaks_off_gives_its_connection_back(
    engine: str, server: WorkersAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # one connection in all: a leaked one turns the next call into a pool timeout
    monkeypatch.setattr(_transport, "DEFAULT_LIMITS", httpx.Limits(max_connections=1))
    broken = Reply.error(500, None, "Internal server error")  # per reference §2.1
    broken.cut_after = 10  # the headers promise the whole body; 10 bytes come, then a reset
    server.enqueue(broken, OK)
    client = AsyncWorkersAI(
        "acct", "tok", base_url=server.base_url, http_backend=engine,  # type: ignore[arg-type]
        timeout=httpx.Timeout(10.0, pool=0.5), max_retries=0,
    )  # fmt: skip
    with pytest.raises(APIConnectionError) as info:
        stream = await client.stream_chat(LLAMA, USER)
        async with stream:
            async for _ in stream:
                pass
    assert not isinstance(info.value, APITimeoutError)  # the broken body, not the pool
    assert (await client.chat(LLAMA, USER)).text == "ok"
    assert len(server.requests) == 2
    await client.aclose()
