"""``workersai generate`` end to end against a loopback server: exit codes, the summary, and
what happens to a real process killed (SIGKILL) or interrupted (SIGINT) mid-run — the next
run finishes with exactly one line per id, and nothing already written is asked again
(requests are counted at the server). Also a 10,000-record run whose memory does not grow
with the input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.generation.helpers import (
    LLAMA,
    QWEN,
    BatchQueue,
    asked,
    prompts,
    read_lines,
    write_records,
)
from workersai.cli import main
from workersai.testing import RecordedRequest, Reply, WorkersAIServer, echo_answer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _point_at(server: WorkersAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDFLARE_BASE_URL", server.base_url)
    server.handler = echo_answer


def _generate(*args: str) -> int:
    return main(["generate", *args, "--max-retries", "0"])


# -- in-process --------------------------------------------------------------------------------


def test_a_complete_run_exits_0_with_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_records(tmp_path / "in.jsonl", prompts(5))
    out = tmp_path / "out.jsonl"
    assert _generate(str(source), "--out", str(out), "--max-tokens", "64") == 0
    err = capsys.readouterr().err
    assert "out.jsonl: 5 of 5 records answered (5 now)" in err
    assert f"{LLAMA}" in err and "total" in err
    assert err.startswith("generate: 5/5 (100%)")  # not a terminal: plain progress lines
    assert len(read_lines(out)) == 5


def test_failures_exit_1_until_retry_failed_redoes_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], server: WorkersAIServer
) -> None:
    failing = {"prompt 2"}

    def answer(request: RecordedRequest) -> Reply:
        if asked(request) in failing:
            return Reply.error(400, 5006, "AiError: Bad input")
        return echo_answer(request)

    server.handler = answer
    source = write_records(tmp_path / "in.jsonl", [*prompts(4), "{broken"])
    out = tmp_path / "out.jsonl"
    assert _generate(str(source), "--out", str(out)) == 1
    err = capsys.readouterr().err
    assert "failed: 1" in err and "line 5: not JSON" in err and "--retry-failed" in err
    failing.clear()
    assert _generate(str(source), "--out", str(out), "--retry-failed") == 1  # line 5 still bad
    write_records(source, prompts(4))
    assert _generate(str(source), "--out", str(out)) == 0
    assert sorted(line["id"] for line in read_lines(out)) == ["r0", "r1", "r2", "r3"]
    assert [asked(r) for r in server.requests].count("prompt 2") == 2


def test_fallback_models_from_the_command_line(tmp_path: Path, server: WorkersAIServer) -> None:
    def answer(request: RecordedRequest) -> Reply:
        if request.model == LLAMA:
            return Reply.error(429, 3040, "Capacity temporarily exceeded, please try again.")
        return echo_answer(request)

    server.handler = answer
    source = write_records(tmp_path / "in.jsonl", prompts(2))
    out = tmp_path / "out.jsonl"
    assert _generate(str(source), "--out", str(out), "--fallback-model", "qwen3-30b-a3b-fp8") == 0
    assert {line["model"] for line in read_lines(out)} == {QWEN}


def test_bad_arguments_exit_2_before_any_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], server: WorkersAIServer
) -> None:
    source = write_records(
        tmp_path / "in.jsonl", [{"id": 1, "prompt": "p", "model": "llama-3-70b-instruct"}]
    )
    out = str(tmp_path / "out.jsonl")
    assert _generate(str(source), "--out", out) == 2
    err = capsys.readouterr().err
    assert "error: Unknown model 'llama-3-70b-instruct' (line 1)" in err and "Did you mean" in err
    assert _generate(str(tmp_path / "missing.jsonl"), "--out", out) == 2
    with pytest.raises(SystemExit) as info:
        _generate(str(source), "--out", out, "-m", "llama-3-70b-instruct")
    assert info.value.code == 2
    with pytest.raises(SystemExit):
        _generate(str(source), "--out", out, "--concurrency", "0")
    assert server.requests == []


def test_stdin_input_and_batch_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: WorkersAIServer
) -> None:
    import io

    server.handler = BatchQueue(polls_before_done=0)
    monkeypatch.setattr(
        sys, "stdin", io.StringIO("".join(json.dumps(r) + "\n" for r in prompts(3)))
    )
    out = tmp_path / "out.jsonl"
    assert _generate("-", "--out", str(out), "--batch-api") == 0
    assert sorted(line["response"] for line in read_lines(out)) == [
        f"batch prompt {i}" for i in range(3)
    ]
    assert (tmp_path / "out.jsonl.batches.jsonl").exists()


# -- real processes ------------------------------------------------------------------------------


def _env(server: WorkersAIServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDFLARE_", "CF_"))}
    env.update(
        CLOUDFLARE_BASE_URL=server.base_url,
        CLOUDFLARE_ACCOUNT_ID="acct",
        CLOUDFLARE_API_TOKEN="tok",
        PYTHONPATH=str(ROOT),
    )
    return env


def _start(server: WorkersAIServer, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workersai",
            "generate",
            *args,
            "--no-progress",
            "--max-retries",
            "0",
        ],
        env=_env(server),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_lines(out: Path, count: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if out.exists() and out.read_bytes().count(b"\n") >= count:
            return
        if process.poll() is not None:
            raise AssertionError(f"the run ended early: {process.communicate()}")
        time.sleep(0.02)
    process.kill()
    raise AssertionError("the run wrote nothing in 60 s")


def _complete_ids(out: Path) -> list[Any]:
    ids = []
    for raw in out.read_bytes().splitlines(keepends=True):
        if raw.endswith(b"\n"):
            ids.append(json.loads(raw)["id"])
    return ids


def _slow(seconds: float) -> Any:
    def answer(request: RecordedRequest) -> Reply:
        reply = echo_answer(request)
        reply.delay = seconds
        return reply

    return answer


def test_a_killed_run_resumes_with_exactly_one_line_per_id(
    tmp_path: Path, server: WorkersAIServer
) -> None:
    total, concurrency = 300, 8
    source = write_records(tmp_path / "in.jsonl", prompts(total))
    out = tmp_path / "out.jsonl"
    server.handler = _slow(0.01)
    first = _start(server, str(source), "--out", str(out), "--concurrency", str(concurrency))
    _wait_for_lines(out, 60, first)
    first.kill()  # SIGKILL: no cleanup of any kind
    first.wait()
    asked_first = [asked(r) for r in server.requests]
    written = {f"prompt {i[1:]}" for i in _complete_ids(out)}
    in_flight = set(asked_first) - written
    assert len(in_flight) <= concurrency
    # and the kill may land inside a write(): tear the last line in two
    whole = out.read_bytes()
    last = whole[:-1].rsplit(b"\n", 1)[-1]
    torn = f"prompt {json.loads(last)['id'][1:]}"
    out.write_bytes(whole[: len(whole) - len(last) // 2 - 1])
    written.discard(torn)

    server.handler = echo_answer
    second = _start(server, str(source), "--out", str(out), "--concurrency", str(concurrency))
    assert second.wait(timeout=120) == 0, second.communicate()
    asked_second = [asked(r) for r in server.requests[len(asked_first) :]]
    ids = [line["id"] for line in read_lines(out)]
    assert len(ids) == len(set(ids)) == total  # exactly once
    assert not set(asked_second) & written  # nothing written was asked again
    assert len(asked_second) == len(set(asked_second)) == total - len(written)
    # paid twice: only the requests in flight at the kill (and the torn line's)
    assert set(asked_first) & set(asked_second) <= in_flight | {torn}


def test_ctrl_c_stops_at_once_says_how_to_resume_and_the_resume_finishes(
    tmp_path: Path, server: WorkersAIServer
) -> None:
    total = 100
    source = write_records(tmp_path / "in.jsonl", prompts(total))
    out = tmp_path / "out.jsonl"

    def answer(request: RecordedRequest) -> Reply:
        reply = echo_answer(request)
        # after the first 20, answers would take a minute: Ctrl-C must not wait for them
        reply.delay = 0.0 if int(asked(request).split()[1]) < 20 else 60.0
        return reply

    server.handler = answer
    run = _start(server, str(source), "--out", str(out), "--concurrency", "4")
    _wait_for_lines(out, 20, run)
    time.sleep(0.2)  # the next four requests are in flight
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=30)  # far less than the 60 s in flight
    assert run.returncode == 130, stderr
    assert "interrupted: 20 answered by this run" in stderr
    assert "Run the same command again to resume." in stderr
    assert "Traceback" not in stderr
    ids = _complete_ids(out)
    assert sorted(ids) == sorted(f"r{i}" for i in range(20))
    assert out.read_bytes().endswith(b"\n")
    before = len(server.requests)

    server.handler = echo_answer
    resumed = _start(server, str(source), "--out", str(out), "--concurrency", "4")
    assert resumed.wait(timeout=120) == 0
    again = {asked(r) for r in server.requests[before:]}
    assert again == {f"prompt {i}" for i in range(20, total)}
    assert sorted(line["id"] for line in read_lines(out)) == sorted(f"r{i}" for i in range(total))


_MEASURE = """
import sys, threading, time
from workersai.cli import main

