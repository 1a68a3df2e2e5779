"""The comparison that keeps the committed notebook outputs true (``conftest.py``): what it
ignores (what differs between two correct runs) and what it catches."""

from __future__ import annotations

import copy
from typing import Any

from conftest import output_differences


def _stream(text: str, name: str = "stdout") -> dict[str, Any]:
    return {"output_type": "stream", "name": name, "text": text}


def _notebook(*outputs: list[dict[str, Any]]) -> dict[str, Any]:
    cells: list[dict[str, Any]] = [{"cell_type": "markdown", "source": "# A notebook"}]
    cells += [{"cell_type": "code", "outputs": list(cell)} for cell in outputs]
    return {"cells": cells}


COMMITTED = _notebook(
    [_stream("offline: replaying\n")],
    [
        {
            "output_type": "execute_result",
            "data": {
                "text/plain": "[{'name': 'get_hotel_rate', 'id': 'call_0123456789abcdef01234567'}]"
            },
        }
    ],
    [
        {
            "output_type": "display_data",
            "data": {
                "application/vnd.jupyter.widget-view+json": {"model_id": "0" * 31 + "b"},
                "text/plain": "Embedding:   0%|          | 0/500 [00:00<?, ?text/s]",
            },
        },
        _stream("500 vectors\n"),
    ],
    [_stream("Close"), _stream(" to every door\n")],
    [{"output_type": "execute_result", "data": {"text/plain": "<Index at 0x7f12ab34cd56>"}}],
)


def test_an_identical_run_has_no_differences() -> None:
    assert output_differences(COMMITTED, copy.deepcopy(COMMITTED)) == ""


def test_what_differs_between_two_correct_runs_is_ignored() -> None:
    run = copy.deepcopy(COMMITTED)
    calls = run["cells"][2]["outputs"][0]["data"]
    calls["text/plain"] = calls["text/plain"].replace("0123456789abcdef", "fedcba9876543210")
    widget = run["cells"][3]["outputs"][0]["data"]
    widget["application/vnd.jupyter.widget-view+json"]["model_id"] = "9f" * 16
    widget["text/plain"] = "Embedding:   0%|          | 0/500 [00:01<00:02, 9.5text/s]"
    run["cells"][4]["outputs"] = [_stream("Close to every door\n")]  # batched differently
    run["cells"][5]["outputs"][0]["data"]["text/plain"] = "<Index at 0x7f99ee88dd00>"
    for cell in run["cells"][1:]:
        cell["execution_count"] = 42
    assert output_differences(COMMITTED, run) == ""


def test_a_changed_output_is_a_difference_naming_the_cell() -> None:
    run = copy.deepcopy(COMMITTED)
    run["cells"][3]["outputs"][1] = _stream("499 vectors\n")
    differences = output_differences(COMMITTED, run)
    assert "committed code cell 3" in differences
    assert '-  "text": "500 vectors\\n"' in differences
    assert '+  "text": "499 vectors\\n"' in differences
    assert "code cell 1" not in differences


def test_outputs_committed_stripped_are_a_difference() -> None:
    stripped = copy.deepcopy(COMMITTED)
    for cell in stripped["cells"][1:]:
        cell["outputs"] = []
    assert "committed code cell 1" in output_differences(stripped, COMMITTED)


def test_a_stream_moved_to_stderr_or_a_picture_changed_is_a_difference() -> None:
    moved = copy.deepcopy(COMMITTED)
    moved["cells"][1]["outputs"] = [_stream("offline: replaying\n", name="stderr")]
    assert output_differences(COMMITTED, moved) != ""
    picture = _notebook([{"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo="}}])
    other = _notebook([{"output_type": "display_data", "data": {"image/png": "iVBORw0KGgp="}}])
    assert output_differences(picture, other) != ""
