"""``workersai.generate`` against the script users write by hand, on a 10,000-prompt job.

The hand-written baseline is the usual one: a ``ThreadPoolExecutor`` of ``httpx`` POSTs to
``/ai/run/{model}`` at the same concurrency, each answer appended to a file. ``generate`` does
the same job with everything on top: input validation and model checks before the first
request, request building and answer normalisation by the core, one line per record written
(unbuffered) as it arrives, fsync once a second, resumability, usage and cost.

The server is the loopback ``workersai.testing.WorkersAIServer`` in a child process (so it
does not compete with the client for the GIL), answering every request after 50 ms — the
job is latency-bound, as a real one is. The two are run alternately (``--rounds`` times
each) and the medians compared; the goal is a ratio of at most 1.05.

Run from the repository root::

    PYTHONPATH=. python bench/generate.py            # --records 10000 --concurrency 32
    PYTHONPATH=. python bench/generate.py --quick    # 1,000 records, to check the plumbing
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

import workersai
from workersai.testing import RecordedRequest, Reply, WorkersAIServer

MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
USAGE = {"prompt_tokens": 24, "completion_tokens": 12, "total_tokens": 36}


class Slow:
    """Answers each prompt after ``latency`` seconds."""

    def __init__(self, latency: float) -> None:
        self.latency = latency

    def __call__(self, request: RecordedRequest) -> Reply:
        prompt = (request.json() or {})["messages"][-1]["content"]
        return Reply.result({"response": f"answer: {prompt}", "usage": USAGE}, delay=self.latency)


def _serve(latency: float, conn: Connection) -> None:
    with WorkersAIServer(Slow(latency)) as server:
        conn.send(server.base_url)
        while conn.recv() != "stop":
            server.requests.clear()  # keep the child's memory flat between runs
            conn.send("ok")


@contextmanager
def server_process(latency: float) -> Iterator[tuple[str, Connection]]:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_serve, args=(latency, child), daemon=True)
    process.start()
    try:
        yield parent.recv(), parent
    finally:
        parent.send("stop")
        process.join(timeout=5)


def write_prompts(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for i in range(count):
            out.write(
                json.dumps({"id": i, "prompt": f"Write one sentence about the number {i}."}) + "\n"
            )


def by_hand(base_url: str, source: Path, out: Path, concurrency: int) -> int:
    """What users write today: a thread pool of httpx posts, answers appended to a file."""
    url = f"{base_url}/accounts/acct/ai/run/{MODEL}"
    headers = {"Authorization": "Bearer token", "Content-Type": "application/json"}
    client = httpx.Client(limits=httpx.Limits(max_connections=concurrency * 2), timeout=60)
    lock = threading.Lock()

    with source.open(encoding="utf-8") as lines, out.open("w", encoding="utf-8") as answers:

        def ask(line: str) -> None:
            record = json.loads(line)
            body = {"messages": [{"role": "user", "content": record["prompt"]}]}
            response = client.post(url, content=json.dumps(body), headers=headers)
            response.raise_for_status()
            text = response.json()["result"]["response"]
            with lock:
                answers.write(json.dumps({"id": record["id"], "response": text}) + "\n")

        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            for future in [pool.submit(ask, line) for line in lines]:
                future.result()
    client.close()
    return sum(1 for _ in out.open(encoding="utf-8"))


def with_generate(base_url: str, source: Path, out: Path, concurrency: int) -> int:
    """The same job as a user runs it: credentials and API root from the environment."""
    os.environ.update(
        CLOUDFLARE_BASE_URL=base_url, CLOUDFLARE_ACCOUNT_ID="acct", CLOUDFLARE_API_TOKEN="token"
    )
    report = workersai.generate(
        source, out=out, model=MODEL, max_concurrency=concurrency, progress=False
    )
    assert report.complete, report.summary()
    return report.answered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.05, help="server seconds per answer")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each, alternating")
    parser.add_argument("--quick", action="store_true", help="1,000 records, 1 round")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args()
    if args.quick:
        args.records, args.rounds = 1_000, 1
    contenders = [
        ("hand-written thread pool of httpx posts", by_hand),
        ("workersai.generate", with_generate),
    ]
    walls: dict[str, list[float]] = {name: [] for name, _ in contenders}
    cpus: dict[str, list[float]] = {name: [] for name, _ in contenders}
    with tempfile.TemporaryDirectory() as folder, server_process(args.latency) as (base_url, conn):
        source = Path(folder) / "prompts.jsonl"
        write_prompts(source, args.records)
        for round_number in range(args.rounds):
            order = contenders if round_number % 2 == 0 else contenders[::-1]
            for name, run in order:
                out = Path(folder) / f"out-{round_number}-{run.__name__}.jsonl"
                start, cpu = time.perf_counter(), time.process_time()
                answered = run(base_url, source, out, args.concurrency)
                walls[name].append(time.perf_counter() - start)
                cpus[name].append(time.process_time() - cpu)
                assert answered == args.records, (name, answered)
                conn.send("next")
                conn.recv()
    baseline = statistics.median(walls[contenders[0][0]])
    ours = statistics.median(walls[contenders[1][0]])
    ideal = args.records * args.latency / args.concurrency
    print(
        f"{args.records:,} prompts, concurrency {args.concurrency}, {args.latency * 1000:.0f} ms "
        f"per answer (ideal {ideal:.1f} s); median of {args.rounds} alternating runs "
        "(client CPU: all threads of this process):"
    )
    print()
    print("| job | wall time | over the ideal | client CPU |")
    print("|---|---:|---:|---:|")
    results: dict[str, Any] = {"records": args.records, "concurrency": args.concurrency, "rows": []}
    for name, _ in contenders:
        wall = statistics.median(walls[name])
        over = f"{wall / ideal:.3f}×" if ideal else "—"
        cpu = statistics.median(cpus[name])
        print(f"| {name} | {wall:.2f} s | {over} | {cpu:.2f} s |")
        results["rows"].append({"job": name, "wall": wall, "cpu": cpu, "runs": walls[name]})
    ratio = ours / baseline
    results["ratio"] = ratio
    print()
    print(f"ratio generate / hand-written: {ratio:.3f} (goal: at most 1.05)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
