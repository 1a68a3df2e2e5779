"""Run every benchmark in one go and put the results in the README, with a chart.

Runs ``bench/chat_overhead.py``, ``bench/async_throughput.py``, ``bench/embeddings.py``,
``bench/generate.py`` and ``bench/fault_storm.py`` one after the other (each with its own
loopback server process, so the ratios inside a table come from one run on one machine), then

* replaces the README's benchmark section (between the ``bench:start`` / ``bench:end``
  markers) with their tables, and
* draws ``docs/benchmarks.png`` (needs matplotlib: ``pip install -e . --group bench``).

The competitors (langchain-cloudflare, llama-index-embeddings-cloudflare-workersai) are
measured when they are installed; the bench group installs them. Run::

    python bench/report.py                 # full runs (a few minutes)
    python bench/report.py --quick         # smaller runs, to check the plumbing

Then re-compose the demo's bundled answers (its RAG step indexes the README):
``python scripts/compose_examples.py demo``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CHART = ROOT / "docs" / "benchmarks.png"
RESULTS = ROOT / "bench" / "results.json"  # the numbers behind the README section
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def _run(script: str, args: list[str], json_path: Path) -> str:
    """Run one benchmark; returns its markdown (stdout)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, str(ROOT / "bench" / script), *args, "--json", str(json_path)]
    print("running", " ".join(command[1:]), file=sys.stderr, flush=True)
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"{script} failed with exit code {done.returncode}")
    return done.stdout.strip()


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for name in (
        "workersai",
        "httpx",
        "aiohttp",
        "httpx-aiohttp",
        "langchain-core",
        "llama-index-core",
        "orjson",
    ):
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            continue
    for name in ("langchain-cloudflare", "llama-index-embeddings-cloudflare-workersai"):
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name} not installed")
    return ", ".join(parts)


def _short(label: str) -> str:
    """A chart label: no markdown, no long descriptions (a parenthesis with commas)."""
    label = re.sub(r"[*`]", "", label)
    label = re.sub(r"\s*\([^)]*,[^)]*\)$", "", label)
    return label.replace("llama-index-embeddings-cloudflare-workersai", "llama-index-emb-cf")


