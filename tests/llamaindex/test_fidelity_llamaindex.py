"""The quirks of issues 16 and 17 through LlamaIndex's ``WorkersAI``: chat, stream_chat,
predict_and_call and structured_predict get the right result from the core's handling.

The answers are scripted on the loopback server in the shapes of ``tests/core/test_fidelity.py``
(sources there, and in the wire reference §10).
"""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

from llamaindex_workersai import WorkersAI
from tests.conftest import LOOPBACK, loopback_connection
from workersai import ModelInputError, UnexpectedResponseError
from workersai.testing import Reply, WorkersAIServer

pytestmark = LOOPBACK

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
GLM = "@cf/zai-org/glm-4.7-flash"
GPT_OSS = "@cf/openai/gpt-oss-120b"
USER = [ChatMessage(role="user", content="What is on?")]


def search_events(date_from: str, date_to: str = "") -> str:
    """Events between two dates."""
    return f"nothing from {date_from} to {date_to or 'then'}"


class Person(BaseModel):
    """A person mentioned in the text."""

    name: str
    age: int


def _llm(server: WorkersAIServer, model: str = LLAMA) -> WorkersAI:
    return WorkersAI(model=model, **loopback_connection(server))


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
    }


def test_chat_reads_a_bare_result_and_an_event_stream(server: WorkersAIServer) -> None:
    # BerriAI/litellm#29353; workers-ai-provider 3.0.5 (proxies that force streaming).
    server.enqueue(
        Reply.json({"result": {"response": "From a proxy."}}),
        Reply.sse([{"response": "Streamed", "p": "ab"}, {"response": " anyway."}]),
    )
    llm = _llm(server)
    assert llm.chat(USER).message.content == "From a proxy."
    assert llm.chat(USER).message.content == "Streamed anyway."


def test_chat_refuses_a_portal_page_and_reads_every_error_body(server: WorkersAIServer) -> None:
    server.enqueue(
        Reply.html(200, "<html><body>Log in to continue</body></html>"),
        Reply.json({"message": "AiError: 5006: Error: oneOf at '/' not met"}, 400),
    )
    with pytest.raises(UnexpectedResponseError, match="text/html"):
        _llm(server).chat(USER)
    with pytest.raises(ModelInputError) as info:  # a proxy's top-level message (issue 17.5)
        _llm(server).chat(USER)
    assert info.value.code == 5006 and "oneOf" in str(info.value)


def test_stream_chat_merges_usage_counted_in_two_reports(server: WorkersAIServer) -> None:
    # §10.8: 39/0/39 then 0/1/1.
    server.enqueue(
        Reply.sse(
            [
                {"response": "Hi", "p": "ab"},
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
    *_, last = _llm(server).stream_chat(USER)
    assert last.message.content == "Hi"
    usage = last.additional_kwargs
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (
        39,
        1,
        40,
    )


def test_stream_chat_arguments_before_the_name_and_split_usage(server: WorkersAIServer) -> None:
    # cloudflare/ai#523 (GLM), and usage counted in two reports (§10.8).
    def delta(call: dict[str, Any]) -> dict[str, Any]:
        return {"choices": [{"index": 0, "delta": {"tool_calls": [call]}}]}

    server.enqueue(
        Reply.sse(
            [
                delta(
                    {
                        "index": 0,
                        "id": "chatcmpl-tool-8c44",
                        "function": {"arguments": '{"date_from": '},
                    }
                ),
                delta(
                    {
                        "index": 0,
                        "function": {"name": "search_events", "arguments": '"2026-05-05"}'},
                    }
                ),
                {
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}],
                    "usage": {"prompt_tokens": 39, "completion_tokens": 0, "total_tokens": 39},
                },
                {
                    "response": "",
                    "usage": {"prompt_tokens": 0, "completion_tokens": 12, "total_tokens": 12},
                },
            ]
        )
    )
    llm = _llm(server, GLM)
    tool = FunctionTool.from_defaults(fn=search_events)
    *_, last = llm.stream_chat_with_tools([tool], chat_history=USER)
    [selection] = llm.get_tool_calls_from_response(last, error_on_no_tool_call=True)
    assert (selection.tool_id, selection.tool_name, selection.tool_kwargs) == (
        "chatcmpl-tool-8c44",
        "search_events",
        {"date_from": "2026-05-05"},
    )
    usage = last.additional_kwargs
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (
        39,
        12,
        51,
    )


def test_predict_and_call_with_flat_arguments_in_text(server: WorkersAIServer) -> None:
    # cloudflare/ai#574: gpt-oss writes the call as text, its arguments beside the name.
    server.enqueue(
        Reply.result(_completion('{"name": "search_events", "date_from": "2026-05-05"}'))
    )
    tool = FunctionTool.from_defaults(fn=search_events)
    response = _llm(server, GPT_OSS).predict_and_call([tool], "What is on from May 5th?")
    assert response.response == "nothing from 2026-05-05 to then"


def test_predict_and_call_does_not_invent_a_call(server: WorkersAIServer) -> None:
    # A leaked harmony channel is not a call: the answer stays text (cloudflare/ai#574).
    leak = '{"name": "analysis", "text": "Look up events."}'
    server.enqueue(Reply.result(_completion(leak)))
    tool = FunctionTool.from_defaults(fn=search_events)
    response = _llm(server, GPT_OSS).predict_and_call(
        [tool], "What is on?", error_on_no_tool_call=False, tool_required=True
    )
    assert server.requests[0].json()["tool_choice"]["function"]["name"] == "search_events"
    assert response.sources == [] and leak in response.response


def test_structured_predict_keeps_the_schema_name_and_description(
    server: WorkersAIServer,
) -> None:
    # cloudflare/ai#559: the JSON-schema request names its schema on /ai/run.
    server.enqueue(Reply.result({"response": {"name": "Ada", "age": 36}}))
    person = _llm(server).structured_predict(
        Person, PromptTemplate("Who is in: {text}"), text="Ada, 36"
    )
    assert person == Person(name="Ada", age=36)
    schema = server.requests[0].json()["response_format"]["json_schema"]
    assert (
        schema["title"] == "Person" and schema["description"] == "A person mentioned in the text."
    )
    # A caller's envelope keeps its name and description the same way.
    server.enqueue(Reply.result({"response": {"name": "Ada"}}))
    envelope = {
        "type": "json_schema",
        "json_schema": {
            "name": "Someone",
            "description": "Who it is",
            "schema": {"type": "object"},
        },
    }
    _llm(server).chat(USER, response_format=envelope)
    sent = server.requests[1].json()["response_format"]["json_schema"]
    assert (sent["title"], sent["description"]) == ("Someone", "Who it is")
