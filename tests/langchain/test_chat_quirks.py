"""Each Workers AI quirk, end to end through ChatWorkersAI, replayed from cassettes.

Section numbers refer to the wire reference (``workers-ai-api.md``); the answers are
composed in ``tests/compose/chat.py``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.exceptions import (
    ModelInvalidRequestError,
    ModelNotFoundError,
    ModelRateLimitError,
)
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel
from vcr.cassette import Cassette

import workersai
from langchain_workersai import ChatWorkersAI
from langchain_workersai.chat_models import _convert_messages
from tests.compose.chat import (
    DEEPSEEK_CODER,
    GPT_OSS_20B,
    GPT_OSS_120B,
    HERMES,
    KIMI,
    LLAMA_33,
    MISTRAL_LORA,
    SCOUT,
)

pytestmark = pytest.mark.vcr


def _stream(llm: Any, messages: Any) -> AIMessageChunk:
    full: AIMessageChunk | None = None
    for chunk in llm.stream(messages):
        full = chunk if full is None else full + chunk
    assert full is not None
    return full


def _sent(vcr: Cassette, index: int = -1) -> dict[str, Any]:
    body = json.loads(vcr.requests[index].body)
    assert isinstance(body, dict)
    return body


@tool
def multiply(a: int, b: int, factors: list[int]) -> int:
    """Multiply a by b (factors lists both)."""
    return a * b


def test_legacy_tool_calls_with_string_values(vcr: Cassette) -> None:
    """§3.2.2: legacy calls have no id and send numbers as strings, lists as JSON text."""
    llm = ChatWorkersAI(model=HERMES).bind_tools([multiply], tool_choice="multiply")
    prompt = "How many legs do 4 spiders have? Use the calculator."
    invoked = llm.invoke(prompt)
    assert isinstance(invoked, AIMessage)
    streamed = _stream(llm, prompt)
    for message in (invoked, streamed):
        (call,) = message.tool_calls
        assert call["args"] == {"a": 4, "b": 8, "factors": [4, 8]}
        assert call["id"]
        assert call["id"].startswith("call_")
    assert invoked.response_metadata["finish_reason"] == "tool_calls"
    # The raw answers really carried strings (so the coercion above is the client's work).
    raw = json.loads(vcr.responses[0]["body"]["string"])
    assert raw["result"]["tool_calls"][0]["arguments"]["a"] == "4"

    answer = (
        ChatWorkersAI(model=HERMES)
        .bind_tools([multiply])
        .invoke(
            [
                HumanMessage(prompt),
                invoked,
                ToolMessage("32", tool_call_id=invoked.tool_calls[0]["id"]),
            ]
        )
    )
    assert answer.content == "Four spiders have 32 legs."


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"Cloudy in {city}."


def test_gpt_oss_leaked_forced_tool_call_is_salvaged(vcr: Cassette) -> None:
    """§3.2.8: gpt-oss writes a forced call as JSON text with empty tool_calls."""
    llm = ChatWorkersAI(model=GPT_OSS_120B).bind_tools([get_weather], tool_choice="get_weather")
    prompt = "Give me the weather in Lisbon as a tool call."
    invoked = llm.invoke(prompt)
    assert isinstance(invoked, AIMessage)
    streamed = _stream(llm, prompt)
    for message in (invoked, streamed):
        assert message.content == ""
        assert [(c["name"], c["args"]) for c in message.tool_calls] == [
            ("get_weather", {"city": "Lisbon"})
        ]
        assert message.response_metadata["finish_reason"] == "tool_calls"
        assert message.content_blocks[0]["type"] == "reasoning"
    # The stream request got an empty JSON answer (§3.3) and was sent again unstreamed.
    assert _sent(vcr, 1)["stream"] is True
    assert "stream" not in _sent(vcr, 2)


def test_gpt_oss_leak_in_an_openai_stream_is_salvaged() -> None:
    """The leak on ``/ai/v1``: JSON text deltas while a tool is forced become a tool call."""
    llm = ChatWorkersAI(model=GPT_OSS_20B, endpoint="openai")
    bound = llm.bind_tools([get_weather], tool_choice="get_weather")
    chunks = list(bound.stream("Give me the weather in Porto as a tool call."))
    assert all(c.content == "" for c in chunks)  # the JSON text is never streamed as text
    full = chunks[0]
    for chunk in chunks[1:]:
        full += chunk
    assert [(c["name"], c["args"]) for c in full.tool_calls] == [("get_weather", {"city": "Porto"})]
    assert full.response_metadata["finish_reason"] == "tool_calls"
    assert full.content_blocks[0] == {
        "type": "reasoning",
        "reasoning": "Call get_weather for Porto.",
    }


def test_kimi_turn_scoped_ids_are_unique_but_sent_back_verbatim(vcr: Cassette) -> None:
    """cloudflare/ai#526: Kimi numbers tool calls per turn ("functions.get_weather:0")."""
    llm = ChatWorkersAI(model=KIMI).bind_tools([get_weather])
    history: list[Any] = [HumanMessage("Check the weather in Oslo and in Bergen.")]
    ids = []
    for city in ("Oslo", "Bergen"):
        reply = llm.invoke(history)
        assert isinstance(reply, AIMessage)
        (call,) = reply.tool_calls
        assert call["args"] == {"city": city}
        ids.append(call["id"])
        history += [reply, get_weather.invoke(call)]
    final = llm.invoke(history)
    assert final.content == "Oslo is cloudy at 4°C and Bergen is rainy at 6°C."
    assert ids[0] != ids[1]  # unique within the conversation (LangGraph keys on them)
    assert all(i.startswith("functions.get_weather:0") for i in ids)
    # ...while the model gets back exactly the ids it produced
    sent = _sent(vcr, 2)["messages"]
    assert [m["tool_call_id"] for m in sent if m["role"] == "tool"] == [
        "functions.get_weather:0",
        "functions.get_weather:0",
    ]


