"""LangChain chat model for Cloudflare Workers AI."""

from __future__ import annotations

import difflib
import inspect
import logging
import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from functools import lru_cache
from operator import itemgetter
from typing import Any, Literal, cast, get_type_hints

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.chat_models import (
    BaseChatModel,
    LangSmithParams,
    agenerate_from_stream,
    generate_from_stream,
)
from langchain_core.language_models.model_profile import ModelProfile
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    InputTokenDetails,
    OutputTokenDetails,
    SystemMessage,
    ToolMessage,
    UsageMetadata,
)
from langchain_core.messages.tool import invalid_tool_call, tool_call, tool_call_chunk
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.base import OutputParserLike
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from langchain_workersai._base import WorkersAIClientFields
from langchain_workersai._errors import langchain_errors
from workersai import __version__
from workersai import results as wai
from workersai.errors import InvalidInputError
from workersai.integration import (
    GENERATION_PARAMS,
    image_data_uri,
    normalize_tool_choice,
    per_call_options,
)
from workersai.models import DEFAULT_CHAT_MODEL, ModelInfo, get_model_info, resolve_model
from workersai.pricing import estimate_cost
from workersai.schemas import TextGenerationInput, validate_input

__all__ = ["ChatWorkersAI"]

logger = logging.getLogger(__name__)

DEFAULT_MODEL = DEFAULT_CHAT_MODEL
PROVIDER = "cloudflare-workers-ai"


