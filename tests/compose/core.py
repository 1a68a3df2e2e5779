"""Scenarios for the core client's cassette tests (tests/core/test_cassettes.py)."""

from __future__ import annotations

from tests.compose import scenario
from workersai.testing import RecordedRequest, Reply


@scenario
def hello_world_prompt(request: RecordedRequest) -> Reply | None:
    # rest_run_prompt_text_generation.json (DOCS-REST), with usage as live answers carry it.
    body = request.json() or {}
    if body.get("prompt") != "Where did the phrase Hello World come from":
        return None
    return Reply.result(
        {
            "response": "Hello, World first appeared in 1974 at Bell Labs when Brian Kernighan "
            "included it in the C programming language example.",
            "usage": {"prompt_tokens": 18, "completion_tokens": 26, "total_tokens": 44},
        }
    )
