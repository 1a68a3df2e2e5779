"""ChatWorkersAI inside LangChain and LangGraph, unmodified, replayed from cassettes:
an LCEL chain, a streamed chain, ``astream_events``, a ``langgraph`` ReAct agent and
``langchain.agents.create_agent`` completing a two-tool task."""

from __future__ import annotations

import warnings

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool

from langchain_workersai import ChatWorkersAI
from tests.compose.chat import AGENT_PROMPT, LLAMA_33, SCOUT

pytestmark = pytest.mark.vcr

ANSWER = "Zurich has about 5,041 inhabitants per km² (443,037 people on 87.88 km²)."


@tool
def get_population(city: str) -> str:
    """Number of inhabitants of a city."""
    return "Zurich has 443,037 inhabitants."


@tool
def get_area(city: str) -> str:
    """Area of a city in square kilometres."""
    return "Zurich covers 87.88 km²."


def _check_run(messages: list[object]) -> None:
    calls = [m for m in messages if isinstance(m, AIMessage) and m.tool_calls]
    assert len(calls) == 1
    assert sorted(c["name"] for c in calls[0].tool_calls) == ["get_area", "get_population"]
    results = [m for m in messages if isinstance(m, ToolMessage)]
    assert sorted(str(m.content) for m in results) == [
        "Zurich covers 87.88 km².",
        "Zurich has 443,037 inhabitants.",
    ]
    assert {m.tool_call_id for m in results} == {c["id"] for c in calls[0].tool_calls}
    final = messages[-1]
    assert isinstance(final, AIMessage)
    assert final.content == ANSWER


def test_lcel_chain() -> None:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer in one short line."), ("human", "{question}")]
    )
    chain = prompt | ChatWorkersAI(model=LLAMA_33) | StrOutputParser()
    assert chain.invoke({"question": "Name three primary colors."}) == "Red, yellow and blue."


def test_streamed_chain() -> None:
    chain = (
        ChatPromptTemplate.from_messages([("human", "{request}")])
        | ChatWorkersAI(model=SCOUT, endpoint="openai")
        | StrOutputParser()
    )
    pieces = list(chain.stream({"request": "Write one sentence about the sea."}))
    assert len(pieces) > 5
    assert "".join(pieces) == "The sea keeps every secret the shore forgets."


async def test_astream_events() -> None:
    llm = ChatWorkersAI(model=SCOUT, endpoint="openai")
    tokens: list[str] = []
    ended = None
    async for event in llm.astream_events("Write one sentence about the sea.", version="v2"):
        if event["event"] == "on_chat_model_stream":
            tokens.append(event["data"]["chunk"].text)
        elif event["event"] == "on_chat_model_end":
            ended = event["data"]["output"]
    assert "".join(tokens) == "The sea keeps every secret the shore forgets."
    assert isinstance(ended, AIMessageChunk)
    assert ended.usage_metadata is not None
    assert ended.response_metadata["finish_reason"] == "stop"


def test_langgraph_react_agent() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # moved to langchain.agents
        from langgraph.prebuilt import create_react_agent

        agent = create_react_agent(ChatWorkersAI(model=LLAMA_33), [get_population, get_area])
    state = agent.invoke({"messages": [("human", AGENT_PROMPT)]})
    _check_run(state["messages"])


def test_langchain_create_agent_streaming() -> None:
    """``create_agent`` streaming its messages: tool calls arrive as ``tool_call_chunks``."""
    from langchain.agents import create_agent

    agent = create_agent(ChatWorkersAI(model=LLAMA_33), [get_population, get_area])
    streamed_tool_chunks = 0
    state = None
    for mode, payload in agent.stream(
        {"messages": [("human", AGENT_PROMPT)]}, stream_mode=["messages", "values"]
    ):
        if mode == "messages":
            chunk, _metadata = payload
            if isinstance(chunk, AIMessageChunk):
                streamed_tool_chunks += len(chunk.tool_call_chunks)
        else:
            state = payload
    assert streamed_tool_chunks == 2
    assert state is not None
    _check_run(state["messages"])
