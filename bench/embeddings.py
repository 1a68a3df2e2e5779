"""Embedding throughput: workersai vs a raw httpx loop vs the existing integrations.

Embeds 10,000 texts against a loopback server that answers like Workers AI (the v4
envelope around ``{"shape", "data", "pooling"}``) after a fixed 20 ms, with 768-dim
float16-valued vectors (~1.5 MB of JSON per 100 texts, as bge-base-en-v1.5 answers).

The server runs in its own process with answers encoded once up front, so the client under
test gets a CPU to itself; its cost per request beyond the 20 ms latency is measured first
and printed. By default it is a small asyncio server written for this benchmark (one event
loop, no thread per connection, so it adds the least); ``--server threading`` uses
``workersai.testing.WorkersAIServer`` instead.

Run::

    python bench/embeddings.py            # full run, markdown table on stdout
    python bench/embeddings.py --texts 2000 --repeat 1   # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import multiprocessing as mp
import os
import platform
import random
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

MODEL = "@cf/baai/bge-base-en-v1.5"
DIMS = 768
LATENCY = 0.020
ACCOUNT = "bench-account"
TOKEN = "bench-token"


# -- the loopback server (its own process) -------------------------------------------------


def _fp16(value: float) -> float:
    return float(struct.unpack("<e", struct.pack("<e", value))[0])


def _answer(n: int, rng: random.Random) -> bytes:
    rows = []
    for _ in range(n):
        row = [rng.gauss(0.0, 1.0) for _ in range(DIMS)]
        norm = sum(v * v for v in row) ** 0.5
        rows.append([_fp16(v / norm) for v in row])
    body = {
        "result": {"shape": [n, DIMS], "data": rows, "pooling": "mean"},
        "success": True,
        "errors": [],
        "messages": [],
    }
    return json.dumps(body, separators=(",", ":")).encode()


def serve_threading(port_queue: Any, sizes: list[int], latency: float) -> None:
    """``workersai.testing.WorkersAIServer`` (a thread per connection, TCP_NODELAY set)."""
    from workersai.testing import RecordedRequest, Reply, WorkersAIServer

    rng = random.Random(7)
    answers = {n: _answer(n, rng) for n in sizes}

    def handler(request: RecordedRequest) -> Reply:
        n = len(json.loads(request.body)["text"])
        data = answers.get(n) or _answer(n, rng)
        return Reply(200, {"content-type": "application/json"}, data, delay=latency)

    server = WorkersAIServer(handler)
    server.start()
    port_queue.put(server.port)
    time.sleep(1e9)


def serve_asyncio(port_queue: Any, sizes: list[int], latency: float) -> None:
    """A minimal HTTP/1.1 keep-alive server on asyncio, for this benchmark only: answers
    every POST like ``/ai/run`` after ``latency`` seconds, with TCP_NODELAY set, so the
    only cost it adds is moving the bytes."""
    import socket

    rng = random.Random(7)
    answers = {n: _answer(n, rng) for n in sizes}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                n = len(json.loads(body)["text"])
                data = answers.get(n) or _answer(n, rng)
                await asyncio.sleep(latency)
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n" % len(data)
                )
                writer.write(data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=256)
        port_queue.put(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


# -- the contenders ------------------------------------------------------------------------


def raw_httpx(base: str, texts: list[str]) -> list[list[float]]:
    """The reference: httpx.AsyncClient, batches of 100, 8 concurrent, ``response.json()``."""
    import httpx

    url = f"{base}/accounts/{ACCOUNT}/ai/run/{MODEL}"
    headers = {"Authorization": f"Bearer {TOKEN}"}

    async def main() -> list[list[float]]:
        limit = asyncio.Semaphore(8)
        async with httpx.AsyncClient(timeout=60) as client:

            async def one(batch: list[str]) -> list[list[float]]:
                async with limit:
                    response = await client.post(url, json={"text": batch}, headers=headers)
                    response.raise_for_status()
                    return response.json()["result"]["data"]

            parts = await asyncio.gather(
                *(one(texts[i : i + 100]) for i in range(0, len(texts), 100))
            )
        return [vector for part in parts for vector in part]

    return asyncio.run(main())


def ours_core_sync(base: str, texts: list[str]) -> list[list[float]]:
    from workersai import WorkersAI

    with WorkersAI(ACCOUNT, TOKEN, base_url=base) as client:
        return client.embed(MODEL, texts).vectors


def ours_core_sync_threads(base: str, texts: list[str]) -> list[list[float]]:
    """The sync client's thread pool: what runs when aiohttp is declined (or not installed)."""
    saved = os.environ.get("WORKERSAI_ASYNC_HTTP")
    os.environ["WORKERSAI_ASYNC_HTTP"] = "httpx"
    try:
        return ours_core_sync(base, texts)
    finally:
        if saved is None:
            del os.environ["WORKERSAI_ASYNC_HTTP"]
        else:
            os.environ["WORKERSAI_ASYNC_HTTP"] = saved


