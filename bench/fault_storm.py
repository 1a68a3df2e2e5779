"""What a storm of Workers AI faults costs: requests survived, typed errors, retries, latency.

The same mix as ``tests/core/test_fault_storm.py`` — chat, streamed chat and 7-text
embedding batches in turn — runs twice per client against a loopback server in a child
process (``workersai.testing.FaultStorm``): once fault-free, once with faults injected into a
share of the attempts (429 with ``Retry-After``, 3040 capacity, 3036 daily allocation,
HTML 500/502/503, connection resets before and in the middle of a body, stalls past the
client's timeout, and for streams a missing ``[DONE]``, a cut connection and a malformed
event). Runs alternate (fault-free, storm, fault-free, storm...) so drift spreads evenly.

Every call must end with the correct result or a typed ``WorkersAIError``; a wrong or
shorter answer, or any other exception, is counted separately (and should be 0). The added
latency of a call is its time under the storm minus its time fault-free (same request),
with the client's default backoff (0.5 s doubling, jittered, ``Retry-After`` honoured),
``max_retries=2`` and a 1 s read timeout against 2 s stalls.

Run from the repository root::

    PYTHONPATH=. python bench/fault_storm.py          # --requests 1000 --fault-rate 0.3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import httpx

from workersai import AsyncWorkersAI, WorkersAI, WorkersAIError
from workersai.testing import (
    FaultStorm,
    WorkersAIServer,
    echo_answer,
    echo_vector,
)

LLAMA = "@cf/meta/llama-3.1-8b-instruct-fast"
BGE = "@cf/baai/bge-small-en-v1.5"
TIMEOUT = 1.0
STALL = 2.0
MAX_RETRIES = 2


# -- the server, in its own process ---------------------------------------------------------


def _serve(fault_rate: float, seed: int, conn: Connection) -> None:
    storm = FaultStorm(echo_answer, seed=seed, fault_rate=fault_rate, stall_seconds=STALL)
    with WorkersAIServer(storm) as server:
        conn.send(server.base_url)
        conn.recv()  # "stop"
        conn.send((storm.log, storm.resent_after_success, len(server.requests)))


@dataclass
class ServerLog:
    attempts: dict[str, list[str]]  # per request body: what each attempt was answered with
    resent_after_success: list[str]
    requests: int


@contextmanager
def storm_server(fault_rate: float, seed: int) -> Iterator[tuple[str, list[ServerLog]]]:
    """A FaultStorm server in a child process; yields its base URL and, after the block,
    a one-element list with what it saw."""
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("fork").Process(
        target=_serve, args=(fault_rate, seed, child), daemon=True
    )
    process.start()
    log: list[ServerLog] = []
    try:
        yield parent.recv(), log
    finally:
        parent.send("stop")
        log.append(ServerLog(*parent.recv()))
        process.join(timeout=5)


# -- the workload ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    key: str  # the request body, which is how the storm tells requests apart
    kind: str  # "chat" | "stream" | "embed"
    payload: Any
    expected: Any


def jobs(count: int, tag: str) -> list[Job]:
    out = []
    for i in range(count):
        kind = ("chat", "stream", "embed")[i % 3]
        if kind == "embed":
            texts = [f"{tag}-embed-{i}-{j}" for j in range(7)]
            key = json.dumps({"text": texts}, separators=(",", ":"))
            expected = [echo_vector(t) for t in texts]
            out.append(Job(key, kind, texts, expected))
            continue
        content = f"{tag}-{kind}-{i}"
        body: dict[str, Any] = {"messages": [{"role": "user", "content": content}]}
        if kind == "stream":
            body["stream"] = True
        out.append(Job(json.dumps(body, separators=(",", ":")), kind, content, f"echo {content}"))
    return out


def warm_up(concurrency: int) -> list[Job]:
    """Calls that open the client's connections before the clock runs (not counted)."""
    return [Job(f"warm-up-{i}", "embed", [f"warm-up-{i}-0"], None) for i in range(concurrency)]


