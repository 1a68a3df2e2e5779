"""Parallel tool calls streamed through ChatWorkersAI (loopback server).

Two or three calls in one streamed turn — two of them to the same tool — in both stream
formats (native ``/ai/run`` top-level ``tool_calls`` deltas, reference §3.3; OpenAI
``choices[0].delta.tool_calls``, reference §4), through ``stream``, ``astream``,
``invoke``/``ainvoke`` with ``streaming=True`` and two agents. Each call must come out with
its own name, id and arguments: LangChain merges ``tool_call_chunks`` by ``index``, so a
chunk conversion that loses the index merges Rome and Paris into one call.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolMessage
from langchain_core.tools import tool

from langchain_workersai import ChatWorkersAI
from tests._tool_call_streams import (
    CALL_SETS,
    FINAL_ANSWER,
    FORMATS,
    LAYOUTS,
    PROMPT,
    THREE_CALLS,
    TWO_CALLS,
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


def _llm(server: WorkersAIServer, fmt: Format, **kwargs: Any) -> ChatWorkersAI:
    return ChatWorkersAI(**loopback_connection(server), **model_for(fmt), **kwargs)


def _expected(calls: Sequence[Call]) -> list[dict[str, Any]]:
    return [{"name": c.name, "args": c.args, "id": c.id, "type": "tool_call"} for c in calls]


def _check_calls(message: AIMessage, calls: Sequence[Call]) -> None:
    """Every call separately: its name, its id and its parsed arguments, in order."""
    assert message.invalid_tool_calls == []
    assert len(message.tool_calls) == len(calls)
    for got, want in zip(message.tool_calls, calls, strict=True):
        assert (got["name"], got["id"], got["args"]) == (want.name, want.id, want.args)
    assert message.tool_calls == _expected(calls)


def _check_chunks(chunks: Sequence[AIMessageChunk], calls: Sequence[Call]) -> None:
    """The chunks carry each call under its own index; their sum is the calls."""
    pieces = [p for chunk in chunks for p in chunk.tool_call_chunks]
    starts = [p for p in pieces if p["id"]]
    assert [(p["id"], p["name"]) for p in starts] == [(c.id, c.name) for c in calls]
    index_of = {p["id"]: p["index"] for p in starts}
    assert len(set(index_of.values())) == len(calls)  # one index per call
    for call in calls:
        own = [p for p in pieces if p["index"] == index_of[call.id]]
        assert "".join(p["args"] or "" for p in own).replace(" ", "") == call.arguments.replace(
            " ", ""
        )
    full = chunks[0]
    for chunk in chunks[1:]:
        full += chunk
    _check_calls(full, calls)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("calls", list(CALL_SETS.values()), ids=list(CALL_SETS))
@pytest.mark.parametrize("fmt", FORMATS)
class TestStreamedParallelCalls:
    def test_stream(
        self, server: WorkersAIServer, fmt: Format, calls: Sequence[Call], layout: Layout
    ) -> None:
        server.enqueue(tool_call_stream(fmt, calls, layout))
        chunks = list(_llm(server, fmt).stream(PROMPT))
        _check_chunks(chunks, calls)
        assert chunks[-1].response_metadata["finish_reason"] == "tool_calls"
        assert server.requests[0].json()["stream"] is True

    def test_astream(
        self, server: WorkersAIServer, fmt: Format, calls: Sequence[Call], layout: Layout
    ) -> None:
        server.enqueue(tool_call_stream(fmt, calls, layout))

        async def collect() -> list[AIMessageChunk]:
            return [chunk async for chunk in _llm(server, fmt).astream(PROMPT)]

        chunks = asyncio.run(collect())
        _check_chunks(chunks, calls)
        assert chunks[-1].response_metadata["finish_reason"] == "tool_calls"

    def test_invoke_with_streaming(
        self, server: WorkersAIServer, fmt: Format, calls: Sequence[Call], layout: Layout
    ) -> None:
        server.enqueue(tool_call_stream(fmt, calls, layout))
        message = _llm(server, fmt, streaming=True).invoke(PROMPT)
        assert server.requests[0].json()["stream"] is True
        assert isinstance(message, AIMessage)
        _check_calls(message, calls)
        assert message.response_metadata["finish_reason"] == "tool_calls"

    def test_ainvoke_with_streaming(
        self, server: WorkersAIServer, fmt: Format, calls: Sequence[Call], layout: Layout
    ) -> None:
        server.enqueue(tool_call_stream(fmt, calls, layout))
        message = asyncio.run(_llm(server, fmt, streaming=True).ainvoke(PROMPT))
        assert server.requests[0].json()["stream"] is True
        assert isinstance(message, AIMessage)
        _check_calls(message, calls)


def test_bound_tools_stream_the_same_calls(server: WorkersAIServer) -> None:
    """With tools bound (what agents do) the calls stream the same, and the tools are sent."""
    server.enqueue(tool_call_stream("native", THREE_CALLS, "interleaved"))
    llm = _llm(server, "native").bind_tools([get_weather, get_local_time])
    chunks = [c for c in llm.stream(PROMPT) if isinstance(c, AIMessageChunk)]
    _check_chunks(chunks, THREE_CALLS)
    sent = server.requests[0].json()["tools"]
    assert [t["function"]["name"] for t in sent] == ["get_weather", "get_local_time"]


# -- agents ---------------------------------------------------------------------------------


@tool
def get_weather(city: str) -> str:
    """The current weather in a city."""
    return tool_result(Call("", "get_weather", {"city": city}))


@tool
def get_local_time(city: str, utc_offset: int) -> str:
    """The local time zone of a city, as an offset from UTC in hours."""
    return tool_result(Call("", "get_local_time", {"city": city, "utc_offset": utc_offset}))


TOOLS = [get_weather, get_local_time]


def _langgraph_agent(llm: ChatWorkersAI) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # moved to langchain.agents
        from langgraph.prebuilt import create_react_agent

        return create_react_agent(llm, TOOLS)


def _langchain_agent(llm: ChatWorkersAI) -> Any:
    from langchain.agents import create_agent

    return create_agent(llm, TOOLS)


AGENTS: dict[str, Callable[[ChatWorkersAI], Any]] = {
    "langgraph": _langgraph_agent,
    "langchain": _langchain_agent,
}


def _check_agent_run(
    server: WorkersAIServer, messages: Sequence[BaseMessage], calls: Sequence[Call]
) -> None:
    asked = [m for m in messages if isinstance(m, AIMessage) and m.tool_calls]
    assert len(asked) == 1
    _check_calls(asked[0], calls)
    # each tool ran once, with its own call's arguments, and answered under its call's id
    results = {m.tool_call_id: m.content for m in messages if isinstance(m, ToolMessage)}
    assert results == {c.id: tool_result(c) for c in calls}
    final = messages[-1]
    assert isinstance(final, AIMessage) and final.content == FINAL_ANSWER
    # the second request sends every call back with its id and arguments, and each result
    assert len(server.requests) == 2
    sent, sent_results = wire_tool_turn(server.requests[1].json())
    assert sent == [{"id": c.id, "name": c.name, "args": c.args} for c in calls]
    assert sent_results == {c.id: tool_result(c) for c in calls}


@pytest.mark.parametrize("agent", list(AGENTS))
@pytest.mark.parametrize("fmt", FORMATS)
def test_agent_runs_each_streamed_call(server: WorkersAIServer, fmt: Format, agent: str) -> None:
    server.handler = AgentTurns(fmt, THREE_CALLS, "interleaved")
    graph = AGENTS[agent](_llm(server, fmt, streaming=True))
    state = graph.invoke({"messages": [("human", PROMPT)]})
    _check_agent_run(server, state["messages"], THREE_CALLS)


@pytest.mark.parametrize("agent", list(AGENTS))
@pytest.mark.parametrize("fmt", FORMATS)
def test_async_agent_runs_each_streamed_call(
    server: WorkersAIServer, fmt: Format, agent: str
) -> None:
    server.handler = AgentTurns(fmt, TWO_CALLS)
    graph = AGENTS[agent](_llm(server, fmt, streaming=True))
    state = asyncio.run(graph.ainvoke({"messages": [("human", PROMPT)]}))
    _check_agent_run(server, state["messages"], TWO_CALLS)


@pytest.mark.parametrize("fmt", FORMATS)
def test_agent_message_stream_carries_each_call(server: WorkersAIServer, fmt: Format) -> None:
    """``stream_mode="messages"`` (no ``streaming=True``): the agent streams the model and
    hands its chunks on as they come; they add up to the three calls."""
    server.handler = AgentTurns(fmt, THREE_CALLS)
    graph = _langchain_agent(_llm(server, fmt))
    streamed: list[AIMessageChunk] = []
    state = None
    for mode, payload in graph.stream(
        {"messages": [("human", PROMPT)]}, stream_mode=["messages", "values"]
    ):
        if mode == "messages":
            chunk, _metadata = payload
            if isinstance(chunk, AIMessageChunk) and chunk.tool_call_chunks:
                streamed.append(chunk)
        else:
            state = payload
    _check_chunks(streamed, THREE_CALLS)
    assert state is not None
    _check_agent_run(server, state["messages"], THREE_CALLS)