def ours_core_async(base: str, texts: list[str], engine: str | None = None) -> list[list[float]]:
    from workersai import AsyncWorkersAI

    async def main() -> list[list[float]]:
        async with AsyncWorkersAI(
            ACCOUNT,
            TOKEN,
            base_url=base,
            http_backend=engine,  # type: ignore[arg-type]
        ) as client:
            return (await client.embed(MODEL, texts)).vectors

    return asyncio.run(main())


def ours_core_async_httpx(base: str, texts: list[str]) -> list[list[float]]:
    return ours_core_async(base, texts, "httpx")


def ours_core_stdlib_json(base: str, texts: list[str]) -> list[list[float]]:
    from workersai import _json

    saved = _json._HAVE_ORJSON
    _json._HAVE_ORJSON = False
    try:
        return ours_core_sync(base, texts)
    finally:
        _json._HAVE_ORJSON = saved


def ours_langchain(base: str, texts: list[str]) -> list[list[float]]:
    from langchain_workersai import WorkersAIEmbeddings

    embeddings = WorkersAIEmbeddings(
        model=MODEL, account_id=ACCOUNT, api_token=TOKEN, base_url=base
    )
    return embeddings.embed_documents(texts)


def ours_langchain_async(base: str, texts: list[str]) -> list[list[float]]:
    from langchain_workersai import WorkersAIEmbeddings

    embeddings = WorkersAIEmbeddings(
        model=MODEL, account_id=ACCOUNT, api_token=TOKEN, base_url=base
    )
    return asyncio.run(embeddings.aembed_documents(texts))


def ours_llamaindex(base: str, texts: list[str]) -> list[list[float]]:
    from llamaindex_workersai import WorkersAIEmbedding

    embed = WorkersAIEmbedding(MODEL, account_id=ACCOUNT, api_token=TOKEN, base_url=base)
    return embed.get_text_embedding_batch(texts)


def langchain_cloudflare(base: str, texts: list[str]) -> list[list[float]]:
    from langchain_cloudflare.embeddings import CloudflareWorkersAIEmbeddings

    # Its URL is f"{api_base_url}/{account_id}/ai/run/{model_name}".
    embeddings = CloudflareWorkersAIEmbeddings(
        account_id=ACCOUNT, api_token=TOKEN, model_name=MODEL, api_base_url=f"{base}/accounts"
    )
    return embeddings.embed_documents(texts)


def llamaindex_cloudflare(base: str, texts: list[str], batch: int | None = None) -> Any:
    import llama_index.embeddings.cloudflare_workersai.base as cf

    # The URL is a module constant; point it at the loopback server.
    cf.API_URL_TEMPLATE = f"{base}/accounts/{{}}/ai/run/{{}}"
    kwargs = {"embed_batch_size": batch} if batch else {}
    embed = cf.CloudflareEmbedding(account_id=ACCOUNT, auth_token=TOKEN, model=MODEL, **kwargs)
    return embed.get_text_embedding_batch(texts)


SYNC_LABEL = "**workersai** `WorkersAI.embed` (sync: one event loop of its own, aiohttp)"

CONTENDERS: list[tuple[str, Callable[[str, list[str]], Any], bool]] = [
    # (label, function, is a competitor)
    ("raw httpx loop (async, 100/request, 8 concurrent, `response.json()`)", raw_httpx, False),
    (SYNC_LABEL, ours_core_sync, False),
    (
        "**workersai** `WorkersAI.embed` (sync, thread pool: `WORKERSAI_ASYNC_HTTP=httpx`)",
        ours_core_sync_threads,
        False,
    ),
    ("**workersai** `AsyncWorkersAI.embed` (aiohttp)", ours_core_async, False),
    ("**workersai** `AsyncWorkersAI.embed` (httpx pool)", ours_core_async_httpx, False),
    ("**workersai** `WorkersAI.embed` without orjson (stdlib json)", ours_core_stdlib_json, False),
    ("**langchain_workersai** `WorkersAIEmbeddings.embed_documents`", ours_langchain, False),
    ("**langchain_workersai** `WorkersAIEmbeddings.aembed_documents`", ours_langchain_async, False),
    (
        "**llamaindex_workersai** `WorkersAIEmbedding.get_text_embedding_batch`",
        ours_llamaindex,
        False,
    ),
    (
        "langchain-cloudflare `CloudflareWorkersAIEmbeddings.embed_documents`",
        langchain_cloudflare,
        True,
    ),
    (
        "llama-index-embeddings-cloudflare-workersai `CloudflareEmbedding` (default batch 10)",
        llamaindex_cloudflare,
        True,
    ),
    (
        "llama-index-embeddings-cloudflare-workersai `CloudflareEmbedding` (embed_batch_size=100)",
        lambda base, texts: llamaindex_cloudflare(base, texts, batch=100),
        True,
    ),
]