def _client_kwargs(base_url: str) -> dict[str, Any]:
    return {
        "account_id": "acct",
        "api_token": "tok",
        "base_url": base_url,
        "timeout": httpx.Timeout(TIMEOUT, connect=5.0),
        "max_retries": MAX_RETRIES,
    }


def _streamed_text(chunks: list[Any]) -> str:
    if not chunks or not chunks[-1].is_final:
        return "<no final chunk>"
    return "".join(c.text for c in chunks[:-1])


Outcome = tuple[str, float]  # ("ok" | "typed" | "wrong" | "other", seconds)


def _judge(job: Job, call: Callable[[], Any]) -> Outcome:
    start = time.perf_counter()
    try:
        value = call()
    except WorkersAIError:
        return "typed", time.perf_counter() - start
    except Exception:
        return "other", time.perf_counter() - start
    return ("ok" if value == job.expected else "wrong"), time.perf_counter() - start


def run_sync(base_url: str, work: list[Job], concurrency: int) -> dict[str, Outcome]:
    client = WorkersAI(**_client_kwargs(base_url))

    def value(job: Job) -> Any:
        messages = [{"role": "user", "content": job.payload}]
        if job.kind == "chat":
            return client.chat(LLAMA, messages).text
        if job.kind == "stream":
            return _streamed_text(list(client.stream_chat(LLAMA, messages)))
        return client.embed(BGE, job.payload).vectors

    def one(job: Job) -> tuple[str, Outcome]:
        return job.key, _judge(job, lambda: value(job))

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, warm_up(concurrency)))  # open the pool's connections, untimed
        results = dict(pool.map(one, work))
    client.close()
    return results


def run_async(base_url: str, work: list[Job], concurrency: int) -> dict[str, Outcome]:
    async def main() -> dict[str, Outcome]:
        client = AsyncWorkersAI(**_client_kwargs(base_url))
        limit = asyncio.Semaphore(concurrency)

        async def value(job: Job) -> Any:
            messages = [{"role": "user", "content": job.payload}]
            if job.kind == "chat":
                return (await client.chat(LLAMA, messages)).text
            if job.kind == "stream":
                stream = await client.stream_chat(LLAMA, messages)
                return _streamed_text([chunk async for chunk in stream])
            return (await client.embed(BGE, job.payload)).vectors

        async def one(job: Job) -> tuple[str, Outcome]:
            async with limit:
                start = time.perf_counter()
                try:
                    got = await value(job)
                except WorkersAIError:
                    return job.key, ("typed", time.perf_counter() - start)
                except Exception:
                    return job.key, ("other", time.perf_counter() - start)
                verdict = "ok" if got == job.expected else "wrong"
                return job.key, (verdict, time.perf_counter() - start)

        await asyncio.gather(*(one(job) for job in warm_up(concurrency)))
        results = dict(await asyncio.gather(*(one(job) for job in work)))
        await client.aclose()
        return results

    return asyncio.run(main())


# -- the table ------------------------------------------------------------------------------


@dataclass
class Totals:
    verdicts: Counter[str]  # "ok" | "typed" | "wrong" | "other"
    faults: Counter[str]  # injected, by kind
    added: list[float]  # seconds per call over its fault-free twin
    faulted_added: list[float]  # the same, for calls that met at least one fault
    baseline: list[float]  # seconds per call, fault-free
    retries: int = 0
    sent: int = 0
    resent_after_success: int = 0


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if abs(seconds) >= 0.01 else f"{seconds * 1000:.1f} ms"


def _p50_p99(samples: list[float]) -> str:
    values = samples or [0.0]
    p99 = statistics.quantiles(values, n=100)[98] if len(values) > 1 else values[0]
    return f"{_ms(statistics.median(values))} / {_ms(p99)}"


def _quantiles_ms(samples: list[float]) -> dict[str, float]:
    values = samples or [0.0]
    p99 = statistics.quantiles(values, n=100)[98] if len(values) > 1 else values[0]
    return {"p50": statistics.median(values) * 1000, "p99": p99 * 1000}


