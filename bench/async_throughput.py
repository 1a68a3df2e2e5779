"""Async throughput: 1,000 chat calls at concurrency 32, on aiohttp and on httpx's own pool.

A LangGraph agent, a LlamaIndex workflow or a RAG pipeline runs async; the question is what
the client costs when the model answers at once. Every row sends the same 1,000 chat
requests, 32 in flight, to a loopback server in a child process that answers instantly (a
small asyncio HTTP/1.1 server written for this benchmark: one event loop, keep-alive,
TCP_NODELAY, answers encoded once — so it adds as little as it can). Rows run in
interleaved rounds and the best round of each is kept, so a burst of load elsewhere on the
machine spreads over every row; the ratios come from one run.

Rows: a raw ``httpx.AsyncClient`` loop (the reference), the core ``AsyncWorkersAI.chat``
on each async engine, ``ChatWorkersAI.abatch`` on each engine and ``ChatWorkersAI.batch``
(threads), and LlamaIndex ``WorkersAI.achat`` (gather under a semaphore of 32).

Then memory: 1,000 concurrent ``stream_chat`` calls (each answer streams 20 events over
~1 s) in a fresh process per engine, peak RSS read from the kernel at the end (Linux).

Run from the repository root::

    PYTHONPATH=. python bench/async_throughput.py            # --calls 1000 --rounds 5 [--json out]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._loopback import STREAM_EVENTS, STREAM_GAP, chat_server

MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
ACCOUNT, TOKEN = "acct", "token"

#: What --json writes.
RESULTS: dict[str, Any] = {}


# -- the contenders --------------------------------------------------------------------------


def _prompts(calls: int) -> list[str]:
    return [f"question {i}" for i in range(calls)]


async def _gather(limit: int, jobs: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    semaphore = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with semaphore:
            return await job()

    return await asyncio.gather(*(one(job) for job in jobs))


def raw_httpx(base: str, calls: int, limit: int) -> int:
    import httpx

    url = f"{base}/accounts/{ACCOUNT}/ai/run/{MODEL}"
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}

    async def main() -> int:
        async with httpx.AsyncClient(timeout=60) as client:

            async def one(prompt: str) -> str:
                body = json.dumps({"messages": [{"role": "user", "content": prompt}]})
                response = await client.post(url, content=body, headers=headers)
                return str(response.json()["result"]["response"])

            answers = await _gather(limit, [lambda p=p: one(p) for p in _prompts(calls)])
        return len(answers)

    return asyncio.run(main())


def core_async(backend: str) -> Callable[[str, int, int], int]:
    def run(base: str, calls: int, limit: int) -> int:
        from workersai import AsyncWorkersAI

        async def main() -> int:
            async with AsyncWorkersAI(
                ACCOUNT, TOKEN, base_url=base, http_backend=backend
            ) as client:  # type: ignore[arg-type]
                jobs = [
                    lambda p=p: client.chat(MODEL, [{"role": "user", "content": p}])
                    for p in _prompts(calls)
                ]
                return len(await _gather(limit, jobs))

        return asyncio.run(main())

    return run


def langchain_abatch(backend: str) -> Callable[[str, int, int], int]:
    def run(base: str, calls: int, limit: int) -> int:
        from langchain_workersai import ChatWorkersAI

        os.environ["WORKERSAI_ASYNC_HTTP"] = backend
        try:
            llm = ChatWorkersAI(model=MODEL, account_id=ACCOUNT, api_key=TOKEN, base_url=base)
            config = {"max_concurrency": limit}
            answers = asyncio.run(llm.abatch(_prompts(calls), config=config))  # type: ignore[arg-type]
        finally:
            del os.environ["WORKERSAI_ASYNC_HTTP"]
        return len(answers)

    return run


def langchain_batch(base: str, calls: int, limit: int) -> int:
    from langchain_workersai import ChatWorkersAI

    llm = ChatWorkersAI(model=MODEL, account_id=ACCOUNT, api_key=TOKEN, base_url=base)
    answers = llm.batch(_prompts(calls), config={"max_concurrency": limit})
    llm._client.close()
    return len(answers)


def llamaindex_achat(backend: str) -> Callable[[str, int, int], int]:
    def run(base: str, calls: int, limit: int) -> int:
        from llama_index.core.llms import ChatMessage

        from llamaindex_workersai import WorkersAI

        os.environ["WORKERSAI_ASYNC_HTTP"] = backend
        try:
            llm = WorkersAI(MODEL, account_id=ACCOUNT, api_token=TOKEN, base_url=base)

            async def main() -> int:
                jobs = [
                    lambda p=p: llm.achat([ChatMessage(role="user", content=p)])
                    for p in _prompts(calls)
                ]
                return len(await _gather(limit, jobs))

            return asyncio.run(main())
        finally:
            del os.environ["WORKERSAI_ASYNC_HTTP"]

    return run


ROWS: list[tuple[str, Callable[[str, int, int], int]]] = [
    ("raw `httpx.AsyncClient` loop (gather, semaphore)", raw_httpx),
    ("core `AsyncWorkersAI.chat` (aiohttp)", core_async("aiohttp")),
    ("core `AsyncWorkersAI.chat` (httpx pool)", core_async("httpx")),
    ("`ChatWorkersAI.abatch` (aiohttp)", langchain_abatch("aiohttp")),
    ("`ChatWorkersAI.abatch` (httpx pool)", langchain_abatch("httpx")),
    ("`ChatWorkersAI.batch` (threads)", langchain_batch),
    ("LlamaIndex `WorkersAI.achat` (aiohttp)", llamaindex_achat("aiohttp")),
    ("LlamaIndex `WorkersAI.achat` (httpx pool)", llamaindex_achat("httpx")),
]


# -- memory: 1,000 concurrent streams ---------------------------------------------------------


def _memory_mib(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, in MiB. Not ``ru_maxrss``: a
    spawned process's starts at its parent's size (fork, then exec)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _stream_memory(base: str, backend: str, streams: int, conn: Any) -> None:
    """In a fresh process: one stream first (every import done, the pool open), then
    ``streams`` concurrent streams read to the end; sends back (peak RSS, RSS before the
    concurrent streams — both MiB —, seconds, events read)."""
    from workersai import AsyncWorkersAI

    async def main() -> tuple[float, int]:
        async with AsyncWorkersAI(ACCOUNT, TOKEN, base_url=base, http_backend=backend) as client:  # type: ignore[arg-type]

            async def one(i: int) -> int:
                stream = await client.stream_chat(MODEL, [{"role": "user", "content": f"s{i}"}])
                return sum([1 async for _ in stream])

            await one(-1)
            before = _memory_mib("VmRSS")
            return before, sum(await asyncio.gather(*(one(i) for i in range(streams))))

    start = time.perf_counter()
    before, events = asyncio.run(main())
    seconds = time.perf_counter() - start
    conn.send((_memory_mib("VmHWM"), before, seconds, events))


def stream_memory(base: str, backend: str, streams: int) -> tuple[float, float, float, int]:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_stream_memory, args=(base, backend, streams, child))
    process.start()
    result = parent.recv()
    process.join(timeout=30)
    return result  # type: ignore[no-any-return]


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (best kept)")
    parser.add_argument("--streams", type=int, default=1000, help="concurrent streams (memory)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args()

    with chat_server() as base:
        for _, run in ROWS:  # warm-up: imports, first connections
            assert run(base, 50, args.concurrency) == 50
        times: dict[str, list[float]] = {name: [] for name, _ in ROWS}
        for _ in range(args.rounds):
            for name, run in ROWS:
                start = time.perf_counter()
                assert run(base, args.calls, args.concurrency) == args.calls, name
                times[name].append(time.perf_counter() - start)
        for name, runs in times.items():
            print(f"{name}: " + ", ".join(f"{t:.3f}s" for t in runs), file=sys.stderr)
        memory = {
            backend: stream_memory(base, backend, args.streams) for backend in ("httpx", "aiohttp")
        }

    best = {name: min(runs) for name, runs in times.items()}
    raw = best[ROWS[0][0]]
    print(
        f"{args.calls:,} chat calls, {args.concurrency} in flight, against a loopback server "
        f"answering instantly; best of {args.rounds} interleaved rounds "
        f"(median in brackets); {os.cpu_count()} CPUs:\n"
    )
    print("| path | wall time | calls/s | vs raw `httpx.AsyncClient` loop |")
    print("|---|---:|---:|---:|")
    for name, _ in ROWS:
        seconds = best[name]
        median = statistics.median(times[name])
        print(
            f"| {name} | {seconds:.2f} s ({median:.2f}) | {args.calls / seconds:,.0f} "
            f"| {seconds / raw:.2f}× |"
        )
    abatch = best["`ChatWorkersAI.abatch` (aiohttp)"]
    batch = best["`ChatWorkersAI.batch` (threads)"]
    achat = best["LlamaIndex `WorkersAI.achat` (aiohttp)"]
    print(
        f"\nRatios: `abatch` / raw loop {abatch / raw:.2f}× (target ≤ 0.35×), "
        f"`abatch` / `batch` {abatch / batch:.2f}× (target ≤ 0.8×), "
        f"LlamaIndex `achat` / raw loop {achat / raw:.2f}× (target ≤ 0.35×)."
    )
    print(
        f"\n{args.streams:,} concurrent `AsyncWorkersAI.stream_chat` calls "
        f"({STREAM_EVENTS} events each, {STREAM_GAP * 1000:.0f} ms apart), one fresh process "
        "per engine:\n"
    )
    print("| engine | peak RSS | of which the streams | wall time | events read |")
    print("|---|---:|---:|---:|---:|")
    for backend, (peak, before, seconds, events) in memory.items():
        print(
            f"| {backend} | {peak:.1f} MiB | {peak - before:.1f} MiB | {seconds:.2f} s "
            f"| {events:,} |"
        )
    print(
        "\nThe streams' share is the peak minus the RSS after one stream (imports done, pool "
        "open); the rest is the interpreter and the imports (aiohttp's add about 7 MiB)."
    )
    if args.json:
        RESULTS.update(
            {
                "calls": args.calls,
                "concurrency": args.concurrency,
                "rows": [
                    {"path": name, "best": best[name], "runs": times[name]} for name, _ in ROWS
                ],
                "ratios": {
                    "abatch_vs_raw": abatch / raw,
                    "abatch_vs_batch": abatch / batch,
                    "achat_vs_raw": achat / raw,
                },
                "streams": args.streams,
                "memory": {
                    backend: {
                        "peak_rss_mib": peak,
                        "streams_mib": peak - before,
                        "seconds": seconds,
                        "events": events,
                    }
                    for backend, (peak, before, seconds, events) in memory.items()
                },
            }
        )
        Path(args.json).write_text(json.dumps(RESULTS, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