def _installed(func: Callable[..., Any]) -> bool:
    name = func.__name__
    module = {
        "langchain_cloudflare": "langchain_cloudflare",
        "llamaindex_cloudflare": "llama_index.embeddings.cloudflare_workersai",
    }.get(name)
    if module is None and name == "<lambda>":
        module = "llama_index.embeddings.cloudflare_workersai"
    if module is None:
        return True
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def server_floor(base: str, latency: float, n_requests: int = 40) -> float:
    """Seconds the server adds to each request beyond the 20 ms latency (sequential)."""
    import httpx

    url = f"{base}/accounts/{ACCOUNT}/ai/run/{MODEL}"
    body = {"text": ["x"] * 100}
    with httpx.Client() as client:
        client.post(url, json=body).read()
        start = time.perf_counter()
        for _ in range(n_requests):
            client.post(url, json=body).read()
    return (time.perf_counter() - start) / n_requests - latency


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender (best is kept)")
    parser.add_argument("--skip-slow", action="store_true", help="skip the default-batch-10 run")
    parser.add_argument(
        "--server",
        choices=["asyncio", "threading"],
        default="asyncio",
        help="asyncio: the bench's own server; threading: workersai.testing.WorkersAIServer",
    )
    parser.add_argument("--latency-ms", type=float, default=LATENCY * 1000)
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args()

    texts = [
        f"Chunk {i}: Workers AI runs machine learning models on Cloudflare's global network, "
        "close to users, billed in neurons."
        for i in range(args.texts)
    ]
    sizes = sorted({100, 50, 10, args.texts % 100, args.texts % 50, args.texts % 10} - {0})
    queue: Any = mp.get_context("spawn").Queue()
    target = serve_asyncio if args.server == "asyncio" else serve_threading
    latency = args.latency_ms / 1000
    process = mp.get_context("spawn").Process(
        target=target, args=(queue, sizes, latency), daemon=True
    )
    process.start()
    try:
        port = queue.get(timeout=120)
        base = f"http://127.0.0.1:{port}/client/v4"
        overhead = server_floor(base, latency)
        selected = [
            (label, func)
            for label, func, _competitor in CONTENDERS
            if _installed(func) and not (args.skip_slow and "default batch 10" in label)
        ]
        for _label, func in selected:
            func(base, texts[:150])  # warm-up: imports and first connections are not timed
        timings: dict[str, list[float]] = {label: [] for label, _ in selected}
        # Round-robin, so a burst of load elsewhere on the machine hits every contender.
        for _ in range(args.repeat):
            for label, func in selected:
                start = time.perf_counter()
                vectors = func(base, texts)
                timings[label].append(time.perf_counter() - start)
                assert len(vectors) == len(texts), label
                assert len(vectors[0]) == DIMS, label
                # Free the 7.7 M floats outside the clock, or the next contender pays for it.
                del vectors
                gc.collect()
        rows = [(label, min(timings[label])) for label, _ in selected]
        for label, runs in timings.items():
            print(f"{label}: " + ", ".join(f"{t:.3f}s" for t in runs), file=sys.stderr)
    finally:
        process.kill()

    raw = rows[0][1]
    try:
        import orjson

        json_note = f"orjson {orjson.__version__}"
    except ImportError:
        json_note = "stdlib json (orjson not installed)"
    print(
        f"\n{args.texts:,} texts, {DIMS}-dim vectors, {latency * 1000:.0f} ms server latency; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {json_note}; best of "
        f"{args.repeat}; server overhead {overhead * 1000:.1f} ms/request beyond the latency.\n"
    )
    lcf = next((t for label, t in rows if label.startswith("langchain-cloudflare")), None)
    print(
        "| Implementation | Time (s) | Texts/s | Time vs raw httpx loop "
        "| Speed-up vs langchain-cloudflare |"
    )
    print("|---|---:|---:|---:|---:|")
    for label, seconds in rows:
        speedup = f"{lcf / seconds:.1f}×" if lcf else "n/a"
        print(
            f"| {label} | {seconds:.2f} | {args.texts / seconds:,.0f} | {seconds / raw:.2f}× "
            f"| {speedup} |"
        )
    # 100 texts per request, 8 in flight: the latency alone takes ceil(requests / 8) rounds.
    floor = math.ceil(math.ceil(args.texts / 100) / 8) * latency
    best = dict(rows)
    sync_s = best.get(SYNC_LABEL)
    async_s = best.get("**workersai** `AsyncWorkersAI.embed` (aiohttp)")
    if sync_s and async_s:
        print(
            f"\nLatency floor {floor:.2f} s (100 texts per request, 8 in flight): "
            f"`WorkersAI.embed` {sync_s / floor:.1f}×, `AsyncWorkersAI.embed` "
            f"{async_s / floor:.1f}× the floor (target ≤ 2×)."
        )
    if args.json:
        results = {
            "texts": args.texts,
            "latency_ms": latency * 1000,
            "server_overhead_ms": overhead * 1000,
            "floor_seconds": floor,
            "rows": [{"label": label, "seconds": seconds} for label, seconds in rows],
        }
        Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
