"""``workersai.generate`` / ``agenerate`` against a loopback server: what a line holds, which
input lines are skipped and why, resuming (exactly one line per id, nothing asked twice),
torn lines, ``retry_failed``, unknown models failing before any request, model fallback
inside the job, and the usage recorded for the answering model."""

from __future__ import annotations

import asyncio
import inspect
import io
import json
from pathlib import Path
from typing import Any

import pytest

import workersai
from tests.generation.helpers import (
    LLAMA,
    QWEN,
    USAGE,
    asked,
    prompts,
    read_lines,
    write_records,
)
from workersai import AsyncWorkersAI, InvalidInputError, WorkersAI, WorkersAIError
from workersai.generation import GenerationReport, read_output
from workersai.testing import RecordedRequest, Reply, WorkersAIServer, echo_answer, envelope
from workersai.usage import track_usage

GEMMA = "@cf/google/gemma-4-26b-a4b-it"  # temperature at most 2


@pytest.fixture
def client(server: WorkersAIServer) -> WorkersAI:
    server.handler = echo_answer
    return WorkersAI("acct", "tok", base_url=server.base_url, max_retries=0)


def _run(tmp_path: Path, client: WorkersAI, records: Any, **kwargs: Any) -> GenerationReport:
    kwargs.setdefault("progress", False)
    kwargs.setdefault("out", tmp_path / "out.jsonl")
    return workersai.generate(records, client=client, **kwargs)


# -- what a line holds ---------------------------------------------------------------------


def test_each_answer_is_one_line_with_the_documented_fields(
    tmp_path: Path, client: WorkersAI, server: WorkersAIServer
) -> None:
    source = write_records(
        tmp_path / "in.jsonl", [{"id": 7, "prompt": "hi", "topic": "greeting", "meta": {"k": [1]}}]
    )
    report = _run(tmp_path, client, source)
    [line] = read_lines(tmp_path / "out.jsonl")
    assert list(line) == [
        "id",
        "topic",
        "meta",
        "model",
        "response",
        "usage",
        "finish_reason",
        "cost_usd",
        "latency_ms",
    ]
    assert line["id"] == 7 and line["topic"] == "greeting" and line["meta"] == {"k": [1]}
    assert (line["model"], line["response"], line["finish_reason"]) == (LLAMA, "echo hi", "stop")
    assert line["usage"] == USAGE
    # Llama 3.3's published price: $0.29 per M input tokens, $2.25 per M output tokens
    assert line["cost_usd"] == pytest.approx(5 * 0.29e-6 + 2 * 2.25e-6)
    assert isinstance(line["latency_ms"], int) and line["latency_ms"] >= 0
    assert report.complete and report.exit_code == 0 and report.answered == 1
    assert server.requests[0].json() == {"messages": [{"role": "user", "content": "hi"}]}


def test_reasoning_and_tool_calls_are_kept_when_present(
    tmp_path: Path, client: WorkersAI, server: WorkersAIServer
) -> None:
    server.enqueue(
        Reply.result(
            {
                "response": None,
                "reasoning_content": "Think first.",
                "tool_calls": [{"name": "lookup", "arguments": {"q": "x"}}],
                "usage": USAGE,
            }
        )
    )
    _run(tmp_path, client, [{"id": "a", "prompt": "hi"}])
    [line] = read_lines(tmp_path / "out.jsonl")
    assert line["reasoning"] == "Think first."
    assert [(c["name"], c["arguments"]) for c in line["tool_calls"]] == [("lookup", {"q": "x"})]
    assert line["finish_reason"] == "tool_calls"


