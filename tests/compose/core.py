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


@scenario
def json_mode_country(request: RecordedRequest) -> Reply | None:
    # json_mode_json_schema_response_is_object.json: `response` is a JSON object
    body = request.json() or {}
    messages = body.get("messages") or []
    if not (
        messages
        and messages[-1].get("content") == "Tell me about India."
        and "response_format" in body
    ):
        return None
    return Reply.result(
        {
            "response": {
                "name": "India",
                "capital": "New Delhi",
                "languages": ["Hindi", "English", "Bengali"],
            },
            "usage": {"prompt_tokens": 45, "completion_tokens": 28, "total_tokens": 73},
        }
    )


@scenario
def legacy_weather_tool(request: RecordedRequest) -> Reply | None:
    # traditional_function_calling_legacy_tools.json: flat tool call, no id, string values
    body = request.json() or {}
    messages = body.get("messages") or []
    if request.model != "@hf/nousresearch/hermes-2-pro-mistral-7b" or not messages:
        return None
    if messages[-1].get("content") != "what is the weather in london?":
        return None
    return Reply.result(
        {
            "response": None,
            "tool_calls": [
                {"arguments": {"latitude": "51.5074", "longitude": "-0.1278"}, "name": "getWeather"}
            ],
            "usage": {"prompt_tokens": 211, "completion_tokens": 31, "total_tokens": 242},
        }
    )


_BUSY_SEEN: set[str] = set()


@scenario
def reject_if_busy_then_capacity(request: RecordedRequest) -> Reply | None:
    # reject_if_busy_429_3040.json: the first attempt is rejected with 429/3040, the retry passes
    body = request.json() or {}
    if body.get("options") != {"rejectIfBusy": True}:
        return None
    if request.model not in _BUSY_SEEN:
        _BUSY_SEEN.add(str(request.model))
        return Reply.error(429, 3040, "Capacity temporarily exceeded, please try again.")
    return Reply.result(
        {
            "response": "A capacity queue holds requests until a GPU is free.",
            "usage": {"prompt_tokens": 14, "completion_tokens": 12, "total_tokens": 26},
        }
    )
