"""The LlamaIndex LLM for Cloudflare Workers AI: :class:`WorkersAI`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from llama_index.core.base.llms.generic_utils import (
    achat_to_completion_decorator,
    astream_chat_to_completion_decorator,
    chat_to_completion_decorator,
    stream_chat_to_completion_decorator,
)
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
    ToolCallBlock,
)
from llama_index.core.bridge.pydantic import BaseModel, Field, field_validator
from llama_index.core.constants import DEFAULT_CONTEXT_WINDOW, DEFAULT_NUM_OUTPUTS
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.events.llm import (
    LLMStructuredPredictEndEvent,
    LLMStructuredPredictStartEvent,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.prompts import PromptTemplate
from llama_index.core.types import Model, PydanticProgramMode

from llamaindex_workersai._base import WorkersAIClientFields
from llamaindex_workersai._llm_convert import (
    _convert_messages,
    _convert_result_to_response,
    _parse_tool_kwargs,
    _StreamState,
)
from workersai import ModelInfo, get_model_info, resolve_model
from workersai.integration import GENERATION_PARAMS, per_call_options
from workersai.models import DEFAULT_CHAT_MODEL

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = ["WorkersAI"]

logger = logging.getLogger(__name__)
dispatcher = get_dispatcher(__name__)

DEFAULT_MODEL = DEFAULT_CHAT_MODEL


class WorkersAI(WorkersAIClientFields, FunctionCallingLLM):
    """Cloudflare Workers AI chat models for LlamaIndex, with tool calling.

    Setup:
        Install ``workersai[llamaindex]`` and set ``CLOUDFLARE_ACCOUNT_ID`` and
        ``CLOUDFLARE_API_TOKEN`` (a token with *Workers AI Read*).

    Key init args:
        model: Model id or short name (``"llama-3.3-70b-instruct-fp8-fast"``).
        temperature, max_tokens: Generation settings (Workers AI's defaults when ``None``).
        additional_kwargs: Other body parameters sent with every request
            (``top_p``, ``seed``, ``reasoning_effort``, ...). The generation parameters
            Workers AI documents may also be given as keywords (``WorkersAI(top_p=0.9)``);
            they land here.
        endpoint: ``"native"`` (``/ai/run``, default) or ``"openai"`` (``/ai/v1``).
        account_id, api_token: Credentials; default from the environment. They are kept in
            the HTTP clients only, never in fields, ``to_dict()`` or ``to_payload()``. A
            pickled LLM keeps its account id and other settings but not the token, which
            is read from the environment again after unpickling (the first request fails
            with ``MissingCredentialsError`` when none is set).
        base_url, gateway: API root and AI Gateway (name or ``GatewayOptions``; the options
            survive ``to_dict()`` and pickling, except a gateway ``authorization`` token).
        timeout, max_retries: Per-request timeout (s) and retries of 408/409/429/5xx and
            connection errors, with backoff honouring ``Retry-After`` (the only retry layer).
        fallback_models: Models asked in order when ``model`` is out of capacity (3040)
            after its retries or not available to the account (5035, retired, 7003 on the
            model); ``additional_kwargs["model"]`` says which one answered.
            A per-call ``timeout=`` (or ``request_timeout=``) applies to that request only.
        http_client, async_http_client: Your own ``httpx.Client`` / ``httpx.AsyncClient``
            (never closed by the LLM; not carried by pickles).

    Instantiate:
        .. code-block:: python

            from llamaindex_workersai import WorkersAI

            llm = WorkersAI(model="@cf/meta/llama-3.3-70b-instruct-fp8-fast", temperature=0)

    Invoke:
        .. code-block:: python

            from llama_index.core.llms import ChatMessage

            response = llm.chat([ChatMessage(role="user", content="Capital of Portugal?")])
            print(response.message.content)
            # Lisbon.
            response.additional_kwargs
            # {'prompt_tokens': 31, 'completion_tokens': 3, 'total_tokens': 34,
            #  'finish_reason': 'stop', 'model': '@cf/meta/llama-3.3-70b-instruct-fp8-fast'}

    Stream:
        .. code-block:: python

            for r in llm.stream_chat([ChatMessage(role="user", content="Count to 3")]):
                print(r.delta, end="")
            # 1, 2, 3
            # the last response carries the whole message, usage and finish reason

    Async:
        .. code-block:: python

            response = await llm.achat(messages)
            async for r in await llm.astream_chat(messages):
                print(r.delta, end="")

    Tool calling:
        .. code-block:: python

            from llama_index.core.agent.workflow import FunctionAgent
            from llama_index.core.tools import FunctionTool

            def multiply(a: int, b: int) -> int:
                \"\"\"Multiply two integers.\"\"\"
                return a * b

            agent = FunctionAgent(tools=[FunctionTool.from_defaults(multiply)], llm=llm)
            print(await agent.run("What is 6 times 7?"))
            # 6 times 7 is 42.

    Structured output:
        .. code-block:: python

            from llama_index.core.prompts import PromptTemplate
            from pydantic import BaseModel

            class City(BaseModel):
                name: str
                country: str

            llm.structured_predict(City, PromptTemplate("Describe {city}."), city="Lisbon")
            # City(name='Lisbon', country='Portugal')

        Uses a JSON-schema ``response_format`` where the model supports it and tool calling
        otherwise.

    Image input:
        .. code-block:: python

            from llama_index.core.llms import ChatMessage, ImageBlock, TextBlock

            vision = WorkersAI(model="@cf/meta/llama-4-scout-17b-16e-instruct")
            vision.chat([ChatMessage(role="user", blocks=[
                ImageBlock(path="chart.png"), TextBlock(text="What does this chart show?")])])

        Images go as base64 data URIs; http(s) URLs are fetched and inlined.
    """

    model: str = Field(default=DEFAULT_MODEL, description="Workers AI model id.")
    temperature: float | None = Field(
        default=None, ge=0, description="Sampling temperature; the model's default if unset."
    )
    max_tokens: int | None = Field(
        default=None, ge=1, description="Maximum tokens to generate; the model's default if unset."
    )
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Other body parameters sent with every request."
    )
    endpoint: Literal["native", "openai"] = Field(
        default="native", description="'native' (/ai/run) or 'openai' (/ai/v1/chat/completions)."
    )
    context_window: int | None = Field(
        default=None, gt=0, description="Override of the catalog's context window."
    )
    is_function_calling_model: bool | None = Field(
        default=None, description="Override of the catalog's function-calling flag."
    )
    fallback_models: list[str] = Field(
        default_factory=list,
        description="Models asked in order when the model cannot answer (capacity, access).",
    )

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        additional_kwargs: dict[str, Any] | None = None,
        endpoint: Literal["native", "openai"] = "native",
        **kwargs: Any,
    ) -> None:
        # Generation parameters given as keywords are body parameters, not unknown fields
        # (which pydantic would drop without a word).
        generation = {k: kwargs.pop(k) for k in GENERATION_PARAMS if k in kwargs}
        super().__init__(
            model=model,
            temperature=temperature,
            max_tokens=max_tokens,
            additional_kwargs={**(additional_kwargs or {}), **generation},
            endpoint=endpoint,
            **kwargs,
        )

    @field_validator("model")
    @classmethod
    def _resolve_model(cls, value: str) -> str:
        return resolve_model(value)

    @field_validator("fallback_models")
    @classmethod
    def _resolve_fallback_models(cls, value: list[str]) -> list[str]:
        return [resolve_model(model) for model in value]

    @classmethod
    def class_name(cls) -> str:
        return "WorkersAI_LLM"

    # -- metadata -----------------------------------------------------------------------

    @property
    def _info(self) -> ModelInfo | None:
        return get_model_info(self.model)

    @property
    def metadata(self) -> LLMMetadata:
        """Context window, output budget and function calling, from the model catalog."""
        info = self._info
        context_window = self.context_window or (
            (info.context_window or info.max_input_tokens) if info else None
        )
        num_output = self.max_tokens
        if num_output is None and info is not None and "max_tokens" in info.params:
            default = info.params["max_tokens"].default
            num_output = int(default) if default is not None else None
        function_calling = self.is_function_calling_model
        if function_calling is None:
            function_calling = bool(info and info.function_calling)
        return LLMMetadata(
            context_window=context_window or DEFAULT_CONTEXT_WINDOW,
            num_output=num_output or DEFAULT_NUM_OUTPUTS,
            is_chat_model=True,
            is_function_calling_model=function_calling,
            model_name=self.model,
        )

    # -- request ------------------------------------------------------------------------

    def _chat_options(self, **kwargs: Any) -> tuple[str, dict[str, Any]]:
        """``(model, options)`` for the core's ``chat``/``stream_chat``; per-call kwargs win.

        Transport settings given per call (``timeout``/``request_timeout``,
        ``extra_headers``, ``session_affinity``) go to the core as request options, never
        into the body; connection settings are refused (see ``per_call_options``).
        """
        options: dict[str, Any] = {
            "endpoint": self.endpoint,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            **per_call_options(self.additional_kwargs),
            **per_call_options(kwargs),
        }
        if self.fallback_models and "fallback_models" not in options:
            options["fallback_models"] = list(self.fallback_models)
        return options.pop("model", None) or self.model, options

    # -- chat ---------------------------------------------------------------------------

    # The public methods carry LlamaIndex's callback decorators; the completion methods
    # wrap the undecorated ``_`` twins, so one request is one LLM event (a nested chat event
    # would make TokenCountingHandler and the usage handler count it twice).

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._chat(messages, **kwargs)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return await self._achat(messages, **kwargs)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        return self._stream_chat(messages, **kwargs)

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        return await self._astream_chat(messages, **kwargs)

    def _chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        model, options = self._chat_options(**kwargs)
        result = self._connection.client.chat(model, _convert_messages(messages), **options)
        return _convert_result_to_response(result)

    async def _achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        model, options = self._chat_options(**kwargs)
        client = self._connection.async_client
        result = await client.chat(model, _convert_messages(messages), **options)
        return _convert_result_to_response(result)

    def _stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        model, options = self._chat_options(**kwargs)
        wire_messages = _convert_messages(messages)

        def gen() -> ChatResponseGen:
            state = _StreamState()
            with self._connection.client.stream_chat(model, wire_messages, **options) as stream:
                for chunk in stream:
                    if chunk.is_final:
                        yield state.finish(chunk, stream.result())
                    else:
                        yield state.add(chunk)

        return gen()

    async def _astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        model, options = self._chat_options(**kwargs)
        wire_messages = _convert_messages(messages)

        async def gen() -> ChatResponseAsyncGen:
            state = _StreamState()
            client = self._connection.async_client
            async with await client.stream_chat(model, wire_messages, **options) as stream:
                async for chunk in stream:
                    if chunk.is_final:
                        yield state.finish(chunk, await stream.result())
                    else:
                        yield state.add(chunk)

        return gen()

    # -- completion (derived from chat) -------------------------------------------------

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return chat_to_completion_decorator(self._chat)(prompt, **kwargs)

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        return await achat_to_completion_decorator(self._achat)(prompt, **kwargs)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        return stream_chat_to_completion_decorator(self._stream_chat)(prompt, **kwargs)

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        return await astream_chat_to_completion_decorator(self._astream_chat)(prompt, **kwargs)

    # -- tools --------------------------------------------------------------------------

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The ``chat`` kwargs for a turn with ``tools``.

        ``tool_required`` forces a call (the tool itself when there is only one: Workers AI
        enforces a named tool server-side, while ``"required"`` is advisory);
        ``tool_choice`` (``"auto"``, ``"none"``, ``"required"`` or a tool name) wins.
        """
        messages = list(chat_history or [])
        if isinstance(user_msg, str):
            messages.append(ChatMessage(role=MessageRole.USER, content=user_msg))
        elif user_msg is not None:
            messages.append(user_msg)
        prepared: dict[str, Any] = {"messages": messages, **kwargs}
        if not tools:
            return prepared
        prepared["tools"] = [tool.metadata.to_openai_tool(skip_length_check=True) for tool in tools]
        if tool_choice is not None:
            prepared["tool_choice"] = tool_choice
        elif tool_required:
            prepared["tool_choice"] = True
        info = self._info
        if self.endpoint == "openai" or (
            info is not None and "parallel_tool_calls" in info.accepts
        ):
            prepared["parallel_tool_calls"] = allow_parallel_tool_calls
        return prepared

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        if not allow_parallel_tool_calls:
            _keep_first_tool_call(response)
        return response

    def get_tool_calls_from_response(
        self,
        response: ChatResponse,
        error_on_no_tool_call: bool = True,
        **kwargs: Any,
    ) -> list[ToolSelection]:
        """The ``ToolCallBlock``s of ``response`` as ``ToolSelection``s (string arguments —
        partial ones mid-stream too — parsed into dicts)."""
        blocks = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
        if not blocks and error_on_no_tool_call:
            raise ValueError(
                f"Expected at least one tool call from {self.model}, got none: "
                f"{response.message.content!r}"
            )
        return [
            ToolSelection(
                tool_id=block.tool_call_id or "",
                tool_name=block.tool_name,
                tool_kwargs=_parse_tool_kwargs(block.tool_kwargs),
            )
            for block in blocks
        ]

    # -- structured output --------------------------------------------------------------

    def _uses_json_schema(self) -> bool:
        info = self._info
        return (
            self.pydantic_program_mode == PydanticProgramMode.DEFAULT
            and info is not None
            and "response_format" in info.accepts
        )

    def _structured_request(
        self,
        output_cls: type[BaseModel],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None,
        prompt_args: dict[str, Any],
    ) -> tuple[list[ChatMessage], dict[str, Any]]:
        messages = self._extend_messages(prompt.format_messages(llm=self, **prompt_args))
        response_format = {
            "type": "json_schema",
            "json_schema": {"name": output_cls.__name__, "schema": output_cls.model_json_schema()},
        }
        return messages, {**(llm_kwargs or {}), "response_format": response_format}

    @dispatcher.span
    def structured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """Predict an ``output_cls`` instance: JSON-schema mode where the model supports
        ``response_format``, tool calling (or text parsing) otherwise."""
        if not self._uses_json_schema():
            return super().structured_predict(output_cls, prompt, llm_kwargs, **prompt_args)
        dispatcher.event(
            LLMStructuredPredictStartEvent(
                output_cls=output_cls, template=prompt, template_args=prompt_args
            )
        )
        messages, kwargs = self._structured_request(output_cls, prompt, llm_kwargs, prompt_args)
        output = _parse_structured(output_cls, self.chat(messages, **kwargs))
        dispatcher.event(LLMStructuredPredictEndEvent(output=output))
        return output

    @dispatcher.span
    async def astructured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """Async twin of :meth:`structured_predict`."""
        if not self._uses_json_schema():
            return await super().astructured_predict(output_cls, prompt, llm_kwargs, **prompt_args)
        dispatcher.event(
            LLMStructuredPredictStartEvent(
                output_cls=output_cls, template=prompt, template_args=prompt_args
            )
        )
        messages, kwargs = self._structured_request(output_cls, prompt, llm_kwargs, prompt_args)
        output = _parse_structured(output_cls, await self.achat(messages, **kwargs))
        dispatcher.event(LLMStructuredPredictEndEvent(output=output))
        return output


def _keep_first_tool_call(response: ChatResponse) -> None:
    message = response.message
    seen = False
    blocks = []
    for block in message.blocks:
        if isinstance(block, ToolCallBlock):
            if seen:
                continue
            seen = True
        blocks.append(block)
    message.blocks = blocks
    calls = message.additional_kwargs.get("tool_calls")
    if isinstance(calls, list) and len(calls) > 1:
        message.additional_kwargs["tool_calls"] = calls[:1]


def _parse_structured(output_cls: type[Model], response: ChatResponse) -> Model:
    # The core parsed the JSON-mode answer (code fences included) once.
    data = response.additional_kwargs.get("parsed")
    if data is None:
        text = response.message.content or ""
        raise ValueError(
            f"The model did not answer with JSON for {output_cls.__name__}: {text[:200]!r}"
        )
    return output_cls.model_validate(data)