def test_a_failed_record_is_an_error_line_and_the_rest_runs(
    tmp_path: Path, client: WorkersAI, server: WorkersAIServer
) -> None:
    def answer(request: RecordedRequest) -> Reply:
        if asked(request) == "prompt 1":
            return Reply.error(400, 5006, "AiError: Bad input: Error: oneOf at '/' not met")
        return echo_answer(request)

    server.handler = answer
    report = _run(tmp_path, client, prompts(3))
    lines = {line["id"]: line for line in read_lines(tmp_path / "out.jsonl")}
    assert set(lines) == {"r0", "r1", "r2"}
    assert lines["r1"] == {
        "id": "r1",
        "error": {
            "type": "ModelInputError",
            "code": 5006,
            "message": f"Workers AI returned HTTP 400 for {LLAMA}: 5006: AiError: Bad input: Error: oneOf at '/' not met",
        },
    }
    assert (report.answered, report.failed, report.exit_code) == (2, 1, 1)
    assert report.by_model[LLAMA].failed == 1


def test_defaults_apply_where_a_record_says_nothing(
    tmp_path: Path, client: WorkersAI, server: WorkersAIServer
) -> None:
    records = [
        {"id": 1, "prompt": "a"},
        {"id": 2, "prompt": "b", "temperature": 0.9, "max_tokens": 5, "system": "Be terse."},
        {
            "id": 3,
            "messages": [{"role": "system", "content": "Own."}, {"role": "user", "content": "c"}],
        },
        {"id": 4, "prompt": "d", "model": "qwen3-30b-a3b-fp8"},
    ]
    _run(
        tmp_path,
        client,
        records,
        system="Default.",
        temperature=0.1,
        max_tokens=64,
        max_concurrency=1,
    )
    bodies = {asked(r): (r.model, r.json()) for r in server.requests}
    assert bodies["a"] == (
        LLAMA,
        {
            "messages": [
                {"role": "system", "content": "Default."},
                {"role": "user", "content": "a"},
            ],
            "temperature": 0.1,
            "max_tokens": 64,
        },
    )
    assert bodies["b"][1] == {
        "messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "b"}],
        "temperature": 0.9,
        "max_tokens": 5,
    }
    assert bodies["c"][1]["messages"][0] == {"role": "system", "content": "Own."}
    assert bodies["d"][0] == QWEN


# -- malformed lines -------------------------------------------------------------------------


def test_malformed_lines_are_reported_by_number_and_skipped(
    tmp_path: Path, client: WorkersAI, server: WorkersAIServer
) -> None:
    lines = [
        json.dumps({"id": "ok1", "prompt": "fine"}),
        "{not json",
        json.dumps({"id": "x"}),
        json.dumps({"id": [1], "prompt": "p"}),
        json.dumps({"id": "t", "prompt": "p", "temperature": "hot"}),
        json.dumps({"id": "ok1", "prompt": "again"}),
        json.dumps({"id": "both", "prompt": "p", "messages": [{"role": "user", "content": "p"}]}),
        json.dumps({"id": "res", "prompt": "p", "response": "reference answer"}),
        json.dumps({"id": "g", "prompt": "p", "model": GEMMA, "temperature": 3}),
        "",
        json.dumps(["a", "list"]),
        json.dumps({"prompt": "no id: the line number is the id"}),
    ]
    report = _run(tmp_path, client, write_records(tmp_path / "in.jsonl", lines))
    problems = {bad.line: bad.problem for bad in report.skipped}
    assert sorted(problems) == [2, 3, 4, 5, 6, 7, 8, 9, 11]
    assert problems[2] == "not JSON"
    assert problems[3] == "has no prompt (a string) or messages (a list)"
    assert problems[4] == "id must be a string or a number, not [1]"
    assert problems[5] == "temperature must be a number"
    assert problems[6] == 'duplicate id "ok1" (first on line 1)'
    assert "both prompt and messages" in problems[7]
    assert "'response' is where the output puts the answer" in problems[8]
    assert "temperature" in problems[9] and GEMMA in problems[9]
    assert problems[11] == "a record must be a JSON object, not list"
    assert {line["id"] for line in read_lines(tmp_path / "out.jsonl")} == {12, "ok1"}
    assert (report.records, report.answered, report.exit_code) == (2, 2, 1)
    assert "skipped: 9 malformed input lines" in report.summary()
    assert len(server.requests) == 2


