"""The quirks of issues 16 and 17 through ``ChatWorkersAI``: the core handles each once, and
LangChain's invoke, stream, bind_tools and with_structured_output get the right result.

The answers are scripted on the loopback server in the shapes of ``tests/core/test_fidelity.py``
(sources there, and in the wire reference §10).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.exceptions import ModelAPIError, ModelAuthenticationError
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from langchain_workersai import ChatWorkersAI
from tests.conftest import loopback_connection
from workersai.testing import Reply, WorkersAIServer

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
GLM = "@cf/zai-org/glm-4.7-flash"
GPT_OSS = "@cf/openai/gpt-oss-120b"


@tool
def search_events(date_from: str, date_to: str | None = None) -> str:
    """Events between two dates."""
    return "none"


@tool
def read_skill_resource(path: str) -> str:
    """Read a file of the skill."""
    return "ok"


class Person(BaseModel):
    """A person mentioned in the text."""

    name: str = Field(description="Their name")
    age: int


def _llm(server: WorkersAIServer, model: str = LLAMA, **kwargs: Any) -> ChatWorkersAI:
    return ChatWorkersAI(model=model, **loopback_connection(server), **kwargs)


def _stream(llm: Any, prompt: str) -> AIMessageChunk:
    full: AIMessageChunk | None = None
    for chunk in llm.stream(prompt):
        full = chunk if full is None else full + chunk
    assert full is not None
    return full


def _completion(content: str) -> dict[str, Any]:
    return {
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "tool_calls": []},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 40, "completion_tokens": 9, "total_tokens": 49},
    }


def _delta(call: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": finish}]}


def test_stream_arguments_before_the_name(server: WorkersAIServer) -> None:
    # cloudflare/ai#523: GLM streams argument fragments before the name.
    server.enqueue(
        Reply.sse(
            [
                _delta(
                    {
                        "index": 0,
                        "id": "chatcmpl-tool-8c44c406fd8e4882",
                        "function": {"arguments": '{"date_from": "2026-05-05"'},
                    }
                ),
                _delta(
                    {
                        "index": 0,
                        "function": {
                            "name": "search_events",
                            "arguments": ', "date_to": "2026-05-06"}',
                        },
                    }
                ),
                {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
            ]
        )
    )
    message = _stream(_llm(server, GLM).bind_tools([search_events]), "What is on?")
    assert message.tool_calls == [
        {
            "name": "search_events",
            "args": {"date_from": "2026-05-05", "date_to": "2026-05-06"},
            "id": "chatcmpl-tool-8c44c406fd8e4882",
            "type": "tool_call",
        }
    ]
    assert message.invalid_tool_calls == []


def test_bind_tools_flat_arguments_and_no_invented_calls(server: WorkersAIServer) -> None:
    # cloudflare/ai#574: flat arguments beside the name; then a leaked harmony channel,
    # which is not a call of the forced tool.
    flat = '{"name": "read_skill_resource", "path": "feedback.txt"}'
    leak = '{"name": "analysis", "text": "The user wants a file."}'
    server.enqueue(Reply.result(_completion(flat)), Reply.result(_completion(leak)))
    llm = _llm(server, GPT_OSS).bind_tools([read_skill_resource], tool_choice="read_skill_resource")
    called = llm.invoke("Read the feedback")
    assert isinstance(called, AIMessage)
    assert [(c["name"], c["args"]) for c in called.tool_calls] == [
        ("read_skill_resource", {"path": "feedback.txt"})
    ]
    leaked = llm.invoke("Read the feedback")
    assert leaked.tool_calls == [] and leaked.content == leak
    assert leaked.response_metadata["finish_reason"] == "stop"


def test_with_structured_output_from_flat_arguments_in_text(server: WorkersAIServer) -> None:
    # gpt-oss writes the forced Person call as JSON text (cloudflare/ai#560): its bare
    # arguments, whose "name" is the person's, not a tool's.
    server.enqueue(Reply.result(_completion('{"name": "Ada", "age": 36}')))
    structured = _llm(server, GPT_OSS).with_structured_output(Person)
    assert structured.invoke("Ada, 36") == Person(name="Ada", age=36)


def test_with_structured_output_json_schema_keeps_name_and_description(
    server: WorkersAIServer,
) -> None:
    # cloudflare/ai#559: on /ai/run the bare schema carries the title and description.
    server.enqueue(Reply.result({"response": {"name": "Ada", "age": 36}}))
    structured = _llm(server).with_structured_output(Person, method="json_schema")
    assert structured.invoke("Ada, 36") == Person(name="Ada", age=36)
    schema = server.requests[0].json()["response_format"]["json_schema"]
    assert (
        schema["title"] == "Person" and schema["description"] == "A person mentioned in the text."
    )
    # An OpenAI-style envelope passed through bind: its name and description survive too.
    server.enqueue(Reply.result({"response": {"name": "Ada", "age": 36}}))
    envelope = {
        "type": "json_schema",
        "json_schema": {
            "name": "Someone",
            "description": "Who it is",
            "schema": {"type": "object", "properties": {"name": {"type": "string"}}},
        },
    }
    _llm(server).bind(response_format=envelope).invoke("Ada")
    sent = server.requests[1].json()["response_format"]["json_schema"]
    assert (sent["title"], sent["description"]) == ("Someone", "Who it is")


def test_invoke_a_bare_result_and_an_event_stream(server: WorkersAIServer) -> None:
    # BerriAI/litellm#29353 (bare result), workers-ai-provider 3.0.5 (forced streaming).
    server.enqueue(
        Reply.json({"result": {"response": "From a proxy."}}),
        Reply.sse(
            [
                {"response": "Streamed", "p": "abc"},
                {
                    "response": " anyway.",
                    "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
                },
            ]
        ),
    )
    llm = _llm(server)
    assert llm.invoke("hi").content == "From a proxy."
    streamed_anyway = llm.invoke("hi")
    assert streamed_anyway.content == "Streamed anyway."
    assert isinstance(streamed_anyway, AIMessage)
    assert streamed_anyway.usage_metadata is not None
    assert streamed_anyway.usage_metadata["total_tokens"] == 8


def test_stream_usage_split_across_chunks(server: WorkersAIServer) -> None:
    # §10.8: 39/0/39 then 0/1/1 is 39 in, 1 out, 40 in all.
    server.enqueue(
        Reply.sse(
            [
                {"response": "Hi", "p": "abc"},
                {
                    "response": "",
                    "usage": {"prompt_tokens": 39, "completion_tokens": 0, "total_tokens": 39},
                },
                {
                    "response": "",
                    "usage": {"prompt_tokens": 0, "completion_tokens": 1, "total_tokens": 1},
                },
            ]
        )
    )
    message = _stream(_llm(server), "hi")
    assert message.usage_metadata is not None
    assert (
        message.usage_metadata["input_tokens"],
        message.usage_metadata["output_tokens"],
        message.usage_metadata["total_tokens"],
    ) == (39, 1, 40)


def test_error_bodies_and_portal_pages_are_langchain_errors(server: WorkersAIServer) -> None:
    # AI Gateway's error list (2009) and a captive portal's 200 HTML page.
    server.enqueue(
        Reply.json(
            {
                "success": False,
                "error": [{"code": 2009, "message": "Unauthorized"}],
                "name": "AiGatewayError",
                "httpCode": 401,
            },
            401,
        ),
        Reply.html(200, "<html><body>Log in to the hotel Wi-Fi</body></html>"),
    )
    llm = _llm(server)
    with pytest.raises(ModelAuthenticationError) as auth:
        llm.invoke("hi")
    assert getattr(auth.value, "code", None) == 2009
    with pytest.raises(ModelAPIError, match="text/html"):
        llm.invoke("hi")
    assert json.loads(server.requests[0].body)["messages"][0]["content"] == "hi"
