"""What ChatWorkersAI costs on top of the HTTP call, and a 1,000-prompt batch through 429s.

Everything runs against the loopback server of ``workersai.testing`` answering instantly, in
a child process (so it does not compete with the client for the GIL): the numbers are the
client-side cost plus the same local round trip for every row.

1. per-call latency of ``ChatWorkersAI.invoke`` / ``.stream`` next to a raw ``httpx`` POST of
   the same request, the core ``WorkersAI.chat``, and langchain-cloudflare's
   ``ChatCloudflareWorkersAI.invoke`` when it is installed — with the ratios the package
   aims at (``invoke`` ≤ 1.0× langchain-cloudflare, ≤ 1.28× raw httpx);
2. a 1,000-prompt ``batch`` (and ``abatch``) with ``max_concurrency``, where the server
   answers the first attempt of every tenth prompt with 429 / 3040 "Capacity temporarily
   exceeded" — the trajectory-generation use case. No call may fail;
3. how long after the server sends a stream's first event the caller gets its first chunk
   (``bench/_loopback.py`` sends it at an agreed moment), sync and async, on both async
   engines.

Run from the repository root::

    PYTHONPATH=. python bench/chat_overhead.py            # --calls 2000 --batch 1000 [--json out]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import statistics
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any

import httpx

from bench._loopback import chat_server
from langchain_workersai import ChatWorkersAI
from workersai import AsyncWorkersAI, WorkersAI
from workersai.testing import RecordedRequest, Reply, WorkersAIServer

MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
#: What --json writes: every row of both tables, in seconds.
RESULTS: dict[str, Any] = {"per_call": [], "batch": [], "first_chunk": [], "ratios": {}}
USAGE = {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
ANSWER = {"response": "Hello there!", "usage": USAGE}
STREAM = [
    {"response": "Hello", "p": "abcdef"},
    {"response": " there", "p": "abc"},
    {"response": "!", "p": "abcdefghij"},
    {"response": "", "usage": USAGE},
]


def instant(request: RecordedRequest) -> Reply:
    body = request.json() or {}
    return Reply.sse(STREAM) if body.get("stream") else Reply.result(ANSWER)


def _serve(handler: Callable[[RecordedRequest], Reply], conn: Connection) -> None:
    with WorkersAIServer(handler) as server:
        conn.send(server.base_url)
        conn.recv()  # wait for "stop"
        conn.send((len(server.requests), getattr(handler, "rejected", 0)))


@contextmanager
def server_process(
    handler: Callable[[RecordedRequest], Reply],
) -> Iterator[tuple[str, dict[str, int]]]:
    """A WorkersAIServer in a child process; yields its base URL and, after the block,
    fills the dict with ``requests`` and ``rejected`` counts."""
    parent, child = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(handler, child), daemon=True
    )
    process.start()
    stats: dict[str, int] = {}
    try:
        yield parent.recv(), stats
    finally:
        parent.send("stop")
        stats["requests"], stats["rejected"] = parent.recv()
        process.join(timeout=5)


def timed(rows: list[tuple[str, Callable[[], Any]]], calls: int) -> dict[str, list[float]]:
    """Per-call seconds for each row, measured in interleaved rounds so that drift (CPU
    frequency, the server thread warming up) spreads evenly over the rows."""
    for _, call in rows:
        for _ in range(50):
            call()
    samples: dict[str, list[float]] = {name: [] for name, _ in rows}
    rounds = 20
    for _ in range(rounds):
        for name, call in rows:
            gc.collect()
            for _ in range(max(1, calls // rounds)):
                start = time.perf_counter()
                call()
                samples[name].append(time.perf_counter() - start)
    return samples


def overhead_table(base_url: str, calls: int) -> str:
    url = f"{base_url}/accounts/acct/ai/run/{MODEL}"
    headers = {"Authorization": "Bearer token", "Content-Type": "application/json"}
    messages = [{"role": "user", "content": "Hello"}]
    raw = httpx.Client()

    def raw_post() -> None:
        response = raw.post(url, content=json.dumps({"messages": messages}), headers=headers)
        assert response.json()["result"]["response"] == "Hello there!"

    def raw_stream() -> None:
        body = json.dumps({"messages": messages, "stream": True})
        with raw.stream("POST", url, content=body, headers=headers) as response:
            for line in response.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    json.loads(line[6:])

    core = WorkersAI("acct", "token", base_url=base_url)
    llm = ChatWorkersAI(model=MODEL, account_id="acct", api_key="token", base_url=base_url)
    invoke_rows: list[tuple[str, Callable[[], Any]]] = [
        ("raw `httpx` POST + `json()`", raw_post),
        ("core `WorkersAI.chat`", lambda: core.chat(MODEL, messages)),
        ("`ChatWorkersAI.invoke`", lambda: llm.invoke("Hello")),
    ]
    stream_rows: list[tuple[str, Callable[[], Any]]] = [
        ("raw `httpx` stream + SSE lines + `json.loads`", raw_stream),
        ("core `WorkersAI.stream_chat`", lambda: list(core.stream_chat(MODEL, messages))),
        ("`ChatWorkersAI.stream`", lambda: list(llm.stream("Hello"))),
    ]
    try:
        from langchain_cloudflare import ChatCloudflareWorkersAI

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cf = ChatCloudflareWorkersAI(
                model=MODEL, account_id="acct", api_token="token", base_url=base_url
            )
        name = "langchain-cloudflare `ChatCloudflareWorkersAI"
        invoke_rows.append((f"{name}.invoke`", lambda: cf.invoke("Hello")))
        stream_rows.append((f"{name}.stream`", lambda: list(cf.stream("Hello"))))
    except ImportError:
        pass

    samples = timed(invoke_rows + stream_rows, calls)
    lines = [
        f"Per call ({calls} calls per row, interleaved) against a loopback server answering "
        "instantly; the stream answers with 4 SSE events:",
        "",
        "| path | median | p90 | over the raw httpx call (median) |",
        "|---|---:|---:|---:|",
    ]
    for rows in (invoke_rows, stream_rows):
        baseline = statistics.median(samples[rows[0][0]])
        for index, (name, _) in enumerate(rows):
            median = statistics.median(samples[name])
            p90 = statistics.quantiles(samples[name], n=10)[-1]
            extra = "—" if index == 0 else f"+{(median - baseline) * 1e6:,.0f} µs"
            RESULTS["per_call"].append(
                {"path": name, "median": median, "p90": p90, "baseline": rows[0][0]}
            )
            lines.append(f"| {name} | {median * 1e6:,.0f} µs | {p90 * 1e6:,.0f} µs | {extra} |")
    invoke = statistics.median(samples["`ChatWorkersAI.invoke`"])
    ratios = {"invoke_vs_raw": invoke / statistics.median(samples[invoke_rows[0][0]])}
    competitor = next((name for name, _ in invoke_rows if "langchain-cloudflare" in name), None)
    if competitor:
        ratios["invoke_vs_langchain_cloudflare"] = invoke / statistics.median(samples[competitor])
    RESULTS["ratios"] = ratios
    lines += [
        "",
        "Ratios (medians): `ChatWorkersAI.invoke` / raw httpx "
        f"{ratios['invoke_vs_raw']:.2f}× (target ≤ 1.28×)"
        + (
            f", / langchain-cloudflare {ratios['invoke_vs_langchain_cloudflare']:.2f}× "
            "(target ≤ 1.0×)."
            if competitor
            else "."
        ),
    ]
    raw.close()
    core.close()
    return "\n".join(lines)


class Throttling:
    """Answers the first attempt of every tenth prompt with 429 / 3040."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.attempts: dict[str, int] = {}
        self.rejected = 0

    def __getstate__(self) -> dict[str, Any]:  # sent to the server process (spawn): no lock
        return {k: v for k, v in vars(self).items() if k != "lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        vars(self).update(state)
        self.lock = threading.Lock()

    def __call__(self, request: RecordedRequest) -> Reply:
        prompt = (request.json() or {})["messages"][-1]["content"]
        with self.lock:
            attempt = self.attempts[prompt] = self.attempts.get(prompt, 0) + 1
            reject = attempt == 1 and int(prompt.rsplit(" ", 1)[-1]) % 10 == 0
            if reject:
                self.rejected += 1
        if reject:
            return Reply.error(
                429,
                3040,
                "Capacity temporarily exceeded, please try again.",
                headers={"retry-after": "0.05"},
            )
        return Reply.result({"response": f"answer: {prompt}", "usage": USAGE})


def batch_table(prompts: int, concurrency: int) -> str:
    lines = [
        f"{prompts} prompts, `max_concurrency={concurrency}`; the first attempt of every tenth "
        "prompt is answered 429 / 3040 with `Retry-After: 0.05`:",
        "",
        "| client | wall time | requests | 429s | failed calls |",
        "|---|---:|---:|---:|---:|",
    ]
    texts = [f"question {i}" for i in range(prompts)]
    config = {"max_concurrency": concurrency}

    def run(name: str, make: Callable[[str], Any], use_async: bool = False) -> None:
        throttling = Throttling()
        with server_process(throttling) as (base_url, stats):
            llm = make(base_url)
            start = time.perf_counter()
            if use_async:
                results = asyncio.run(llm.abatch(texts, config=config, return_exceptions=True))
            else:
                results = llm.batch(texts, config=config, return_exceptions=True)
            wall = time.perf_counter() - start
            failed = sum(isinstance(r, BaseException) for r in results)
            if not failed:
                assert [r.content for r in results] == [f"answer: {t}" for t in texts]
        lines.append(
            f"| {name} | {wall:.2f} s | {stats['requests']} | {stats['rejected']} | {failed} |"
        )
        RESULTS["batch"].append(
            {
                "client": name,
                "wall": wall,
                "requests": stats["requests"],
                "rejected": stats["rejected"],
                "failed": failed,
            }
        )

    def ours(base_url: str) -> ChatWorkersAI:
        return ChatWorkersAI(
            model=MODEL, account_id="acct", api_key="token", base_url=base_url, max_retries=3
        )

    run("`ChatWorkersAI.batch`", ours)
    run("`ChatWorkersAI.abatch`", ours, use_async=True)
    try:
        from langchain_cloudflare import ChatCloudflareWorkersAI

        def theirs(base_url: str) -> Any:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return ChatCloudflareWorkersAI(
                    model=MODEL, account_id="acct", api_token="token", base_url=base_url
                )

        run("langchain-cloudflare `ChatCloudflareWorkersAI.batch`", theirs)
    except ImportError:
        pass
    return "\n".join(lines)


def _probe(delay: float = 0.03) -> tuple[float, list[dict[str, str]]]:
    """When the server sends the first event, and the messages asking it to."""
    moment = time.monotonic() + delay
    return moment, [{"role": "user", "content": f"probe {moment:.6f}"}]


def first_chunk_table(samples: int) -> str:
    """Milliseconds between the server sending a stream's first event and the caller
    getting its first chunk (see ``bench/_loopback.py``)."""

    def sync_row(first: Callable[[list[dict[str, str]]], Any]) -> Callable[[], float]:
        def one() -> float:
            moment, messages = _probe()
            return first(messages) - moment

        return one

    with chat_server() as base_url:
        url = f"{base_url}/accounts/acct/ai/run/{MODEL}"
        raw = httpx.Client()
        core = WorkersAI("acct", "token", base_url=base_url)
        llm = ChatWorkersAI(model=MODEL, account_id="acct", api_key="token", base_url=base_url)

        def raw_first(messages: list[dict[str, str]]) -> float:
            body = json.dumps({"messages": messages, "stream": True}, separators=(",", ":"))
            headers = {"Authorization": "Bearer token", "Content-Type": "application/json"}
            arrived = 0.0
            with raw.stream("POST", url, content=body, headers=headers) as response:
                for line in response.iter_lines():
                    if not arrived and line.startswith("data: "):
                        arrived = time.monotonic()
            return arrived

        def core_first(messages: list[dict[str, str]]) -> float:
            with core.stream_chat(MODEL, messages) as stream:
                next(stream)
                arrived = time.monotonic()
                stream.result()
            return arrived

        def llm_first(messages: list[dict[str, str]]) -> float:
            chunks = llm.stream(messages)
            next(chunks)
            arrived = time.monotonic()
            for _ in chunks:
                pass
            return arrived

        def async_row(engine: str, langchain: bool = False) -> Callable[[], float]:
            def one() -> float:
                async def main() -> float:
                    moment, messages = _probe()
                    if langchain:
                        chunks = llm.astream(messages)
                        await chunks.__anext__()
                        arrived = time.monotonic()
                        async for _ in chunks:
                            pass
                        return arrived - moment
                    async with AsyncWorkersAI(
                        "acct",
                        "token",
                        base_url=base_url,
                        http_backend=engine,  # type: ignore[arg-type]
                    ) as client:
                        stream = await client.stream_chat(MODEL, messages)
                        await stream.__anext__()
                        arrived = time.monotonic()
                        await stream.result()
                    return arrived - moment

                return asyncio.run(main())

            return one

        rows: list[tuple[str, Callable[[], float]]] = [
            ("raw `httpx` stream, first `data:` line", sync_row(raw_first)),
            ("core `WorkersAI.stream_chat`", sync_row(core_first)),
            ("`ChatWorkersAI.stream`", sync_row(llm_first)),
            ("core `AsyncWorkersAI.stream_chat` (aiohttp)", async_row("aiohttp")),
            ("core `AsyncWorkersAI.stream_chat` (httpx pool)", async_row("httpx")),
            ("`ChatWorkersAI.astream`", async_row("aiohttp", langchain=True)),
        ]
        for _, row in rows:
            row()  # warm-up
        taken: dict[str, list[float]] = {name: [] for name, _ in rows}
        for _ in range(samples):
            for name, row in rows:
                taken[name].append(row())
        raw.close()
        core.close()
    lines = [
        f"Time from the server sending a stream's first event to the caller's first chunk "
        f"({samples} streams per row, interleaved; async rows open a client per stream):",
        "",
        "| path | median | p90 |",
        "|---|---:|---:|",
    ]
    for name, _ in rows:
        median = statistics.median(taken[name])
        p90 = statistics.quantiles(taken[name], n=10)[-1]
        RESULTS["first_chunk"].append({"path": name, "median": median, "p90": p90})
        lines.append(f"| {name} | {median * 1e3:.2f} ms | {p90 * 1e3:.2f} ms |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per row")
    parser.add_argument("--batch", type=int, default=1000, help="prompts in the batch")
    parser.add_argument("--concurrency", type=int, default=32, help="batch max_concurrency")
    parser.add_argument("--streams", type=int, default=40, help="first-chunk samples per row")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args()
    with server_process(instant) as (base_url, _):
        print(overhead_table(base_url, args.calls))
    print()
    print(batch_table(args.batch, args.concurrency))
    print()
    print(first_chunk_table(args.streams))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(RESULTS, file, indent=1)


if __name__ == "__main__":
    main()
