"""``generate(..., use_batch_api=True)``: records queued as Batch API jobs (wire reference §1.6),
job ids saved beside the output, a resumed run polling them instead of queueing again, and a
submit of unknown fate never queued twice unless asked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import workersai
from tests.generation.helpers import (
    LLAMA,
    USAGE,
    BatchQueue,
    chat_requests,
    prompts,
    read_lines,
    write_records,
)
from workersai import AsyncWorkersAI, BatchWaitOptions, InvalidInputError, WorkersAI
from workersai.generation import GenerationReport
from workersai.generation._batch import CHUNK_RECORDS
from workersai.testing import Reply, WorkersAIServer

FAST_POLLS = BatchWaitOptions(poll_interval=0.01, max_poll_interval=0.02, timeout=5)
GEMMA = "@cf/google/gemma-4-26b-a4b-it"


@pytest.fixture
def queue(server: WorkersAIServer) -> BatchQueue:
    queue = BatchQueue()
    server.handler = queue
    return queue


@pytest.fixture
def client(server: WorkersAIServer) -> WorkersAI:
    return WorkersAI("acct", "tok", base_url=server.base_url, max_retries=0)


def _run(tmp_path: Path, client: Any, records: Any, **kwargs: Any) -> GenerationReport:
    kwargs.setdefault("batch_wait", FAST_POLLS)
    return workersai.generate(
        records,
        out=tmp_path / "out.jsonl",
        client=client,
        use_batch_api=True,
        progress=False,
        **kwargs,
    )


def _ledger(tmp_path: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line) for line in (tmp_path / "out.jsonl.batches.jsonl").read_text().splitlines()
    ]


def test_records_are_queued_in_jobs_and_answered_in_place(
    tmp_path: Path, client: WorkersAI, queue: BatchQueue, server: WorkersAIServer
) -> None:
    records = [
        *prompts(3, topic="t"),
        {"id": "m", "messages": [{"role": "user", "content": "chat"}], "system": "Short."},
    ]
    report = _run(tmp_path, client, records, max_tokens=32)
    lines = {line["id"]: line for line in read_lines(tmp_path / "out.jsonl")}
    # the responses came back reversed: external_reference put each on its record
    assert {k: v["response"] for k, v in lines.items()} == {
        "r0": "batch prompt 0",
        "r1": "batch prompt 1",
        "r2": "batch prompt 2",
        "m": "batch Short.\n\nchat",
    }
    assert (
        lines["r0"]["topic"] == "t"
        and lines["r0"]["usage"] == USAGE
        and "latency_ms" not in lines["r0"]
    )
    assert report.complete and report.answered == 4
    [submit] = [r for r in server.requests if "requests" in (r.json() or {})]
    assert submit.query == {"queueRequest": "true"} and submit.model == LLAMA
    # Llama 3.3's batch items take a prompt (§1.6): messages are rendered into one
    assert submit.json()["requests"][3] == {
        "prompt": "Short.\n\nchat",
        "max_tokens": 32,
        "external_reference": "3",
    }
    assert _ledger(tmp_path) == [
        {"chunk": 1, "model": LLAMA, "ids": ["r0", "r1", "r2", "m"]},
        {"chunk": 1, "request_id": "job-1"},
    ]
    assert chat_requests(server.requests) == []


def test_a_resumed_run_polls_the_queued_jobs_instead_of_queueing_again(
    tmp_path: Path, client: WorkersAI, queue: BatchQueue
) -> None:
    queue.polls_before_done = 10**6  # never done during the first run
    source = write_records(tmp_path / "in.jsonl", prompts(CHUNK_RECORDS + 5))
    first = _run(
        tmp_path, client, source, batch_wait=BatchWaitOptions(poll_interval=0.01, timeout=0.1)
    )
    assert first.pending == CHUNK_RECORDS + 5 and first.answered == 0 and first.exit_code == 1
    assert len(queue.submits) == 2  # 500 + 5 records
    queue.polls_before_done = 0
    second = _run(tmp_path, client, source)
    assert second.complete and second.answered == CHUNK_RECORDS + 5
    assert len(queue.submits) == 2  # polled, not queued again
    ids = [line["id"] for line in read_lines(tmp_path / "out.jsonl")]
    assert len(ids) == len(set(ids)) == CHUNK_RECORDS + 5


def test_a_submit_of_unknown_fate_is_not_queued_again_unless_asked(
    tmp_path: Path, client: WorkersAI, queue: BatchQueue
) -> None:
    # the previous run wrote its intention, then died before the answer came back
    (tmp_path / "out.jsonl.batches.jsonl").write_text(
        json.dumps({"chunk": 1, "model": LLAMA, "ids": ["r0", "r1"]}) + "\n"
    )
    source = write_records(tmp_path / "in.jsonl", prompts(3))
    report = _run(tmp_path, client, source)
    lines = {line["id"]: line for line in read_lines(tmp_path / "out.jsonl")}
    assert lines["r0"]["error"]["type"] == "BatchSubmitUncertainError"
    assert lines["r2"]["response"] == "batch prompt 2"
    assert (report.failed, report.answered, report.exit_code) == (2, 1, 1)
    assert len(queue.submits) == 1 and queue.jobs["job-1"]["items"][0]["prompt"] == "prompt 2"
    # checked, and asked: queued again (once)
    fixed = _run(tmp_path, client, source, retry_failed=True)
    assert fixed.answered == 2 and fixed.complete
    assert len(queue.submits) == 2
    assert sorted(line["id"] for line in read_lines(tmp_path / "out.jsonl")) == ["r0", "r1", "r2"]


def test_a_refused_submit_fails_its_records_and_says_it_queued_nothing(
    tmp_path: Path, client: WorkersAI, server: WorkersAIServer
) -> None:
    server.enqueue(Reply.error(400, 5006, "AiError: Bad input"))
    report = _run(tmp_path, client, prompts(2))
    assert report.failed == 2
    assert _ledger(tmp_path)[-1] == {"chunk": 1, "not_queued": True}
    server.handler = BatchQueue()
    again = _run(tmp_path, client, prompts(2), retry_failed=True)
    assert again.complete


def test_failed_items_are_error_lines(tmp_path: Path, client: WorkersAI, queue: BatchQueue) -> None:
    queue.fail_items = {"prompt 1"}
    report = _run(tmp_path, client, prompts(3))
    lines = {line["id"]: line for line in read_lines(tmp_path / "out.jsonl")}
    assert lines["r1"]["error"]["code"] == 5006 and "response" in lines["r0"]
    assert (report.answered, report.failed) == (2, 1)


def test_models_without_the_batch_api_fail_before_any_request(
    tmp_path: Path, client: WorkersAI, server: WorkersAIServer
) -> None:
    with pytest.raises(
        InvalidInputError, match=r"does not take @cf/meta/llama-3\.1-8b-instruct-fast"
    ):
        _run(
            tmp_path,
            client,
            [{"id": 1, "prompt": "p", "model": "@cf/meta/llama-3.1-8b-instruct-fast"}],
        )
    assert server.requests == []


def test_a_direct_run_refuses_to_ask_again_what_queued_jobs_will_answer(
    tmp_path: Path, client: WorkersAI, queue: BatchQueue, server: WorkersAIServer
) -> None:
    queue.polls_before_done = 10**6
    _run(
        tmp_path, client, prompts(2), batch_wait=BatchWaitOptions(poll_interval=0.01, timeout=0.05)
    )
    with pytest.raises(InvalidInputError, match="not collected yet"):
        workersai.generate(prompts(2), out=tmp_path / "out.jsonl", client=client, progress=False)
    assert chat_requests(server.requests) == []


async def test_the_async_twin_queues_and_resumes_the_same_way(
    tmp_path: Path, server: WorkersAIServer, queue: BatchQueue
) -> None:
    client = AsyncWorkersAI("acct", "tok", base_url=server.base_url, max_retries=0)
    queue.polls_before_done = 10**6
    source = write_records(tmp_path / "in.jsonl", prompts(4))
    wait = BatchWaitOptions(poll_interval=0.01, timeout=0.05)
    out = tmp_path / "out.jsonl"
    first = await workersai.agenerate(
        source, out=out, client=client, use_batch_api=True, batch_wait=wait, progress=False
    )
    assert first.pending == 4
    queue.polls_before_done = 0
    second = await workersai.agenerate(
        source, out=out, client=client, use_batch_api=True, batch_wait=FAST_POLLS, progress=False
    )
    assert second.complete and len(queue.submits) == 1
    await client.aclose()


def test_gemma_batch_items_keep_their_messages(
    tmp_path: Path, client: WorkersAI, queue: BatchQueue
) -> None:
    _run(tmp_path, client, [{"id": 1, "prompt": "hi", "system": "S."}], model=GEMMA)
    items = queue.jobs["job-1"]["items"]
    assert items == [
        {
            "messages": [{"role": "system", "content": "S."}, {"role": "user", "content": "hi"}],
            "external_reference": "0",
        }
    ]
