"""The Batch API's rules one by one (wire reference §1.6), on a loopback server.

Submit ``POST /ai/run/{model}?queueRequest=true`` with ``{"requests": [...]}``; poll the same
URL with ``{"request_id"}`` until the answer holds ``responses`` (``id``, ``result``,
``success``, ``external_reference``); at most 10 MB per job. Each test pins one rule of
``workersai/batch.py``: what an answer is read into, how submission order is restored, what a
failed or unreadable answer raises (and what the error carries), when a poll comes next and
when a wait gives up, what the usage trackers count, and how the embedding runner splits,
waits for and reports its jobs.

Waiting is tested on a fake clock (``batch.time`` / ``batch.asyncio`` swapped in the module
only): the sleeps asked for are the assertion, never how long anything took.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from tests.conftest import LOOPBACK
from tests.core.test_batch_jobs import BatchQueue
from workersai import (
    APIError,
    AsyncWorkersAI,
    BatchTimeoutError,
    BatchWaitOptions,
    InvalidInputError,
    RetryPolicy,
    UnexpectedResponseError,
    WorkersAI,
    WorkersAIError,
    batch,
)
from workersai._embeddings import plan_embeddings
from workersai.batch import BatchBook, BatchJob, batch_job_groups, poll_waits
from workersai.testing import Reply, WorkersAIServer, echo_vector
from workersai.usage import track_usage

pytestmark = LOOPBACK

BGE = "@cf/baai/bge-base-en-v1.5"
BGE_M3 = "@cf/baai/bge-m3"
LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"


@pytest.fixture
def client(server: WorkersAIServer, fast_retries: RetryPolicy) -> Iterator[WorkersAI]:
    with WorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries) as c:
        yield c


def _aclient(server: WorkersAIServer, fast_retries: RetryPolicy) -> AsyncWorkersAI:
    return AsyncWorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)


class FakeClock:
    """``time.monotonic`` / ``time.sleep`` / ``asyncio.sleep`` of the batch module only: a
    sleep moves the clock on by what was asked and is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(batch, "time", SimpleNamespace(monotonic=fake.monotonic, sleep=fake.sleep))
    monkeypatch.setattr(batch, "asyncio", SimpleNamespace(sleep=fake.asleep))
    return fake


def _pending_then(answer: dict[str, Any], polls: int, status: str = "running") -> Any:
    """A handler: ``polls`` polls answered pending (``status``), then ``answer`` for ever."""
    seen: list[int] = []

    def handle(request: Any) -> Reply:
        seen.append(1)
        if len(seen) <= polls:
            return Reply.result({"status": status, "request_id": "r1", "model": BGE_M3})
        return Reply.result(answer)

    return handle


# -- what an answer is read into -------------------------------------------------------------


