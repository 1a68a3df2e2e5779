"""Embedding runs that span several Batch API jobs, and jobs polled later (loopback server).

The server below answers the Batch API as reference §1.6 describes it — submit
``?queueRequest=true`` with ``{"requests": [...]}`` → ``{"status": "queued", "request_id"}``;
poll with ``{"request_id"}`` → ``queued``/``running`` until ``{"responses": [...]}`` —
and makes everything that could mislead a client happen at once: several jobs per run
(``BatchWaitOptions.max_job_bytes`` is small), responses listed in a shuffled order, jobs
that become done in the opposite order to their submission, a first job pending for many
polls, and (optionally) no ``external_reference`` echoed back, only the items' ids.

Each text is answered with :func:`~workersai.testing.echo_vector` (its length and CRC-32),
so ``vectors == [echo_vector(t) for t in texts]`` proves every vector landed at its text's
index.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conftest import LOOPBACK
from workersai import (
    AsyncWorkersAI,
    BatchWaitOptions,
    RetryPolicy,
    UnexpectedResponseError,
    WorkersAI,
)
from workersai._embeddings import plan_embeddings
from workersai.batch import batch_job_groups
from workersai.testing import RecordedRequest, Reply, WorkersAIServer, echo_vector

pytestmark = LOOPBACK

BGE = "@cf/baai/bge-base-en-v1.5"
FAST_POLLS = {"poll_interval": 0.001, "max_poll_interval": 0.005, "timeout": 30.0}
BATCH_SIZE = 3  # texts per request
MAX_JOB_BYTES = 400  # about three requests per job: the 40 texts need five jobs or more
HOLD_CAP = 2000  # polls a held first job waits for the others before it gives in


def corpus(n: int = 40) -> list[str]:
    """Distinct texts of different lengths (so a swapped vector shows in its length too)."""
    return [f"passage {i}: " + "lorem ipsum " * (i % 7) + f"end {i}" for i in range(n)]


@dataclass
class _Job:
    request_id: str
    requests: list[dict[str, Any]]
    pending_polls: int  # polls answered "queued"/"running" before the job is done
    polls: int = 0


@dataclass
class BatchQueue:
    """A Batch API that answers out of order (a handler for :class:`WorkersAIServer`).

    Args:
        pending: Job *k* answers ``pending[k]`` polls with ``queued``/``running`` before it
            is done (the last value repeats); ``0`` answers the submit itself with the
            responses. Decreasing values make later jobs finish first.
        echo_references: Send each item's ``external_reference`` back.
        item_ids: Number the items (``id``: their position in the job).
        seed: Seeds the shuffling of each job's ``responses``.
        first_waits_for_the_rest: Job 0 stays pending until every other job has been
            answered done (or for ``HOLD_CAP`` polls), so a client that awaits its jobs
            together sees the first job done last whatever the machine's load, and one that
            awaits them one by one sees it done first.
    """

    pending: Sequence[int] = (6, 4, 3, 2, 1)
    echo_references: bool = True
    item_ids: bool = True
    seed: int = 18
    first_waits_for_the_rest: bool = False
    jobs: dict[str, _Job] = field(default_factory=dict)
    submitted: list[str] = field(default_factory=list)  # request ids, submission order
    answered_done: list[str] = field(default_factory=list)  # first "done" answer per job
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: RecordedRequest) -> Reply:
        body = request.json()
        if request.query != {"queueRequest": "true"} or not isinstance(body, dict):
            return Reply.error(599, None, "not a Batch API request")
        with self.lock:
            if "requests" in body:
                return self._submit(body["requests"])
            job = self.jobs.get(str(body.get("request_id")))
            if job is None:
                return Reply.error(404, 7000, "No such request_id")
            job.polls += 1
            if job.polls <= job.pending_polls or self._held(job):
                status = "queued" if job.polls == 1 else "running"
                return Reply.result({"status": status, "request_id": job.request_id, "model": BGE})
            return self._done(job)

    def _held(self, job: _Job) -> bool:
        if not self.first_waits_for_the_rest or job.request_id != self.submitted[0]:
            return False
        others = set(self.submitted[1:])
        return job.polls <= HOLD_CAP and not others <= set(self.answered_done)

    def _submit(self, requests: list[dict[str, Any]]) -> Reply:
        k = len(self.submitted)
        pending = self.pending[min(k, len(self.pending) - 1)]
        job = _Job(f"job-{k}-5b1e", requests, pending_polls=pending)
        self.jobs[job.request_id] = job
        self.submitted.append(job.request_id)
        if pending == 0:
            return self._done(job)
        return Reply.result({"status": "queued", "request_id": job.request_id, "model": BGE})

    def _done(self, job: _Job) -> Reply:
        if job.request_id not in self.answered_done:
            self.answered_done.append(job.request_id)
        responses = []
        for item_id, item in enumerate(job.requests):
            vectors = [echo_vector(t) for t in item["text"]]
            response: dict[str, Any] = {
                "result": {"shape": [len(vectors), 2], "data": vectors, "pooling": "mean"},
                "success": True,
            }
            if self.item_ids:
                response["id"] = item_id
            if self.echo_references:
                response["external_reference"] = item.get("external_reference")
            responses.append(response)
        random.Random(f"{self.seed}:{job.request_id}").shuffle(responses)
        tokens = sum(len(t.split()) for item in job.requests for t in item["text"])
        usage = {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens}
        return Reply.result(
            {"responses": responses, "usage": usage, "request_id": job.request_id, "model": BGE}
        )

    def texts_per_job(self) -> list[list[str]]:
        """The texts each job carried, in submission order."""
        return [
            [t for item in self.jobs[rid].requests for t in item["text"]] for rid in self.submitted
        ]


@pytest.fixture
def queue(request: pytest.FixtureRequest) -> BatchQueue:
    return BatchQueue(**getattr(request, "param", {}))


@pytest.fixture
def server(queue: BatchQueue) -> Iterator[WorkersAIServer]:
    with WorkersAIServer(queue) as srv:
        yield srv


def _client(server: WorkersAIServer, fast_retries: RetryPolicy) -> WorkersAI:
    return WorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)


def _aclient(server: WorkersAIServer, fast_retries: RetryPolicy) -> AsyncWorkersAI:
    return AsyncWorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)


def _check_run_spanned_jobs(queue: BatchQueue, texts: list[str]) -> None:
    """The run really was several jobs, each a contiguous slice, the first one slow."""
    per_job = queue.texts_per_job()
    expected_groups = batch_job_groups(
        plan_embeddings(BGE, texts, batch_size=BATCH_SIZE), MAX_JOB_BYTES
    )
    assert len(per_job) == len(expected_groups) >= 5
    assert [t for job in per_job for t in job] == texts  # submitted in order, nothing lost
    assert queue.jobs[queue.submitted[0]].polls >= 3  # pending for several polls


RUNS = {
    "references-echoed": {"echo_references": True},
    "ids-only": {"echo_references": False},
    "references-only": {"item_ids": False},
    "last-jobs-done-at-submit": {"pending": (5, 3, 1, 0)},
}


@pytest.mark.parametrize("queue", list(RUNS.values()), ids=list(RUNS), indirect=True)
def test_vectors_land_at_their_index_across_jobs(
    server: WorkersAIServer, queue: BatchQueue, fast_retries: RetryPolicy
) -> None:
    texts = corpus()
    progress: list[tuple[int, int]] = []
    with _client(server, fast_retries) as client:
        result = client.embed(
            BGE,
            texts,
            batch_size=BATCH_SIZE,
            use_batch_api=True,
            batch_wait=BatchWaitOptions(**FAST_POLLS, max_job_bytes=MAX_JOB_BYTES),
            on_progress=lambda done, total: progress.append((done, total)),
        )
    assert result.vectors == [echo_vector(t) for t in texts]
    assert result.shape == [len(texts), 2]
    _check_run_spanned_jobs(queue, texts)
    assert [total for _, total in progress] == [len(texts)] * len(queue.submitted)
    assert [done for done, _ in progress] == sorted({done for done, _ in progress})
    assert progress[-1] == (len(texts), len(texts))


@pytest.mark.parametrize(
    "queue",
    [{**run, "first_waits_for_the_rest": True} for run in RUNS.values()],
    ids=list(RUNS),
    indirect=True,
)
def test_async_vectors_land_at_their_index_across_jobs(
    server: WorkersAIServer, queue: BatchQueue, fast_retries: RetryPolicy
) -> None:
    texts = corpus()

    async def run() -> list[list[float]]:
        async with _aclient(server, fast_retries) as client:
            result = await client.embed(
                BGE,
                texts,
                batch_size=BATCH_SIZE,
                use_batch_api=True,
                batch_wait=BatchWaitOptions(**FAST_POLLS, max_job_bytes=MAX_JOB_BYTES),
            )
        return result.vectors

    assert asyncio.run(run()) == [echo_vector(t) for t in texts]
    _check_run_spanned_jobs(queue, texts)
    # the jobs are awaited together: the last one submitted was seen done before the first
    first, last = queue.submitted[0], queue.submitted[-1]
    assert queue.answered_done.index(last) < queue.answered_done.index(first)


def test_one_text_per_request_many_jobs(
    server: WorkersAIServer, queue: BatchQueue, fast_retries: RetryPolicy
) -> None:
    """Many one-text items per job: the order inside each job matters as much as across."""
    texts = corpus(60)
    with _client(server, fast_retries) as client:
        result = client.embed(
            BGE,
            texts,
            batch_size=1,
            use_batch_api=True,
            batch_wait=BatchWaitOptions(**FAST_POLLS, max_job_bytes=1500),
        )
    assert result.vectors == [echo_vector(t) for t in texts]
    assert len(queue.submitted) >= 3
    assert all(len(queue.jobs[rid].requests) >= 5 for rid in queue.submitted[:-1])


# -- jobs submitted now and collected later, by request id -----------------------------------


def _job_inputs(texts: list[str], per_job: int, per_request: int) -> list[list[dict[str, Any]]]:
    """``texts`` as jobs of ``per_job`` texts, each split into requests of ``per_request``."""
    jobs = []
    for start in range(0, len(texts), per_job):
        chunk = texts[start : start + per_job]
        jobs.append(
            [{"text": chunk[i : i + per_request]} for i in range(0, len(chunk), per_request)]
        )
    return jobs


def _vectors(results: Sequence[Any]) -> list[list[float]]:
    return [vector for result in results for vector in result["data"]]


@pytest.mark.parametrize("fresh_client", [False, True], ids=["same-client", "new-client"])
def test_jobs_polled_later_by_request_id(
    server: WorkersAIServer, queue: BatchQueue, fast_retries: RetryPolicy, fresh_client: bool
) -> None:
    """Submit every job, then come back for them — last job first, one poll at a time, then
    ``wait`` — from the same client or from a new one that never saw the submits."""
    texts = corpus(72)
    with _client(server, fast_retries) as client:
        submitted = [client.batch.submit(BGE, job) for job in _job_inputs(texts, 24, 2)]
        assert [job.status for job in submitted] == ["queued"] * len(submitted)
        request_ids = [job.request_id for job in submitted]
        later = _client(server, fast_retries) if fresh_client else client
        with later:
            first_look = [later.batch.poll(BGE, rid) for rid in request_ids]
            assert not first_look[0].done  # the first job is still pending
            done = {rid: later.batch.wait(BGE, rid, **FAST_POLLS) for rid in reversed(request_ids)}
    assert len(request_ids) == 3  # of 12 items each: "10" sorts before "2" as text
    assert all(job.done for job in done.values())
    assert queue.jobs[request_ids[0]].polls >= 3
    assert _vectors([r for rid in request_ids for r in done[rid].results()]) == [
        echo_vector(t) for t in texts
    ]


def _referenced_items(texts: list[str]) -> list[dict[str, Any]]:
    """Two texts per item, each with a reference of the caller's (not its index)."""
    return [
        {"text": texts[i : i + 2], "external_reference": f"doc-{len(texts) - i:02d}"}
        for i in range(0, len(texts), 2)
    ]


