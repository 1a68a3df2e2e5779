"""Parallel tool calls streamed through the LlamaIndex ``WorkersAI`` LLM (loopback server).

``stream_chat``/``astream_chat`` yield the whole message so far after every chunk; the
adapter accumulates the tool-call fragments by ``index``. Two or three calls in one turn, in
both stream formats (reference §3.3 and §4): every response along the way must show each
call under its own id and name with its own arguments so far, and the last one the parsed
arguments — and a ``FunctionAgent`` must run each call with its own arguments.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import pytest
from llama_index.core.agent.workflow import AgentStream, FunctionAgent, ToolCallResult
from llama_index.core.base.llms.types import ChatResponse, ToolCallBlock
from llama_index.core.tools import FunctionTool

from llamaindex_workersai import WorkersAI
from tests._tool_call_streams import (
    CALL_SETS,
    FINAL_ANSWER,
    FORMATS,
    LAYOUTS,
    PROMPT,
    THREE_CALLS,
    AgentTurns,
    Call,
    Format,
    Layout,
    model_for,
    tool_call_stream,
    tool_result,
    wire_tool_turn,
)
from tests.conftest import loopback_connection
from workersai.testing import WorkersAIServer

# llama-index-workflows inspects agents with inspect.getmembers, which touches pydantic's
# deprecated attributes; the warnings are theirs, not ours.
WORKFLOW_WARNINGS = "ignore:.*deprecated.*:DeprecationWarning:inspect"


def get_weather(city: str) -> str:
    """The current weather in a city."""
    return tool_result(Call("", "get_weather", {"city": city}))


def get_local_time(city: str, utc_offset: int) -> str:
    """The local time zone of a city, as an offset from UTC in hours."""
    return tool_result(Call("", "get_local_time", {"city": city, "utc_offset": utc_offset}))


TOOLS = [FunctionTool.from_defaults(fn=get_weather), FunctionTool.from_defaults(fn=get_local_time)]


def _llm(server: WorkersAIServer, fmt: Format) -> WorkersAI:
    return WorkersAI(**loopback_connection(server), **model_for(fmt))


def _squeezed(text: str) -> str:
    return text.replace(" ", "")


def _check_responses(
    llm: WorkersAI, responses: Sequence[ChatResponse], calls: Sequence[Call]
) -> None:
    expected_heads = [(c.id, c.name) for c in calls]
    for response in responses[:-1]:
        # the message so far: calls in order, each with a prefix of its own arguments
        blocks = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
        assert [(b.tool_call_id, b.tool_name) for b in blocks] == expected_heads[: len(blocks)]
        for block, call in zip(blocks, calls, strict=False):
            assert isinstance(block.tool_kwargs, str)
            assert _squeezed(call.arguments).startswith(_squeezed(block.tool_kwargs))
    # the last content response carries every call's whole arguments text
    before_final = [b for b in responses[-2].message.blocks if isinstance(b, ToolCallBlock)]
    assert [json.loads(str(b.tool_kwargs)) for b in before_final] == [c.args for c in calls]
    # the final response: parsed arguments, and the OpenAI form beside the blocks
    final = responses[-1]
    selections = llm.get_tool_calls_from_response(final)
    assert len(selections) == len(calls)
    for selection, call in zip(selections, calls, strict=True):
        assert (selection.tool_id, selection.tool_name, selection.tool_kwargs) == (
            call.id,
            call.name,
            call.args,
        )
    openai_form = final.message.additional_kwargs["tool_calls"]
    assert [(c["id"], c["function"]["name"]) for c in openai_form] == expected_heads
    assert [json.loads(c["function"]["arguments"]) for c in openai_form] == [c.args for c in calls]
    assert final.additional_kwargs["finish_reason"] == "tool_calls"


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("calls", list(CALL_SETS.values()), ids=list(CALL_SETS))
@pytest.mark.parametrize("fmt", FORMATS)
class TestStreamedParallelCalls:
    def test_stream_chat_with_tools(
        self, server: WorkersAIServer, fmt: Format, calls: Sequence[Call], layout: Layout
    ) -> None:
        server.enqueue(tool_call_stream(fmt, calls, layout))
        llm = _llm(server, fmt)
        responses = list(
            llm.stream_chat_with_tools(TOOLS, user_msg=PROMPT, allow_parallel_tool_calls=True)
        )
        _check_responses(llm, responses, calls)
        body = server.requests[0].json()
        assert body["stream"] is True
        assert [t["function"]["name"] for t in body["tools"]] == ["get_weather", "get_local_time"]

    def test_astream_chat_with_tools(
        self, server: WorkersAIServer, fmt: Format, calls: Sequence[Call], layout: Layout
    ) -> None:
        server.enqueue(tool_call_stream(fmt, calls, layout))
        llm = _llm(server, fmt)

        async def collect() -> list[ChatResponse]:
            stream = await llm.astream_chat_with_tools(
                TOOLS, user_msg=PROMPT, allow_parallel_tool_calls=True
            )
            return [response async for response in stream]

        _check_responses(llm, asyncio.run(collect()), calls)


@pytest.mark.filterwarnings(WORKFLOW_WARNINGS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_streaming_function_agent_runs_each_call(server: WorkersAIServer, fmt: Format) -> None:
    server.handler = AgentTurns(fmt, THREE_CALLS, "interleaved")
    agent = FunctionAgent(tools=TOOLS, llm=_llm(server, fmt), streaming=True)

    async def run() -> tuple[str, list[ToolCallResult], list[AgentStream]]:
        handler = agent.run(user_msg=PROMPT)
        results: list[ToolCallResult] = []
        deltas: list[AgentStream] = []
        async for event in handler.stream_events():
            if isinstance(event, ToolCallResult):
                results.append(event)
            elif isinstance(event, AgentStream):
                deltas.append(event)
        return str(await handler), results, deltas

    answer, results, streamed = asyncio.run(run())
    by_id = {r.tool_id: r for r in results}
    assert sorted(by_id) == sorted(c.id for c in THREE_CALLS)
    for call in THREE_CALLS:
        result = by_id[call.id]
        assert (result.tool_name, result.tool_kwargs) == (call.name, call.args)
        assert result.tool_output.raw_output == tool_result(call)
    # the agent streamed the calls as they came, each under its own id; before the final
    # response (the one with ``raw``) every call was there with its whole arguments
    with_calls = [e for e in streamed if e.tool_calls]
    expected = [(c.id, c.name, c.args) for c in THREE_CALLS]
    for event in with_calls:
        heads = [(t.tool_id, t.tool_name) for t in event.tool_calls]
        assert heads == [(c.id, c.name) for c in THREE_CALLS][: len(heads)]
    in_progress = [e for e in with_calls if e.raw is None]
    assert [(t.tool_id, t.tool_name, t.tool_kwargs) for t in in_progress[-1].tool_calls] == expected
    assert [(t.tool_id, t.tool_name, t.tool_kwargs) for t in with_calls[-1].tool_calls] == expected
    assert answer == FINAL_ANSWER
    sent, sent_results = wire_tool_turn(server.requests[1].json())
    assert sent == [{"id": c.id, "name": c.name, "args": c.args} for c in THREE_CALLS]
    assert sent_results == {c.id: tool_result(c) for c in THREE_CALLS}