def draw_chart(
    chat: dict[str, Any],
    embeddings: dict[str, Any],
    storm: dict[str, Any],
    throughput: dict[str, Any] | None = None,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ours, theirs, baseline = "#f38020", "#8a8a8a", "#3b6ea8"  # Cloudflare orange for ours

    def colour(label: str, is_baseline: bool) -> str:
        if is_baseline:
            return baseline
        return theirs if "cloudflare" in label.split("`", maxsplit=1)[0].lower() else ours

    def bars(
        axis: Any, labels: list[str], values: list[float], colours: list[str], fmt: str
    ) -> None:
        axis.barh(labels, values, color=colours)
        axis.invert_yaxis()
        for y, value in enumerate(values):
            axis.text(value, y, " " + fmt.format(value), va="center", fontsize=8)
        axis.margins(x=0.18)
        axis.spines[["top", "right"]].set_visible(False)

    panels = 4 if throughput else 3
    ratios = [10, 8, 7, 3] if throughput else [10, 8, 3]
    figure, axes = plt.subplots(
        panels, 1, figsize=(11, 12 + 3 * (panels - 3)), gridspec_kw={"height_ratios": ratios}
    )
    top, middle, bottom = axes[0], axes[1], axes[-1]
    rows = embeddings["rows"]
    bars(
        top,
        [_short(r["label"]) for r in rows],
        [embeddings["texts"] / r["seconds"] for r in rows],
        [colour(r["label"], i == 0) for i, r in enumerate(rows)],
        "{:,.0f}",
    )
    top.set_xlabel("texts embedded per second (higher is better)")
    top.set_title(
        f"Embedding {embeddings['texts']:,} texts, 768-dim, {embeddings['latency_ms']:.0f} ms "
        "server latency",
        loc="left",
        fontsize=11,
    )

    per_call = chat["per_call"]
    bars(
        middle,
        [_short(r["path"]) for r in per_call],
        [r["median"] * 1e6 for r in per_call],
        [colour(r["path"], r["path"] == r["baseline"]) for r in per_call],
        "{:,.0f} µs",
    )
    middle.set_xlabel("µs per call on loopback, median (lower is better)")
    middle.set_title(
        "One chat call: client cost plus the same local round trip", loc="left", fontsize=11
    )

    if throughput:
        rows = throughput["rows"]
        calls = throughput["calls"]
        bars(
            axes[2],
            [_short(r["path"]) for r in rows],
            [calls / r["best"] for r in rows],
            [colour(r["path"], i == 0) for i, r in enumerate(rows)],
            "{:,.0f}",
        )
        axes[2].set_xlabel("chat calls per second (higher is better)")
        axes[2].set_title(
            f"{calls:,} async chat calls, {throughput['concurrency']} in flight, answered at once",
            loc="left",
            fontsize=11,
        )

    added = storm["added_latency_ms"]
    names = list(added)
    labels = [f"{name} p50" for name in names] + [f"{name} p99" for name in names]
    values = [added[n]["p50"] for n in names] + [added[n]["p99"] for n in names]
    bars(bottom, labels, values, [ours] * len(names) + [baseline] * len(names), "{:,.0f} ms")
    bottom.set_xlabel("ms added to a call that met a fault (backoff, retries, timeouts)")
    bottom.set_title(
        f"Fault storm: {storm['survived']:,}/{storm['requests']:,} correct, "
        f"{storm['typed_errors']} typed errors, {storm['wrong_or_untyped']} wrong",
        loc="left",
        fontsize=11,
    )
    figure.suptitle(
        f"workersai benchmarks (Python {platform.python_version()}, {os.cpu_count()} CPUs); "
        "orange: workersai, grey: other integrations, blue: raw httpx / p99",
        fontsize=10,
    )
    figure.tight_layout()
    CHART.parent.mkdir(exist_ok=True)
    figure.savefig(CHART, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    parser.add_argument("--no-readme", action="store_true", help="print instead of editing README")
    parser.add_argument(
        "--redraw", action="store_true", help=f"only redraw the chart from {RESULTS.name}"
    )
    args = parser.parse_args()
    if args.redraw:
        saved = json.loads(RESULTS.read_text(encoding="utf-8"))
        draw_chart(saved["chat"], saved["embeddings"], saved["storm"], saved.get("throughput"))
        return
    quick = args.quick
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        chat_md = _run(
            "chat_overhead.py",
            ["--calls", "400", "--batch", "300", "--streams", "10"] if quick else [],
            out / "chat.json",
        )
        throughput_md = _run(
            "async_throughput.py",
            ["--calls", "300", "--rounds", "2", "--streams", "200"] if quick else [],
            out / "throughput.json",
        )
        embed_md = _run(
            "embeddings.py",
            ["--texts", "2000", "--repeat", "1"] if quick else [],
            out / "embeddings.json",
        )
        generate_md = _run("generate.py", ["--quick"] if quick else [], out / "generate.json")
        storm_md = _run(
            "fault_storm.py", ["--requests", "300"] if quick else [], out / "storm.json"
        )
        chat = json.loads((out / "chat.json").read_text())
        embeddings = json.loads((out / "embeddings.json").read_text())
        storm = json.loads((out / "storm.json").read_text())
        throughput = json.loads((out / "throughput.json").read_text())
        generation = json.loads((out / "generate.json").read_text())
    if not quick and not args.no_readme:
        results = {
            "chat": chat,
            "embeddings": embeddings,
            "storm": storm,
            "throughput": throughput,
            "generate": generation,
        }
        RESULTS.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    try:
        draw_chart(chat, embeddings, storm, throughput)
        chart_note = f"![benchmarks](docs/{CHART.name})\n\n"
    except ImportError:
        print(
            "matplotlib is not installed: no chart (pip install -e . --group bench)",
            file=sys.stderr,
        )
        chart_note = ""
    section = (
        f"{START}\n"
        f"Measured by `python bench/report.py` on {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs; {_versions()}. Every "
        "number comes from a loopback server in a child process, so it is the client-side cost "
        "plus the same local round trip for every row; ratios inside a table come from one "
        "run.\n\n"
        f"{chart_note}"
        "**Embeddings** (`bench/embeddings.py`)\n\n"
        f"{embed_md}\n\n"
        "**Chat: per-call overhead, a 1,000-prompt batch through 429s, the first streamed "
        "chunk** (`bench/chat_overhead.py`)\n\n"
        f"{chat_md}\n\n"
        "**Async throughput and memory: aiohttp and httpx's pool** "
        "(`bench/async_throughput.py`)\n\n"
        f"{throughput_md}\n\n"
        "**Bulk generation: a 10,000-prompt job against the thread pool users write by hand** "
        "(`bench/generate.py`)\n\n"
        f"{generate_md}\n\n"
        "**Fault storm** (`bench/fault_storm.py`)\n\n"
        f"{storm_md}\n"
        f"{END}"
    )
    if args.no_readme:
        print(section)
        return
    text = README.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no {START} … {END} section")
    README.write_text(pattern.sub(lambda _: section, text), encoding="utf-8")
    print(f"updated {README.relative_to(ROOT)} and {CHART.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
