"""WorkersAI (LlamaIndex LLM): message translation, tools, metadata, agents, structured output,
images, reasoning, token counting and retries.

The conformance suite (test_llm_conformance.py) covers every public method; these tests cover
what is specific to Workers AI and to the LlamaIndex integrations built on the LLM.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import pickle
from typing import Any

import pytest
from llama_index.core.agent.workflow import AgentWorkflow, FunctionAgent, ToolCallResult
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    DocumentBlock,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.constants import DEFAULT_CONTEXT_WINDOW
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool

import llamaindex_workersai
from llamaindex_workersai import WorkersAI
from llamaindex_workersai._llm_convert import _convert_messages
from tests.conftest import LOOPBACK
from tests.llamaindex import prompts
from tests.llamaindex.conformance import Album, get_weather, multiply
from workersai import InvalidInputError, RateLimitError
from workersai.testing import Reply, WorkersAIServer

LLAMA_33 = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
# A 12×12 red PNG (Workers AI wants images of at least 10 px per side, reference §8.2).
RED_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAwAAAAMCAIAAADZF8uwAAAAFUlEQVR4nGP8z0AYMBGhZlQR3RUBAM/gARe7TQcrAAAAAElFTkSuQmCC"
)


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def _response(*blocks: Any, **additional_kwargs: Any) -> ChatResponse:
    message = ChatMessage(role=MessageRole.ASSISTANT, blocks=list(blocks), **additional_kwargs)
    return ChatResponse(message=message)


# -- public surface and construction --------------------------------------------------


def test_public_surface() -> None:
    assert "WorkersAI" in llamaindex_workersai.__all__
    assert issubclass(WorkersAI, FunctionCallingLLM)


def test_short_model_names_resolve_and_unknown_names_fail() -> None:
    assert WorkersAI(model="llama-3.3-70b-instruct-fp8-fast").model == LLAMA_33
    with pytest.raises(ValueError, match="Unknown model"):
        WorkersAI(model="llama-9-nonexistent")


def test_api_key_alias_stays_out_of_fields() -> None:
    from workersai import GatewayOptions

    llm = WorkersAI(
        api_key="alias-token-value-123",
        account_id="acct",
        gateway=GatewayOptions(id="gw", cache_ttl=60),
    )
    assert llm.gateway == GatewayOptions(id="gw", cache_ttl=60)
    assert "alias-token-value-123" not in llm.to_json()
    assert llm._connection.client.gateway is not None
    assert llm._connection.client.gateway.cache_ttl == 60


def test_copies_share_the_connection_and_pickles_carry_no_credentials() -> None:
    llm = WorkersAI(model=LLAMA_33, temperature=0.3, api_token="pickle-secret-token-42")
    copied = copy.deepcopy(llm)
    assert copied.temperature == 0.3
    assert copied._connection is llm._connection
    data = pickle.dumps(llm)
    assert b"pickle-secret-token-42" not in data
    restored = pickle.loads(data)  # same settings; the token is re-read from the environment
    assert restored.to_dict() == llm.to_dict()
    assert restored._connection.client.account_id == os.environ["CLOUDFLARE_ACCOUNT_ID"]


# -- metadata -------------------------------------------------------------------------


def test_metadata_comes_from_the_catalog() -> None:
    metadata = WorkersAI(model=LLAMA_33).metadata
    assert (metadata.context_window, metadata.num_output) == (24000, 256)  # catalog values
    assert metadata.is_function_calling_model is True
    assert WorkersAI(model=LLAMA_33, max_tokens=1024).metadata.num_output == 1024


def test_metadata_of_a_model_without_function_calling() -> None:
    metadata = WorkersAI(model="@cf/meta/llama-3.1-8b-instruct-fast").metadata
    assert metadata.is_function_calling_model is False
    assert metadata.is_chat_model is True
    assert metadata.context_window == DEFAULT_CONTEXT_WINDOW  # the catalog has no window


def test_metadata_overrides_for_models_the_catalog_does_not_know() -> None:
    llm = WorkersAI(
        model="@cf/acme/brand-new-model", context_window=65536, is_function_calling_model=True
    )
    metadata = llm.metadata
    assert metadata.model_name == "@cf/acme/brand-new-model"
    assert (metadata.context_window, metadata.is_function_calling_model) == (65536, True)
    assert WorkersAI(model="@cf/acme/brand-new-model").metadata.is_function_calling_model is False


# -- outgoing messages ----------------------------------------------------------------


def test_messages_become_openai_form() -> None:
    messages = [
        ChatMessage(role=MessageRole.SYSTEM, content="Be brief."),
        ChatMessage(role=MessageRole.USER, content="Weather in Lisbon?"),
        ChatMessage(
            role=MessageRole.ASSISTANT,
            blocks=[
                ThinkingBlock(content="The user wants the weather."),
                ToolCallBlock(
                    tool_call_id="call_1", tool_name="get_weather", tool_kwargs={"city": "Lisbon"}
                ),
                ToolCallBlock(tool_call_id="call_2", tool_name="noop", tool_kwargs='{"x": 1}'),
            ],
        ),
        ChatMessage(
            role=MessageRole.TOOL, content="Sunny", additional_kwargs={"tool_call_id": "call_1"}
        ),
        ChatMessage(role=MessageRole.ASSISTANT, content="It is sunny."),
        ChatMessage(role=MessageRole.DEVELOPER, content="Answer in English."),
    ]
    assert _convert_messages(messages) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Lisbon?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Lisbon"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "noop", "arguments": '{"x": 1}'},
                },
            ],
        },
        {"role": "tool", "content": "Sunny", "tool_call_id": "call_1"},
        {"role": "assistant", "content": "It is sunny."},
        {"role": "system", "content": "Answer in English."},
    ]


def test_images_become_data_uris_and_urls_pass_to_the_core() -> None:
    message = ChatMessage(
        role=MessageRole.USER,
        blocks=[
            TextBlock(text="What is this?"),
            ImageBlock(image=RED_PNG),
            ImageBlock(url="https://example.com/cat.jpg"),
        ],
    )
    (wire,) = _convert_messages([message])
    text, inline, remote = wire["content"]
    assert text == {"type": "text", "text": "What is this?"}
    assert inline["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(
        RED_PNG
    ).decode("ascii")
    # http(s) URLs are fetched and inlined by the core (Workers AI takes data URIs only).
    assert remote == {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}


def test_image_of_unknown_type_and_unsupported_blocks_are_rejected() -> None:
    unknown = ChatMessage(role=MessageRole.USER, blocks=[ImageBlock(image=b"not an image")])
    with pytest.raises(InvalidInputError, match="image type"):
        _convert_messages([unknown])
    document = ChatMessage(role=MessageRole.USER, blocks=[DocumentBlock(data=b"%PDF-1.4")])
    with pytest.raises(InvalidInputError, match="DocumentBlock"):
        _convert_messages([document])


def test_tool_calls_of_other_integrations_in_additional_kwargs_are_sent() -> None:
    legacy_call = {"id": "abc", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    message = ChatMessage(
        role=MessageRole.ASSISTANT, content="", additional_kwargs={"tool_calls": [legacy_call]}
    )
    assert _convert_messages([message])[0]["tool_calls"] == [legacy_call]


# -- tools ----------------------------------------------------------------------------


def test_prepare_chat_with_tools() -> None:
    weather = FunctionTool.from_defaults(get_weather)
    times = FunctionTool.from_defaults(multiply)
    llm = WorkersAI(model=LLAMA_33)
    prepared = llm._prepare_chat_with_tools([weather], user_msg="hi", chat_history=[])
    assert [m.content for m in prepared["messages"]] == ["hi"]
    assert prepared["tools"][0]["function"]["name"] == "get_weather"
    # auto is Workers AI's default: nothing sent; llama-3.3's native schema has no
    # parallel_tool_calls, so it is not sent either
    assert "tool_choice" not in prepared
    assert "parallel_tool_calls" not in prepared
    assert llm._prepare_chat_with_tools([weather], tool_required=True)["tool_choice"] is True
    assert (
        llm._prepare_chat_with_tools([weather, times], tool_choice="multiply")["tool_choice"]
        == "multiply"
    )
    openai = WorkersAI(model=LLAMA_33, endpoint="openai")
    prepared = openai._prepare_chat_with_tools([weather], allow_parallel_tool_calls=True)
    assert prepared["parallel_tool_calls"] is True
    kimi = WorkersAI(model="@cf/moonshotai/kimi-k2.5")
    assert kimi._prepare_chat_with_tools([weather])["parallel_tool_calls"] is False
    assert "tools" not in llm._prepare_chat_with_tools([], user_msg="hi")


def test_get_tool_calls_parses_every_argument_form() -> None:
    llm = WorkersAI(model=LLAMA_33)
    response = _response(
        ToolCallBlock(tool_call_id="1", tool_name="a", tool_kwargs={"x": 1}),
        ToolCallBlock(tool_call_id="2", tool_name="b", tool_kwargs='{"y": "two"}'),
        ToolCallBlock(tool_call_id="3", tool_name="c", tool_kwargs='{"z": [1, 2'),  # mid-stream
        ToolCallBlock(tool_call_id="4", tool_name="d", tool_kwargs="not json"),
        ToolCallBlock(tool_call_id=None, tool_name="e", tool_kwargs=""),
    )
    calls = llm.get_tool_calls_from_response(response)
    assert [(c.tool_id, c.tool_name, c.tool_kwargs) for c in calls] == [
        ("1", "a", {"x": 1}),
        ("2", "b", {"y": "two"}),
        ("3", "c", {"z": [1, 2]}),
        ("4", "d", {}),
        ("", "e", {}),
    ]
    no_calls = _response(TextBlock(text="Hello"))
    assert llm.get_tool_calls_from_response(no_calls, error_on_no_tool_call=False) == []
    with pytest.raises(ValueError, match="Expected at least one tool call"):
        llm.get_tool_calls_from_response(no_calls)


def test_single_tool_call_is_kept_unless_parallel_calls_are_allowed() -> None:
    llm = WorkersAI(model=LLAMA_33)

    def two_calls() -> ChatResponse:
        calls = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": "{}"}}
            for i, n in (("1", "a"), ("2", "b"))
        ]
        return _response(
            TextBlock(text="calling"),
            ToolCallBlock(tool_call_id="1", tool_name="a"),
            ToolCallBlock(tool_call_id="2", tool_name="b"),
            additional_kwargs={"tool_calls": calls},
        )

    single = llm._validate_chat_with_tools_response(two_calls(), [])
    assert [c.tool_name for c in llm.get_tool_calls_from_response(single)] == ["a"]
    assert len(single.message.additional_kwargs["tool_calls"]) == 1
    assert single.message.content == "calling"
    both = llm._validate_chat_with_tools_response(two_calls(), [], allow_parallel_tool_calls=True)
    assert len(llm.get_tool_calls_from_response(both)) == 2


# -- agents ---------------------------------------------------------------------------


async def _run_agent(workflow: Any) -> tuple[str, list[ToolCallResult]]:
    handler = workflow.run(user_msg=prompts.AGENT)
    results = [e async for e in handler.stream_events() if isinstance(e, ToolCallResult)]
    return str(await handler), results


# llama-index-workflows inspects agents with inspect.getmembers, which touches pydantic's
# deprecated attributes; the warnings are theirs, not ours.
WORKFLOW_WARNINGS = "ignore:.*deprecated.*:DeprecationWarning:inspect"


@pytest.mark.vcr
@pytest.mark.filterwarnings(WORKFLOW_WARNINGS)
async def test_function_agent_solves_a_two_tool_task() -> None:
    llm = WorkersAI(model=LLAMA_33, temperature=0)
    agent = FunctionAgent(tools=[multiply, add], llm=llm, streaming=False)
    answer, results = await _run_agent(agent)
    assert [(r.tool_name, r.tool_kwargs, r.tool_output.raw_output) for r in results] == [
        ("multiply", {"a": 3, "b": 4}, 12),
        ("add", {"a": 12, "b": 5}, 17),
    ]
    assert "17" in answer


@pytest.mark.vcr
@pytest.mark.filterwarnings(WORKFLOW_WARNINGS)
async def test_agent_workflow_streams_tool_calls() -> None:
    llm = WorkersAI(model=LLAMA_33, temperature=0)
    workflow = AgentWorkflow.from_tools_or_functions([multiply, add], llm=llm)
    assert isinstance(workflow.agents["Agent"], FunctionAgent)
    assert workflow.agents["Agent"].streaming is True  # tool calls assembled from SSE deltas
    answer, results = await _run_agent(workflow)
    assert [(r.tool_name, r.tool_kwargs, r.tool_output.raw_output) for r in results] == [
        ("multiply", {"a": 3, "b": 4}, 12),
        ("add", {"a": 12, "b": 5}, 17),
    ]
    assert "17" in answer


# -- structured output ----------------------------------------------------------------

ALBUM_PROMPT = PromptTemplate("Invent a music album inspired by {topic}.")


@pytest.mark.vcr
def test_structured_predict_uses_tool_calling_without_response_format(vcr: Any) -> None:
    # Hermes 2 Pro calls functions but has no response_format: a forced "Album" tool call.
    llm = WorkersAI(model="@hf/nousresearch/hermes-2-pro-mistral-7b")
    album = llm.structured_predict(Album, ALBUM_PROMPT, topic="the Atlantic ocean")
    assert album == Album(name="Tidal Archives", artist="The Azores Quartet", year=2019)
    body = json.loads(vcr.requests[0].body)
    assert "response_format" not in body
    assert body["tool_choice"] == {"type": "function", "function": {"name": "Album"}}


@pytest.mark.vcr
async def test_structured_predict_parses_text_without_function_calling(vcr: Any) -> None:
    llm = WorkersAI(model="@cf/meta/llama-3.1-8b-instruct")
    album = await llm.astructured_predict(Album, ALBUM_PROMPT, topic="the Atlantic ocean")
    assert album.year == 2019
    body = json.loads(vcr.requests[0].body)
    assert "tools" not in body
    assert "response_format" not in body


@pytest.mark.vcr
def test_structured_predict_sends_the_json_schema(vcr: Any) -> None:
    llm = WorkersAI(model=LLAMA_33, temperature=0)
    llm.structured_predict(Album, ALBUM_PROMPT, topic="the Atlantic ocean")
    body = json.loads(vcr.requests[0].body)
    # native /ai/run takes the bare JSON schema (reference §3.1)
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["required"] == ["name", "artist", "year"]
    assert "tools" not in body


# -- images and reasoning -------------------------------------------------------------


@pytest.mark.vcr
def test_image_blocks_reach_a_vision_model(vcr: Any) -> None:
    llm = WorkersAI(model="@cf/meta/llama-4-scout-17b-16e-instruct")
    message = ChatMessage(
        role=MessageRole.USER, blocks=[ImageBlock(image=RED_PNG), TextBlock(text=prompts.IMAGE)]
    )
    response = llm.chat([message])
    assert response.message.content == "A solid red square."
    (part_image, part_text) = json.loads(vcr.requests[0].body)["messages"][0]["content"]
    assert part_image["image_url"]["url"].startswith("data:image/png;base64,iVBORw0KGgo")
    assert part_text == {"type": "text", "text": prompts.IMAGE}


@pytest.mark.vcr
def test_reasoning_becomes_thinking_blocks_and_is_never_sent_back(vcr: Any) -> None:
    llm = WorkersAI(model="@cf/qwen/qwen3-30b-a3b-fp8")
    question = ChatMessage(role=MessageRole.USER, content=prompts.REASONING)
    responses = list(llm.stream_chat([question]))
    thinking = "".join(r.additional_kwargs.get("thinking_delta", "") for r in responses)
    assert thinking == "17 × 3 is 17 + 17 + 17 = 51."
    final = responses[-1]
    (block,) = [b for b in final.message.blocks if isinstance(b, ThinkingBlock)]
    assert block.content == thinking
    assert final.message.content == "17 × 3 = 51."

    follow_up = ChatMessage(role=MessageRole.USER, content="And plus one?")
    answer = llm.chat([question, final.message, follow_up])
    assert "52" in (answer.message.content or "")
    sent = json.loads(vcr.requests[1].body)["messages"]
    assert sent[1] == {"role": "assistant", "content": "17 × 3 = 51."}


# -- usage ----------------------------------------------------------------------------


@pytest.mark.vcr
def test_token_counting_handler_sees_usage() -> None:
    counter = TokenCountingHandler()
    llm = WorkersAI(model=LLAMA_33, callback_manager=CallbackManager([counter]))
    messages = [ChatMessage(role=MessageRole.USER, content=prompts.CAPITAL)]
    llm.chat(messages)
    list(llm.stream_chat(messages))
    assert [(e.prompt_token_count, e.completion_token_count) for e in counter.llm_token_counts] == [
        (31, 3),
        (31, 3),
    ]


# -- retries: one layer only ----------------------------------------------------------


@LOOPBACK
def test_retries_happen_once_in_the_core(server: WorkersAIServer) -> None:
    busy = Reply.error(
        429, 3040, "Capacity temporarily exceeded, please try again.", headers={"Retry-After": "0"}
    )
    ok = Reply.result(
        {"response": "Lisbon.", "usage": {"prompt_tokens": 5, "completion_tokens": 2}}
    )
    server.enqueue(busy, ok)
    llm = WorkersAI(model=LLAMA_33, account_id="acct", api_token="tok", base_url=server.base_url)
    messages = [ChatMessage(role=MessageRole.USER, content="hi")]
    assert llm.chat(messages).message.content == "Lisbon."
    assert len(server.requests) == 2

    server.enqueue(busy, busy)
    strict = WorkersAI(
        model=LLAMA_33, account_id="acct", api_token="tok", base_url=server.base_url, max_retries=0
    )
    with pytest.raises(RateLimitError):
        strict.chat(messages)
    assert len(server.requests) == 3  # max_retries=0: one attempt, no second retry layer
    assert server.pending == 1


@LOOPBACK
def test_request_body_per_call_kwargs_win(server: WorkersAIServer) -> None:
    server.enqueue(Reply.result({"response": "ok"}))
    llm = WorkersAI(
        model=LLAMA_33,
        account_id="acct",
        api_token="tok",
        base_url=server.base_url,
        temperature=0.2,
        max_tokens=64,
        additional_kwargs={"seed": 7, "top_p": 0.9},
    )
    llm.chat([ChatMessage(role=MessageRole.USER, content="hi")], temperature=0.8, top_k=5)
    body = server.requests[0].json()
    assert {k: body[k] for k in ("temperature", "max_tokens", "seed", "top_p", "top_k")} == {
        "temperature": 0.8,
        "max_tokens": 64,
        "seed": 7,
        "top_p": 0.9,
        "top_k": 5,
    }
    assert server.requests[0].headers["authorization"] == "Bearer tok"


# -- construction, copies and pickles ---------------------------------------------------


@LOOPBACK
def test_generation_parameters_given_to_the_constructor_are_sent(server: WorkersAIServer) -> None:
    # They used to be dropped silently (not fields, not additional_kwargs).
    server.enqueue(Reply.result({"response": "ok"}))
    llm = WorkersAI(
        model=LLAMA_33,
        account_id="acct",
        api_token="tok",
        base_url=server.base_url,
        top_p=0.9,
        seed=7,
        additional_kwargs={"top_k": 5},
    )
    assert llm.additional_kwargs == {"top_k": 5, "top_p": 0.9, "seed": 7}
    llm.chat([ChatMessage(role=MessageRole.USER, content="hi")])
    body = server.requests[0].json()
    assert (body["top_p"], body["seed"], body["top_k"]) == (0.9, 7, 5)
    assert WorkersAI.from_dict(llm.to_dict()).additional_kwargs == llm.additional_kwargs


def test_gateway_options_survive_to_dict_and_pickle() -> None:
    from workersai import GatewayOptions

    options = GatewayOptions(
        id="gw", cache_ttl=60, metadata={"team": "search"}, authorization="gw-secret-token-77"
    )
    llm = WorkersAI(model=LLAMA_33, account_id="acct", api_token="tok", gateway=options)
    assert isinstance(llm.gateway, GatewayOptions)
    assert (llm.gateway.id, llm.gateway.cache_ttl, llm.gateway.metadata) == (
        "gw",
        60,
        {"team": "search"},
    )
    # The gateway's own token is a credential: in the client only, like the API token.
    assert llm.gateway.authorization is None
    assert "gw-secret-token-77" not in llm.to_json()
    assert llm._connection.client.gateway == options
    for restored in (WorkersAI.from_dict(llm.to_dict()), pickle.loads(pickle.dumps(llm))):
        gateway = restored._connection.client.gateway
        assert gateway is not None
        assert gateway.headers()["cf-aig-cache-ttl"] == "60"
        assert gateway.headers()["cf-aig-metadata"] == '{"team":"search"}'
        assert restored.to_dict() == llm.to_dict()
    assert b"gw-secret-token-77" not in pickle.dumps(llm)
    assert WorkersAI(gateway="plain-name").gateway == GatewayOptions(id="plain-name")


def test_a_pickled_llm_keeps_its_settings_and_rereads_only_the_token(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    llm = WorkersAI(
        model=LLAMA_33,
        account_id="explicit-account",
        api_token="pickle-secret-token-42",
        base_url="http://127.0.0.1:9/client/v4",
        timeout=12,
        max_retries=4,
    )
    with caplog.at_level("WARNING"):
        data = pickle.dumps(llm)
    assert caplog.records == []  # LlamaIndex logs "Removing unpickleable ..." on the root logger
    assert b"pickle-secret-token-42" not in data
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "token-from-the-environment")
    restored = pickle.loads(data)
    client = restored._connection.client
    assert client.account_id == "explicit-account"  # not the environment's
    assert client.base_url == "http://127.0.0.1:9/client/v4"
    assert (client.timeout.read, client.max_retries) == (12, 4)
    assert client._credentials.require()[1].get_secret_value() == "token-from-the-environment"
    assert restored.to_dict() == llm.to_dict()


def test_an_unpickled_llm_without_a_token_fails_clearly_on_first_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workersai import MissingCredentialsError

    data = pickle.dumps(WorkersAI(model=LLAMA_33, account_id="acct", api_token="tok"))
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN")
    restored = pickle.loads(data)
    with pytest.raises(MissingCredentialsError, match="API token"):
        restored.chat([ChatMessage(role=MessageRole.USER, content="hi")])


@pytest.mark.parametrize("kind", ["embedding", "rerank", "reader"])
def test_other_components_pickle_with_their_settings_too(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    from llamaindex_workersai import WorkersAIEmbedding, WorkersAIRerank, WorkersAIWhisperReader

    settings = {"account_id": "explicit-account", "api_token": "secret-token-9", "max_retries": 5}
    component = {
        "embedding": lambda: WorkersAIEmbedding(**settings),
        "rerank": lambda: WorkersAIRerank(**settings),
        "reader": lambda: WorkersAIWhisperReader(**settings),
    }[kind]()
    with caplog.at_level("WARNING"):
        data = pickle.dumps(component)
    assert caplog.records == []
    assert b"secret-token-9" not in data
    client = pickle.loads(data)._connection.client
    assert (client.account_id, client.max_retries) == ("explicit-account", 5)


# -- JSON mode ---------------------------------------------------------------------------


@LOOPBACK
def test_json_mode_answers_carry_the_cores_parsed_value(server: WorkersAIServer) -> None:
    fenced = (
        '```json\n{"name": "Tidal Archives", "artist": "The Azores Quartet", "year": 2019}\n```'
    )
    server.enqueue(*[Reply.result({"response": fenced}) for _ in range(3)])
    llm = WorkersAI(model=LLAMA_33, account_id="acct", api_token="tok", base_url=server.base_url)
    ask = [ChatMessage(role=MessageRole.USER, content="An album, as JSON")]
    album = {"name": "Tidal Archives", "artist": "The Azores Quartet", "year": 2019}
    response = llm.chat(ask, response_format={"type": "json_object"})
    assert response.message.content == fenced
    assert response.additional_kwargs["parsed"] == album
    *_, last = llm.stream_chat(ask, response_format={"type": "json_object"})
    assert last.additional_kwargs["parsed"] == album
    album = llm.structured_predict(Album, ALBUM_PROMPT, topic="the Atlantic ocean")
    assert album == Album(name="Tidal Archives", artist="The Azores Quartet", year=2019)


@LOOPBACK
def test_a_tool_call_with_broken_arguments_goes_back_as_an_empty_object(
    server: WorkersAIServer,
) -> None:
    # "Assistant tool call function.arguments must be valid JSON." (400, reference §2.3)
    server.enqueue(Reply.result({"response": "Let me try again."}))
    llm = WorkersAI(model=LLAMA_33, account_id="acct", api_token="tok", base_url=server.base_url)
    history = [
        ChatMessage(role=MessageRole.USER, content="Weather in Lisbon?"),
        ChatMessage(
            role=MessageRole.ASSISTANT,
            blocks=[ToolCallBlock(tool_call_id="c1", tool_name="get_weather", tool_kwargs='{"ci')],
        ),
        ChatMessage(
            role=MessageRole.TOOL, content="bad arguments", additional_kwargs={"tool_call_id": "c1"}
        ),
    ]
    llm.chat(history)
    call = server.requests[0].json()["messages"][1]["tool_calls"][0]
    assert call["function"] == {"name": "get_weather", "arguments": "{}"}
