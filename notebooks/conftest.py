"""The notebooks run as tests (nbmake, ``--nbmake`` in pyproject's addopts), offline.

Each notebook starts with ``replay_unless_live(...)``; here its kernel always takes the
offline branch and replays the bundled answers (``workersai/examples/<name>.json.gz``):

* ``tests/conftest.py`` puts placeholder credentials in ``os.environ`` for the whole run, and a
  developer may have real ones there, so the kernel gets ``WORKERSAI_OFFLINE=1`` and no
  Cloudflare variables at all (the kernel is a separate process, out of pytest-socket's
  reach: it must never be able to go live);
* ``WORKERSAI_REPLAY_PACE=0``: replayed streams arrive at once instead of token by token.

A cell that raises fails its notebook's test, and so do the checks every cell that shows a
result carries in its metadata (``nbmake.post_cell_execute``: asserts on what the cell shows,
run after it by nbmake only, so the notebook reads as plain user code).

The notebooks are committed **executed**, so they read with their results on GitHub, and CI
checks that those results are still what the notebook does: after nbmake has run a notebook,
its fresh outputs are compared with the committed ones, cell by cell, and any difference fails
the test with a diff (the decision: compare, not overwrite — a changed output is either a
regression or a change to review and commit). Only what differs between two correct runs is
normalised first: execution counts and metadata, widget model ids (random per kernel), memory
addresses, generated tool-call ids and uuids, and tqdm's timings. Offline the answers are
replayed and the pictures are the bundled drawings, so everything else is deterministic.
After changing a notebook, or anything it shows, re-compose its answers and outputs:
``python scripts/compose_examples.py <name>``, and review the diff.

Under ``--disable-socket`` the test process may still reach 127.0.0.1, where the kernel's
channels listen (``tests/conftest.py`` gives loopback tests the same mark). pytest-socket
applies marks only to items that take fixtures, which notebook items do not, so the
restriction is applied here.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
import pytest_socket
from nbmake.nb_result import NotebookError, NotebookResult
from nbmake.nb_run import NotebookRun
from nbmake.pytest_items import NotebookFailedException

HERE = Path(__file__).parent
LOOPBACK_HOSTS = ["127.0.0.1"]
KERNEL_ENV = {"WORKERSAI_OFFLINE": "1", "WORKERSAI_REPLAY_PACE": "0"}
_CREDENTIAL_PREFIXES = ("CLOUDFLARE_", "CF_")

_saved_env: dict[str, str] = {}


def _is_notebook(item: pytest.Item) -> bool:
    return bool(getattr(item, "nbmake", False)) and HERE in Path(str(item.path)).parents


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _is_notebook(item):
            item.add_marker(pytest.mark.allow_hosts(LOOPBACK_HOSTS))


def pytest_runtest_setup(item: pytest.Item) -> None:
    if not _is_notebook(item):
        return
    config = item.config
    if config.getoption("--disable-socket") and not config.getoption("--force-enable-socket"):
        # What pytest-socket does for a fixture-taking item with this mark.
        pytest_socket.socket_allow_hosts(
            LOOPBACK_HOSTS, allow_unix_socket=config.getoption("--allow-unix-socket")
        )
    # The kernel inherits this process's environment when nbmake starts it.
    _saved_env.clear()
    _saved_env.update(os.environ)
    for name in list(os.environ):
        if name.startswith(_CREDENTIAL_PREFIXES):
            del os.environ[name]
    os.environ.update(KERNEL_ENV)


def pytest_runtest_teardown(item: pytest.Item) -> None:
    # pytest-socket's own teardown lifts the socket restriction for every item.
    if _is_notebook(item) and _saved_env:
        os.environ.clear()
        os.environ.update(_saved_env)
        _saved_env.clear()


# -- committed outputs ---------------------------------------------------------------------

# What differs between two correct runs of the same notebook (see the module docstring).
_VOLATILE = (
    (re.compile(r"0x[0-9a-f]{6,16}"), "0x…"),
    (re.compile(r"call_[0-9a-f]{24}"), "call_…"),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\[\d+:\d+<[^\]]*\]"), "[<tqdm timing>]"),
)
_SHOWN = ("text/plain", "text/html", "text/markdown", "image/png", "image/jpeg", "image/svg+xml")


def _text(value: Any) -> str:
    text = "".join(value) if isinstance(value, list) else str(value)
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def shown(output: dict[str, Any]) -> dict[str, Any]:
    """One cell output as a reader sees it, without what differs between correct runs."""
    kind = output["output_type"]
    if kind == "stream":
        return {"stream": output["name"], "text": _text(output["text"])}
    if kind == "error":
        return {"error": output["ename"], "value": _text(output["evalue"])}
    data = output.get("data", {})
    seen: dict[str, Any] = {"output": kind}
    seen.update({mime: _text(data[mime]) for mime in _SHOWN if mime in data})
    if "application/vnd.jupyter.widget-view+json" in data:
        seen["widget"] = "<model id>"
    return seen


def shown_outputs(notebook: Any) -> list[list[dict[str, Any]]]:
    """Every code cell's outputs, as :func:`shown` normalises them. Consecutive prints to the
    same stream are one text: how the kernel batches a streamed answer's tokens varies."""
    cells: list[list[dict[str, Any]]] = []
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        outputs: list[dict[str, Any]] = []
        for output in map(shown, cell.get("outputs", [])):
            previous = outputs[-1] if outputs else {}
            if "stream" in output and previous.get("stream") == output["stream"]:
                previous["text"] += output["text"]
            else:
                outputs.append(output)
        cells.append(outputs)
    return cells


def output_differences(committed: Any, executed: Any) -> str:
    """A unified diff of what the committed notebook shows against a fresh run ("" if same)."""
    lines: list[str] = []
    old, new = shown_outputs(committed), shown_outputs(executed)
    if len(old) != len(new):
        return f"the notebook has {len(new)} code cells, the committed outputs {len(old)}"
    for index, (before, after) in enumerate(zip(old, new, strict=True)):
        if before != after:
            lines += difflib.unified_diff(
                json.dumps(before, indent=1, ensure_ascii=False).splitlines(),
                json.dumps(after, indent=1, ensure_ascii=False).splitlines(),
                f"committed code cell {index + 1}",
                f"this run's code cell {index + 1}",
                lineterm="",
                n=2,
            )
    return "\n".join(lines)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    if not _is_notebook(item):
        return (yield)
    runs: list[NotebookResult] = []
    execute = NotebookRun.execute

    def keep_the_run(run: NotebookRun) -> NotebookResult:
        result = execute(run)
        runs.append(result)
        return result

    with pytest.MonkeyPatch.context() as patch:
        # nbmake keeps the executed notebook to itself; it is what is compared here.
        patch.setattr(NotebookRun, "execute", keep_the_run)
        outcome = yield  # a failing cell or check raises here, before any comparison
    (run,) = runs
    path = Path(str(item.path))
    differences = output_differences(nbformat.read(path, as_version=4), run.nb)
    if differences:
        summary = (
            f"{path.name}: the outputs differ from the committed ones; if the change is "
            f"intended, run `python scripts/compose_examples.py {path.stem}` and commit"
        )
        trace = f"{summary}\n{differences}"
        raise NotebookFailedException(NotebookResult(run.nb, NotebookError(summary, trace, -1)))
    return outcome
