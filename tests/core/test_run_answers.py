"""What ``run()`` makes of each kind of successful answer (``read_result``): the typed error
of a 2xx ``success: false`` envelope and of a body that is no answer carry the model, the
status and the ``cf-ray`` id; text and binary bodies come back as they are (wire reference
§2.1, §10.2)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from workersai import AsyncWorkersAI, ModelInputError, UnexpectedResponseError, WorkersAI
from workersai.testing import Reply, WorkersAIServer, envelope

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
PROMPT = {"prompt": "Hello"}
RAY = "8f0c2a1b3d4e5f60-LHR"


@pytest.fixture
def server() -> Iterator[WorkersAIServer]:
    with WorkersAIServer() as srv:
        yield srv


def _run(server: WorkersAIServer, kind: str) -> object:
    if kind == "sync":
        with WorkersAI("acct", "tok", base_url=server.base_url, max_retries=0) as client:
            return client.run(LLAMA, PROMPT)

    async def main() -> object:
        async with AsyncWorkersAI("acct", "tok", base_url=server.base_url, max_retries=0) as c:
            return await c.run(LLAMA, PROMPT)

    return asyncio.run(main())


KINDS = pytest.mark.parametrize("kind", ["sync", "async"])


@KINDS
@pytest.mark.parametrize("status", [200, 203])
def test_a_2xx_success_false_envelope_raises_its_typed_error_with_model_status_and_ray(
    server: WorkersAIServer, kind: str, status: int
) -> None:
    body = envelope(None, errors=[{"code": 5006, "message": "AiError: 5006: Error: bad"}])
    server.enqueue(Reply.json(body, status, {"cf-ray": RAY}))
    with pytest.raises(ModelInputError) as info:
        _run(server, kind)
    error = info.value
    assert (error.model, error.status_code, error.request_id) == (LLAMA, status, RAY)
    assert error.codes == (5006,)


@KINDS
@pytest.mark.parametrize("status", [200, 203])
def test_an_html_page_is_no_answer_and_the_error_names_model_status_and_ray(
    server: WorkersAIServer, kind: str, status: int
) -> None:
    page = b"<html><body>Sign in to the hotel wifi</body></html>"
    server.enqueue(Reply(status, {"content-type": "text/html; charset=utf-8", "cf-ray": RAY}, page))
    with pytest.raises(UnexpectedResponseError) as info:
        _run(server, kind)
    error = info.value
    assert (error.model, error.status_code, error.request_id) == (LLAMA, status, RAY)
    assert "text/html" in str(error)


@KINDS
def test_an_empty_body_without_a_content_type_says_so(server: WorkersAIServer, kind: str) -> None:
    server.enqueue(Reply(200, {}, b""))
    with pytest.raises(UnexpectedResponseError, match=r"an empty body \(no content type\)"):
        _run(server, kind)


@KINDS
def test_json_without_a_content_type_is_still_unwrapped(server: WorkersAIServer, kind: str) -> None:
    server.enqueue(Reply(200, {}, b'{"result": {"response": "Hi"}, "success": true}'))
    assert _run(server, kind) == {"response": "Hi"}
    server.enqueue(Reply(200, {}, b"[0.5, 1]"))  # a top-level array is JSON too
    assert _run(server, kind) == [0.5, 1]


@KINDS
def test_plain_text_and_binary_bodies_come_back_as_they_are(
    server: WorkersAIServer, kind: str
) -> None:
    server.enqueue(Reply(200, {"content-type": "text/plain; charset=utf-8"}, "Grüße".encode()))
    assert _run(server, kind) == "Grüße"
    server.enqueue(Reply.binary(b"\x89PNG\r\n\x1a\n-image-"))
    assert _run(server, kind) == b"\x89PNG\r\n\x1a\n-image-"