@pytest.mark.parametrize("queue", [{"item_ids": False}], indirect=True)
def test_caller_references_put_a_job_polled_later_in_order(
    server: WorkersAIServer, queue: BatchQueue, fast_retries: RetryPolicy
) -> None:
    """The caller's own references (not indices) come back shuffled, without item ids; the
    client that submitted the job remembers them and restores the submission order."""
    texts = corpus(24)
    items = _referenced_items(texts)
    with _client(server, fast_retries) as client:
        job = client.batch.submit(BGE, items)
        done = client.batch.wait(BGE, job.request_id, **FAST_POLLS)
    assert [item.external_reference for item in done.ordered_items()] == [
        item["external_reference"] for item in items
    ]
    assert [item.external_reference for item in done.items] != [
        item["external_reference"] for item in items
    ]  # the server really answered out of order
    assert _vectors(done.results()) == [echo_vector(t) for t in texts]


@pytest.mark.parametrize("queue", [{"item_ids": False}], indirect=True)
def test_unknown_order_is_an_error_not_a_guess(
    server: WorkersAIServer, queue: BatchQueue, fast_retries: RetryPolicy
) -> None:
    """A client that never saw the submit, answered with the caller's references and no
    item ids, cannot know the order: it says so instead of guessing."""
    texts = corpus(12)
    with _client(server, fast_retries) as client:
        job = client.batch.submit(BGE, _referenced_items(texts))
    with _client(server, fast_retries) as other:
        done = other.batch.wait(BGE, job.request_id, **FAST_POLLS)
        with pytest.raises(UnexpectedResponseError, match="order cannot be known"):
            done.results()


