"""`run()` for JSON, binary input (audio) and binary output (PNG); the Batch API (§1.6,
examples/batch_queue_request_and_poll_bge_m3.json); license agreement (§8.2)."""

from __future__ import annotations

import pytest

from workersai import AsyncWorkersAI, BatchTimeoutError, RetryPolicy, WorkersAI, WorkersAIError
from workersai.testing import Reply, WorkersAIServer

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
MP3 = b"\xff\xfb\x90\x44" + b"\x00" * 64
BGE_M3 = "@cf/baai/bge-m3"
QUEUED = {"status": "queued", "request_id": "768f15b7-4fd6-4498-906e-ad94ffc7f8d2", "model": BGE_M3}
DONE = {
    "responses": [
        {
            "id": 1,
            "result": {"response": [{"id": 0, "score": 0.64}]},
            "success": True,
            "external_reference": "b",
        },
        {
            "id": 0,
            "result": {"response": [{"id": 0, "score": 0.74}]},
            "success": True,
            "external_reference": "a",
        },
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 0, "total_tokens": 12},
}
REQUESTS = [
    {
        "query": "This is a story about Cloudflare",
        "contexts": [{"text": "This is a story about an orange cloud"}],
        "external_reference": "a",
    },
    {
        "query": "This is a story about Cloudflare",
        "contexts": [{"text": "This is a story about a llama"}],
        "external_reference": "b",
    },
]


@pytest.fixture
def client(server: WorkersAIServer, fast_retries: RetryPolicy) -> WorkersAI:
    return WorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)


def test_binary_output_comes_back_as_bytes(server: WorkersAIServer, client: WorkersAI) -> None:
    # MODEL:stable-diffusion-xl-base-1.0: raw image/png, no envelope
    server.enqueue(Reply.binary(PNG, "image/png"))
    assert (
        client.run("@cf/stabilityai/stable-diffusion-xl-base-1.0", {"prompt": "a lighthouse"})
        == PNG
    )
    assert server.requests[0].json() == {"prompt": "a lighthouse"}


def test_binary_input_is_posted_raw(server: WorkersAIServer, client: WorkersAI) -> None:
    # whisper_rest_binary_upload.json: curl --data-binary @file.mp3
    server.enqueue(
        Reply.result(
            {
                "text": "hello",
                "word_count": 1,
                "words": [{"word": "hello", "start": 0.0, "end": 0.4}],
                "vtt": "WEBVTT",
            }
        )
    )
    result = client.run("@cf/openai/whisper", MP3, content_type="audio/mpeg")
    assert result["text"] == "hello"
    request = server.requests[0]
    assert request.body == MP3 and request.headers["content-type"] == "audio/mpeg"


def test_retried_binary_input_is_resent_identically(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    server.enqueue(Reply.html(503), Reply.result({"text": "ok"}))
    client.run("@cf/openai/whisper", MP3)
    assert [r.body for r in server.requests] == [MP3, MP3]
    assert server.requests[0].headers["content-type"] == "application/octet-stream"


async def test_async_run(server: WorkersAIServer, fast_retries: RetryPolicy) -> None:
    server.enqueue(Reply.result({"translated_text": "Bonjour"}))
    client = AsyncWorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)
    assert await client.run("@cf/meta/m2m100-1.2b", {"text": "Hello", "target_lang": "fr"}) == {
        "translated_text": "Bonjour"
    }
    await client.aclose()


def test_batch_submit_poll_and_wait(server: WorkersAIServer, client: WorkersAI) -> None:
    server.enqueue(
        Reply.result(QUEUED), Reply.result({**QUEUED, "status": "running"}), Reply.result(DONE)
    )
    job = client.batch.submit(BGE_M3, REQUESTS)
    assert (job.status, job.request_id, job.done) == ("queued", QUEUED["request_id"], False)
    done = client.batch.wait(BGE_M3, job.request_id, poll_interval=0.01)
    assert done.done and done.usage is not None and done.usage.prompt_tokens == 12
    # results come back in submission order whatever order the queue reports them in
    assert done.results() == [
        {"response": [{"id": 0, "score": 0.74}]},
        {"response": [{"id": 0, "score": 0.64}]},
    ]
    submit, poll1, poll2 = server.requests
    assert submit.query == {"queueRequest": "true"} and submit.json() == {"requests": REQUESTS}
    assert poll1.query == poll2.query == {"queueRequest": "true"}
    assert poll1.json() == {"request_id": QUEUED["request_id"]}
    assert submit.path == poll1.path == "/client/v4/accounts/acct/ai/run/@cf/baai/bge-m3"


def test_batch_with_a_failed_item_raises_on_results(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    server.enqueue(Reply.result({"responses": [{"id": 0, "result": None, "success": False}]}))
    job = client.batch.poll(BGE_M3, "r1")
    assert job.done
    with pytest.raises(WorkersAIError, match="1 request"):
        job.results()


def test_batch_wait_gives_up_after_the_timeout(server: WorkersAIServer, client: WorkersAI) -> None:
    server.handler = lambda request: Reply.result({**QUEUED, "status": "running"})
    with pytest.raises(BatchTimeoutError) as info:
        client.batch.wait(BGE_M3, "r1", poll_interval=0.05, timeout=0.2)
    assert info.value.request_id == "r1" and "client.batch.poll" in str(info.value)
    assert 1 <= len(server.requests) <= 5


async def test_async_batch(server: WorkersAIServer, fast_retries: RetryPolicy) -> None:
    server.enqueue(Reply.result(QUEUED), Reply.result(DONE))
    client = AsyncWorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)
    job = await client.batch.submit(BGE_M3, REQUESTS)
    done = await client.batch.wait(BGE_M3, job.request_id, poll_interval=0.01)
    assert len(done.results()) == 2
    await client.aclose()


def test_empty_batch_is_rejected(client: WorkersAI, server: WorkersAIServer) -> None:
    with pytest.raises(WorkersAIError, match="at least one"):
        client.batch.submit(BGE_M3, [])
    assert server.requests == []


def test_agree_to_license(server: WorkersAIServer, client: WorkersAI) -> None:
    # llama_vision_license_agree.json
    server.enqueue(Reply.result({"response": "Thank you for agreeing"}))
    client.agree_to_license("llama-3.2-11b-vision-instruct")
    assert server.requests[0].path.endswith("/ai/run/@cf/meta/llama-3.2-11b-vision-instruct")
    assert server.requests[0].json() == {"prompt": "agree"}