def test_a_pending_answer_keeps_its_id_model_raw_answer_and_the_submitted_references(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    queued = {"status": "queued", "request_id": "r-7", "model": BGE_M3}
    server.enqueue(Reply.result(queued))
    job = client.batch.submit(BGE_M3, [{"text": ["a"]}, {"text": ["b"], "external_reference": 9}])
    assert (job.request_id, job.status, job.model, job.done) == ("r-7", "queued", BGE_M3, False)
    assert job.raw == queued and job.items == [] and job.usage is None
    # the caller's reference 9 is kept as sent and compared as text ("9")
    assert job.references == ["0", "9"]
    assert server.requests[0].json()["requests"][1]["external_reference"] == 9


def test_a_pending_answer_without_an_id_takes_the_polled_one(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    server.enqueue(Reply.result({"status": "running", "model": 5}))
    job = client.batch.poll(BGE_M3, "r-polled")
    assert (job.request_id, job.status) == ("r-polled", "running")
    assert job.model is None  # a model that is not text is not kept


def test_an_answer_without_any_id_has_an_empty_request_id() -> None:
    assert BatchJob.from_result({"status": "queued"}).request_id == ""


def test_a_done_answer_keeps_model_usage_raw_answer_and_each_items_fields(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    done = {
        "model": BGE_M3,
        "responses": [
            {"id": " 2 ", "result": {"r": "c"}, "success": True, "external_reference": 2},
            {"id": 0, "result": {"r": "a"}, "success": False},
            {"id": True, "result": {"r": "?"}},
            {"id": "x1", "result": {"r": "b"}, "external_reference": "mine"},
        ],
        "usage": {"prompt_tokens": 7, "completion_tokens": 0, "total_tokens": 7},
    }
    server.enqueue(Reply.result(done))
    job = client.batch.poll(BGE_M3, "r-9")
    assert (job.request_id, job.status, job.model, job.done) == ("r-9", "done", BGE_M3, True)
    assert job.raw == done
    assert job.usage is not None and (job.usage.prompt_tokens, job.usage.total_tokens) == (7, 7)
    # ids: an integer, or a digit string (spaces around it are fine); a bool or other text is
    # no id. success defaults to True; a reference echoed back as a number is its text.
    assert [(i.id, i.success, i.external_reference) for i in job.items] == [
        (2, True, "2"),
        (0, False, None),
        (None, True, None),
        (None, True, "mine"),
    ]
    assert [i.result for i in job.items] == [{"r": "c"}, {"r": "a"}, {"r": "?"}, {"r": "b"}]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (["not", "an", "object"], "Unexpected Batch API answer: ['not', 'an', 'object']"),
        ({"status": "failed", "request_id": "r-3"}, "Unexpected Batch API status 'failed' for r-3"),
        ({"request_id": "r-3"}, "Unexpected Batch API status '' for r-3"),
    ],
    ids=["not-an-object", "unknown-status", "no-status"],
)
def test_an_unreadable_answer_is_an_unexpected_response_carrying_it(
    server: WorkersAIServer, client: WorkersAI, answer: Any, message: str
) -> None:
    server.enqueue(Reply.result(answer))
    with pytest.raises(UnexpectedResponseError) as info:
        client.batch.poll(BGE_M3, "r-3")
    assert info.value.message == message
    assert (info.value.status_code, info.value.body) == (200, answer)


def test_an_item_that_is_not_an_object_is_an_unexpected_response_carrying_the_answer(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    answer = {"model": BGE_M3, "responses": [{"id": 0, "result": 1}, "oops"]}
    server.enqueue(Reply.result(answer))
    with pytest.raises(UnexpectedResponseError) as info:
        client.batch.poll(BGE_M3, "r-4")
    assert info.value.message == "Unexpected item in batch r-4: 'oops'"
    assert (info.value.status_code, info.value.model, info.value.body) == (200, BGE_M3, answer)


# -- submission order ------------------------------------------------------------------------


def _done(responses: list[dict[str, Any]]) -> dict[str, Any]:
    return {"model": BGE_M3, "responses": responses}


def test_integer_ids_alone_restore_the_order_id_zero_included() -> None:
    # no references at all (a job submitted elsewhere, by a client that set none)
    job = BatchJob.from_result(
        _done([{"id": 2, "result": "c"}, {"id": 0, "result": "a"}, {"id": 1, "result": "b"}]),
        request_id="j",
    )
    assert job.results() == ["a", "b", "c"]
    job = BatchJob.from_result(_done([{"id": 1, "result": "b"}, {"id": 0, "result": "a"}]))
    assert job.results() == ["a", "b"]


def test_distinct_references_that_are_not_indices_fall_back_to_the_ids() -> None:
    job = BatchJob.from_result(
        _done(
            [
                {"id": 1, "result": "b", "external_reference": "doc-a"},
                {"id": 0, "result": "a", "external_reference": "doc-b"},
            ]
        ),
        request_id="j",
    )
    assert job.results() == ["a", "b"]


def test_indices_sent_back_as_numbers_restore_the_order() -> None:
    job = BatchJob.from_result(
        _done(
            [{"result": f"r{i}", "external_reference": i} for i in (10, 2, 0, 1, 3, 4, 5)]
            + [{"result": f"r{i}", "external_reference": i} for i in (6, 7, 8, 9)]
        )
    )
    assert job.results() == [f"r{i}" for i in range(11)]


def test_the_submitting_client_falls_back_to_the_ids_when_its_references_do_not_come_back(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    # the same client submitted "a", "b"; the answer echoes other, distinct references
    server.enqueue(Reply.result({"status": "queued", "request_id": "r-5", "model": BGE_M3}))
    job = client.batch.submit(
        BGE_M3,
        [{"text": ["x"], "external_reference": "a"}, {"text": ["y"], "external_reference": "b"}],
    )
    server.enqueue(
        Reply.result(
            _done(
                [
                    {"id": 1, "result": "for b", "external_reference": "1"},
                    {"id": 0, "result": "for a", "external_reference": "0"},
                ]
            )
        ),
        Reply.result(
            _done(
                [
                    {"id": 1, "result": "for b", "external_reference": "a"},
                    {"id": 0, "result": "for a", "external_reference": "a"},
                ]
            )
        ),
    )
    assert client.batch.poll(BGE_M3, job.request_id).results() == ["for a", "for b"]
    # the same reference twice is no order either: the ids are
    assert client.batch.poll(BGE_M3, job.request_id).results() == ["for a", "for b"]


def test_references_the_caller_repeated_are_no_order_the_ids_are(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    server.enqueue(Reply.result({"status": "queued", "request_id": "r-d", "model": BGE_M3}))
    job = client.batch.submit(
        BGE_M3,
        [{"text": ["x"], "external_reference": "d"}, {"text": ["y"], "external_reference": "d"}],
    )
    server.enqueue(
        Reply.result(
            _done(
                [
                    {"id": 1, "result": "for y", "external_reference": "d"},
                    {"id": 0, "result": "for x", "external_reference": "d"},
                ]
            )
        )
    )
    assert client.batch.poll(BGE_M3, job.request_id).results() == ["for x", "for y"]


def test_a_known_job_answered_with_extra_responses_is_an_unexpected_response(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    server.enqueue(Reply.result({"status": "queued", "request_id": "r-6", "model": BGE_M3}))
    job = client.batch.submit(BGE_M3, [{"text": ["x"]}])
    answer = _done([{"id": i, "result": i, "external_reference": str(i)} for i in range(2)])
    server.enqueue(Reply.result(answer))
    done = client.batch.poll(BGE_M3, job.request_id)
    with pytest.raises(UnexpectedResponseError) as info:
        done.results()
    assert info.value.message == "Batch r-6 answered 2 responses for 1 requests"
    assert (info.value.status_code, info.value.model, info.value.body) == (200, BGE_M3, answer)


def test_an_order_that_cannot_be_known_says_so_and_carries_the_answer() -> None:
    answer = _done([{"id": "x", "result": 1}, {"id": "y", "result": 2}])
    job = BatchJob.from_result(answer, request_id="j-1")
    with pytest.raises(UnexpectedResponseError) as info:
        job.ordered_items()
    assert info.value.message == (
        "Batch j-1 has responses whose order cannot be known (no distinct external_reference "
        "or integer id on every item)"
    )
    assert (info.value.status_code, info.value.model, info.value.body) == (200, BGE_M3, answer)


# -- failed requests -------------------------------------------------------------------------


def test_failed_requests_are_named_by_reference_else_id_and_the_hint_says_where_to_look() -> None:
    responses: list[dict[str, Any]] = [
        {"id": 0, "result": {"error": "a"}, "success": False, "external_reference": "doc-a"},
        {"id": 1, "result": "fine", "success": True},
        {"id": 2, "result": {"error": "c"}, "success": False},
        {"id": "?", "result": {"error": "d"}, "success": False},
    ]
    job = BatchJob.from_result(_done(responses), request_id="j-2")
    with pytest.raises(WorkersAIError) as info:
        job.results()
    assert info.value.message == (
        "3 request(s) of batch j-2 failed (reference 'doc-a', id 2, no id)"
    )
    assert info.value.hint == "Inspect job.items for each request's error."


def test_at_most_ten_failed_requests_are_named() -> None:
    responses = [{"id": i, "result": None, "success": False} for i in range(12)]
    job = BatchJob.from_result(_done(responses), request_id="j-3")
    with pytest.raises(WorkersAIError) as info:
        job.results()
    named = ", ".join(f"id {i}" for i in range(10))
    assert info.value.message == f"12 request(s) of batch j-3 failed ({named})"


# -- requests: what is sent, what is refused before sending ----------------------------------


def test_a_short_model_name_is_resolved_and_a_callers_falsy_reference_is_kept(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    server.enqueue(Reply.result({"status": "queued", "request_id": "r-8"}))
    job = client.batch.submit("bge-m3", [{"text": ["a"], "external_reference": ""}, {"text": []}])
    sent = server.requests[0]
    assert sent.path.endswith(f"/ai/run/{BGE_M3}") and sent.query == {"queueRequest": "true"}
    assert [item["external_reference"] for item in sent.json()["requests"]] == ["", "1"]
    assert job.references == ["", "1"]


def test_a_poll_is_retried_but_a_submit_that_may_have_been_queued_is_not(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    # polling has no effect on the server (safe to resend); submitting queues and bills a job
    server.enqueue(Reply.html(502), Reply.result({"status": "running", "request_id": "r"}))
    assert client.batch.poll(BGE_M3, "r").status == "running"
    assert len(server.requests) == 2
    server.enqueue(Reply.html(502), Reply.result({"status": "queued", "request_id": "r"}))
    with pytest.raises(WorkersAIError):
        client.batch.submit(BGE_M3, [{"text": ["a"]}])
    assert len(server.requests) == 3


def _padded_items(total: int) -> list[dict[str, Any]]:
    """One item whose submit body is exactly ``total`` bytes."""
    item: dict[str, Any] = {"text": [""], "external_reference": "0"}
    overhead = len(json.dumps({"requests": [item]}, separators=(",", ":")).encode())
    return [{"text": ["x" * (total - overhead)]}]


def test_a_job_of_exactly_10_mb_is_sent_and_one_byte_more_is_refused(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    server.enqueue(Reply.result({"status": "queued", "request_id": "big"}))
    assert client.batch.submit(BGE, _padded_items(10_000_000)).request_id == "big"
    assert len(server.requests[0].body) == 10_000_000
    with pytest.raises(InvalidInputError) as info:
        client.batch.submit(BGE, _padded_items(10_000_001))
    assert info.value.field == "requests"
    assert info.value.hint == "Split the requests into several jobs."
    with pytest.raises(InvalidInputError) as info:
        client.batch.submit(BGE, _padded_items(10_050_000))
    assert info.value.message == (
        "The batch is 10.1 MB; the Batch API takes at most 10 MB per job (wire reference §1.6)."
    )
    assert len(server.requests) == 1


@pytest.mark.parametrize("request_id", ["", "   ", None, 7])
def test_a_poll_needs_the_id_of_a_submitted_job(
    server: WorkersAIServer, client: WorkersAI, request_id: Any
) -> None:
    with pytest.raises(InvalidInputError) as info:
        client.batch.poll(BGE_M3, request_id)
    assert info.value.field == "request_id"
    assert f"got {request_id!r}" in info.value.message
    assert server.requests == []


@pytest.mark.parametrize(
    ("requests", "field", "message"),
    [
        ("text", "requests", "requests must be a list of model inputs, got str"),
        (b"text", "requests", "requests must be a list of model inputs, got bytes"),
        ({"text": ["a"]}, "requests", "requests must be a list of model inputs, got dict"),
        (
            (x for x in [{"text": ["a"]}]),
            "requests",
            "requests must be a list of model inputs, got generator",
        ),
        ([], "requests", "a batch needs at least one request"),
        (
            [{"text": ["a"]}, ["b"]],
            "requests.1",
            "requests[1] must be a model input (mapping), got list",
        ),
    ],
    ids=["str", "bytes", "mapping", "generator", "empty", "item-list"],
)
def test_requests_that_are_not_a_list_of_inputs_are_refused_before_sending(
    server: WorkersAIServer, client: WorkersAI, requests: Any, field: str, message: str
) -> None:
    with pytest.raises(InvalidInputError) as info:
        client.batch.submit(BGE_M3, requests)
    assert (info.value.field, info.value.message) == (field, message)
    assert server.requests == []


def test_an_error_answer_to_a_submit_or_a_poll_names_the_model(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    server.enqueue(Reply.error(400, 5006, "AiError: Bad input"))
    with pytest.raises(APIError) as info:
        client.batch.submit("bge-m3", [{"text": ["a"]}])
    assert (info.value.status_code, info.value.model) == (400, BGE_M3)
    server.enqueue(Reply.error(200, 5006, "AiError: Bad input"))  # success: false at 200
    with pytest.raises(APIError) as info:
        client.batch.submit("bge-m3", [{"text": ["a"]}])
    assert info.value.model == BGE_M3
    server.enqueue(Reply.error(200, 5006, "AiError: Bad input"))
    with pytest.raises(APIError) as info:
        client.batch.poll("bge-m3", "r-e")
    assert info.value.model == BGE_M3


async def test_async_submit_and_poll_keep_the_model_and_the_callers_references(
    server: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    server.enqueue(
        Reply.result({"status": "queued", "request_id": "r-a"}),
        Reply.result(
            {
                "responses": [  # no ids; the caller's references, in the wrong order
                    {"result": "for a", "external_reference": "a"},
                    {"result": "for b", "external_reference": "b"},
                ],
                "usage": {"prompt_tokens": 6, "completion_tokens": 0, "total_tokens": 6},
            }
        ),
        Reply.error(200, 5006, "AiError: Bad input"),
    )
    items = [{"text": ["x"], "external_reference": "b"}, {"text": ["y"], "external_reference": "a"}]
    async with _aclient(server, fast_retries) as client:
        with track_usage() as tracker:
            job = await client.batch.submit("bge-m3", items)
            done = await client.batch.poll("bge-m3", job.request_id)
        assert job.references == ["b", "a"]
        assert done.results() == ["for b", "for a"]
        assert (tracker.by_model[BGE_M3].requests, tracker.by_model[BGE_M3].prompt_tokens) == (2, 6)
        with pytest.raises(APIError) as info:
            await client.batch.poll("bge-m3", "r-a")
        assert info.value.model == BGE_M3
        server.enqueue(Reply.error(200, 5006, "AiError: Bad input"))
        with pytest.raises(APIError) as info:
            await client.batch.submit("bge-m3", items)
        assert info.value.model == BGE_M3


# -- what the client remembers -----------------------------------------------------------------


def test_the_book_remembers_the_references_of_the_latest_jobs_only() -> None:
    book = BatchBook()
    limit = BatchBook._MAX_JOBS

    def submitted(job_id: str) -> None:
        book.job(BGE_M3, {"status": "queued", "request_id": job_id}, references=["b", "a"])

    def order(job_id: str) -> list[Any]:
        responses = [
            {"result": "for a", "external_reference": "a"},
            {"result": "for b", "external_reference": "b"},
        ]
        job = book.job(BGE_M3, {"responses": responses}, request_id=job_id)
        try:
            return job.results()
        except UnexpectedResponseError:
            return []  # the references were forgotten: the order cannot be known

    submitted("first")
    for i in range(limit - 1):
        submitted(f"job-{i}")
    assert order("first") == ["for b", "for a"]  # 4096 jobs remembered: still known
    submitted("first")  # submitted again under the same id: remembered as the newest
    submitted("one-more")
    assert order("first") == ["for b", "for a"]
    assert order("job-0") == []  # the oldest went
    assert order("job-1") == ["for b", "for a"]


def test_a_job_is_remembered_only_under_an_id() -> None:
    book = BatchBook()
    book.job(BGE_M3, {"status": "queued"}, references=["b", "a"])
    responses = [
        {"result": "for a", "external_reference": "a"},
        {"result": "for b", "external_reference": "b"},
    ]
    with pytest.raises(UnexpectedResponseError):
        book.job(BGE_M3, {"responses": responses}, request_id="").results()


# -- usage -----------------------------------------------------------------------------------


def test_a_job_is_recorded_once_per_id_and_a_job_without_an_id_each_time_it_is_seen() -> None:
    book = BatchBook()
    answer = {
        "responses": [{"id": 0, "result": {}}, {"id": 1, "result": {}}],
        "usage": {"prompt_tokens": 8, "completion_tokens": 0, "total_tokens": 8},
    }
    with track_usage() as tracker:
        book.job(BGE_M3, {**answer, "request_id": "j"})
        book.job(BGE_M3, answer, request_id="j")
    assert (tracker.total.requests, tracker.total.prompt_tokens) == (2, 8)
    with track_usage() as tracker:
        book.job(BGE_M3, answer)
        book.job(BGE_M3, answer)
    assert (tracker.total.requests, tracker.total.prompt_tokens) == (4, 16)


def test_a_job_with_a_total_counts_its_tokens_once_over_its_items() -> None:
    answer = {
        "request_id": "j",
        "responses": [{"id": i, "result": {"usage": {"total_tokens": 99}}} for i in range(3)],
        "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
    }
    with track_usage() as tracker:
        BatchBook().job(LLAMA, answer)
    usage = tracker.by_model[LLAMA]
    assert (usage.requests, usage.prompt_tokens, usage.completion_tokens) == (3, 9, 3)
    # the items after the first are requests with a usage of their own: zero tokens
    assert (usage.total_tokens, usage.requests_without_usage) == (12, 0)


def test_a_job_without_a_total_counts_each_items_usage_and_items_without_one() -> None:
    item_usage = {"prompt_tokens": 4, "completion_tokens": 6, "total_tokens": 10}
    answer = {
        "request_id": "j",
        "responses": [
            {"id": 0, "result": {"response": "x", "usage": item_usage}},
            {"id": 1, "result": "not an object"},
            {"id": 2, "result": {"response": "y"}},
        ],
    }
    with track_usage() as tracker:
        BatchBook().job(LLAMA, answer)
    usage = tracker.by_model[LLAMA]
    assert (usage.requests, usage.total_tokens, usage.requests_without_usage) == (3, 10, 2)


def test_a_job_with_no_items_is_one_request() -> None:
    with track_usage() as tracker:
        BatchBook().job(LLAMA, {"request_id": "j0", "responses": []})
        BatchBook().job(LLAMA, {"request_id": "j1", "responses": [], "usage": {"total_tokens": 5}})
    usage = tracker.by_model[LLAMA]
    assert (usage.requests, usage.total_tokens, usage.requests_without_usage) == (2, 5, 1)


# -- waiting -----------------------------------------------------------------------------------


def test_wait_polls_after_waits_growing_by_half_up_to_the_cap(
    server: WorkersAIServer, client: WorkersAI, clock: FakeClock
) -> None:
    server.handler = _pending_then(_done([{"id": 0, "result": "a"}]), polls=6)
    job = client.batch.wait(BGE_M3, "r1", poll_interval=2, max_poll_interval=5)
    assert job.done and job.results() == ["a"]
    assert clock.sleeps == [2, 3, 4.5, 5, 5, 5]
    assert len(server.requests) == 7


def test_wait_gives_up_when_the_next_poll_would_come_after_the_deadline(
    server: WorkersAIServer, client: WorkersAI, clock: FakeClock
) -> None:
    server.handler = _pending_then({}, polls=10**6, status="queued")
    # polls at 0, 1, 2 and 3 s; a poll exactly at the deadline is still made
    with pytest.raises(BatchTimeoutError) as info:
        client.batch.wait(BGE_M3, "r1", poll_interval=1, max_poll_interval=1, timeout=3)
    assert clock.sleeps == [1, 1, 1] and len(server.requests) == 4
    assert info.value.message == "Batch r1 still queued after 3s"
    assert info.value.request_id == "r1"
    assert info.value.hint == "Poll again with client.batch.poll(model, 'r1')."


async def test_async_wait_polls_on_the_same_schedule_and_gives_up_alike(
    server: WorkersAIServer, fast_retries: RetryPolicy, clock: FakeClock
) -> None:
    server.handler = _pending_then(_done([{"id": 0, "result": "a"}]), polls=4)
    async with _aclient(server, fast_retries) as client:
        job = await client.batch.wait(BGE_M3, "r1", poll_interval=2, max_poll_interval=5)
        assert job.results() == ["a"] and clock.sleeps == [2, 3, 4.5, 5]
        server.handler = _pending_then({}, polls=10**6)
        clock.sleeps.clear()
        with pytest.raises(BatchTimeoutError, match="still running after 10s"):
            await client.batch.wait(BGE_M3, "r1", poll_interval=1, timeout=10)
    assert clock.sleeps == [1, 1.5, 2.25, 3.375]  # next: 5.0625 s, past the 10 s deadline


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"poll_interval": 0}, "poll_interval"),
        ({"max_poll_interval": -1}, "max_poll_interval"),
        ({"timeout": float("inf")}, "timeout"),
    ],
)
def test_wait_checks_its_seconds_before_polling(
    server: WorkersAIServer, client: WorkersAI, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInputError) as info:
        client.batch.wait(BGE_M3, "r1", **kwargs)
    assert info.value.field == field
    assert server.requests == []


# -- the embedding runner --------------------------------------------------------------------


def _texts(n: int) -> list[str]:
    return [f"text {i}" for i in range(n)]


def test_jobs_are_split_at_the_byte_limit_each_request_counting_its_json_and_a_separator() -> None:
    plan = plan_embeddings(BGE, _texts(6), batch_size=2)
    weights = [len(json.dumps(r.body, separators=(",", ":"))) + 1 for r in plan.requests]
    assert len(set(weights)) == 1  # three requests of the same size
    weight = weights[0]
    sizes = {
        limit: [len(group) for group in batch_job_groups(plan, limit)]
        for limit in (weight, 2 * weight - 1, 2 * weight, 3 * weight - 1, 3 * weight)
    }
    assert sizes == {
        weight: [1, 1, 1],
        2 * weight - 1: [1, 1, 1],
        2 * weight: [2, 1],
        3 * weight - 1: [2, 1],
        3 * weight: [3],
    }
    # a request larger than the limit still goes, alone
    assert [len(g) for g in batch_job_groups(plan, 1)] == [1, 1, 1]
    assert [r for g in batch_job_groups(plan, 2 * weight) for r in g] == plan.requests


def test_the_openai_endpoint_cannot_use_the_batch_api(client: WorkersAI) -> None:
    with pytest.raises(InvalidInputError) as info:
        client.embed(BGE, ["a"], endpoint="openai", use_batch_api=True)
    assert info.value.field == "endpoint"
    assert info.value.message == "the Batch API needs the native endpoint"
    assert info.value.hint == "Drop endpoint=..."


@pytest.mark.parametrize("size", [0, -5, True, 1.5, "100", 10_000_001])
def test_max_job_bytes_must_be_a_whole_number_up_to_10_mb(
    server: WorkersAIServer, client: WorkersAI, size: Any
) -> None:
    with pytest.raises(InvalidInputError) as info:
        client.embed(
            BGE, ["a"], use_batch_api=True, batch_wait=BatchWaitOptions(max_job_bytes=size)
        )
    assert info.value.field == "batch_wait.max_job_bytes"
    assert f"from 1 to 10,000,000, got {size!r}" in info.value.message
    assert server.requests == []


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (BatchWaitOptions(poll_interval=0), "poll_interval"),
        (BatchWaitOptions(max_poll_interval=math.nan), "max_poll_interval"),
        (BatchWaitOptions(timeout=-1), "timeout"),
    ],
    ids=["poll_interval", "max_poll_interval", "timeout"],
)
def test_the_wait_options_are_checked_before_any_job_is_queued(
    server: WorkersAIServer, client: WorkersAI, options: BatchWaitOptions, field: str
) -> None:
    with pytest.raises(InvalidInputError) as info:
        client.embed(BGE, ["a"], use_batch_api=True, batch_wait=options)
    assert info.value.field == field
    assert server.requests == []


@pytest.mark.parametrize("max_job_bytes", [1, 10_000_000])
def test_the_extreme_job_sizes_are_accepted(fast_retries: RetryPolicy, max_job_bytes: int) -> None:
    queue = BatchQueue(pending=(0,))
    texts = _texts(4)
    with WorkersAIServer(queue) as server, _sync(server, fast_retries) as client:
        result = client.embed(
            BGE,
            texts,
            batch_size=2,
            use_batch_api=True,
            batch_wait=BatchWaitOptions(max_job_bytes=max_job_bytes),
        )
    assert result.vectors == [echo_vector(t) for t in texts]
    assert len(queue.submitted) == (2 if max_job_bytes == 1 else 1)


def _sync(server: WorkersAIServer, fast_retries: RetryPolicy) -> WorkersAI:
    return WorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)


def test_the_runner_waits_on_the_options_schedule_with_one_deadline_for_all_jobs(
    fast_retries: RetryPolicy, clock: FakeClock
) -> None:
    # job 0 is done after 3 pending polls, job 1 after 2, job 2 at once
    queue = BatchQueue(pending=(3, 2, 0))
    texts = _texts(6)
    options = BatchWaitOptions(poll_interval=2, max_poll_interval=3, timeout=60, max_job_bytes=1)
    progress: list[tuple[int, int]] = []
    with WorkersAIServer(queue) as server, _sync(server, fast_retries) as client:
        result = client.embed(
            BGE,
            texts,
            batch_size=2,
            use_batch_api=True,
            batch_wait=options,
            on_progress=lambda done, total: progress.append((done, total)),
        )
    assert result.vectors == [echo_vector(t) for t in texts]
    assert clock.sleeps == [2, 3, 3, 2, 3]  # each job's schedule starts at poll_interval
    assert [queue.jobs[rid].polls for rid in queue.submitted] == [4, 3, 0]  # job 2: never polled
    assert progress == [(2, 6), (4, 6), (6, 6)]
    # the same jobs with a 10 s deadline for the whole run: job 1's second wait passes it
    queue = BatchQueue(pending=(3, 2, 0))
    clock.sleeps.clear()
    options = BatchWaitOptions(poll_interval=2, max_poll_interval=3, timeout=10, max_job_bytes=1)
    with WorkersAIServer(queue) as server, _sync(server, fast_retries) as client:
        with pytest.raises(BatchTimeoutError) as info:
            client.embed(BGE, texts, batch_size=2, use_batch_api=True, batch_wait=options)
    assert clock.sleeps == [2, 3, 3, 2]
    assert info.value.request_id == queue.submitted[1]


async def test_async_runner_waits_on_the_options_schedule(
    fast_retries: RetryPolicy, clock: FakeClock
) -> None:
    queue = BatchQueue(pending=(4,))
    texts = _texts(4)
    options = BatchWaitOptions(poll_interval=2, max_poll_interval=3, timeout=60)
    progress: list[tuple[int, int]] = []
    with WorkersAIServer(queue) as server:
        async with _aclient(server, fast_retries) as client:
            result = await client.embed(
                BGE,
                texts,
                batch_size=2,
                use_batch_api=True,
                batch_wait=options,
                on_progress=lambda done, total: progress.append((done, total)),
            )
            assert result.vectors == [echo_vector(t) for t in texts]
            assert clock.sleeps == [2, 3, 3, 3]
            assert progress == [(4, 4)]
            queue.pending = (10**6,)
            clock.sleeps.clear()
            short = BatchWaitOptions(poll_interval=2, max_poll_interval=3, timeout=10)
            with pytest.raises(BatchTimeoutError):
                await client.embed(BGE, texts, use_batch_api=True, batch_wait=short)
            assert clock.sleeps == [2, 3, 3]


async def test_async_runner_checks_its_options_before_queuing(
    server: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    async with _aclient(server, fast_retries) as client:
        with pytest.raises(InvalidInputError) as info:
            await client.embed(
                BGE, ["a"], use_batch_api=True, batch_wait=BatchWaitOptions(max_job_bytes=0)
            )
        assert info.value.field == "batch_wait.max_job_bytes"
        with pytest.raises(InvalidInputError) as info:
            await client.embed(
                BGE, ["a"], use_batch_api=True, batch_wait=BatchWaitOptions(timeout=0)
            )
        assert info.value.field == "timeout"
    assert server.requests == []


def _sleeps_until_timeout(poll_interval: float, cap: float, timeout: float) -> list[float]:
    """The waits of a schedule that never sees its job done (computed step by step)."""
    sleeps: list[float] = []
    wait, elapsed = poll_interval, 0.0
    while elapsed + wait <= timeout:
        sleeps.append(wait)
        elapsed += wait
        wait = min(wait * 1.5, cap)
    return sleeps


def test_the_default_schedule_is_1s_growing_to_30s_for_an_hour(
    server: WorkersAIServer, client: WorkersAI, clock: FakeClock
) -> None:
    server.handler = _pending_then({}, polls=10**6)
    with pytest.raises(BatchTimeoutError, match="after 3600s"):
        client.batch.wait(BGE_M3, "r1")
    expected = _sleeps_until_timeout(1.0, 30.0, 3600.0)
    assert clock.sleeps == expected and expected[:3] == [1.0, 1.5, 2.25]
    assert expected.count(30.0) > 100
    clock.sleeps.clear()
    with pytest.raises(BatchTimeoutError, match="after 3600s"):
        client.embed(BGE, ["a"], use_batch_api=True)  # default BatchWaitOptions
    assert clock.sleeps == expected


async def test_async_default_schedule(
    server: WorkersAIServer, fast_retries: RetryPolicy, clock: FakeClock
) -> None:
    server.handler = _pending_then({}, polls=10**6)
    async with _aclient(server, fast_retries) as client:
        with pytest.raises(BatchTimeoutError, match="after 3600s"):
            await client.batch.wait(BGE_M3, "r1")
        assert clock.sleeps == _sleeps_until_timeout(1.0, 30.0, 3600.0)


def test_no_texts_is_no_job(server: WorkersAIServer, client: WorkersAI) -> None:
    result = client.embed(BGE, [], use_batch_api=True)
    assert (result.vectors, result.shape) == ([], [0, 768])
    assert server.requests == []


def test_a_job_with_fewer_results_than_requests_is_an_unexpected_response() -> None:
    # job.results() already checks the count when the submitted references are known; this
    # is the runner's own check, for a job whose references the client no longer has
    group = batch_job_groups(plan_embeddings(BGE, _texts(4), batch_size=2), 10**6)[0]
    outputs = [{"shape": [2, 2], "data": [[1.0, 2.0], [3.0, 4.0]]}]
    with pytest.raises(UnexpectedResponseError) as info:
        batch._job_results(group, outputs)
    assert info.value.message == "The Batch API returned 1 results for 2 requests"
    assert (info.value.status_code, info.value.model, info.value.body) == (200, BGE, outputs)
    with pytest.raises(UnexpectedResponseError, match="returned 0 results for 1 requests"):
        batch._job_results(group[:1], [])


def test_polls_wait_longer_each_time_up_to_the_cap() -> None:
    # the one schedule of client.batch.wait, the embedding runner and the generation job
    waits = poll_waits(0.4, 1.0)
    assert [next(waits) for _ in range(5)] == pytest.approx([0.4, 0.6, 0.9, 1.0, 1.0])
