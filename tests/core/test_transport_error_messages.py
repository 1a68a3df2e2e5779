"""What a failed connection or a timeout tells the caller: the request's label, what failed,
and a hint saying what to do — on the sync and the async client (one retry layer,
``workersai._transport``, builds both)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from workersai import APIConnectionError, APITimeoutError, AsyncWorkersAI, WorkersAI

LLAMA = "@cf/meta/llama-3.1-8b-instruct"
USER = [{"role": "user", "content": "hi"}]
LABEL = f"POST /ai/run/{LLAMA}"  # the route, without the account id
TIMEOUT_HINT = "Raise `timeout` for long generations, or stream the answer."
NETWORK_HINT = "Check network access to the API (base_url) and any proxy."


def _raising(exc: Exception) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return httpx.MockTransport(handler)


def _fail(flavour: str, exc: Exception) -> APIConnectionError:
    """The error a chat call raises when its transport raises ``exc`` (no retries)."""
    options: dict[str, Any] = {"base_url": "http://api.invalid/client/v4", "max_retries": 0}
    if flavour == "sync":
        with httpx.Client(transport=_raising(exc)) as http:
            client = WorkersAI("acct", "tok", http_client=http, timeout=0.2, **options)
            with pytest.raises(APIConnectionError) as info:
                client.chat(LLAMA, USER)
        return info.value

    async def main() -> APIConnectionError:
        async with httpx.AsyncClient(transport=_raising(exc)) as http:
            client = AsyncWorkersAI("acct", "tok", http_client=http, timeout=0.2, **options)
            with pytest.raises(APIConnectionError) as info:
                await client.chat(LLAMA, USER)
        return info.value

    return asyncio.run(main())


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize(
    ("exc", "message"),
    [
        (httpx.ReadTimeout("timed out"), f"{LABEL} timed out (read timeout; read timeout 0.2s)."),
        (
            httpx.ConnectTimeout("timed out"),
            f"{LABEL} timed out (connect timeout; read timeout 0.2s).",
        ),
        (httpx.PoolTimeout("no slot"), f"{LABEL} timed out (pool timeout; read timeout 0.2s)."),
    ],
)
def test_a_timeout_says_which_and_how_to_avoid_it(
    flavour: str, exc: Exception, message: str
) -> None:
    error = _fail(flavour, exc)
    assert type(error) is APITimeoutError
    assert error.message == message
    assert error.hint == TIMEOUT_HINT
    assert error.__cause__ is exc


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize(
    ("exc", "message"),
    [
        (
            httpx.ConnectError("connection refused"),
            f"{LABEL} failed: ConnectError: connection refused",
        ),
        # an exception without a message leaves no dangling ": "
        (httpx.RemoteProtocolError(""), f"{LABEL} failed: RemoteProtocolError"),
        # only that separator is dropped: the exception's own text is kept whole
        (httpx.ReadError("closed by peer:"), f"{LABEL} failed: ReadError: closed by peer:"),
    ],
)
def test_a_connection_failure_says_what_failed_and_what_to_check(
    flavour: str, exc: Exception, message: str
) -> None:
    error = _fail(flavour, exc)
    assert type(error) is APIConnectionError
    assert error.message == message
    assert error.hint == NETWORK_HINT
    assert error.__cause__ is exc