def rss_kb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

# the peak is sampled after the imports (whose compile peak would hide everything else)
base = peak = rss_kb()
running = True

def sample():
    global peak
    while running:
        peak = max(peak, rss_kb())
        time.sleep(0.005)

sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
code = main(sys.argv[1:])
running = False
sampler.join()
print(peak - base)
sys.exit(code)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmRSS from /proc")
def test_ten_thousand_records_run_in_bounded_memory(
    tmp_path: Path, server: WorkersAIServer
) -> None:
    # 10,000 records of 3 kB: 30 MB of input, well over 30 MB of Python objects if held
    padding = "lorem ipsum " * 250
    source = write_records(
        tmp_path / "in.jsonl", ({"id": i, "prompt": f"{i} {padding}"} for i in range(10_000))
    )
    out = tmp_path / "out.jsonl"
    usage = {"prompt_tokens": 700, "completion_tokens": 1}
    server.handler = lambda request: Reply.result({"response": "ok", "usage": usage})
    argv = ["generate", str(source), "--out", str(out), "--concurrency", "16", "--no-progress"]
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *argv],
        env=_env(server),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    grown_kb = int(done.stdout.strip().splitlines()[-1])
    assert len(read_lines(out)) == 10_000
    # ~8 MB measured (ids, threads, pools); held records would add 35 MB more
    assert grown_kb < 20_000
    server.requests.clear()
