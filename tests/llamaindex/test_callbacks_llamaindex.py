"""WorkersAIUsageHandler / workersai_usage: requests, tokens, neurons and estimated USD per
model through LlamaIndex's callback manager, each request counted exactly once — streamed
chats, 50 concurrent calls, a FunctionAgent with tool calls, embeddings, reranking, a query
engine — and TokenCountingHandler's counts with our classes. Replayed from composed cassettes
(``tests/compose/usage.py``)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator

import pytest
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.callbacks import (
    CallbackManager,
    CBEventType,
    EventPayload,
    TokenCountingHandler,
)
from llama_index.core.llms import ChatMessage, ChatResponse, MessageRole, MockLLM
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.core.settings import _Settings
from llama_index.core.tools import FunctionTool

from llamaindex_workersai import (
    WorkersAI,
    WorkersAIEmbedding,
    WorkersAIRerank,
    WorkersAIUsageHandler,
    callbacks,
    workersai_usage,
)
from tests.compose.usage import (
    LINE_PROMPT,
    LINES,
    LLAMA_33,
    RAG_ANSWER,
    RAG_QUERY,
    SYNONYM_PROMPT,
    SYNONYMS,
    UNPRICED,
    UNPRICED_PROMPT,
    VAT_ANSWER,
    VAT_TASK,
)
from workersai import WorkersAI as CoreClient
from workersai.usage import is_tracking, record_request

BGE = "@cf/baai/bge-base-en-v1.5"
RERANKER = "@cf/baai/bge-reranker-base"


def llama_usd(prompt_tokens: int, completion_tokens: int) -> float:
    """Llama 3.3 70B fast: 0.29 / 2.25 USD per million input / output tokens (catalog)."""
    return prompt_tokens * 0.29e-6 + completion_tokens * 2.25e-6


def user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, content=text)]


def multiply(a: float, b: float) -> float:
    """Multiply two numbers."""
    return a * b


def add_vat(amount: float, rate: float) -> float:
    """Add VAT at ``rate`` percent to a net amount."""
    return round(amount * (1 + rate / 100), 2)


@pytest.fixture
def settings() -> Iterator[_Settings]:
    saved = (Settings._llm, Settings._embed_model, Settings._callback_manager)
    yield Settings
    Settings._llm, Settings._embed_model, Settings._callback_manager = saved


# -- over real runs (cassettes) -------------------------------------------------------------


@pytest.mark.vcr
async def test_streams_are_counted_once_with_their_final_usage() -> None:
    usage = WorkersAIUsageHandler()
    counter = TokenCountingHandler(tokenizer=str.split)
    llm = WorkersAI(model=LLAMA_33, callback_manager=CallbackManager([usage, counter]))

    harbour = list(llm.stream_chat(user(LINE_PROMPT.format(topic="the harbour at dawn"))))
    lighthouse = [
        r
        async for r in await llm.astream_chat(
            user(LINE_PROMPT.format(topic="the lighthouse at night"))
        )
    ]
    market = list(llm.stream_complete(LINE_PROMPT.format(topic="the market at noon")))
    assert harbour[-1].message.content == LINES["the harbour at dawn"]
    assert lighthouse[-1].message.content == LINES["the lighthouse at night"]
    assert market[-1].text == LINES["the market at noon"]

    llama = usage.by_model[LLAMA_33]
    # per the cassette: every event repeats the usage so far; the trailers report
    # 42+12, 43+12 and 42+10 tokens and 3.58, 3.6 and 3.17 neurons
    assert (llama.requests, llama.prompt_tokens, llama.completion_tokens) == (3, 127, 34)
    assert llama.neurons == pytest.approx(3.58 + 3.6 + 3.17)  # never summed across chunks
    assert usage.total_cost == pytest.approx(llama_usd(127, 34))
    # TokenCountingHandler reads the same usage from `raw`, one event per request
    assert [(e.prompt_token_count, e.completion_token_count) for e in counter.llm_token_counts] == [
        (42, 12),
        (43, 12),
        (42, 10),
    ]


@pytest.mark.vcr
async def test_fifty_concurrent_calls_are_counted_once() -> None:
    shared = WorkersAIUsageHandler()
    events_only = WorkersAIUsageHandler()
    llm = WorkersAI(model=LLAMA_33, callback_manager=CallbackManager([shared, events_only]))
    prompts = [SYNONYM_PROMPT.format(word=word) for word in SYNONYMS]

    # `shared` also tracks the block: its events leave counting to the core there
    with workersai_usage(shared):
        responses = await asyncio.gather(*(llm.achat(user(p)) for p in prompts))
    assert [r.message.content for r in responses] == list(SYNONYMS.values())
    for handler in (shared, events_only):
        assert handler.requests == 50
        assert (handler.prompt_tokens, handler.completion_tokens) == (2055, 100)
        assert handler.neurons == pytest.approx(45 * 1.5 + 5 * 1.53)
        assert handler.total_cost == pytest.approx(llama_usd(2055, 100))


@pytest.mark.vcr
async def test_function_agent_with_tool_calls() -> None:
    in_manager = WorkersAIUsageHandler()
    llm = WorkersAI(model=LLAMA_33, temperature=0, callback_manager=CallbackManager([in_manager]))
    agent = FunctionAgent(
        tools=[FunctionTool.from_defaults(multiply), FunctionTool.from_defaults(add_vat)],
        llm=llm,
    )
    with workersai_usage() as block:
        response = await agent.run(VAT_TASK)
    assert str(response) == VAT_ANSWER
    assert [c.tool_name for c in response.tool_calls] == ["multiply", "add_vat"]
    # two streamed tool-call turns and the answer, whether counted by events or by the block
    for handler in (in_manager, block):
        llama = handler.by_model[LLAMA_33]
        assert (llama.requests, llama.prompt_tokens, llama.completion_tokens) == (3, 741, 46)
        assert llama.neurons == pytest.approx(7.99 + 10.04 + 11.15)
        assert handler.total_cost == pytest.approx(llama_usd(741, 46))


@pytest.mark.vcr
async def test_embeddings_and_reranking_are_counted_within_their_events() -> None:
    usage = WorkersAIUsageHandler()
    manager = CallbackManager([usage])
    embed_model = WorkersAIEmbedding(
        model=BGE, embed_batch_size=10, max_concurrency=4, callback_manager=manager
    )
    texts = [f"Field note {i}: llamas graze on the cloud" for i in range(25)]

    assert len(embed_model.get_text_embedding_batch(texts)) == 25  # 3 requests, pool threads
    assert len(await embed_model.aget_text_embedding_batch(texts[:12])) == 12  # 2 requests
    embed_model.get_query_embedding("Where do llamas graze?")  # 1 request
    nodes = [NodeWithScore(node=TextNode(text=t)) for t in texts[:5]]
    reranker = WorkersAIRerank(top_n=2, callback_manager=manager)
    assert len(reranker.postprocess_nodes(nodes, QueryBundle("llamas graze"))) == 2
    # a request outside any event is not the handler's...
    CoreClient().embed(BGE, ["A note nobody's events asked for."])

    assert usage.by_model[BGE].requests == 6
    assert usage.by_model[RERANKER].requests == 1
    # neither reports usage (embeddings, §6.1) or has a price (the reranker): cost unknown
    assert usage.prompt_tokens == 0 and usage.total_cost is None
    # ...but the block sees everything
    with workersai_usage() as block:
        CoreClient().embed(BGE, ["A note the block does see."])
    assert block.requests == 1


@pytest.mark.vcr
def test_settings_callback_manager_counts_a_query_engine(settings: _Settings) -> None:
    usage = WorkersAIUsageHandler()
    settings.callback_manager = CallbackManager([usage])
    settings.embed_model = WorkersAIEmbedding(model=BGE)
    settings.llm = WorkersAI(model=LLAMA_33, temperature=0)
    documents = [
        "The lighthouse of Varnholm is 41 metres tall and was lit in 1871.",
        "Varnholm's harbour freezes for two weeks every winter.",
        "The Varnholm ferry leaves at dawn for the outer islands.",
    ]
    index = VectorStoreIndex.from_documents([Document(text=d) for d in documents])
    response = index.as_query_engine(similarity_top_k=1).query(RAG_QUERY)

    assert str(response) == RAG_ANSWER
    assert usage.by_model[BGE].requests == 2  # the corpus, then the query
    llama = usage.by_model[LLAMA_33]
    assert (llama.requests, llama.prompt_tokens, llama.completion_tokens) == (1, 198, 9)
    assert llama.neurons == pytest.approx(7.12)
    assert usage.total_cost is None  # the embeddings' cost is unknown (no usage reported)
    assert llama.usd == pytest.approx(llama_usd(198, 9))
    # what is known is there, and says what it leaves out
    assert usage.known_cost == pytest.approx(llama_usd(198, 9))
    assert usage.unpriced_requests == 2
    assert (
        f"Estimated cost at least ${llama_usd(198, 9):.6f} (2 of 3 requests unpriced: "
        f"{BGE}: no token usage reported)."
    ) in str(usage).splitlines()


@pytest.mark.vcr
async def test_token_counting_handler_counts_each_request_once() -> None:
    counter = TokenCountingHandler(tokenizer=str.split)
    manager = CallbackManager([counter])
    llm = WorkersAI(model=LLAMA_33, callback_manager=manager)
    embed_model = WorkersAIEmbedding(model=BGE, callback_manager=manager)

    llm.complete(SYNONYM_PROMPT.format(word="happy"))  # one LLM event, not complete + chat
    await llm.acomplete(SYNONYM_PROMPT.format(word="sad"))
    llm.chat(user(SYNONYM_PROMPT.format(word="fast")))
    embed_model.get_text_embedding_batch(["llamas graze on the cloud", "tide turned early"])

    # LLM tokens from the usage Workers AI reported (in `raw`), not re-tokenised
    assert [(e.prompt_token_count, e.completion_token_count) for e in counter.llm_token_counts] == [
        (41, 2),
        (41, 2),
        (41, 2),
    ]
    # embeddings report no usage: TokenCountingHandler counts them with its tokenizer
    assert counter.total_embedding_token_count == 5 + 3


@pytest.mark.vcr
def test_unknown_price_is_reported_as_unknown_never_zero() -> None:
    with workersai_usage() as usage:
        pong = WorkersAI(model=UNPRICED).chat(user(UNPRICED_PROMPT))
        priced = WorkersAI(model=LLAMA_33).chat(user(SYNONYM_PROMPT.format(word="slow")))
    assert pong.message.content == "pong"
    # each response carries its estimate; an unknown one is left out, never 0
    assert "cost_usd" not in pong.additional_kwargs
    assert priced.additional_kwargs["cost_usd"] == pytest.approx(llama_usd(41, 2))
    assert usage.by_model[UNPRICED].usd is None
    assert usage.by_model[UNPRICED].prompt_tokens > 0  # tokens are known, the price is not
    assert usage.by_model[LLAMA_33].usd == pytest.approx(llama_usd(41, 2))
    assert usage.total_cost is None
    assert (usage.known_cost, usage.unpriced_requests) == (pytest.approx(llama_usd(41, 2)), 1)
    assert f"{UNPRICED}" in str(usage) and "unknown" in str(usage)
    assert "usd=unknown" in repr(usage)


# -- mechanics (no requests) ------------------------------------------------------------------


def test_other_llms_events_are_ignored() -> None:
    usage = WorkersAIUsageHandler()
    MockLLM(callback_manager=CallbackManager([usage])).complete("hello")
    assert usage.requests == 0 and usage.by_model == {}


def test_embedding_events_scope_the_tracker() -> None:
    usage = WorkersAIUsageHandler()
    manager = CallbackManager([usage, usage])  # listed twice: still one scope, closed once
    with manager.event(CBEventType.EMBEDDING):
        assert is_tracking(usage.tracker)  # the core records into it inside the event
        with manager.event(CBEventType.RERANKING):
            assert is_tracking(usage.tracker)
        assert is_tracking(usage.tracker)
    assert not is_tracking(usage.tracker)
    with pytest.raises(RuntimeError), manager.event(CBEventType.EMBEDDING):
        raise RuntimeError("the request failed")
    assert not is_tracking(usage.tracker)  # a failed event closes its scope too


def test_an_embedding_event_ending_in_another_thread_closes_its_scope(
    caplog: pytest.LogCaptureFixture,
) -> None:
    usage = WorkersAIUsageHandler()
    manager = CallbackManager([usage])
    event_id = manager.on_event_start(CBEventType.EMBEDDING)
    assert is_tracking(usage.tracker)
    # the event ends in a thread that does not share the starting context
    ending = threading.Thread(
        target=manager.on_event_end, args=(CBEventType.EMBEDDING,), kwargs={"event_id": event_id}
    )
    with caplog.at_level(logging.WARNING, logger="llamaindex_workersai.callbacks"):
        ending.start()
        ending.join()
    assert not is_tracking(usage.tracker)  # the starting context no longer records into it
    record_request(BGE, None)
    assert usage.requests == 0
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert f"embedding event {event_id} ended in another thread" in caplog.text


def test_llm_events_that_never_end_are_forgotten(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(callbacks, "MAX_OPEN_LLM_EVENTS", 2)
    usage = WorkersAIUsageHandler()
    llm = WorkersAI(model=LLAMA_33, callback_manager=CallbackManager([usage]))
    with caplog.at_level(logging.WARNING, logger="llamaindex_workersai.callbacks"):
        for _ in range(3):
            llm.stream_chat(user("never read"))  # starts an LLM event that never ends
    assert len(caplog.records) == 1 and "never ended" in caplog.text

    # a forgotten event that ends after all is not counted; one still open is
    serialized = {EventPayload.SERIALIZED: llm.to_dict()}
    for event_id in ("e1", "e2", "e3"):
        usage.on_event_start(CBEventType.LLM, payload=serialized, event_id=event_id)
    answer = ChatResponse(
        message=ChatMessage(role=MessageRole.ASSISTANT, content="ok"),
        additional_kwargs={"model": LLAMA_33, "prompt_tokens": 5, "total_tokens": 5},
    )
    for event_id in ("e1", "e3"):
        usage.on_event_end(
            CBEventType.LLM, payload={EventPayload.RESPONSE: answer}, event_id=event_id
        )
    assert usage.requests == 1 and usage.prompt_tokens == 5
