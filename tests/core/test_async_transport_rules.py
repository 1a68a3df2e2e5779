"""What the async transport promises besides its retries: closing a client that never sent
anything, timeouts (the client's, and a call's own) applied to a client passed in as well as
to the pools the package creates — on both async engines, and on the sync client where it
has a twin."""

from __future__ import annotations

import httpx
import httpx_aiohttp
import pytest

from tests.conftest import LOOPBACK
from workersai import APITimeoutError, AsyncWorkersAI, RetryPolicy, WorkersAI
from workersai.testing import Reply, WorkersAIServer

pytestmark = [LOOPBACK, pytest.mark.filterwarnings("error::ResourceWarning")]

LLAMA = "@cf/meta/llama-3.1-8b-instruct-fast"
USER = [{"role": "user", "content": "hi"}]
OK = Reply.result({"response": "ok"})
FAST = RetryPolicy(initial_delay=0.001, max_delay=0.001)
ENGINES = ["aiohttp", "httpx"]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_closing_a_client_that_never_sent_anything(
    engine: str, server: WorkersAIServer
) -> None:
    client = AsyncWorkersAI(
        "acct",
        "tok",
        base_url=server.base_url,
        retry_policy=FAST,
        http_backend=engine,  # type: ignore[arg-type]
    )
    await client.aclose()  # no pool yet on this loop: nothing to close, and no error
    await client.aclose()
    server.enqueue(OK)
    assert (await client.chat(LLAMA, USER)).text == "ok"  # a new pool, as for a first call
    await client.aclose()


def test_a_client_passed_in_gets_the_timeouts_of_the_call(server: WorkersAIServer) -> None:
    # the http_client's own timeout (httpx's 5 s default) is not what applies: the
    # WorkersAI client's is, and a call's own timeout wins over both
    server.enqueue(Reply.stall(1.0), Reply.stall(0.6))
    with httpx.Client() as http:
        client = WorkersAI(
            "acct", "tok", base_url=server.base_url, http_client=http, timeout=0.2, max_retries=0
        )
        with pytest.raises(APITimeoutError):
            client.chat(LLAMA, USER)
        assert client.chat(LLAMA, USER, timeout=5).text == "late"


async def test_an_async_client_passed_in_gets_the_timeouts_of_the_call(
    engine: str, server: WorkersAIServer
) -> None:
    server.enqueue(Reply.stall(1.0), Reply.stall(0.6))
    http = httpx_aiohttp.HttpxAiohttpClient() if engine == "aiohttp" else httpx.AsyncClient()
    client = AsyncWorkersAI(
        "acct", "tok", base_url=server.base_url, http_client=http, timeout=0.2, max_retries=0
    )
    with pytest.raises(APITimeoutError):
        await client.chat(LLAMA, USER)
    assert (await client.chat(LLAMA, USER, timeout=5)).text == "late"
    await client.aclose()
    await http.aclose()