class ChatWorkersAI(WorkersAIClientFields, BaseChatModel):
    r"""Cloudflare Workers AI chat models (``/ai/run`` or the OpenAI-compatible endpoint).

    Setup:
        Install ``workersai[langchain]`` and set your account id and an API token with the
        *Workers AI Read* permission:

        .. code-block:: bash

            pip install "workersai[langchain]"
            export CLOUDFLARE_ACCOUNT_ID="your-account-id"
            export CLOUDFLARE_API_TOKEN="your-api-token"

    Key init args — completion params:
        model: str
            Model id or short name (default ``@cf/meta/llama-3.3-70b-instruct-fp8-fast``).
        temperature, max_tokens, top_p, top_k, seed, stop: sampling parameters
        repetition_penalty, frequency_penalty, presence_penalty: penalties
        reasoning_effort: ``"low"`` | ``"medium"`` | ``"high"`` for reasoning models
        lora: str | None
            A LoRA adapter (fine-tune) name; the request uses the ``prompt`` branch.
        raw: bool
            Skip the server-side chat template (the model's own template is applied here).
        endpoint: ``"native"`` (``/ai/run/{model}``) or ``"openai"`` (``/ai/v1/chat/completions``)
        model_kwargs: dict
            Any other input field of the model, sent as is (``chat_template_kwargs``, ...).

        Only the parameters you set are sent; ranges are checked against the model's schema
        when the object is built, so ``temperature=9`` fails here, not after a round trip.

    Key init args — client params:
        account_id: str | None
            Default ``CLOUDFLARE_ACCOUNT_ID``.
        api_token (alias ``api_key``): SecretStr | None
            Default ``CLOUDFLARE_API_TOKEN``.
        gateway: str | GatewayOptions | None
            Route through an AI Gateway (cache status lands in ``response_metadata``).
        timeout (alias ``request_timeout``): float | None
            Seconds per request (default 60 s, connect 5 s).
        max_retries: int
            Retries with backoff for 429 (3040 capacity), 408 and 5xx (default 2).
        fallback_models: list[str]
            Models asked in order when the model is out of capacity (3040) after its
            retries, or not available to the account (5035, retired, 7003 on the model);
            ``response_metadata["model_name"]`` says which one answered.
        http_client, http_async_client: httpx.Client | httpx.AsyncClient | None
            Your own HTTP clients (proxies, mTLS, …); never closed by the model.

        A per-call ``timeout=`` (or ``request_timeout=``), in ``invoke``/``stream``/``batch``
        or ``bind``, applies to that request only; it is never sent to the model.

    Instantiate:
        .. code-block:: python

            from langchain_workersai import ChatWorkersAI

            llm = ChatWorkersAI(
                model="@cf/meta/llama-3.3-70b-instruct-fp8-fast",
                temperature=0,
                max_tokens=256,
            )

    Invoke:
        .. code-block:: python

            messages = [
                ("system", "Translate the user sentence to French."),
                ("human", "I love programming."),
            ]
            llm.invoke(messages)

        .. code-block:: python

            AIMessage(
                content="J'adore la programmation.",
                response_metadata={
                    "model_name": "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
                    "finish_reason": "stop",
                    "model_provider": "cloudflare-workers-ai",
                },
                usage_metadata={"input_tokens": 49, "output_tokens": 8, "total_tokens": 57},
            )

    Stream:
        .. code-block:: python

            for chunk in llm.stream(messages):
                print(chunk.text, end="|")

        .. code-block:: python

            J|'adore| la| programmation|.||

        The last chunk carries ``usage_metadata``, ``finish_reason`` and ``model_name``
        (exactly once per stream), whatever format the model streamed in.

    Async:
        .. code-block:: python

            await llm.ainvoke(messages)
            async for chunk in llm.astream(messages):
                ...
            await llm.abatch([messages] * 3)

    Tool calling:
        .. code-block:: python

            from pydantic import BaseModel, Field


            class GetWeather(BaseModel):
                '''Get the current weather in a given location.'''

                location: str = Field(..., description="The city, e.g. Paris")


            llm_with_tools = llm.bind_tools([GetWeather], tool_choice="any")
            ai_msg = llm_with_tools.invoke("What is the weather like in Paris?")
            ai_msg.tool_calls

        .. code-block:: python

            [
                {
                    "name": "GetWeather",
                    "args": {"location": "Paris"},
                    "id": "call_5f0c5b6f9d2a4d1c8e3b7a90",
                    "type": "tool_call",
                }
            ]

        ``tool_choice`` accepts ``"auto"``, ``"none"``, ``"required"``/``"any"``/``True`` and a
        tool name (enforced server-side). Streaming yields ``tool_call_chunks`` with ``index``
        and ``id``; arguments the model sent as strings (``"3"`` for an integer) are coerced
        to the tool's schema, and unparseable arguments become ``invalid_tool_calls``.

    Image input:
        .. code-block:: python

            vision = ChatWorkersAI(model="@cf/meta/llama-4-scout-17b-16e-instruct")
            message = HumanMessage(
                [
                    {"type": "text", "text": "Describe this image."},
                    {"type": "image", "base64": png_b64, "mime_type": "image/png"},
                    {"type": "image", "url": "https://example.com/cat.jpg"},
                ]
            )
            vision.invoke([message])

        Standard image blocks (base64, bytes, URL), OpenAI ``image_url`` blocks and
        Anthropic-style ``source`` blocks are sent as ``data:`` URIs, the only form Workers AI
        accepts: http(s) URLs are downloaded by the client (without your Cloudflare token) and
        inlined. Images for a model without vision fail before any request is sent.

    Structured output:
        .. code-block:: python

            class Joke(BaseModel):
                '''Joke to tell user.'''

                setup: str = Field(description="The setup of the joke")
                punchline: str = Field(description="The punchline to the joke")


            structured_llm = llm.with_structured_output(Joke, method="json_schema")
            structured_llm.invoke("Tell me a joke about cats")

        .. code-block:: python

            Joke(
                setup="Why did the cat join a band?",
                punchline="Because it wanted to be the purr-cussionist.",
            )

        Methods: ``"function_calling"`` (default for models with tool calling),
        ``"json_schema"`` (default otherwise; ``$ref``\s are inlined and a streamed request
        is sent unstreamed, since Workers AI cannot stream JSON mode) and ``"json_mode"``.

    Token usage:
        .. code-block:: python

            ai_msg = llm.invoke(messages)
            ai_msg.usage_metadata

        .. code-block:: python

            {"input_tokens": 49, "output_tokens": 8, "total_tokens": 57}

        Cached prompt tokens appear as ``input_token_details["cache_read"]`` and reasoning
        tokens as ``output_token_details["reasoning"]`` when the model reports them.

    Response metadata:
        .. code-block:: python

            ai_msg.response_metadata

        .. code-block:: python

            {
                "model_name": "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
                "finish_reason": "stop",
                "model_provider": "cloudflare-workers-ai",
            }

        Through an AI Gateway it also holds ``gateway``, e.g.
        ``{"cache_status": "HIT", "log_id": "..."}``.

    Reasoning:
        .. code-block:: python

            reasoner = ChatWorkersAI(model="@cf/openai/gpt-oss-120b", reasoning_effort="low")
            ai_msg = reasoner.invoke("Which is larger, 9.11 or 9.9?")
            ai_msg.content_blocks, ai_msg.usage_metadata

        .. code-block:: python

            (
                [
                    {"type": "reasoning", "reasoning": "0.90 > 0.11, so 9.9 is larger."},
                    {"type": "text", "text": "9.9 is larger."},
                ],
                {
                    "input_tokens": 80,
                    "output_tokens": 31,
                    "total_tokens": 111,
                    "output_token_details": {"reasoning": 19},
                },
            )

        The reasoning is also in ``content`` with ``output_version="v1"`` (and in
        ``additional_kwargs["reasoning_content"]``); it is never sent back to the model when
        the message is part of the history.

    Many requests:
        ``batch``/``abatch`` run concurrently (``config={"max_concurrency": 16}``) and every
        request goes through the client's retries, so a 429 (capacity, 3040) is retried with
        backoff instead of failing the batch. Text generation allows 300 requests per minute
        by default; stay under it with LangChain's rate limiter:

        .. code-block:: python

            from langchain_core.rate_limiters import InMemoryRateLimiter

            limiter = InMemoryRateLimiter(requests_per_second=4.5, max_bucket_size=10)
            llm = ChatWorkersAI(rate_limiter=limiter, max_retries=4)
            answers = llm.batch(prompts, config={"max_concurrency": 16})
    """

    model_config = ConfigDict(
        populate_by_name=True,
        arbitrary_types_allowed=True,
        protected_namespaces=(),
    )

    model: str = Field(default=DEFAULT_MODEL, alias="model_name")
    """Model id (``@cf/...``) or a catalog short name."""
    temperature: float | None = None
    """Sampling temperature (0-5 on most models)."""
    max_tokens: int | None = None
    """Maximum tokens to generate (Workers AI's default is 256 on most models)."""
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None
    stop: list[str] | str | None = None
    """Stop sequences (alias ``stop_sequences``)."""
    repetition_penalty: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    reasoning_effort: Literal["low", "medium", "high"] | None = None
    """Reasoning effort for reasoning models (gpt-oss: default medium)."""
    lora: str | None = None
    """LoRA adapter or fine-tune name; sends one ``prompt`` rendered from the messages."""
    raw: bool = False
    """Send a raw prompt: the model family's chat template is applied client-side."""
    streaming: bool = False
    """Stream even for ``invoke`` (the answer is assembled from the stream)."""
    endpoint: Literal["native", "openai"] = "native"
    """``native`` (``/ai/run``) or ``openai`` (``/ai/v1/chat/completions``)."""
    session_affinity: str | None = None
    """``x-session-affinity`` value: routes a conversation to one replica for prompt caching."""
    reject_if_busy: bool = False
    """Fail fast with 429/3040 instead of queueing when Workers AI is at capacity."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Other model input fields, sent as is."""
    fallback_models: list[str] = Field(default_factory=list)
    """Models to ask, in order, when ``model`` cannot answer (out of capacity after its
    retries, or not available to the account); bad input never falls back. Streams fall
    back only before their first chunk."""

    @model_validator(mode="before")
    @classmethod
    def _build_extra(cls, values: Any) -> Any:
        """Move unknown constructor arguments into ``model_kwargs`` (with a warning)."""
        if not isinstance(values, dict):
            return values
        if "stop_sequences" in values and "stop" not in values:
            values = {**values, "stop": values["stop_sequences"]}
            del values["stop_sequences"]
        known = _field_names(cls)
        extra = {k: v for k, v in values.items() if k not in known}
        if not extra:
            return values
        model_kwargs = dict(values.get("model_kwargs") or {})
        for name, value in extra.items():
            close = difflib.get_close_matches(name, sorted(known), n=1)
            typo = f" (did you mean {close[0]!r}?)" if close else ""
            warnings.warn(
                f"{name!r} is not a ChatWorkersAI parameter{typo}; it is sent to the model as "
                "is (pass it in model_kwargs to silence this warning).",
                stacklevel=2,
            )
            model_kwargs[name] = value
        return {
            **{k: v for k, v in values.items() if k in known},
            "model_kwargs": model_kwargs,
        }

    @field_validator("fallback_models")
    @classmethod
    def _resolve_fallback_models(cls, value: list[str]) -> list[str]:
        # A typo fails here, with the catalog's "Did you mean" hint, not at the first outage.
        return [resolve_model(model) for model in value]

    @model_validator(mode="after")
    def _validate_params(self) -> ChatWorkersAI:
        """Check the set parameters against the model's input schema, before any request."""
        probe = {"messages": [{"role": "user", "content": "."}], **self._generation_params()}
        validate_input(self.model, probe, schema=TextGenerationInput)
        if (self.lora or self.raw) and self.endpoint == "openai":
            raise InvalidInputError(
                "lora and raw need the native endpoint (endpoint='native')", field="endpoint"
            )
        self._add_version("workersai", __version__)
        return self

    # -- LangChain plumbing ------------------------------------------------------------

    @property
    def _llm_type(self) -> str:
        return "workersai-chat"

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_token": "CLOUDFLARE_API_TOKEN"}

    def _generation_params(self) -> dict[str, Any]:
        """The core's generation parameters this model has as fields, when set, and
        ``model_kwargs``."""
        params = {
            name: getattr(self, name)
            for name in _generation_fields(type(self))
            if getattr(self, name) is not None
        }
        return {**params, **self.model_kwargs}

    @property
    def _default_params(self) -> dict[str, Any]:
        """Everything sent with every request (credentials never are)."""
        params: dict[str, Any] = {"model": self.model, "endpoint": self.endpoint}
        if self.lora is not None:
            params["lora"] = self.lora
        if self.raw:
            params["raw"] = True
        if self.session_affinity is not None:
            params["session_affinity"] = self.session_affinity
        if self.reject_if_busy:
            params["reject_if_busy"] = True
        if self.fallback_models:
            params["fallback_models"] = list(self.fallback_models)
        return {**params, **self._generation_params()}

    @property
    def _identifying_params(self) -> dict[str, Any]:
        params = {k: v for k, v in self._default_params.items() if k != "session_affinity"}
        if self.gateway is not None:  # its name only: gateway options may hold a token
            params["gateway"] = self.gateway if isinstance(self.gateway, str) else self.gateway.id
        return params

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        # What _get_invocation_params() would give for these keys, without building the
        # whole identifying dict (this runs on every call).
        params = {**self._generation_params(), **kwargs}
        ls_params = LangSmithParams(
            ls_provider=PROVIDER,
            ls_model_name=kwargs.get("model") or self.model,
            ls_model_type="chat",
            ls_temperature=params.get("temperature", self.temperature),
        )
        if ls_max_tokens := params.get("max_tokens", self.max_tokens):
            ls_params["ls_max_tokens"] = ls_max_tokens
        if ls_stop := stop or params.get("stop") or self.stop:
            ls_params["ls_stop"] = [ls_stop] if isinstance(ls_stop, str) else list(ls_stop)
        return ls_params

    def _resolve_model_profile(self) -> ModelProfile | None:
        info = get_model_info(self.model)
        return _profile_from_info(info) if info is not None else None

    def _supports_tools(self) -> bool:
        info = get_model_info(self.model)
        return info is None or info.function_calling

    # -- requests ----------------------------------------------------------------------

    def _request(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
        """``(model, wire messages, options)`` for the core client; per-call kwargs win.

        Per-call transport settings (``timeout``/``request_timeout``, ``extra_headers``,
        ``session_affinity``) go to the core as request options, never into the body;
        connection settings are refused (see :func:`workersai.integration.per_call_options`).
        """
        kwargs = {
            k: v
            for k, v in kwargs.items()
            if k not in ("stream", "ls_structured_output_format", "structured_output_format")
        }
        with langchain_errors():
            options = {**self._default_params, **per_call_options(kwargs)}
        if stop is not None:
            options["stop"] = stop
        model = options.pop("model")
        return model, _convert_messages(messages), options

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if kwargs.get("stream", self.streaming):
            return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))
        model, wire_messages, options = self._request(messages, stop, kwargs)
        with langchain_errors():
            result = self._client.chat(model, wire_messages, **options)
        return _convert_result(result)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if kwargs.get("stream", self.streaming):
            return await agenerate_from_stream(self._astream(messages, stop, run_manager, **kwargs))
        model, wire_messages, options = self._request(messages, stop, kwargs)
        with langchain_errors():
            result = await self._async_client.chat(model, wire_messages, **options)
        return _convert_result(result)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        model, wire_messages, options = self._request(messages, stop, kwargs)
        with langchain_errors():
            stream = self._client.stream_chat(model, wire_messages, **options)
            with stream:
                for chunk in stream:
                    generation = _convert_chunk(chunk)
                    if run_manager:
                        run_manager.on_llm_new_token(generation.text, chunk=generation)
                    yield generation

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        model, wire_messages, options = self._request(messages, stop, kwargs)
        with langchain_errors():
            stream = await self._async_client.stream_chat(model, wire_messages, **options)
            async with stream:
                async for chunk in stream:
                    generation = _convert_chunk(chunk)
                    if run_manager:
                        await run_manager.on_llm_new_token(generation.text, chunk=generation)
                    yield generation

    # -- tools and structured output ---------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: dict[str, Any] | str | bool | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (pydantic classes, functions, LangChain tools or OpenAI dicts).

        Args:
            tools: The tools; converted with ``convert_to_openai_tool``.
            tool_choice: ``"auto"``, ``"none"``, ``"required"`` (also ``"any"`` and ``True``)
                or a tool name, which Workers AI enforces server-side. ``"required"`` is
                advisory on Workers AI; naming the tool is the reliable way to force one.
            strict: Passed to ``convert_to_openai_tool`` (adds ``strict`` to each tool).
            **kwargs: Other request fields (``parallel_tool_calls``, ...).
        """
        formatted = [convert_to_openai_tool(t, strict=strict) for t in tools]
        if tool_choice is not None and tool_choice is not False:
            names = [t["function"]["name"] for t in formatted]
            with langchain_errors():
                kwargs["tool_choice"] = normalize_tool_choice(tool_choice, names)
        return super().bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        method: Literal["function_calling", "json_mode", "json_schema"] | None = None,
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """A runnable returning ``schema``-shaped output (pydantic object or dict).

        Args:
            schema: A pydantic class, a TypedDict, a JSON Schema or an OpenAI tool dict.
            method: ``"function_calling"`` (a forced, named tool call; default when the
                model supports tools), ``"json_schema"`` (Workers AI JSON mode with the
                schema; default otherwise) or ``"json_mode"`` (any JSON object; describe the
                keys in the prompt).
            include_raw: Return ``{"raw", "parsed", "parsing_error"}`` instead of raising on
                parse errors.
            strict: Passed on to the tool definition / JSON-schema request.
        """
        if kwargs:
            raise ValueError(f"Received unsupported arguments {kwargs}")
        if schema is None and method != "json_mode":
            raise ValueError("schema must be given unless method='json_mode'")
        is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
        if method is None:
            method = "function_calling" if self._supports_tools() else "json_schema"
        llm: Runnable[LanguageModelInput, AIMessage]
        output_parser: OutputParserLike[Any]
        if method == "function_calling":
            assert schema is not None
            formatted_tool = convert_to_openai_tool(schema, strict=strict)
            tool_name = formatted_tool["function"]["name"]
            llm = self.bind_tools(
                [schema],
                tool_choice=tool_name,
                strict=strict,
                ls_structured_output_format={
                    "kwargs": {"method": method, "strict": strict},
                    "schema": schema,
                },
            )
            if is_pydantic:
                output_parser = PydanticToolsParser(
                    tools=[schema],
                    first_tool_only=True,
                )
            else:
                output_parser = JsonOutputKeyToolsParser(key_name=tool_name, first_tool_only=True)
        elif method == "json_schema":
            assert schema is not None
            json_schema = convert_to_json_schema(schema)
            spec: dict[str, Any] = {
                "name": json_schema.get("title", "response"),
                "schema": json_schema,
            }
            if strict is not None:
                spec["strict"] = strict
            llm = self.bind(
                response_format={"type": "json_schema", "json_schema": spec},
                ls_structured_output_format={
                    "kwargs": {"method": method, "strict": strict},
                    "schema": schema,
                },
            )
            output_parser = _json_parser(schema, is_pydantic)
        elif method == "json_mode":
            structured_format = (
                {"ls_structured_output_format": {"kwargs": {"method": method}, "schema": schema}}
                if schema is not None
                else {}
            )
            llm = self.bind(response_format={"type": "json_object"}, **structured_format)
            output_parser = _json_parser(schema, is_pydantic)
        else:
            raise ValueError(
                f"method must be 'function_calling', 'json_schema' or 'json_mode', not {method!r}"
            )
        if not include_raw:
            return llm | output_parser
        parse = RunnablePassthrough.assign(
            parsed=itemgetter("raw") | output_parser, parsing_error=lambda _: None
        )
        no_parse = RunnablePassthrough.assign(parsed=lambda _: None)
        with_fallback = parse.with_fallbacks([no_parse], exception_key="parsing_error")
        return RunnableMap(raw=llm) | with_fallback


# --------------------------------------------------------------------------------------
# Outgoing: LangChain messages → OpenAI-form dicts (the core applies the wire rules)
# --------------------------------------------------------------------------------------

# Assistant content that is not text: reasoning is never sent back, tool calls travel in
# `tool_calls`, and Workers AI takes no media from the assistant.
_SKIPPED_ASSISTANT_BLOCKS = frozenset(
    {
        "reasoning",
        "thinking",
        "redacted_thinking",
        "tool_call",
        "tool_call_chunk",
        "tool_use",
        "invalid_tool_call",
        "server_tool_call",
        "server_tool_call_chunk",
        "server_tool_result",
    }
)


# langchain-core looks up the signature of _generate / _agenerate on every call (to see
# whether they take a run_manager); set once here, the lookup costs ~4 µs instead of ~13.
for _method in (ChatWorkersAI._generate, ChatWorkersAI._agenerate):
    _method.__dict__["__signature__"] = inspect.signature(_method)


@lru_cache(maxsize=1)
def _profile_keys() -> frozenset[str]:
    return frozenset(get_type_hints(ModelProfile))


def _profile_from_info(info: ModelInfo) -> ModelProfile:
    """A langchain-core model profile from the core catalog entry."""
    tools = info.function_calling
    values: dict[str, Any] = {
        "max_input_tokens": info.context_window or info.max_input_tokens,
        "text_inputs": True,
        "image_inputs": info.vision,
        # http(s) image URLs are fetched and inlined by the client (Workers AI needs data URIs)
        "image_url_inputs": info.vision,
        "pdf_inputs": False,
        "audio_inputs": False,
        "video_inputs": False,
        "image_tool_message": False,
        "pdf_tool_message": False,
        "text_outputs": True,
        "image_outputs": False,
        "audio_outputs": False,
        "video_outputs": False,
        "reasoning_output": info.reasoning,
        "tool_calling": tools,
        "tool_choice": tools,
        "tool_call_streaming": tools,
        # Left out (unknown) rather than False when neither shows in the schema snapshot:
        # JSON mode works on models whose bundled schema predates `response_format`.
        "structured_output": (tools or "response_format" in info.accepts) or None,
        "temperature": "temperature" in info.params or not info.params,
    }
    if info.reasoning and info.accepts & {"reasoning_effort", "reasoning"}:
        values["reasoning_effort_levels"] = ["low", "medium", "high"]
    keys = _profile_keys()
    return ModelProfile(**{k: v for k, v in values.items() if k in keys and v is not None})  # type: ignore[typeddict-item]


@lru_cache(maxsize=4)
def _generation_fields(cls: type[BaseModel]) -> tuple[str, ...]:
    return tuple(name for name in GENERATION_PARAMS if name in cls.model_fields)


@lru_cache(maxsize=4)
def _field_names(cls: type[BaseModel]) -> frozenset[str]:
    names: set[str] = set()
    for name, info in cls.model_fields.items():
        names.add(name)
        if info.alias:
            names.add(info.alias)
    return frozenset(names)


def _image_part(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def _convert_image_block(block: Mapping[str, Any]) -> dict[str, Any]:
    """Standard v1/v0 and Anthropic-style image blocks → an OpenAI ``image_url`` part."""
    source = block.get("source")
    if isinstance(source, Mapping):  # Anthropic {"source": {"type": "base64", ...}}
        if source.get("type") == "url":
            return _image_part(str(source.get("url")))
        return _image_part(image_data_uri(source.get("data", ""), source.get("media_type")))
    source_type = block.get("source_type")  # LangChain v0
    if source_type == "url" or (source_type is None and block.get("url")):
        return _image_part(str(block.get("url")))
    data = block.get("base64", block.get("data"))
    if data:
        return _image_part(image_data_uri(data, block.get("mime_type")))
    raise InvalidInputError(
        "Workers AI needs the image itself (base64, bytes or a URL); file ids are not supported.",
        field="content",
    )


def _convert_part(part: Any) -> Any:
    if isinstance(part, str):
        return {"type": "text", "text": part}
    if not isinstance(part, Mapping):
        return part
    kind = part.get("type")
    if kind in ("text", "text-plain"):
        return {"type": "text", "text": str(part.get("text", ""))}
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else image
        if isinstance(url, (bytes, bytearray)):
            url = image_data_uri(url)
        return _image_part(str(url))
    if kind == "image":
        return _convert_image_block(part)
    # Anything else (audio, files, ...) goes to the core, which rejects it with the reason.
    return dict(part)


def _convert_content(content: str | list[Any]) -> str | list[Any]:
    if isinstance(content, str):
        return content
    return [_convert_part(part) for part in content]


def _assistant_text(content: str | list[Any]) -> str:
    if isinstance(content, str):
        return content
    texts: list[str] = []
    for block in content:
        if isinstance(block, str):
            texts.append(block)
        elif isinstance(block, Mapping):
            kind = block.get("type")
            if kind == "text":
                texts.append(str(block.get("text", "")))
            elif kind not in _SKIPPED_ASSISTANT_BLOCKS:
                logger.debug("Dropping assistant content block of type %r", kind)
    return "".join(texts)


def _wire_tool_call(call_id: str | None, name: str, arguments: Any) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def _convert_message_to_dict(message: BaseMessage, answered: set[str]) -> dict[str, Any]:
    """One LangChain message as an OpenAI-form dict."""
    out: dict[str, Any]
    if isinstance(message, SystemMessage):
        out = {"role": "system", "content": _convert_content(message.content)}
    elif isinstance(message, HumanMessage):
        out = {"role": "user", "content": _convert_content(message.content)}
    elif isinstance(message, AIMessage):
        out = {"role": "assistant", "content": _assistant_text(message.content)}
        calls = [_wire_tool_call(c.get("id"), c["name"], c["args"]) for c in message.tool_calls]
        # An invalid call goes back only when a tool message answers it (else the turn would
        # dangle); the core sends its unparseable arguments as {}.
        calls += [
            _wire_tool_call(c.get("id"), c.get("name") or "", c.get("args"))
            for c in message.invalid_tool_calls
            if c.get("id") in answered and c.get("name")
        ]
        if calls:
            out["tool_calls"] = calls
    elif isinstance(message, ToolMessage):
        out = {
            "role": "tool",
            "tool_call_id": message.tool_call_id,
            "content": _convert_content(message.content),
        }
    elif isinstance(message, ChatMessage):
        role = {"human": "user", "ai": "assistant"}.get(message.role, message.role)
        out = {"role": role, "content": _convert_content(message.content)}
    else:
        raise TypeError(f"ChatWorkersAI cannot send a {type(message).__name__}")
    if message.name and not isinstance(message, SystemMessage):
        out["name"] = message.name
    return out


def _convert_messages(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
    with langchain_errors():
        return [_convert_message_to_dict(m, answered) for m in messages]


# --------------------------------------------------------------------------------------
# Incoming: core results and chunks → AIMessage / AIMessageChunk
# --------------------------------------------------------------------------------------


def _usage_metadata(usage: wai.Usage | None) -> UsageMetadata | None:
    if usage is None:
        return None
    metadata: dict[str, Any] = {
        "input_tokens": usage.prompt_tokens,
        "output_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    if usage.cached_tokens is not None:
        metadata["input_token_details"] = InputTokenDetails(cache_read=usage.cached_tokens)
    if usage.reasoning_tokens is not None:
        metadata["output_token_details"] = OutputTokenDetails(reasoning=usage.reasoning_tokens)
    # A plain dict, cast: langchain-core >= 1.8 imports NotRequired from `typing`, which mypy
    # (checking for Python 3.10) cannot see, so it would demand the optional detail keys.
    return cast(UsageMetadata, metadata)


def _response_metadata(
    model: str | None,
    finish_reason: str | None,
    gateway: Mapping[str, str],
    usage: wai.Usage | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"model_provider": PROVIDER}
    if model:
        metadata["model_name"] = model
    if finish_reason:
        metadata["finish_reason"] = finish_reason
    if gateway:
        metadata["gateway"] = dict(gateway)
    if usage is not None and usage.neurons is not None:
        # Workers AI's billing unit; usage_metadata has no field for it
        metadata["neurons"] = usage.neurons
    if usage is not None:
        # The estimate ChatResult.cost and the usage trackers give; left out when unknown
        # (no published price) rather than reported as 0.
        cost = estimate_cost(model, usage)
        if cost.usd is not None:
            metadata["cost_usd"] = cost.usd
    return metadata


def _convert_result(result: wai.ChatResult) -> ChatResult:
    # Only the fields the answer has: AIMessage validates every one it is given.
    fields: dict[str, Any] = {}
    if result.reasoning:
        fields["additional_kwargs"] = {"reasoning_content": result.reasoning}
    if result.tool_calls:
        fields["tool_calls"] = [
            tool_call(name=c.name, args=c.arguments, id=c.id) for c in result.tool_calls
        ]
    if result.invalid_tool_calls:
        fields["invalid_tool_calls"] = [
            invalid_tool_call(name=c.name, args=c.raw_arguments, id=c.id, error=c.error)
            for c in result.invalid_tool_calls
        ]
    message = AIMessage(
        content=result.text,
        usage_metadata=_usage_metadata(result.usage),
        response_metadata=_response_metadata(
            result.model, result.finish_reason, result.gateway, result.usage
        ),
        id=result.id,
        **fields,
    )
    generation_info = {"finish_reason": result.finish_reason} if result.finish_reason else None
    return ChatResult(
        generations=[ChatGeneration(message=message, generation_info=generation_info)],
        llm_output={"model_name": result.model} if result.model else None,
    )


def _convert_chunk(chunk: wai.ChatChunk) -> ChatGenerationChunk:
    if chunk.is_final:
        message = AIMessageChunk(
            content="",
            usage_metadata=_usage_metadata(chunk.usage),
            response_metadata=_response_metadata(
                chunk.model, chunk.finish_reason, chunk.gateway, chunk.usage
            ),
            id=chunk.id,
            chunk_position="last",
        )
        return ChatGenerationChunk(message=message)
    # Only the fields a delta carries: a stream creates one message per token.
    fields: dict[str, Any] = {"response_metadata": {"model_provider": PROVIDER}}
    if chunk.reasoning:
        fields["additional_kwargs"] = {"reasoning_content": chunk.reasoning}
    if chunk.tool_calls:
        fields["tool_call_chunks"] = [
            tool_call_chunk(name=c.name, args=c.arguments, id=c.id, index=c.index)
            for c in chunk.tool_calls
        ]
    if chunk.id:
        fields["id"] = chunk.id
    return ChatGenerationChunk(message=AIMessageChunk(content=chunk.text, **fields))


def _json_parser(schema: dict[str, Any] | type | None, is_pydantic: bool) -> OutputParserLike[Any]:
    if is_pydantic:
        return PydanticOutputParser(pydantic_object=schema)
    return JsonOutputParser()
