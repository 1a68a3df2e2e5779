"""Re-compose the example answers bundled in ``workersai/examples/`` (``<name>.json.gz``).

Each example — ``workersai demo`` and every notebook in ``notebooks/`` — runs against the
wire-format emulator the tests use (``tests/compose``), exactly as it would run live; every
exchange is recorded and written next to :mod:`workersai.examples`, which replays them when
no credentials are set. The answers are composed in the documented Workers AI wire format,
not recorded from Cloudflare (see ``tests/cassettes/README.md``).

Run it after changing an example or README.md (the demo's RAG step indexes the README)::

    python scripts/compose_examples.py            # all examples
    python scripts/compose_examples.py demo       # just one

Each notebook is then executed offline from the new answers and saved with its outputs, so
it reads with its results on GitHub; CI re-executes it and fails when an output differs
(``notebooks/conftest.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.compose import handler as compose_handler  # noqa: E402
from tests.compose import pointed_at  # noqa: E402
from workersai.examples import OFFLINE_ENV, save_exchanges  # noqa: E402
from workersai.testing import RecordedRequest, Reply, WorkersAIServer  # noqa: E402

NOTEBOOKS = ROOT / "notebooks"


@contextlib.contextmanager
def recording() -> Iterator[list[tuple[RecordedRequest, Reply]]]:
    """An emulator the process points at; yields the exchanges it answered."""
    exchanges: list[tuple[RecordedRequest, Reply]] = []
    missing: list[str] = []

    def record(request: RecordedRequest) -> Reply:
        reply = compose_handler(request)
        if reply.status == 599:  # the emulator has no scenario: say which, record nothing
            missing.append(f"{request.method} {request.path} {request.body[:800]!r}")
            return reply
        exchanges.append((request, reply))
        return reply

    with WorkersAIServer(record) as server, pointed_at(server.base_url):
        yield exchanges
        if missing:
            raise SystemExit("compose: no scenario for\n" + "\n".join(missing))


def _in_key_order(
    exchanges: list[tuple[RecordedRequest, Reply]],
) -> list[tuple[RecordedRequest, Reply]]:
    # Concurrent requests (embedding batches) arrive in any order; a stable sort by request
    # key makes the file deterministic and keeps the order of repeats of the same request.
    from workersai.examples import request_key

    return sorted(
        exchanges, key=lambda e: request_key(e[0].method, e[0].path, e[0].query, e[0].body)
    )


def compose_demo() -> Path:
    from workersai.cli import main

    with recording() as exchanges, tempfile.TemporaryDirectory() as out_dir:
        code = main(["demo", "--out-dir", out_dir])
        if code != 0:
            raise SystemExit(f"compose: the demo failed with exit code {code}")
    return save_exchanges("demo", _in_key_order(exchanges))


def _execute(path: Path, *, env: dict[str, str]) -> object:
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    _strip(notebook)  # a clean run: no stale outputs or metadata survive
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        NotebookClient(
            notebook,
            timeout=300,
            kernel_name="python3",
            record_timing=False,  # timestamps in cell metadata would change on every run
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return notebook


def _strip(notebook: object) -> None:
    for cell in notebook.cells:  # type: ignore[attr-defined]
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)


def _merge_streams(notebook: object) -> None:
    """One output per run of prints to a stream (a streamed answer arrives token by token)."""
    for cell in notebook.cells:  # type: ignore[attr-defined]
        merged: list[dict] = []
        for output in cell.get("outputs", []):
            last = merged[-1] if merged else None
            if (
                output.output_type == "stream"
                and last is not None
                and last.output_type == "stream"
                and last.name == output.name
            ):
                last.text += output.text
            else:
                merged.append(output)
        if cell.cell_type == "code":
            cell.outputs = merged


def _stable_widget_ids(notebook: object) -> object:
    """Number the widget models (a progress bar) instead of their random ids: the state saved
    with the notebook still draws the finished bar, and re-composing leaves no diff."""
    import nbformat

    text = nbformat.writes(notebook)
    state = notebook.metadata.get("widgets", {})  # type: ignore[attr-defined]
    ids = list(state.get("application/vnd.jupyter.widget-state+json", {}).get("state", {}))
    if not ids:
        return notebook
    numbered = {old: f"{number:032x}" for number, old in enumerate(ids, 1)}
    text = re.sub("|".join(map(re.escape, ids)), lambda m: numbered[m.group(0)], text)
    return nbformat.reads(text, as_version=4)


def compose_notebook(name: str) -> Path:
    import nbformat

    path = NOTEBOOKS / f"{name}.ipynb"
    with recording() as exchanges:
        _execute(path, env={})
    written = save_exchanges(name, _in_key_order(exchanges))
    notebook = _execute(path, env={OFFLINE_ENV: "1", "WORKERSAI_REPLAY_PACE": "0"})
    # the kernel's Python version: not part of the example, and a diff on every machine
    notebook.metadata.get("language_info", {}).pop("version", None)  # type: ignore[attr-defined]
    _merge_streams(notebook)
    nbformat.write(_stable_widget_ids(notebook), path)
    return written


def main() -> None:
    names = ["demo", *sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("examples", nargs="*", choices=[*names, []], help="default: all")
    args = parser.parse_args()
    for name in args.examples or names:
        path = compose_demo() if name == "demo" else compose_notebook(name)
        print(f"composed {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
