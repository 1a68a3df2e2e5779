"""The core client against composed cassettes (the VCR wiring itself is under test too)."""

from __future__ import annotations

import pytest

from workersai import WorkersAI

pytestmark = pytest.mark.vcr


def test_prompt_branch_replays_documented_answer() -> None:
    client = WorkersAI()
    result = client.chat(
        "@cf/meta/llama-3.1-8b-instruct", prompt="Where did the phrase Hello World come from"
    )
    assert result.text.startswith("Hello, World first appeared in 1974")
    assert result.usage is not None and result.usage.total_tokens == 44
    assert result.finish_reason == "stop"