# -- resuming ---------------------------------------------------------------------------------


def test_a_second_run_asks_only_for_what_is_missing(
    tmp_path: Path, client: WorkersAI, server: WorkersAIServer
) -> None:
    source = write_records(tmp_path / "in.jsonl", prompts(10))
    out = tmp_path / "out.jsonl"
    first = _run(tmp_path, client, write_records(tmp_path / "part.jsonl", prompts(4)))
    assert first.answered == 4
    report = _run(tmp_path, client, source)
    assert (report.answered, report.already_done, report.exit_code) == (6, 4, 0)
    assert sorted(asked(r) for r in server.requests[4:]) == sorted(
        f"prompt {i}" for i in range(4, 10)
    )
    ids = [line["id"] for line in read_lines(out)]
    assert sorted(ids) == sorted(f"r{i}" for i in range(10)) and len(ids) == len(set(ids))
    again = _run(tmp_path, client, source)
    assert (again.answered, again.already_done, again.complete) == (0, 10, True)
    assert len(server.requests) == 10


def test_a_torn_last_line_is_cut_off_and_its_record_redone(
    tmp_path: Path, client: WorkersAI, server: WorkersAIServer
) -> None:
    source = write_records(tmp_path / "in.jsonl", prompts(3))
    out = tmp_path / "out.jsonl"
    _run(tmp_path, client, source, max_concurrency=1)
    whole = out.read_bytes()
    last = whole.rstrip(b"\n").rsplit(b"\n", 1)[1]
    torn_id = json.loads(last)["id"]
    out.write_bytes(whole[: len(whole) - len(last) // 2 - 1])  # a kill in the middle of write()
    report = _run(tmp_path, client, source)
    assert report.repaired and report.answered == 1 and report.already_done == 2
    assert [asked(r) for r in server.requests[3:]] == [f"prompt {torn_id[1:]}"]
    lines = read_lines(out)
    assert sorted(line["id"] for line in lines) == ["r0", "r1", "r2"]


def test_a_foreign_line_inside_the_output_stops_the_run_before_any_request(
    tmp_path: Path, client: WorkersAI, server: WorkersAIServer
) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "r0", "response": "x"}\nnot a record\n{"id": "r1", "response": "y"}\n')
    with pytest.raises(WorkersAIError, match="line 2 is not an output record"):
        _run(tmp_path, client, prompts(3))
    assert server.requests == []
    assert out.read_text().count("\n") == 3  # left as it was


def test_error_lines_are_kept_until_retry_failed_replaces_them(
    tmp_path: Path, client: WorkersAI, server: WorkersAIServer
) -> None:
    source = write_records(tmp_path / "in.jsonl", prompts(3))
    out = tmp_path / "out.jsonl"
    server.handler = _fail_once_for("prompt 1")
    report = _run(tmp_path, client, source, max_concurrency=1)
    assert (report.answered, report.failed) == (2, 1)
    again = _run(tmp_path, client, source)
    assert (again.answered, again.failed_before, again.exit_code) == (0, 1, 1)
    assert len(server.requests) == 3
    fixed = _run(tmp_path, client, source, retry_failed=True)
    assert (fixed.answered, fixed.failed_before, fixed.exit_code) == (1, 0, 0)
    assert [asked(r) for r in server.requests[3:]] == ["prompt 1"]
    lines = read_lines(out)
    assert sorted(line["id"] for line in lines) == ["r0", "r1", "r2"]
    assert not any("error" in line for line in lines)


def _fail_once_for(prompt: str) -> Any:
    failed: list[str] = []

    def answer(request: RecordedRequest) -> Reply:
        if asked(request) == prompt and not failed:
            failed.append(prompt)
            return Reply.error(400, 5006, "AiError: Bad input")
        return echo_answer(request)

    return answer


def test_two_runs_cannot_write_one_output(tmp_path: Path, client: WorkersAI) -> None:
    from workersai.generation._output import OutputFile

    with OutputFile(tmp_path / "out.jsonl") as holder:
        holder.open()
        with pytest.raises(WorkersAIError, match="Another run is writing"):
            _run(tmp_path, client, prompts(1))


# -- models ----------------------------------------------------------------------------------


def test_an_unknown_model_fails_the_run_before_the_first_request(
    tmp_path: Path, client: WorkersAI, server: WorkersAIServer
) -> None:
    records = [*prompts(3), {"id": "late", "prompt": "p", "model": "llama-3-70b-instruct"}]
    with pytest.raises(InvalidInputError) as info:
        _run(tmp_path, client, write_records(tmp_path / "in.jsonl", records))
    assert "'llama-3-70b-instruct' (line 4)" in info.value.message
    assert "Did you mean" in info.value.message
    assert server.requests == []
    assert not (tmp_path / "out.jsonl").exists() or (tmp_path / "out.jsonl").read_text() == ""


def _models_page(*models: str) -> Reply:
    items = [
        {"id": str(i), "name": m, "task": {"name": "Text Generation"}} for i, m in enumerate(models)
    ]
    body = envelope(items)
    body["result_info"] = {
        "page": 1,
        "per_page": 100,
        "count": len(items),
        "total_count": len(items),
    }
    return Reply.json(body)


def test_a_full_id_unknown_to_the_catalog_is_checked_live_once(
    tmp_path: Path, client: WorkersAI, server: WorkersAIServer, isolated_catalog: Any
) -> None:
    typo = "@cf/meta/llama-3.3-70b-instruct-fp8-fats"
    server.enqueue(_models_page(LLAMA, QWEN))
    with pytest.raises(InvalidInputError) as info:
        _run(tmp_path, client, [{"id": 1, "prompt": "p", "model": typo}])
    assert f"'{typo}' (line 1). Did you mean: {LLAMA}," in info.value.message
    assert [r.path.rsplit("/ai/", 1)[1] for r in server.requests] == ["models/search"]
    # a new model the live listing has runs
    new = "@cf/acme/brand-new-model"
    server.enqueue(_models_page(LLAMA, new))
    report = _run(tmp_path, client, [{"id": 1, "prompt": "p", "model": new}])
    assert report.answered == 1 and server.requests[-1].model == new


def test_the_job_falls_back_and_counts_the_answering_model(
    tmp_path: Path, client: WorkersAI, server: WorkersAIServer
) -> None:
    def answer(request: RecordedRequest) -> Reply:
        if request.model == LLAMA and asked(request) in ("prompt 0", "prompt 2"):
            return Reply.error(429, 3040, "Capacity temporarily exceeded, please try again.")
        return echo_answer(request)

    server.handler = answer
    with track_usage() as usage:
        report = _run(tmp_path, client, prompts(4), fallback_models=[QWEN])
    models = {line["id"]: line["model"] for line in read_lines(tmp_path / "out.jsonl")}
    assert models == {"r0": QWEN, "r1": LLAMA, "r2": QWEN, "r3": LLAMA}
    assert (report.by_model[QWEN].answered, report.by_model[LLAMA].answered) == (2, 2)
    # the trackers saw each answer once, under the model that gave it; failed attempts: never
    assert {model: u.requests for model, u in usage} == {LLAMA: 2, QWEN: 2}
    assert len(server.requests) == 6


def test_a_clients_own_fallback_models_apply_when_the_job_names_none(
    tmp_path: Path, server: WorkersAIServer
) -> None:
    server.enqueue(
        Reply.error(429, 3040, "Capacity temporarily exceeded"), Reply.result({"response": "ok"})
    )
    client = WorkersAI(
        "acct", "tok", base_url=server.base_url, max_retries=0, fallback_models=[QWEN]
    )
    _run(tmp_path, client, prompts(1))
    assert [line["model"] for line in read_lines(tmp_path / "out.jsonl")] == [QWEN]


# -- inputs -----------------------------------------------------------------------------------


def test_records_may_be_dicts_or_a_text_stream(tmp_path: Path, client: WorkersAI) -> None:
    report = _run(tmp_path, client, iter(prompts(3)), out=tmp_path / "a.jsonl")
    assert report.answered == 3
    stream = io.StringIO("".join(json.dumps(r) + "\n" for r in prompts(2)) + "oops\n")
    report = _run(tmp_path, client, stream, out=tmp_path / "b.jsonl")
    assert (report.answered, [b.line for b in report.skipped]) == (2, [3])
    assert [line["id"] for line in read_output(tmp_path / "b.jsonl")] in (
        ["r0", "r1"],
        ["r1", "r0"],
    )


def test_bad_arguments_fail_before_anything(
    tmp_path: Path, client: WorkersAI, server: WorkersAIServer
) -> None:
    with pytest.raises(InvalidInputError, match="No such input file"):
        _run(tmp_path, client, tmp_path / "missing.jsonl")
    with pytest.raises(InvalidInputError, match="max_concurrency"):
        _run(tmp_path, client, prompts(1), max_concurrency=0)
    with pytest.raises(InvalidInputError, match="progress"):
        _run(tmp_path, client, prompts(1), progress="fancy")
    with pytest.raises(InvalidInputError, match="Did you mean"):
        _run(tmp_path, client, prompts(1), fallback_models=["qwen3-30b-a3b-fp9"])
    assert server.requests == []


# -- async ------------------------------------------------------------------------------------


def test_agenerate_is_the_twin_of_generate() -> None:
    sync = inspect.signature(workersai.generate).parameters
    async_ = inspect.signature(workersai.agenerate).parameters
    assert [(p.name, p.kind, p.default) for p in sync.values()] == [
        (p.name, p.kind, p.default) for p in async_.values()
    ]


async def test_agenerate_writes_the_same_lines(tmp_path: Path, server: WorkersAIServer) -> None:
    def answer(request: RecordedRequest) -> Reply:
        if request.model == LLAMA and asked(request) == "prompt 1":
            return Reply.error(403, 5035, "Workers Paid required")
        return echo_answer(request)

    server.handler = answer
    client = AsyncWorkersAI("acct", "tok", base_url=server.base_url, max_retries=0)
    records = [*prompts(5), "{torn"]
    source = write_records(tmp_path / "in.jsonl", records)
    report = await workersai.agenerate(
        source, out=tmp_path / "out.jsonl", client=client, fallback_models=[QWEN], progress=False
    )
    lines = {line["id"]: line for line in read_lines(tmp_path / "out.jsonl")}
    assert set(lines) == {f"r{i}" for i in range(5)}
    assert lines["r1"]["model"] == QWEN and lines["r0"]["response"] == "echo prompt 0"
    assert (report.answered, [b.line for b in report.skipped]) == (5, [6])
    again = await workersai.agenerate(
        source, out=tmp_path / "out.jsonl", client=client, progress=False
    )
    assert (again.answered, again.already_done) == (0, 5)
    await client.aclose()


async def test_cancelling_agenerate_keeps_what_arrived(
    tmp_path: Path, server: WorkersAIServer
) -> None:
    def answer(request: RecordedRequest) -> Reply:
        reply = echo_answer(request)
        reply.delay = 0.0 if asked(request) in ("prompt 0", "prompt 1") else 5.0
        return reply

    server.handler = answer
    client = AsyncWorkersAI("acct", "tok", base_url=server.base_url, max_retries=0)
    out = tmp_path / "out.jsonl"
    task = asyncio.ensure_future(
        workersai.agenerate(prompts(6), out=out, client=client, max_concurrency=3, progress=False)
    )
    for _ in range(200):
        await asyncio.sleep(0.02)
        if out.exists() and out.read_text().count("\n") >= 2:
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted(line["id"] for line in read_lines(out)) == ["r0", "r1"]
    await client.aclose()


# -- progress ----------------------------------------------------------------------------------


def test_plain_progress_lines_say_count_rate_tokens_and_cost(
    tmp_path: Path, client: WorkersAI, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(tmp_path, client, prompts(3), progress="lines")
    err = capsys.readouterr().err
    assert err.startswith("generate: 3/3 (100%), ") and err.rstrip().endswith("21 tokens, $0.0000")


def test_ctrl_c_writes_the_answers_that_arrived_before_it(
    tmp_path: Path, client: WorkersAI, server: WorkersAIServer
) -> None:
    # Three answers arrive while the run reads its input; Ctrl-C lands before the run looked
    # at them: they were paid for, so they are written, not asked again next time.
    import time

    from workersai.generation._direct import Job, run_direct
    from workersai.generation._output import OutputFile
    from workersai.generation._records import JobOptions, parse_record
    from workersai.generation._report import GenerationReport, Progress

    def records() -> Any:
        for i in range(3):
            yield parse_record(i + 1, json.dumps({"id": i, "prompt": f"p{i}"}), JobOptions(LLAMA))
        deadline = time.monotonic() + 10
        while len(server.requests) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.5)  # the answers are read and queued by the workers
        raise KeyboardInterrupt

    report = GenerationReport(out=tmp_path / "out.jsonl")
    with OutputFile(tmp_path / "out.jsonl") as output:
        output.open()
        job = Job(output, report, Progress(3, report))
        with pytest.raises(KeyboardInterrupt):
            run_direct(client, job, records(), max_concurrency=4)
    assert sorted(line["id"] for line in read_lines(tmp_path / "out.jsonl")) == [0, 1, 2]
    assert report.answered == 3


def test_after_ctrl_c_an_answer_still_in_flight_is_never_written(
    tmp_path: Path, client: WorkersAI, server: WorkersAIServer
) -> None:
    # The output may be closed (and its file descriptor reused) once the run stopped: an
    # answer arriving afterwards is dropped, and asked again by the next run.
    import time

    from workersai.generation._direct import Job, run_direct
    from workersai.generation._output import OutputFile
    from workersai.generation._records import JobOptions, parse_record
    from workersai.generation._report import GenerationReport, Progress

    def answer(request: RecordedRequest) -> Reply:
        reply = echo_answer(request)
        reply.delay = 0.3 if asked(request) == "late" else 0.0
        return reply

    server.handler = answer

    def records() -> Any:
        yield parse_record(1, json.dumps({"id": "late", "prompt": "late"}), JobOptions(LLAMA))
        yield parse_record(2, json.dumps({"id": "soon", "prompt": "soon"}), JobOptions(LLAMA))
        deadline = time.monotonic() + 10
        while len(server.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        raise KeyboardInterrupt

    report = GenerationReport(out=tmp_path / "out.jsonl")
    output = OutputFile(tmp_path / "out.jsonl")
    output.open()
    job = Job(output, report, Progress(2, report))
    with pytest.raises(KeyboardInterrupt):
        run_direct(client, job, records(), max_concurrency=2)
    time.sleep(0.6)  # "late" arrives now, after the run stopped
    output.close()
    assert [line["id"] for line in read_lines(tmp_path / "out.jsonl")] == ["soon"]
    assert report.answered == 1


def test_a_progress_bar_shows_records_tokens_and_cost(
    tmp_path: Path, client: WorkersAI, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("tqdm")  # optional (workersai[all]); without it: plain lines
    _run(tmp_path, client, prompts(4), progress="bar")
    err = capsys.readouterr().err
    assert "generate: 100%" in err and "4/4" in err
    assert "28 tokens, $0.0000" in err  # the postfix: running tokens and cost


def test_the_sync_and_async_runners_are_twins() -> None:
    from workersai.generation._batch import arun_batch, run_batch
    from workersai.generation._direct import arun_direct, run_direct

    for sync, async_ in ((run_direct, arun_direct), (run_batch, arun_batch)):
        assert [p.name for p in inspect.signature(sync).parameters.values()] == [
            p.name for p in inspect.signature(async_).parameters.values()
        ]