def test_zero_usage_trailer_does_not_erase_usage() -> None:
    """§4: the OpenAI-compatible stream ends with a second terminal chunk of all-zero usage."""
    llm = ChatWorkersAI(model=SCOUT, endpoint="openai")
    chunks = list(llm.stream("Say something short."))
    with_usage = [c for c in chunks if c.usage_metadata]
    assert len(with_usage) == 1
    usage = with_usage[0].usage_metadata
    assert usage is not None
    assert usage["input_tokens"] > 0
    assert usage["output_tokens"] > 0
    assert with_usage[0] is chunks[-1]
    assert "".join(str(c.content) for c in chunks) == "Something short."
    assert chunks[-1].response_metadata["finish_reason"] == "stop"


def test_json_mode_response_object(vcr: Cassette) -> None:
    """§3.2.4: in JSON mode /ai/run answers with `response` as an object, not a string."""

    class Cat(BaseModel):
        name: str
        color: str

    llm = ChatWorkersAI(model=LLAMA_33)
    message = llm.invoke(
        "Describe a cat as JSON with name and color.", response_format={"type": "json_object"}
    )
    assert json.loads(str(message.content)) == {"name": "Mochi", "color": "grey"}
    structured = llm.with_structured_output(Cat, method="json_mode")
    assert structured.invoke("Describe a cat as JSON with name and color.") == Cat(
        name="Mochi", color="grey"
    )
    assert list(structured.stream("Describe a cat as JSON with name and color.")) == [
        Cat(name="Mochi", color="grey")
    ]
    assert all("stream" not in _sent(vcr, i) for i in range(len(vcr.requests)))


def test_reasoning_model_stream(vcr: Cassette) -> None:
    """gpt-oss on the OpenAI endpoint streams `reasoning_content` deltas before the answer."""
    llm = ChatWorkersAI(model=GPT_OSS_20B, endpoint="openai", reasoning_effort="low")
    prompt = "Is 9.11 larger than 9.9? Think first."
    full = _stream(llm, prompt)
    assert full.content == "No. 9.9 is larger than 9.11, because 0.90 > 0.11."
    reasoning = [b for b in full.content_blocks if b["type"] == "reasoning"]
    assert reasoning[0]["reasoning"].startswith("Compare the decimals")
    assert full.usage_metadata is not None
    assert full.usage_metadata["output_token_details"] == {"reasoning": 21}
    assert _sent(vcr)["reasoning_effort"] == "low"
    # v1 output puts the reasoning block in `content`; neither form is ever sent back.
    v1 = ChatWorkersAI(
        model=GPT_OSS_20B, endpoint="openai", reasoning_effort="low", output_version="v1"
    )
    message = v1.invoke(prompt, stream=True)
    assert [b["type"] for b in message.content] == ["reasoning", "text"]  # type: ignore[index]
    for history in ([HumanMessage(prompt), full], [HumanMessage(prompt), message]):
        sent = _convert_messages(history)[1]
        assert sent["content"] == "No. 9.9 is larger than 9.11, because 0.90 > 0.11."
        assert "Compare the decimals" not in json.dumps(sent)


