"""``WorkersAIImageToolSpec``: a LlamaIndex image tool (composed cassettes, reference §8.1)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from llama_index.core.llms.mock import MockFunctionCallingLLM
from llama_index.core.tools import FunctionTool

from llamaindex_workersai import WorkersAIImageToolSpec
from tests.compose import handler as wire_format
from tests.conftest import LOOPBACK
from workersai import ImageResult, InvalidInputError
from workersai.testing import WorkersAIServer

SDXL = "@cf/stabilityai/stable-diffusion-xl-base-1.0"
CONFIRMATION = (
    "Generated a 256x256 JPEG image (6.3 kB) by @cf/black-forest-labs/flux-1-schnell. "
    "It is shown to the user; it is not included here."
)


class TestWorkersAIImageToolSpec:
    def test_one_tool_with_the_model_specific_schema(self) -> None:
        [tool] = WorkersAIImageToolSpec().to_tool_list()
        assert isinstance(tool, FunctionTool)
        assert tool.metadata.name == "generate_image"
        schema = tool.metadata.get_parameters_dict()
        assert set(schema["properties"]) == {"prompt", "num_steps"}
        assert schema["required"] == ["prompt"]
        [sdxl] = WorkersAIImageToolSpec(SDXL).to_tool_list()
        assert "width" in sdxl.metadata.get_parameters_dict()["properties"]

    def test_defaults_are_checked_against_the_model(self) -> None:
        with pytest.raises(InvalidInputError, match="flux-1-schnell does not accept width"):
            WorkersAIImageToolSpec(width=512)

    def test_credentials_stay_out_of_the_tool_metadata(self) -> None:
        spec = WorkersAIImageToolSpec(account_id="acct", api_token="super-secret-token")
        [tool] = spec.to_tool_list()
        assert "super-secret-token" not in json.dumps(tool.metadata.to_openai_tool())
        assert "super-secret-token" not in repr(spec._connection)

    @pytest.mark.vcr
    def test_tool_call_confirms_and_returns_the_image_as_raw_output(self) -> None:
        [tool] = WorkersAIImageToolSpec().to_tool_list()
        output = tool.call(prompt="a lighthouse at dusk, oil painting", num_steps=4)
        assert output.content == CONFIRMATION
        assert isinstance(output.raw_output, ImageResult)
        assert output.raw_output.size == (256, 256)

    @pytest.mark.vcr
    async def test_async_tool_call(self) -> None:
        tool = WorkersAIImageToolSpec().to_tool()
        output = await tool.acall(prompt="a lighthouse at dusk, oil painting")
        assert output.content == CONFIRMATION
        assert output.raw_output.mime_type == "image/jpeg"

    @pytest.mark.vcr
    def test_defaults_and_direct_calls(self) -> None:
        spec = WorkersAIImageToolSpec(SDXL, width=320, height=256, num_steps=8)
        image = spec.generate_image("a lighthouse on a cliff", seed=None, guidance=7.5)
        assert image.size == (320, 256)

    @pytest.mark.vcr
    # FunctionAgent's workflow runtime inspects pydantic models with inspect.getmembers.
    @pytest.mark.filterwarnings("ignore::DeprecationWarning:inspect")
    async def test_an_agent_calls_the_tool(self) -> None:
        def script(messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
            if any(m.role == MessageRole.TOOL for m in messages):
                return ChatMessage(role=MessageRole.ASSISTANT, content="Here is your lighthouse.")
            return ChatMessage(
                role=MessageRole.ASSISTANT,
                blocks=[
                    ToolCallBlock(
                        tool_call_id="call_li",
                        tool_name="generate_image",
                        tool_kwargs={"prompt": "a lighthouse at dusk, oil painting"},
                    )
                ],
            )

        llm = MockFunctionCallingLLM(response_generator=script, is_chat_model=True)
        agent = FunctionAgent(tools=WorkersAIImageToolSpec().to_tool_list(), llm=llm)
        response = await agent.run("Paint a lighthouse at dusk")
        [call] = response.tool_calls
        assert call.tool_name == "generate_image"
        assert call.tool_output.content == CONFIRMATION
        assert isinstance(call.tool_output.raw_output, ImageResult)
        assert str(response) == "Here is your lighthouse."


class TestLlamaIndexImageTool:
    """The "WorkersAIImage tool" of issue 6: a ready ``FunctionTool``, no spec needed."""

    def test_is_a_function_tool_with_the_model_schema(self) -> None:
        from llamaindex_workersai import WorkersAIImageTool

        tool = WorkersAIImageTool(SDXL, width=320)
        assert isinstance(tool, FunctionTool)
        assert tool.metadata.name == "generate_image"
        assert "width" in tool.metadata.get_parameters_dict()["properties"]
        named = WorkersAIImageTool(name="paint", description="Paint a picture.")
        assert (named.metadata.name, named.metadata.description) == ("paint", "Paint a picture.")
        with pytest.raises(InvalidInputError, match="does not accept width"):
            WorkersAIImageTool(width=512)

    @pytest.mark.vcr
    def test_calls_like_the_spec_tool(self) -> None:
        from llamaindex_workersai import WorkersAIImageTool

        output = WorkersAIImageTool().call(prompt="a lighthouse at dusk, oil painting", num_steps=4)
        assert output.content == CONFIRMATION
        assert isinstance(output.raw_output, ImageResult)


class TestToToolList:
    def test_spec_functions_are_honoured(self) -> None:
        spec = WorkersAIImageToolSpec()
        assert spec.to_tool_list(spec_functions=[]) == []
        [sync_only] = spec.to_tool_list(spec_functions=["generate_image"])
        assert sync_only.fn is not None
        assert sync_only.async_fn is not None  # FunctionTool wraps a sync fn for async use
        assert sync_only.metadata.name == "generate_image"
        [async_only] = spec.to_tool_list(spec_functions=["agenerate_image"])
        assert async_only.metadata.name == "agenerate_image"
        assert "prompt" in async_only.metadata.get_parameters_dict()["properties"]
        [both] = spec.to_tool_list(spec_functions=[("generate_image", "agenerate_image")])
        assert both.metadata.name == "generate_image"

    def test_unknown_functions_and_metadata_overrides(self) -> None:
        from llama_index.core.tools import ToolMetadata

        spec = WorkersAIImageToolSpec()
        with pytest.raises(ValueError, match="generate_image, agenerate_image"):
            spec.to_tool_list(spec_functions=["delete_everything"])
        [tool] = spec.to_tool_list(
            func_to_metadata_mapping={
                "generate_image": ToolMetadata(name="draw", description="Draw it.")
            }
        )
        assert (tool.metadata.name, tool.metadata.description) == ("draw", "Draw it.")
        assert "prompt" in tool.metadata.get_parameters_dict()["properties"]


@LOOPBACK
@pytest.mark.parametrize("token_name", ["api_key", "api_token"])
def test_the_api_key_alias_is_a_credential_not_an_image_parameter(
    server: WorkersAIServer, token_name: str
) -> None:
    # WorkersAIImageToolSpec(api_key=...) used to be refused as a flux parameter (and the
    # readers and tools lacked the alias the other classes take), issue 13.
    server.handler = wire_format
    spec = WorkersAIImageToolSpec(
        account_id="acct", base_url=server.base_url, num_steps=4, **{token_name: "tool-token-7"}
    )
    assert spec.defaults == {"num_steps": 4}
    [tool] = spec.to_tool_list()
    assert set(tool.metadata.get_parameters_dict()["properties"]) == {"prompt", "num_steps"}
    output = tool.call(prompt="a lighthouse")
    assert isinstance(output.raw_output, ImageResult)
    [request] = server.requests
    assert request.headers["authorization"] == "Bearer tool-token-7"
    assert request.json() == {"prompt": "a lighthouse", "steps": 4}