# the first job is held until the others are done: "waited together" cannot depend on load
@pytest.mark.parametrize("queue", [{"first_waits_for_the_rest": True}], indirect=True)
@pytest.mark.parametrize("fresh_client", [False, True], ids=["same-client", "new-client"])
def test_async_jobs_polled_later_by_request_id(
    server: WorkersAIServer, queue: BatchQueue, fast_retries: RetryPolicy, fresh_client: bool
) -> None:
    texts = corpus(72)

    async def run() -> tuple[list[str], list[list[float]]]:
        async with _aclient(server, fast_retries) as client:
            submitted = [await client.batch.submit(BGE, job) for job in _job_inputs(texts, 24, 2)]
            request_ids = [job.request_id for job in submitted]
            later = _aclient(server, fast_retries) if fresh_client else client
            async with later:
                assert not (await later.batch.poll(BGE, request_ids[0])).done
                finished = await asyncio.gather(
                    *(later.batch.wait(BGE, rid, **FAST_POLLS) for rid in request_ids)
                )
        return request_ids, _vectors([r for job in finished for r in job.results()])

    request_ids, vectors = asyncio.run(run())
    assert vectors == [echo_vector(t) for t in texts]
    assert len(request_ids) == 3  # of 12 items each: "10" sorts before "2" as text
    # waited together: the last job submitted was seen done before the first
    assert queue.answered_done.index(request_ids[-1]) < queue.answered_done.index(request_ids[0])
