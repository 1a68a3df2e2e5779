"""ChatWorkersAI without cassettes: langchain-tests' unit suite, conversions, and the exact
requests it sends (checked against the scripted loopback server of ``workersai.testing``)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from typing import Any

import pytest
from langchain_core.exceptions import (
    ModelAPIError,
    ModelInvalidRequestError,
    ModelNotFoundError,
    ModelRateLimitError,
)
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.rate_limiters import InMemoryRateLimiter
from langchain_tests.unit_tests import ChatModelUnitTests
from pydantic import BaseModel, Field, SecretStr, ValidationError

import workersai
from langchain_workersai import ChatWorkersAI
from langchain_workersai.chat_models import _convert_messages
from tests.conftest import LOOPBACK
from workersai.testing import RecordedRequest, Reply, WorkersAIServer

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
SCOUT = "@cf/meta/llama-4-scout-17b-16e-instruct"
USAGE = {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16}
NO_WAIT = {"retry-after": "0"}  # the server's Retry-After is honoured: retry at once


class TestChatWorkersAIUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ChatWorkersAI]:
        return ChatWorkersAI

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": LLAMA}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"CLOUDFLARE_API_TOKEN": "token-from-env", "CLOUDFLARE_ACCOUNT_ID": "account-from-env"},
            {"model": LLAMA},
            {"api_token": "token-from-env", "account_id": "account-from-env"},
        )


def _png(width: int = 16, height: int = 16) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "red").save(buffer, format="PNG")
    return buffer.getvalue()


def _llm(server: WorkersAIServer, **kwargs: Any) -> ChatWorkersAI:
    kwargs.setdefault("model", LLAMA)
    return ChatWorkersAI(
        account_id="acct", api_key="secret-token", base_url=server.base_url, **kwargs
    )


def _body(request: RecordedRequest) -> dict[str, Any]:
    body = request.json()
    assert isinstance(body, dict)
    return body


# -- construction -------------------------------------------------------------------------


def test_aliases_and_unknown_kwargs() -> None:
    llm = ChatWorkersAI(model_name=SCOUT, api_key="k", timeout=10, stop_sequences=["END"])
    assert llm.model == SCOUT
    assert isinstance(llm.api_token, SecretStr)
    assert llm.api_token.get_secret_value() == "k"
    assert llm.timeout == 10
    assert llm.stop == ["END"]
    with pytest.warns(UserWarning, match="chat_template_kwargs"):
        extra = ChatWorkersAI(chat_template_kwargs={"enable_thinking": False})
    assert extra.model_kwargs == {"chat_template_kwargs": {"enable_thinking": False}}


def test_an_unknown_kwarg_close_to_a_field_is_named_as_a_likely_typo() -> None:
    with pytest.warns(UserWarning, match="acount_id") as caught:
        ChatWorkersAI(acount_id="a", api_key="k")
    assert [str(w.message) for w in caught] == [
        "'acount_id' is not a ChatWorkersAI parameter (did you mean 'account_id'?); it is sent "
        "to the model as is (pass it in model_kwargs to silence this warning)."
    ]
    with pytest.warns(UserWarning, match="chat_template_kwargs") as caught:
        ChatWorkersAI(chat_template_kwargs={}, api_key="k")
    assert str(caught[0].message).startswith(
        "'chat_template_kwargs' is not a ChatWorkersAI parameter; it is sent"
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"temperature": 9}, "temperature"),
        ({"top_k": 0}, "top_k"),
        ({"top_p": 1.5}, "top_p"),  # Llama 3.3's own range is 0.001-1 (catalog), not 0-2
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
    ],
)
def test_ranges_are_checked_at_construction(params: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        ChatWorkersAI(model=LLAMA, **params)


def test_lora_needs_native_endpoint() -> None:
    with pytest.raises(ValidationError, match="native endpoint"):
        ChatWorkersAI(lora="my-adapter", endpoint="openai")


def test_secrets_stay_out_of_params_and_repr() -> None:
    llm = ChatWorkersAI(api_key="super-secret-token", account_id="acct-123", gateway="gw")
    params = llm._identifying_params
    assert "api_token" not in params
    assert "account_id" not in params
    assert params["gateway"] == "gw"
    assert "super-secret-token" not in repr(llm)
    assert "super-secret-token" not in json.dumps(llm._get_invocation_params(), default=str)
    assert "super-secret-token" not in str(llm._get_ls_params())


def test_ls_params() -> None:
    llm = ChatWorkersAI(model=LLAMA, temperature=0.3, max_tokens=64, stop="###")
    params = llm._get_ls_params()
    assert params["ls_provider"] == "cloudflare-workers-ai"
    assert params["ls_model_name"] == LLAMA
    assert params["ls_temperature"] == 0.3
    assert params["ls_max_tokens"] == 64
    assert params["ls_stop"] == ["###"]
    assert llm._get_ls_params(model=SCOUT)["ls_model_name"] == SCOUT


def test_profile_comes_from_the_catalog() -> None:
    scout = ChatWorkersAI(model=SCOUT).profile
    assert scout is not None
    assert scout["max_input_tokens"] == 131000
    assert scout["image_inputs"] is True
    assert scout["tool_calling"] is True
    llama = ChatWorkersAI(model=LLAMA).profile
    assert llama is not None
    assert llama["image_inputs"] is False
    assert llama["max_input_tokens"] == 24000
    gpt_oss = ChatWorkersAI(model="@cf/openai/gpt-oss-120b").profile
    assert gpt_oss is not None
    assert gpt_oss["reasoning_output"] is True
    assert ChatWorkersAI(model="@cf/acme/not-in-catalog").profile is None


def test_bind_tools_maps_tool_choice() -> None:
    def get_weather(city: str) -> str:
        """Weather for a city."""
        return "sunny"

    def get_time(city: str) -> str:
        """Local time in a city."""
        return "noon"

    llm = ChatWorkersAI(model=LLAMA)
    cases = {
        "any": "required",
        "required": "required",
        "auto": "auto",
        "none": "none",
        "get_time": {"type": "function", "function": {"name": "get_time"}},
    }
    for given, expected in cases.items():
        bound = llm.bind_tools([get_weather, get_time], tool_choice=given)
        assert bound.kwargs["tool_choice"] == expected  # type: ignore[attr-defined]
    one = llm.bind_tools([get_weather], tool_choice=True)
    assert one.kwargs["tool_choice"] == {  # type: ignore[attr-defined]
        "type": "function",
        "function": {"name": "get_weather"},
    }
    with pytest.raises(ModelInvalidRequestError, match="neither"):
        llm.bind_tools([get_weather], tool_choice="get_stock_price")


# -- messages out -------------------------------------------------------------------------


def test_tool_call_history_round_trips() -> None:
    messages = [
        SystemMessage("Be brief."),
        HumanMessage("Weather in Paris?"),
        AIMessage(
            "",
            tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "call_7"}],
            additional_kwargs={"reasoning_content": "I should call the tool."},
        ),
        ToolMessage("sunny", tool_call_id="call_7", name="get_weather"),
    ]
    wire = _convert_messages(messages)
    assert wire[2] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call_7",
                "type": "function",
                "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
            }
        ],
    }
    assert wire[3] == {
        "role": "tool",
        "tool_call_id": "call_7",
        "content": "sunny",
        "name": "get_weather",
    }


def test_reasoning_blocks_are_never_sent_back() -> None:
    v1 = AIMessage(
        [
            {"type": "reasoning", "reasoning": "secret chain of thought"},
            {"type": "text", "text": "The answer is 4."},
            {"type": "tool_call", "id": "c1", "name": "add", "args": {"a": 2, "b": 2}},
        ],
        tool_calls=[{"name": "add", "args": {"a": 2, "b": 2}, "id": "c1"}],
    )
    wire = _convert_messages([HumanMessage("2+2?"), v1])[1]
    assert wire["content"] == "The answer is 4."
    assert "secret" not in json.dumps(wire)
    assert [c["id"] for c in wire["tool_calls"]] == ["c1"]


def test_image_blocks_become_data_uris() -> None:
    png = _png()
    b64 = base64.b64encode(png).decode()
    message = HumanMessage(
        [
            "Compare these:",
            {"type": "image", "base64": b64, "mime_type": "image/png"},
            {"type": "image", "base64": png},  # bytes, type sniffed
            {"type": "image", "source_type": "base64", "data": b64, "mime_type": "image/png"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": b64}},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64}"}},
            {"type": "image", "url": "https://example.com/cat.jpg"},
        ]
    )
    parts = _convert_messages([message])[0]["content"]
    assert parts[0] == {"type": "text", "text": "Compare these:"}
    for part in parts[1:6]:
        assert part == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64}"}}
    # http(s) URLs are left for the client, which downloads and inlines them
    assert parts[6] == {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}


def test_image_without_known_type_is_rejected() -> None:
    block = {"type": "image", "base64": base64.b64encode(b"not an image").decode()}
    with pytest.raises(ModelInvalidRequestError, match="mime_type"):
        _convert_messages([HumanMessage([block])])


# -- requests on the wire (loopback server) -------------------------------------------------


@LOOPBACK
class TestWire:
    def test_only_set_parameters_are_sent_and_call_kwargs_win(
        self, server: WorkersAIServer
    ) -> None:
        server.enqueue(Reply.result({"response": "ok", "usage": USAGE}))
        llm = _llm(server, temperature=0.2, max_tokens=50)
        llm.invoke("hi", max_tokens=5, stop=["\n"])
        request = server.requests[-1]
        assert request.model == LLAMA
        assert _body(request) == {
            "messages": [{"role": "user", "content": "hi"}],
            "temperature": 0.2,
            "max_tokens": 5,
            "stop": ["\n"],
        }
        assert request.headers["authorization"] == "Bearer secret-token"

    def test_per_call_model_override(self, server: WorkersAIServer) -> None:
        server.enqueue(Reply.result({"response": "ok"}))
        result = _llm(server).invoke("hi", model="@cf/meta/llama-3.1-8b-instruct-fast")
        assert server.requests[-1].model == "@cf/meta/llama-3.1-8b-instruct-fast"
        assert result.response_metadata["model_name"] == "@cf/meta/llama-3.1-8b-instruct-fast"

    def test_system_messages_merged_and_tool_turns_on_the_wire(
        self, server: WorkersAIServer
    ) -> None:
        server.enqueue(Reply.result({"response": "It is sunny."}))
        _llm(server).invoke(
            [
                SystemMessage("You are terse."),
                HumanMessage("Weather in Paris?"),
                SystemMessage("Answer in English."),
                AIMessage("", tool_calls=[{"name": "w", "args": {"city": "Paris"}, "id": "c9"}]),
                ToolMessage("sunny", tool_call_id="c9"),
            ]
        )
        messages = _body(server.requests[-1])["messages"]
        assert messages[0] == {"role": "system", "content": "You are terse.\n\nAnswer in English."}
        assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool"]
        assert messages[2]["content"] == ""
        assert messages[2]["tool_calls"][0]["function"]["arguments"] == '{"city":"Paris"}'
        assert messages[3]["tool_call_id"] == "c9"

    @pytest.mark.usefixtures("loopback_images")
    def test_remote_image_url_is_fetched_and_inlined(self, server: WorkersAIServer) -> None:
        png = _png()
        server.enqueue(Reply.binary(png), Reply.result({"response": "A red square."}))
        url = server.base_url.replace("/client/v4", "/images/red.png")
        _llm(server, model=SCOUT).invoke(
            [HumanMessage(["What is this?", {"type": "image", "url": url}])]
        )
        fetch, chat = server.requests
        assert fetch.method == "GET"
        assert "authorization" not in fetch.headers  # the token never goes to the image host
        part = _body(chat)["messages"][0]["content"][1]
        assert part["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(png).decode()

    def test_images_for_a_text_only_model_fail_before_any_request(
        self, server: WorkersAIServer
    ) -> None:
        message = HumanMessage(
            ["Hi", {"type": "image", "base64": _png(), "mime_type": "image/png"}]
        )
        with pytest.raises(ModelInvalidRequestError, match="does not accept images") as info:
            _llm(server).invoke([message])
        assert isinstance(info.value, workersai.InvalidInputError)
        assert server.requests == []

    def test_streaming_true_makes_invoke_stream(self, server: WorkersAIServer) -> None:
        server.enqueue(
            Reply.sse(
                [
                    {"response": "Hel", "p": "ab"},
                    {"response": "lo"},
                    {"response": "", "usage": USAGE},
                ]
            )
        )
        result = _llm(server, streaming=True).invoke("hi")
        assert _body(server.requests[-1])["stream"] is True
        assert result.content == "Hello"
        assert result.usage_metadata == {"input_tokens": 12, "output_tokens": 4, "total_tokens": 16}

    def test_stream_and_astream_are_twins(self, server: WorkersAIServer) -> None:
        events = [
            {"response": "Bon", "p": "abcdef"},
            {"response": "jour", "p": "a"},
            {"response": "", "usage": USAGE},
        ]
        server.enqueue(Reply.sse(events), Reply.sse(events))
        llm = _llm(server)
        sync_chunks = list(llm.stream("hi"))

        async def collect() -> list[AIMessageChunk]:
            return [chunk async for chunk in llm.astream("hi")]

        async_chunks = asyncio.run(collect())
        assert [c.content for c in sync_chunks] == [c.content for c in async_chunks]
        assert [c.usage_metadata for c in sync_chunks] == [c.usage_metadata for c in async_chunks]
        assert [c.content for c in sync_chunks] == ["Bon", "jour", ""]
        assert sync_chunks[-1].chunk_position == "last"
        assert _body(server.requests[0]) == _body(server.requests[1])

    def test_openai_stream_tool_call_chunks_carry_index_and_id(
        self, server: WorkersAIServer
    ) -> None:
        head = {"id": "id-1", "created": 1, "model": SCOUT, "object": "chat.completion.chunk"}

        def delta(d: dict[str, Any], **extra: Any) -> dict[str, Any]:
            return {**head, "choices": [{"index": 0, "delta": d, **extra}]}

        server.enqueue(
            Reply.sse(
                [
                    delta(
                        {
                            "tool_calls": [
                                {
                                    "id": "chatcmpl-tool-a",
                                    "type": "function",
                                    "index": 0,
                                    "function": {"name": "get_weather", "arguments": ""},
                                }
                            ]
                        }
                    ),
                    delta({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
                    delta({"tool_calls": [{"index": 0, "function": {"arguments": '"Rome"}'}}]}),
                    delta({}, finish_reason="tool_calls"),
                ]
            )
        )
        chunks = list(_llm(server, model=SCOUT, endpoint="openai").stream("weather?"))
        first = chunks[0].tool_call_chunks[0]
        assert (first["index"], first["id"], first["name"]) == (0, "chatcmpl-tool-a", "get_weather")
        assert all(c["index"] == 0 for chunk in chunks for c in chunk.tool_call_chunks)
        full = chunks[0]
        for chunk in chunks[1:]:
            full += chunk
        assert full.tool_calls == [
            {
                "name": "get_weather",
                "args": {"city": "Rome"},
                "id": "chatcmpl-tool-a",
                "type": "tool_call",
            }
        ]
        assert full.response_metadata["finish_reason"] == "tool_calls"

    def test_broken_streamed_arguments_become_invalid_tool_calls(
        self, server: WorkersAIServer
    ) -> None:
        server.enqueue(
            Reply.sse(
                [
                    {
                        "tool_calls": [
                            {
                                "id": "call_1",
                                "type": "function",
                                "index": 0,
                                "function": {"name": "lookup"},
                            }
                        ]
                    },
                    {"tool_calls": [{"index": 0, "function": {"arguments": '{"q": unquoted}'}}]},
                    {"response": "", "usage": USAGE},
                ]
            )
        )
        full: AIMessageChunk | None = None
        for chunk in _llm(server).stream("find it"):
            full = chunk if full is None else full + chunk
        assert full is not None
        assert full.tool_calls == []
        assert full.invalid_tool_calls[0]["name"] == "lookup"
        assert full.invalid_tool_calls[0]["id"] == "call_1"

    def test_json_schema_stream_sends_one_unstreamed_request(self, server: WorkersAIServer) -> None:
        class City(BaseModel):
            name: str = Field(description="City name")
            country: str

        server.enqueue(Reply.result({"response": {"name": "Oslo", "country": "Norway"}}))
        chunks = list(
            _llm(server)
            .with_structured_output(City, method="json_schema")
            .stream("Capital of Norway?")
        )
        assert chunks[-1] == City(name="Oslo", country="Norway")
        body = _body(server.requests[-1])
        assert "stream" not in body  # Workers AI answers 5023 to a streamed JSON-schema request
        assert body["response_format"]["json_schema"]["properties"]["name"]["type"] == "string"

    def test_structured_output_include_raw_keeps_parse_errors(
        self, server: WorkersAIServer
    ) -> None:
        class City(BaseModel):
            name: str

        server.enqueue(Reply.result({"response": "not json at all"}))
        out = (
            _llm(server)
            .with_structured_output(City, method="json_mode", include_raw=True)
            .invoke("x")
        )
        assert isinstance(out, dict)
        assert out["parsed"] is None
        assert out["parsing_error"] is not None
        assert out["raw"].content == "not json at all"

    def test_lora_and_raw_use_the_prompt_branch(self, server: WorkersAIServer) -> None:
        server.enqueue(Reply.result({"response": "ok"}), Reply.result({"response": "ok"}))
        model = "@cf/mistral/mistral-7b-instruct-v0.2-lora"
        _llm(server, model=model, lora="support-tickets-v3").invoke(
            [SystemMessage("Classify."), HumanMessage("My card was charged twice.")]
        )
        body = _body(server.requests[0])
        assert "messages" not in body
        assert body["lora"] == "support-tickets-v3"
        assert "My card was charged twice." in body["prompt"]
        _llm(server, model=LLAMA, raw=True).invoke("Hi")
        body = _body(server.requests[1])
        assert body["raw"] is True
        assert body["prompt"].startswith("<|begin_of_text|>")

    def test_gateway_cache_status_in_response_metadata(self, server: WorkersAIServer) -> None:
        headers = {"cf-aig-cache-status": "HIT", "cf-aig-log-id": "log-1"}
        server.enqueue(Reply.result({"response": "cached"}, headers=headers))
        result = _llm(server, gateway="docs-gateway").invoke("hi")
        assert server.requests[-1].headers["cf-aig-gateway-id"] == "docs-gateway"
        assert result.response_metadata["gateway"] == {"cache_status": "HIT", "log_id": "log-1"}

    def test_errors_are_langchain_model_errors(self, server: WorkersAIServer) -> None:
        capacity = Reply.error(
            429, 3040, "Capacity temporarily exceeded, please try again.", headers=NO_WAIT
        )
        server.enqueue(capacity, capacity, capacity)
        llm = _llm(server, max_retries=2)
        with pytest.raises(ModelRateLimitError) as info:
            llm.invoke("hi")
        assert isinstance(info.value, workersai.CapacityExceededError)
        assert info.value.code == 3040
        assert info.value.retries_taken == 2
        assert len(server.requests) == 3
        server.enqueue(Reply.error(404, 5007, "No such model @cf/meta/llama-9"))
        with pytest.raises(ModelNotFoundError, match="No such model"):
            _llm(server, model="@cf/meta/llama-9").invoke("hi")

    async def test_async_errors_are_langchain_model_errors(self, server: WorkersAIServer) -> None:
        server.enqueue(Reply.error(400, 5007, "No such model @cf/meta/llama-9 or task"))
        with pytest.raises(ModelNotFoundError) as info:
            await _llm(server, model="@cf/meta/llama-9").ainvoke("hi")
        assert isinstance(info.value, workersai.ModelNotFoundError)
        assert info.value.hint is not None
        server.enqueue(Reply.sse([{"response": "Half an ans", "p": "abc"}], done=False))
        chunks: list[AIMessageChunk] = []
        with pytest.raises(ModelAPIError) as truncated:
            async for chunk in _llm(server).astream("hi"):
                chunks.append(chunk)
        assert isinstance(truncated.value, workersai.StreamTruncatedError)
        assert truncated.value.partial_text == "Half an ans"
        assert [c.content for c in chunks] == ["Half an ans"]


@LOOPBACK
def test_batch_survives_rate_limits(server: WorkersAIServer) -> None:
    """A batch with scripted 429s: every prompt is answered, none fails the batch."""
    seen: dict[str, int] = {}

    def handler(request: RecordedRequest) -> Reply:
        prompt = _body(request)["messages"][0]["content"]
        seen[prompt] = seen.get(prompt, 0) + 1
        if seen[prompt] == 1 and int(prompt.split()[-1]) % 3 == 0:
            return Reply.error(
                429, 3040, "Capacity temporarily exceeded, please try again.", headers=NO_WAIT
            )
        return Reply.result({"response": f"answer to {prompt}", "usage": USAGE})

    server.handler = handler
    llm = _llm(server, max_retries=3, rate_limiter=InMemoryRateLimiter(requests_per_second=1000))
    prompts = [f"question {i}" for i in range(60)]
    results = llm.batch(prompts, config={"max_concurrency": 8})
    assert [r.content for r in results] == [f"answer to {p}" for p in prompts]
    assert sum(seen.values()) == 60 + 20  # every third prompt was retried once


class Address(BaseModel):
    city: str
    country: str


class Person(BaseModel):
    """A person and where they live."""

    name: str
    home: Address
    previous: list[Address] = Field(default_factory=list)


def test_structured_output_default_method_follows_the_catalog() -> None:
    with_tools = ChatWorkersAI(model=LLAMA).with_structured_output(Person)
    assert "tools" in with_tools.first.kwargs  # type: ignore[attr-defined]
    # Llama 3.1 8B has no function calling on Workers AI: JSON mode with the schema instead.
    without = ChatWorkersAI(model="@cf/meta/llama-3.1-8b-instruct-fast").with_structured_output(
        Person
    )
    assert without.first.kwargs["response_format"]["type"] == "json_schema"  # type: ignore[attr-defined]


@LOOPBACK
@pytest.mark.parametrize("method", ["function_calling", "json_schema"])
def test_schema_references_are_inlined(server: WorkersAIServer, method: str) -> None:
    person = {"name": "Ada", "home": {"city": "London", "country": "UK"}, "previous": []}
    if method == "function_calling":
        server.enqueue(
            Reply.result(
                {"response": None, "tool_calls": [{"name": "Person", "arguments": person}]}
            )
        )
    else:
        server.enqueue(Reply.result({"response": person}))
    result = _llm(server).with_structured_output(Person, method=method).invoke("Who is Ada?")  # type: ignore[arg-type]
    assert result == Person.model_validate(person)
    sent = json.dumps(_body(server.requests[-1]))
    assert "$ref" not in sent
    assert "$defs" not in sent
    assert '"city"' in sent


# -- construction details found by audits ----------------------------------------------------


def test_request_timeout_is_the_timeout_not_a_body_field(recwarn: pytest.WarningsRecorder) -> None:
    llm = ChatWorkersAI(model=LLAMA, request_timeout=5)
    assert llm.timeout == 5
    assert llm.model_kwargs == {}  # was: moved to model_kwargs and sent to the model
    assert not [w for w in recwarn if "request_timeout" in str(w.message)]
    assert llm._client.timeout.read == 5
    assert ChatWorkersAI(model=LLAMA, timeout=7).timeout == 7  # the field name still works


@LOOPBACK
def test_request_timeout_never_reaches_the_body(server: WorkersAIServer) -> None:
    server.enqueue(Reply.result({"response": "ok"}))
    _llm(server, request_timeout=5).invoke("hi")
    assert _body(server.requests[-1]) == {"messages": [{"role": "user", "content": "hi"}]}


def _bmp() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (12, 12), "blue").save(buffer, format="BMP")
    return buffer.getvalue()


def test_image_type_is_sniffed_by_the_core() -> None:
    # The core knows every image type Workers AI reads (BMP included); the adapter used to
    # carry a shorter copy of that list and rejected a BMP without mime_type.
    bmp = _bmp()
    b64 = base64.b64encode(bmp).decode()
    parts = _convert_messages([HumanMessage([{"type": "image", "base64": bmp}])])[0]["content"]
    assert parts == [{"type": "image_url", "image_url": {"url": f"data:image/bmp;base64,{b64}"}}]
    anthropic = {"type": "image", "source": {"type": "base64", "data": b64}}
    parts = _convert_messages([HumanMessage([anthropic])])[0]["content"]
    assert parts[0]["image_url"]["url"] == f"data:image/bmp;base64,{b64}"


@LOOPBACK
def test_an_answered_invalid_tool_call_goes_back_with_empty_arguments(
    server: WorkersAIServer,
) -> None:
    server.enqueue(Reply.result({"response": "Sorry, let me retry."}))
    broken = AIMessage(
        "",
        invalid_tool_calls=[
            {"type": "invalid_tool_call", "name": "lookup", "args": '{"q": ', "id": "c1"},
            {"type": "invalid_tool_call", "name": "lookup", "args": "{", "id": "unanswered"},
        ],
    )
    _llm(server).invoke(
        [HumanMessage("find it"), broken, ToolMessage("error: bad arguments", tool_call_id="c1")]
    )
    assistant = _body(server.requests[-1])["messages"][1]
    assert assistant["tool_calls"] == [
        {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
    ]


@pytest.mark.parametrize("attribute", ["_client", "_async_client"])
@pytest.mark.parametrize("factory", ["chat", "embeddings", "image"])
def test_concurrent_first_use_builds_one_client(
    monkeypatch: pytest.MonkeyPatch, attribute: str, factory: str
) -> None:
    """Threads of a ``batch`` racing for a fresh object's client get one client, not one each.

    ``functools.cached_property`` has no lock on Python 3.12+; a slow client constructor
    makes the race certain there.
    """
    import threading
    import time

    from langchain_workersai import WorkersAIEmbeddings, WorkersAIImage, _base

    built: list[object] = []

    def slow(real: type) -> type:
        class Slow(real):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                time.sleep(0.05)  # every racing thread is inside the constructor now
                super().__init__(*args, **kwargs)
                built.append(self)

        return Slow

    monkeypatch.setattr(_base, "WorkersAI", slow(workersai.WorkersAI))
    monkeypatch.setattr(_base, "AsyncWorkersAI", slow(workersai.AsyncWorkersAI))
    settings = {"account_id": "acct", "api_key": "tok"}
    model = {
        "chat": lambda: ChatWorkersAI(model=LLAMA, **settings),
        "embeddings": lambda: WorkersAIEmbeddings(**settings),
        "image": lambda: WorkersAIImage(**settings),
    }[factory]()
    barrier = threading.Barrier(8)
    seen: list[object] = []

    def use() -> None:
        barrier.wait()
        seen.append(getattr(model, attribute))

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1
    assert all(client is built[0] for client in seen)
    assert getattr(model, attribute) is built[0]
