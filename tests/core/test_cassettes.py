"""The core client against composed cassettes (the VCR wiring itself is under test too)."""

from __future__ import annotations

import pytest

from workersai import RetryPolicy, WorkersAI

pytestmark = pytest.mark.vcr


def test_prompt_branch_replays_documented_answer() -> None:
    client = WorkersAI()
    result = client.chat(
        "@cf/meta/llama-3.1-8b-instruct", prompt="Where did the phrase Hello World come from"
    )
    assert result.text.startswith("Hello, World first appeared in 1974")
    assert result.usage is not None and result.usage.total_tokens == 44
    assert result.finish_reason == "stop"


def test_json_mode_object_response() -> None:
    client = WorkersAI()
    result = client.chat(
        "@cf/meta/llama-3.1-8b-instruct",
        [
            {"role": "system", "content": "Extract data about a country."},
            {"role": "user", "content": "Tell me about India."},
        ],
        response_format={
            "type": "json_schema",
            "json_schema": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "capital": {"type": "string"},
                    "languages": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["name", "capital", "languages"],
            },
        },
    )
    assert result.parsed["capital"] == "New Delhi"
    assert result.text.startswith('{"name":"India"')


def test_legacy_function_calling_example() -> None:
    tool = {
        "name": "getWeather",
        "description": "Return the weather for a latitude and longitude",
        "parameters": {
            "type": "object",
            "properties": {
                "latitude": {
                    "type": "string",
                    "description": "The latitude for the given location",
                },
                "longitude": {
                    "type": "string",
                    "description": "The longitude for the given location",
                },
            },
            "required": ["latitude", "longitude"],
        },
    }
    result = WorkersAI().chat(
        "@hf/nousresearch/hermes-2-pro-mistral-7b",
        [{"role": "user", "content": "what is the weather in london?"}],
        tools=[tool],
    )
    [call] = result.tool_calls
    # string-typed in the schema: the documented string values stay strings
    assert (call.name, call.arguments) == (
        "getWeather",
        {"latitude": "51.5074", "longitude": "-0.1278"},
    )
    assert result.finish_reason == "tool_calls"


def test_reject_if_busy_capacity_error_is_retried() -> None:
    client = WorkersAI(retry_policy=RetryPolicy(initial_delay=0.001, max_delay=0.001))
    result = client.chat(
        "@cf/google/gemma-4-26b-a4b-it",
        [{"role": "user", "content": "Explain what a capacity queue is."}],
        reject_if_busy=True,
    )
    assert result.text.startswith("A capacity queue")
