"""What the transport's errors tell the caller: a failed connection or a timeout (the request's
label, what failed, and a hint saying what to do — on the sync and the async client: one retry
layer, ``workersai._transport``, builds both), an envelope with several errors, an async
engine asked for but not installed, and an answer a JSON endpoint cannot read (a cut JSON body,
an event stream, no content type, a failed envelope with status 200)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.conftest import LOOPBACK
from workersai import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AsyncWorkersAI,
    InvalidInputError,
    RetryPolicy,
    UnexpectedResponseError,
    WorkersAI,
    _transport,
)
from workersai.testing import Reply, WorkersAIServer, envelope

pytestmark = [LOOPBACK]

LLAMA = "@cf/meta/llama-3.1-8b-instruct-fast"
USER = [{"role": "user", "content": "hi"}]
LABEL = f"POST /ai/run/{LLAMA}"  # the route, without the account id
TIMEOUT_HINT = "Raise `timeout` for long generations, or stream the answer."
NETWORK_HINT = "Check network access to the API (base_url) and any proxy."
FAST = RetryPolicy(initial_delay=0.001, max_delay=0.01)


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


# -- an envelope with several errors -------------------------------------------------------------


def test_a_used_up_allocation_among_several_errors_is_not_retried(server: WorkersAIServer) -> None:
    # An envelope can carry several errors (per reference §2.1): the first one here is a
    # retryable capacity error (3040), but 3036 — the daily allocation used up (per reference
    # §2.2) — means no retry can succeed before 00:00 UTC.
    body = envelope(
        None,
        errors=[
            {"code": 3040, "message": "Capacity temporarily exceeded, please try again."},
            {"code": 3036, "message": "You have used up your daily free allocation."},
        ],
    )
    server.handler = lambda request: Reply.json(body, status=429)
    client = WorkersAI("acct", "tok", base_url=server.base_url, retry_policy=FAST, max_retries=2)
    with pytest.raises(APIError) as info:
        client.chat(LLAMA, USER)
    assert info.value.codes[:2] == (3040, 3036)
    assert len(server.requests) == 1


# -- the async engine asked for is not installed -------------------------------------------------


@pytest.mark.parametrize(
    ("how", "field"), [("argument", "http_backend"), ("environment", "WORKERSAI_ASYNC_HTTP")]
)
def test_asking_for_aiohttp_without_it_names_where_it_was_asked(
    how: str, field: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_transport, "aiohttp_installed", lambda: False)
    monkeypatch.setenv("WORKERSAI_ASYNC_HTTP", "aiohttp")
    kwargs: dict[str, Any] = {"http_backend": "aiohttp"} if how == "argument" else {}
    with pytest.raises(InvalidInputError) as info:
        AsyncWorkersAI("acct", "tok", **kwargs)
    assert info.value.field == field
    assert info.value.message == f"{field} asks for aiohttp, but httpx-aiohttp is not installed"
    assert info.value.hint == (
        "Install it with `pip install 'workersai[speed]'` (httpx-aiohttp and aiohttp)."
    )


# -- an event stream where JSON was asked for ------------------------------------------------------


def test_an_event_stream_answering_an_embedding_request_is_unexpected(
    server: WorkersAIServer,
) -> None:
    # Only chat reads an event stream (stream: true, per reference §3.3); an embedding request
    # answered with one is an answer the client cannot read, reported as such.
    server.enqueue(Reply.sse([{"response": "not an embedding"}]))
    client = WorkersAI("acct", "tok", base_url=server.base_url, retry_policy=FAST)
    with pytest.raises(UnexpectedResponseError) as info:
        client.embed("@cf/baai/bge-m3", ["hello"])
    assert "text/event-stream" in info.value.message


BGE_M3 = "@cf/baai/bge-m3"
RAY = {"cf-ray": "8f00aa11bb22cc33-SJC"}


def _embed_error(server: WorkersAIServer, reply: Reply) -> Any:
    server.enqueue(reply)
    client = WorkersAI("acct", "tok", base_url=server.base_url, retry_policy=FAST)
    with pytest.raises(APIError) as info:
        client.embed(BGE_M3, ["hello"])
    return info.value


def test_a_cut_json_answer_says_so_with_the_status_model_and_request_id(
    server: WorkersAIServer,
) -> None:
    cut = Reply(200, {"content-type": "application/json", **RAY}, b'{"result": {"data": [[0.1,')
    error = _embed_error(server, cut)
    assert type(error) is UnexpectedResponseError
    assert error.message == (
        f"Workers AI returned HTTP 200 for {BGE_M3} with a body that is not valid JSON "
        '(application/json): {"result": {"data": [[0.1,, not a JSON answer'
    )
    assert (error.status_code, error.model, error.request_id) == (200, BGE_M3, RAY["cf-ray"])


def test_a_json_string_answer_is_not_taken_for_invalid_json(server: WorkersAIServer) -> None:
    # a JSON string (here after a leading space) is valid JSON: whatever is wrong with it as
    # an embedding, it is not "not valid JSON"
    error = _embed_error(server, Reply(200, {"content-type": "application/json"}, b' "hello"'))
    assert "not valid JSON" not in error.message


def test_an_answer_without_a_content_type_is_named_so(server: WorkersAIServer) -> None:
    error = _embed_error(server, Reply(200, {}, b"oops"))
    assert type(error) is UnexpectedResponseError
    assert "4 bytes of no content type" in error.message


def test_a_failed_envelope_with_status_200_carries_its_request_id_and_model(
    server: WorkersAIServer,
) -> None:
    failed = envelope(None, errors=[{"code": 5006, "message": "AiError: Bad input"}])
    error = _embed_error(server, Reply.json(failed, 200, RAY))  # per reference §2.1, §2.3
    assert 5006 in error.codes
    assert (error.model, error.request_id) == (BGE_M3, RAY["cf-ray"])


def test_an_unreadable_or_failed_answer_keeps_its_own_2xx_status(server: WorkersAIServer) -> None:
    # a proxy that rewrites answers may say 203 (Non-Authoritative Information): the error
    # reports the status that came, not an assumed 200
    page = Reply(203, {"content-type": "text/html"}, b"<html><body>Sign in</body></html>")
    error = _embed_error(server, page)
    assert error.status_code == 203
    assert error.message.startswith(f"Workers AI returned HTTP 203 for {BGE_M3} with an HTML page")
    failed = envelope(None, errors=[{"code": 5006, "message": "AiError: Bad input"}])
    assert _embed_error(server, Reply.json(failed, 203)).status_code == 203