def test_5006_is_surfaced_with_its_hint() -> None:
    """§2.3: content parts sent to a text-only model (one the bundled catalog does not know,
    so the client could not refuse the image itself)."""
    llm = ChatWorkersAI(model=DEEPSEEK_CODER)
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    with pytest.raises(ModelInvalidRequestError) as info:
        llm.invoke([HumanMessage(["Describe this picture in five words.", image])])
    error = info.value
    assert isinstance(error, workersai.ModelInputError)
    assert error.code == 5006
    assert error.status_code == 400
    assert error.hint is not None
    assert "plain-text message content" in error.hint
    assert "Hint:" in str(error)


def test_7003_is_surfaced_with_its_hint() -> None:
    """§1.1: a malformed account id answers 404 with codes 7003 and 7000."""
    with pytest.raises(ModelNotFoundError) as info:
        ChatWorkersAI(model=LLAMA_33).invoke("Route this to a missing account.")
    error = info.value
    assert isinstance(error, workersai.RouteNotFoundError)
    assert error.codes == (7003, 7000)
    assert error.hint is not None
    assert "CLOUDFLARE_ACCOUNT_ID" in error.hint


def test_3040_is_retried_then_raised(vcr: Cassette) -> None:
    llm = ChatWorkersAI(model=LLAMA_33, max_retries=1)
    with pytest.raises(ModelRateLimitError) as info:
        llm.invoke("Tell me about capacity.")
    assert isinstance(info.value, workersai.CapacityExceededError)
    assert info.value.is_retryable
    assert info.value.retries_taken == 1
    assert len(vcr.requests) == 2


def test_invalid_tool_call_json_is_not_an_exception() -> None:
    llm = ChatWorkersAI(model=SCOUT, endpoint="openai").bind_tools([get_weather])
    message = llm.invoke("Reply with broken arguments.")
    assert isinstance(message, AIMessage)
    assert message.tool_calls == []
    (invalid,) = message.invalid_tool_calls
    assert invalid["name"] == "get_weather"
    assert invalid["args"] == '{"city": "Ro'
    assert invalid["error"]
    assert "not valid JSON" in invalid["error"]


@tool
def search_flights(origin: str, destination: str, day: int) -> str:
    """Search flights."""
    return "AZ 331 at 09:10"


def test_native_delta_stream_with_null_sentinel() -> None:
    """§3.3: native tool-call deltas (start, argument fragments, null sentinel)."""
    llm = ChatWorkersAI(model=SCOUT).bind_tools([search_flights])
    chunks = list(llm.stream("Find flights from Paris to Rome on May 3."))
    pieces = [c for chunk in chunks for c in chunk.tool_call_chunks]
    assert len(pieces) > 3  # really streamed in fragments
    assert pieces[0]["name"] == "search_flights"
    assert pieces[0]["id"]
    assert pieces[0]["id"].startswith("chatcmpl-tool-")
    assert {p["index"] for p in pieces} == {0}
    full = chunks[0]
    for chunk in chunks[1:]:
        full += chunk
    assert full.tool_calls[0]["args"] == {"origin": "Paris", "destination": "Rome", "day": 3}
    assert full.response_metadata["finish_reason"] == "tool_calls"


def test_lora_uses_the_prompt_branch(vcr: Cassette) -> None:
    llm = ChatWorkersAI(model=MISTRAL_LORA, lora="acme/support-lora")
    message = llm.invoke("Explain LoRA in one sentence.")
    assert message.content.startswith("LoRA fine-tunes")
    assert _sent(vcr) == {"prompt": "Explain LoRA in one sentence.", "lora": "acme/support-lora"}


def test_gateway_cache_status(vcr: Cassette) -> None:
    llm = ChatWorkersAI(model=LLAMA_33, gateway="docs-gateway")
    message = llm.invoke("Summarise this conversation.")
    assert message.response_metadata["gateway"]["cache_status"] == "MISS"
    streamed = _stream(llm, "Summarise this conversation.")
    assert streamed.response_metadata["gateway"]["cache_status"] == "MISS"