def _write_json(path: str, totals: dict[str, Totals]) -> None:
    results = {
        "requests": sum(sum(t.verdicts.values()) for t in totals.values()),
        "survived": sum(t.verdicts["ok"] for t in totals.values()),
        "typed_errors": sum(t.verdicts["typed"] for t in totals.values()),
        "wrong_or_untyped": sum(t.verdicts["wrong"] + t.verdicts["other"] for t in totals.values()),
        "retries": sum(t.retries for t in totals.values()),
        "resent_after_success": sum(t.resent_after_success for t in totals.values()),
        # per client (short name): added latency of the calls that met a fault
        "added_latency_ms": {
            name.split("`")[1]: _quantiles_ms(t.faulted_added) for name, t in totals.items()
        },
    }
    with open(path, "w", encoding="utf-8") as file:
        json.dump(results, file, indent=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="calls per client and run")
    parser.add_argument("--fault-rate", type=float, default=0.3, help="share of faulty attempts")
    parser.add_argument("--concurrency", type=int, default=24, help="calls in flight")
    parser.add_argument("--rounds", type=int, default=1, help="fault-free/storm pairs per client")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args()

    runners: dict[str, Callable[[str, list[Job], int], dict[str, Outcome]]] = {
        "`WorkersAI` (threads)": run_sync,
        "`AsyncWorkersAI` (asyncio)": run_async,
    }
    totals = {name: Totals(Counter(), Counter(), [], [], []) for name in runners}
    start = time.perf_counter()
    for round_index in range(args.rounds):
        for name, runner in runners.items():  # round-robin: clients, and fault-free/storm
            work = jobs(args.requests, f"r{round_index}-{name[1:6]}")
            with storm_server(0.0, round_index) as (base_url, _):
                baseline = runner(base_url, work, args.concurrency)
            with storm_server(args.fault_rate, round_index) as (base_url, served):
                stormy = runner(base_url, work, args.concurrency)
            log = served[0]
            total = totals[name]
            total.resent_after_success += len(log.resent_after_success)
            for job in work:
                verdict, seconds = stormy[job.key]
                total.verdicts[verdict] += 1
                attempts = log.attempts.get(job.key, [])
                total.sent += len(attempts)
                total.retries += max(len(attempts) - 1, 0)
                total.faults.update(a for a in attempts if a != "ok")
                added = seconds - baseline[job.key][1]
                total.added.append(added)
                total.baseline.append(baseline[job.key][1])
                if any(a != "ok" for a in attempts):
                    total.faulted_added.append(added)
    wall = time.perf_counter() - start

    print(
        f"{args.requests} calls per client and round ({args.rounds} round(s)): chat, streamed "
        f"chat and 7-text embedding batches in turn, {args.concurrency} in flight; "
        f"{args.fault_rate:.0%} of attempts faulted; `max_retries={MAX_RETRIES}`, default "
        f"backoff, {TIMEOUT:g} s read timeout vs {STALL:g} s stalls:"
    )
    print()
    print(
        "| client | calls | survived (correct result) | typed errors | wrong or untyped "
        "| HTTP requests | retries made | re-sent after success | fault-free p50 / p99 "
        "| added p50 / p99 | added, median of faulted calls |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    faults: Counter[str] = Counter()
    for name, total in totals.items():
        calls = sum(total.verdicts.values())
        survived = total.verdicts["ok"]
        print(
            f"| {name} | {calls} | {survived} ({survived / max(calls, 1):.1%}) | "
            f"{total.verdicts['typed']} | {total.verdicts['wrong'] + total.verdicts['other']} | "
            f"{total.sent} | {total.retries} | {total.resent_after_success} | "
            f"{_p50_p99(total.baseline)} | {_p50_p99(total.added)} | "
            f"{_ms(statistics.median(total.faulted_added or [0.0]))} |"
        )
        faults.update(total.faults)
    print()
    print(
        "Faults injected: "
        + ", ".join(f"{kind} ×{count}" for kind, count in faults.most_common())
        + f". Wall time {wall:.1f} s."
    )
    if args.json:
        _write_json(args.json, totals)
    print(
        "Added latency is per call, storm minus fault-free; it is slightly negative for most "
        "calls because, while faulted calls sleep in backoff, the others share the server with "
        "fewer calls in flight."
    )


if __name__ == "__main__":
    main()
