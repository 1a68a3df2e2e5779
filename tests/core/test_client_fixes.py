"""Client fixes: image URLs fetched by a plain client with a streamed size limit, Batch API
order from ``external_reference``, usage recorded once per request (gpt-oss stream fallback,
finished batch jobs), and one envelope rule for every path."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from workersai import (
    AsyncWorkersAI,
    InvalidInputError,
    RetryPolicy,
    UnexpectedResponseError,
    WorkersAI,
)
from workersai._embeddings import build_embedding_request, parse_embedding_response
from workersai._envelope import envelope_result, is_envelope, unwrap_envelope
from workersai._rerank import build_rerank_request, parse_rerank_response
from workersai.batch import BatchJob
from workersai.errors import APIError
from workersai.testing import Reply, WorkersAIServer, envelope
from workersai.usage import track_usage

SCOUT = "@cf/meta/llama-4-scout-17b-16e-instruct"
GPT_OSS = "@cf/openai/gpt-oss-120b"
BGE_M3 = "@cf/baai/bge-m3"
BGE = "@cf/baai/bge-base-en-v1.5"
USER = [{"role": "user", "content": "hi"}]
PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
SENTINEL = "sentinel-secret-71c2"
USAGE = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


@pytest.fixture
def image_host(loopback_images: None) -> Iterator[WorkersAIServer]:
    with WorkersAIServer(lambda request: Reply.binary(PNG_1PX, "image/png")) as host:
        yield host


def _vision_messages(url: str) -> list[dict[str, Any]]:
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": url}},
            ],
        }
    ]


# -- 3. image URLs ---------------------------------------------------------------------------


def test_image_fetch_never_sends_the_user_http_clients_default_headers(
    server: WorkersAIServer, image_host: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    server.enqueue(Reply.result({"response": "a pixel"}))
    user_client = httpx.Client(
        headers={"Authorization": f"Bearer {SENTINEL}", "cf-aig-authorization": SENTINEL}
    )
    client = WorkersAI(
        "acct", "tok", base_url=server.base_url, http_client=user_client, retry_policy=fast_retries
    )
    client.chat(SCOUT, _vision_messages(f"http://127.0.0.1:{image_host.port}/cat.png"))
    [fetch] = image_host.requests
    assert fetch.method == "GET"
    assert SENTINEL not in str(fetch.headers)
    assert {"authorization", "cf-aig-authorization"}.isdisjoint(fetch.headers)
    sent = server.requests[0].json()["messages"][0]["content"][1]["image_url"]["url"]
    assert sent == "data:image/png;base64," + base64.b64encode(PNG_1PX).decode()
    user_client.close()


async def test_async_image_fetch_never_sends_the_user_http_clients_default_headers(
    server: WorkersAIServer, image_host: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    server.enqueue(Reply.result({"response": "a pixel"}))
    user_client = httpx.AsyncClient(headers={"Authorization": f"Bearer {SENTINEL}"})
    client = AsyncWorkersAI(
        "acct", "tok", base_url=server.base_url, http_client=user_client, retry_policy=fast_retries
    )
    await client.chat(SCOUT, _vision_messages(f"http://127.0.0.1:{image_host.port}/a.png"))
    [fetch] = image_host.requests
    assert "authorization" not in fetch.headers
    await user_client.aclose()


@pytest.mark.usefixtures("loopback_images")
@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_an_oversized_image_is_refused_while_streaming(
    server: WorkersAIServer,
    fast_retries: RetryPolicy,
    monkeypatch: pytest.MonkeyPatch,
    flavour: str,
) -> None:
    monkeypatch.setattr("workersai._image_urls._MAX_IMAGE_BYTES", 1000)
    # 40 chunks of 600 bytes, 50 ms apart: reading it all would take 2 s
    slow = Reply(200, {"content-type": "image/png"}, chunks=[b"x" * 600] * 40, chunk_delay=0.05)
    with WorkersAIServer(lambda request: slow) as host:
        url = f"http://127.0.0.1:{host.port}/huge.png"
        start = time.monotonic()
        with pytest.raises(InvalidInputError, match="larger than"):
            if flavour == "sync":
                WorkersAI("a", "t", base_url=server.base_url).chat(SCOUT, _vision_messages(url))
            else:
                await AsyncWorkersAI("a", "t", base_url=server.base_url).chat(
                    SCOUT, _vision_messages(url)
                )
        assert time.monotonic() - start < 1.0  # stopped after the limit, not at the end
    assert server.requests == []


@pytest.mark.usefixtures("loopback_images")
def test_a_non_image_url_is_refused_clearly(server: WorkersAIServer) -> None:
    page = Reply(200, {"content-type": "text/html; charset=utf-8"}, b"<html></html>")
    with WorkersAIServer(lambda request: page) as host:
        with pytest.raises(InvalidInputError, match=r"not an image .*text/html") as info:
            WorkersAI("a", "t", base_url=server.base_url).chat(
                SCOUT, _vision_messages(f"http://127.0.0.1:{host.port}/page")
            )
    assert info.value.hint and "data URI" in info.value.hint
    assert server.requests == []


# -- 5. Batch API order ------------------------------------------------------------------------


def test_submit_sends_each_items_index_as_its_reference_unless_set(
    server: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    server.enqueue(Reply.result({"status": "queued", "request_id": "j", "model": BGE_M3}))
    client = WorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)
    client.batch.submit(
        BGE_M3, [{"text": ["a"]}, {"text": ["b"], "external_reference": "mine"}, {"text": ["c"]}]
    )
    sent = server.requests[0].json()["requests"]
    assert [item["external_reference"] for item in sent] == ["0", "mine", "2"]
    assert [item["text"] for item in sent] == [["a"], ["b"], ["c"]]


def test_results_follow_the_references_when_ids_are_not_integers() -> None:
    job = BatchJob.from_result(
        {
            "responses": [
                {"id": "r-b", "result": "second", "success": True, "external_reference": "1"},
                {"id": "r-a", "result": "first", "success": True, "external_reference": "0"},
            ]
        },
        request_id="j",
    )
    assert job.results() == ["first", "second"]


def test_references_the_submitting_client_chose_restore_the_order(
    server: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    server.enqueue(
        Reply.result({"status": "queued", "request_id": "j", "model": BGE_M3}),
        Reply.result(
            {
                "responses": [  # no ids at all, listed in the wrong order
                    {"result": "for a", "success": True, "external_reference": "a"},
                    {"result": "for b", "success": True, "external_reference": "b"},
                ]
            }
        ),
    )
    client = WorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)
    job = client.batch.submit(
        BGE_M3,
        [{"text": ["x"], "external_reference": "b"}, {"text": ["y"], "external_reference": "a"}],
    )
    assert client.batch.poll(BGE_M3, job.request_id).results() == ["for b", "for a"]


@pytest.mark.parametrize(
    "responses",
    [
        [{"id": "x", "result": 1}, {"id": "y", "result": 2}],  # neither references nor int ids
        [{"id": 0, "result": 1}, {"id": 0, "result": 2}],  # duplicate ids
        [{"result": 1, "external_reference": "a"}, {"result": 2, "external_reference": "a"}],
    ],
    ids=["string-ids", "duplicate-ids", "duplicate-references"],
)
def test_an_answer_without_a_knowable_order_is_an_unexpected_response(
    responses: list[dict[str, Any]],
) -> None:
    job = BatchJob.from_result({"responses": responses}, request_id="j")
    with pytest.raises(UnexpectedResponseError, match="order"):
        job.results()


def test_missing_responses_of_a_known_job_are_an_unexpected_response() -> None:
    job = BatchJob.from_result(
        {"responses": [{"id": 0, "result": 1, "external_reference": "0"}]},
        request_id="j",
        references=["0", "1"],
    )
    with pytest.raises(UnexpectedResponseError, match="1 responses for 2 requests"):
        job.results()


def test_a_non_object_item_is_an_unexpected_response() -> None:
    with pytest.raises(UnexpectedResponseError):
        BatchJob.from_result({"responses": [{"id": 0, "result": 1}, "oops"]}, request_id="j")


# -- 6. usage recorded once per request ---------------------------------------------------------


def test_gpt_oss_stream_fallback_counts_one_request_with_its_cost(
    server: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    # §3.3: an empty JSON answer to stream:true, then the unstreamed answer the caller gets
    server.enqueue(
        Reply.result({}),
        Reply.result({"response": "Hi!", "usage": USAGE}),
    )
    client = WorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)
    with track_usage() as tracker:
        text = "".join(c.text for c in client.stream_chat(GPT_OSS, USER))
    assert text == "Hi!"
    assert len(server.requests) == 2
    total = tracker.total
    assert (total.requests, total.total_tokens, total.requests_without_usage) == (1, 15, 0)
    assert total.usd == pytest.approx((10 * 0.35 + 5 * 0.75) / 1e6)


async def test_async_gpt_oss_stream_fallback_counts_one_request(
    server: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    server.enqueue(Reply.result({}), Reply.result({"response": "Hi!", "usage": USAGE}))
    client = AsyncWorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)
    with track_usage() as tracker:
        stream = await client.stream_chat(GPT_OSS, USER)
        assert "".join([c.text async for c in stream]) == "Hi!"
    assert (tracker.total.requests, tracker.total.usd is not None) == (1, True)
    await client.aclose()


def test_a_non_empty_json_answer_to_a_stream_is_still_recorded(
    server: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    server.enqueue(Reply.result({"response": "Hi!", "usage": USAGE}))
    client = WorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)
    with track_usage() as tracker:
        list(client.stream_chat(GPT_OSS, USER))
    assert (tracker.total.requests, tracker.total.total_tokens) == (1, 15)


QUEUED = {"status": "queued", "request_id": "job-9", "model": BGE_M3}
FINISHED = {
    "responses": [
        {"id": 1, "result": {"data": [[0.1]]}, "success": True, "external_reference": "1"},
        {"id": 0, "result": {"data": [[0.2]]}, "success": True, "external_reference": "0"},
        {"id": 2, "result": {"data": [[0.3]]}, "success": True, "external_reference": "2"},
    ],
    "usage": {"prompt_tokens": 30, "completion_tokens": 0, "total_tokens": 30},
}
THREE = [{"text": ["a"]}, {"text": ["b"]}, {"text": ["c"]}]


def test_a_finished_job_is_recorded_once_as_one_request_per_item(
    server: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    server.enqueue(Reply.result(QUEUED))
    server.handler = lambda request: Reply.result(FINISHED)
    client = WorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)
    with track_usage() as tracker:
        job = client.batch.submit(BGE_M3, THREE)
        client.batch.wait(BGE_M3, job.request_id, poll_interval=0.001)
        client.batch.wait(BGE_M3, job.request_id, poll_interval=0.001)  # again: not recounted
        client.batch.poll(BGE_M3, job.request_id)
    usage = tracker.by_model[BGE_M3]
    assert (usage.requests, usage.prompt_tokens, usage.requests_without_usage) == (3, 30, 0)
    assert usage.usd == pytest.approx(30 * 0.0118 / 1e6)


def test_a_poll_that_sees_the_job_done_records_it(
    server: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    server.handler = lambda request: Reply.result(FINISHED)
    client = WorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)
    with track_usage() as tracker:
        assert client.batch.poll(BGE_M3, "job-9").done
    assert (tracker.total.requests, tracker.total.prompt_tokens) == (3, 30)


async def test_async_batch_usage_is_recorded_once(
    server: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    server.enqueue(Reply.result(QUEUED))
    server.handler = lambda request: Reply.result(FINISHED)
    client = AsyncWorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)
    with track_usage() as tracker:
        job = await client.batch.submit(BGE_M3, THREE)
        await client.batch.poll(BGE_M3, job.request_id)
        await client.batch.wait(BGE_M3, job.request_id, poll_interval=0.001)
    assert (tracker.total.requests, tracker.total.prompt_tokens) == (3, 30)
    await client.aclose()


def test_a_job_without_a_total_is_recorded_with_each_items_usage(
    server: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    item_usage = {"prompt_tokens": 4, "completion_tokens": 6, "total_tokens": 10}
    server.handler = lambda request: Reply.result(
        {
            "responses": [
                {"id": i, "result": {"response": "x", "usage": item_usage}, "success": True}
                for i in range(2)
            ]
        }
    )
    client = WorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)
    with track_usage() as tracker:
        client.batch.poll("@cf/meta/llama-3.3-70b-instruct-fp8-fast", "job-2")
    assert (tracker.total.requests, tracker.total.total_tokens) == (2, 20)


# -- 8. one envelope rule ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (envelope({"x": 1}), True),
        ({"result": {"x": 1}, "errors": [], "messages": []}, True),  # no "success"
        ({"success": True, "errors": []}, True),
        ({"result": {"x": 1}}, True),  # a stripped envelope (litellm#29353, §10.1)
        ({"result": 4, "steps": [1]}, False),  # result beside other keys: not an envelope
        ({"success": True}, False),
        ([1, 2], False),
        (b"\x89PNG", False),
    ],
)
def test_what_is_an_envelope(body: Any, expected: bool) -> None:
    assert is_envelope(body) is expected
    assert envelope_result(body) == (body.get("result") if expected else body)


def test_a_failed_envelope_raises_its_typed_error() -> None:
    body = envelope(errors=[{"code": 3040, "message": "Capacity temporarily exceeded"}])
    with pytest.raises(APIError) as info:
        unwrap_envelope(body, model=BGE)
    assert info.value.codes == (3040,)
    assert envelope_result(body) is None  # the parsers' form never raises


def test_every_path_unwraps_the_same_envelope(
    server: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    # An envelope without "success": run() used to hand it back whole while the embedding and
    # rerank parsers unwrapped it.
    vectors = {"shape": [1, 2], "data": [[0.5, 0.25]]}
    wrapped = {"result": vectors, "errors": [], "messages": []}
    server.enqueue(Reply.json(wrapped))
    client = WorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)
    assert client.run(BGE, {"text": ["t"]}) == vectors
    request = build_embedding_request(BGE, ["t"])
    assert parse_embedding_response(wrapped, request).vectors == [[0.5, 0.25]]
    scores = {"result": {"response": [{"id": 0, "score": 0.9}]}, "errors": []}
    rerank = build_rerank_request("@cf/baai/bge-reranker-base", "q", ["d"])
    assert parse_rerank_response(scores, rerank)[0].score == 0.9
