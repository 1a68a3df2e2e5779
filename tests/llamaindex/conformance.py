"""A small standard suite for LlamaIndex function-calling LLMs (LlamaIndex ships none).

Mirrors langchain-tests: subclass :class:`LLMConformanceTests`, set ``llm_class`` and
``llm_params``, and every public method is exercised — chat, completion, tools, structured
output, each sync, async and streaming — plus the metadata and the credential hygiene of
``to_dict()`` / ``to_payload()``. Network tests use VCR cassettes named
``<TestClass>.<test>`` (``pytest.mark.vcr``).

The prompts come from :mod:`tests.llamaindex.prompts`; answers are checked for meaning
("lisbon" in the text), not for exact wording.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    LLMMetadata,
    MessageRole,
    ToolCallBlock,
)
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

from tests.llamaindex import prompts

SECRET_TOKEN = "conformance-secret-token-0123456789"
SECRET_ACCOUNT = "feedfacefeedfacefeedfacefeedface"


def get_weather(city: str, unit: str = "celsius") -> str:
    """Get the current weather for a city."""
    return f"Sunny, 24 °{'C' if unit == 'celsius' else 'F'} in {city}"


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


class Album(BaseModel):
    """A music album."""

    name: str
    artist: str
    year: int


ALBUM_PROMPT = PromptTemplate("Invent a music album inspired by {topic}.")
ALBUM_TOPIC = "the Atlantic ocean"
CHAT = [
    ChatMessage(role=MessageRole.SYSTEM, content="You are a terse geography assistant."),
    ChatMessage(role=MessageRole.USER, content=prompts.CAPITAL),
]


def _usage(response: ChatResponse | CompletionResponse) -> dict[str, Any]:
    kwargs = response.additional_kwargs
    return {
        k: kwargs[k] for k in ("prompt_tokens", "completion_tokens", "total_tokens") if k in kwargs
    }


class LLMConformanceTests:
    """Standard tests for a LlamaIndex ``FunctionCallingLLM``."""

    @property
    def llm_class(self) -> type[FunctionCallingLLM]:
        raise NotImplementedError

    @property
    def llm_params(self) -> dict[str, Any]:
        return {}

    @property
    def credential_params(self) -> dict[str, Any]:
        """Constructor arguments carrying the sentinel credentials."""
        return {"api_token": SECRET_TOKEN, "account_id": SECRET_ACCOUNT}

    @pytest.fixture
    def llm(self) -> FunctionCallingLLM:
        return self.llm_class(**self.llm_params)

    @pytest.fixture
    def weather_tool(self) -> FunctionTool:
        return FunctionTool.from_defaults(get_weather)

    @pytest.fixture
    def multiply_tool(self) -> FunctionTool:
        return FunctionTool.from_defaults(multiply)

    # -- helpers ----------------------------------------------------------------------

    def assert_final_usage(self, response: ChatResponse | CompletionResponse) -> None:
        usage = _usage(response)
        assert set(usage) == {"prompt_tokens", "completion_tokens", "total_tokens"}
        assert usage["prompt_tokens"] > 0
        assert usage["completion_tokens"] > 0
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]

    def assert_answer(self, response: ChatResponse) -> None:
        assert isinstance(response, ChatResponse)
        assert response.message.role == MessageRole.ASSISTANT
        assert "lisbon" in (response.message.content or "").lower()
        assert response.additional_kwargs["finish_reason"] == "stop"
        assert response.raw is not None
        self.assert_final_usage(response)

    def assert_stream(self, responses: Sequence[ChatResponse]) -> None:
        assert len(responses) >= 3, "expected several content deltas and a final response"
        *partial, final = responses
        text = ""
        for response in partial:
            assert response.delta, "content responses carry their delta"
            text += response.delta
            # each response carries the whole message so far
            assert response.message.content == text
            assert not _usage(response), "usage comes once, on the final response"
        assert final.message.content == text
        assert "lisbon" in text.lower()
        assert final.additional_kwargs["finish_reason"] == "stop"
        self.assert_final_usage(final)

    def assert_weather_call(self, llm: FunctionCallingLLM, response: ChatResponse) -> None:
        blocks = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
        assert len(blocks) == 1
        calls = llm.get_tool_calls_from_response(response)
        assert len(calls) == 1
        call = calls[0]
        assert call.tool_name == "get_weather"
        assert call.tool_kwargs == {"city": "Lisbon", "unit": "celsius"}
        assert call.tool_id, "tool calls always have an id (generated when the model sent none)"
        assert call.tool_id == blocks[0].tool_call_id
        assert response.additional_kwargs["finish_reason"] == "tool_calls"

    def assert_album(self, album: Any) -> None:
        assert isinstance(album, Album)
        assert album.name
        assert album.artist
        assert isinstance(album.year, int)
        assert 1900 < album.year < 2100

    # -- metadata and serialisation ----------------------------------------------------

    def test_metadata(self, llm: FunctionCallingLLM) -> None:
        metadata = llm.metadata
        assert isinstance(metadata, LLMMetadata)
        assert metadata.is_chat_model is True
        assert metadata.is_function_calling_model is True
        assert metadata.model_name == self.llm_params["model"]
        assert metadata.context_window > metadata.num_output > 0

    def test_serialization_has_no_credentials(self) -> None:
        llm = self.llm_class(**self.llm_params, **self.credential_params)
        texts = [
            json.dumps(llm.to_dict(), default=str),
            llm.to_json(),
            json.dumps(llm.to_payload(), default=str),
            repr(llm),
            str(llm),
        ]
        for text in texts:
            assert SECRET_TOKEN not in text
            assert SECRET_ACCOUNT not in text
        restored = self.llm_class.from_dict(llm.to_dict())
        assert restored.metadata == llm.metadata
        assert restored.to_dict() == llm.to_dict()

    # -- chat --------------------------------------------------------------------------

    @pytest.mark.vcr
    def test_chat(self, llm: FunctionCallingLLM) -> None:
        self.assert_answer(llm.chat(CHAT))

    @pytest.mark.vcr
    async def test_achat(self, llm: FunctionCallingLLM) -> None:
        self.assert_answer(await llm.achat(CHAT))

    @pytest.mark.vcr
    def test_stream_chat(self, llm: FunctionCallingLLM) -> None:
        self.assert_stream(list(llm.stream_chat(CHAT)))

    @pytest.mark.vcr
    async def test_astream_chat(self, llm: FunctionCallingLLM) -> None:
        self.assert_stream([r async for r in await llm.astream_chat(CHAT)])

    # -- completion --------------------------------------------------------------------

    @pytest.mark.vcr
    def test_complete(self, llm: FunctionCallingLLM) -> None:
        response = llm.complete(prompts.PROVERB)
        assert isinstance(response, CompletionResponse)
        assert "louder than words" in response.text
        self.assert_final_usage(response)

    @pytest.mark.vcr
    async def test_acomplete(self, llm: FunctionCallingLLM) -> None:
        response = await llm.acomplete(prompts.PROVERB)
        assert "louder than words" in response.text
        self.assert_final_usage(response)

    @pytest.mark.vcr
    def test_stream_complete(self, llm: FunctionCallingLLM) -> None:
        responses = list(llm.stream_complete(prompts.PROVERB))
        assert len(responses) >= 3
        assert "".join(r.delta or "" for r in responses) == responses[-1].text
        assert "louder than words" in responses[-1].text
        self.assert_final_usage(responses[-1])

    @pytest.mark.vcr
    async def test_astream_complete(self, llm: FunctionCallingLLM) -> None:
        responses = [r async for r in await llm.astream_complete(prompts.PROVERB)]
        assert len(responses) >= 3
        assert "".join(r.delta or "" for r in responses) == responses[-1].text
        assert "louder than words" in responses[-1].text
        self.assert_final_usage(responses[-1])

    # -- tools -------------------------------------------------------------------------

    @pytest.mark.vcr
    def test_chat_with_tools(self, llm: FunctionCallingLLM, weather_tool: FunctionTool) -> None:
        response = llm.chat_with_tools([weather_tool], user_msg=prompts.WEATHER)
        self.assert_weather_call(llm, response)

    @pytest.mark.vcr
    async def test_achat_with_tools(
        self, llm: FunctionCallingLLM, weather_tool: FunctionTool
    ) -> None:
        response = await llm.achat_with_tools([weather_tool], user_msg=prompts.WEATHER)
        self.assert_weather_call(llm, response)

    @pytest.mark.vcr
    def test_stream_chat_with_tools(
        self, llm: FunctionCallingLLM, weather_tool: FunctionTool
    ) -> None:
        responses = list(llm.stream_chat_with_tools([weather_tool], user_msg=prompts.WEATHER))
        assert len(responses) >= 2
        for partial in responses[:-1]:  # arguments still streaming: never an error
            llm.get_tool_calls_from_response(partial, error_on_no_tool_call=False)
        self.assert_weather_call(llm, responses[-1])

    @pytest.mark.vcr
    async def test_astream_chat_with_tools(
        self, llm: FunctionCallingLLM, weather_tool: FunctionTool
    ) -> None:
        stream = await llm.astream_chat_with_tools([weather_tool], user_msg=prompts.WEATHER)
        responses = [r async for r in stream]
        assert len(responses) >= 2
        self.assert_weather_call(llm, responses[-1])

    @pytest.mark.vcr
    def test_tool_result_round_trip(
        self, llm: FunctionCallingLLM, weather_tool: FunctionTool
    ) -> None:
        first = llm.chat_with_tools([weather_tool], user_msg=prompts.WEATHER)
        (call,) = llm.get_tool_calls_from_response(first)
        output = weather_tool.call(**call.tool_kwargs)
        history = [
            ChatMessage(role=MessageRole.USER, content=prompts.WEATHER),
            first.message,
            ChatMessage(
                role=MessageRole.TOOL,
                content=str(output),
                additional_kwargs={"tool_call_id": call.tool_id},
            ),
        ]
        final = llm.chat_with_tools([weather_tool], chat_history=history)
        assert "sunny" in (final.message.content or "").lower()
        assert llm.get_tool_calls_from_response(final, error_on_no_tool_call=False) == []
        with pytest.raises(ValueError, match="tool call"):
            llm.get_tool_calls_from_response(final)

    @pytest.mark.vcr
    def test_predict_and_call(self, llm: FunctionCallingLLM, multiply_tool: FunctionTool) -> None:
        response = llm.predict_and_call(
            [multiply_tool], user_msg=prompts.MULTIPLY, tool_required=True
        )
        assert response.response == "42"
        assert response.sources[0].raw_output == 42
        assert response.sources[0].raw_input == {"args": (), "kwargs": {"a": 6, "b": 7}}

    @pytest.mark.vcr
    async def test_apredict_and_call(
        self, llm: FunctionCallingLLM, multiply_tool: FunctionTool
    ) -> None:
        response = await llm.apredict_and_call(
            [multiply_tool], user_msg=prompts.MULTIPLY, tool_required=True
        )
        assert response.response == "42"
        assert response.sources[0].raw_output == 42

    # -- structured output -------------------------------------------------------------

    @pytest.mark.vcr
    def test_structured_predict(self, llm: FunctionCallingLLM) -> None:
        self.assert_album(llm.structured_predict(Album, ALBUM_PROMPT, topic=ALBUM_TOPIC))

    @pytest.mark.vcr
    async def test_astructured_predict(self, llm: FunctionCallingLLM) -> None:
        self.assert_album(await llm.astructured_predict(Album, ALBUM_PROMPT, topic=ALBUM_TOPIC))

    @pytest.mark.vcr
    def test_stream_structured_predict(self, llm: FunctionCallingLLM) -> None:
        outputs = list(llm.stream_structured_predict(Album, ALBUM_PROMPT, topic=ALBUM_TOPIC))
        assert outputs
        self.assert_album(outputs[-1])

    @pytest.mark.vcr
    async def test_astream_structured_predict(self, llm: FunctionCallingLLM) -> None:
        stream = await llm.astream_structured_predict(Album, ALBUM_PROMPT, topic=ALBUM_TOPIC)
        outputs = [o async for o in stream]
        assert outputs
        self.assert_album(outputs[-1])
