"""get_workersai_callback / WorkersAICallbackHandler: requests, tokens, neurons and estimated
USD per model, each request counted exactly once — over a streamed chain, a batch of 50, agents
with tool calls, concurrent async calls and embeddings — replayed from composed cassettes
(``tests/compose/usage.py``)."""

from __future__ import annotations

import asyncio
import contextvars
import sys
import threading

import pytest
from langchain.agents import create_agent
from langchain_core.callbacks import CallbackManager
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGeneration, LLMResult
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool

from langchain_workersai import (
    ChatWorkersAI,
    WorkersAICallbackHandler,
    WorkersAIEmbeddings,
    get_workersai_callback,
)
from tests.compose.usage import (
    CACHED_PROMPT,
    GPT_OSS,
    KIMI,
    LINE_PROMPT,
    LINES,
    LLAMA_33,
    PRIME_PROMPT,
    PRIMES,
    REASONING_PROMPT,
    SYNONYM_PROMPT,
    SYNONYMS,
    UNPRICED,
    UNPRICED_PROMPT,
    VAT_ANSWER,
    VAT_TASK,
)

BGE = "@cf/baai/bge-base-en-v1.5"


def llama_usd(prompt_tokens: int, completion_tokens: int) -> float:
    """Llama 3.3 70B fast: 0.29 / 2.25 USD per million input / output tokens (catalog)."""
    return prompt_tokens * 0.29e-6 + completion_tokens * 2.25e-6


@tool
def multiply(a: float, b: float) -> float:
    """Multiply two numbers."""
    return a * b


@tool
def add_vat(amount: float, rate: float) -> float:
    """Add VAT at ``rate`` percent to a net amount."""
    return round(amount * (1 + rate / 100), 2)


# -- over real runs (cassettes) -------------------------------------------------------------


@pytest.mark.vcr
def test_streamed_chain_counts_each_stream_once() -> None:
    chain = ChatPromptTemplate.from_template(LINE_PROMPT) | ChatWorkersAI(model=LLAMA_33)
    chain = chain | StrOutputParser()
    with get_workersai_callback() as cb:
        harbour = list(chain.stream({"topic": "the harbour at dawn"}))
        lighthouse = list(chain.stream({"topic": "the lighthouse at night"}))
    assert "".join(harbour) == LINES["the harbour at dawn"]
    assert "".join(lighthouse) == LINES["the lighthouse at night"]
    assert len(harbour) > 5  # it did stream

    llama = cb.by_model[LLAMA_33]
    # per the cassette: each of the 13 events repeats the usage so far; the trailers report
    # 42 + 12 and 43 + 12 tokens, 3.58 and 3.6 neurons
    assert (llama.requests, llama.prompt_tokens, llama.completion_tokens) == (2, 85, 24)
    assert llama.total_tokens == 109
    # summed across the two requests, never across the chunks of one stream
    assert llama.neurons == pytest.approx(3.58 + 3.6)
    assert cb.total_cost == pytest.approx(llama_usd(85, 24))
    assert (cb.requests, cb.total_tokens, cb.neurons) == (2, 109, llama.neurons)


@pytest.mark.vcr
def test_batch_of_fifty_in_both_modes() -> None:
    prompts = [SYNONYM_PROMPT.format(word=word) for word in SYNONYMS]
    assert len(prompts) == 50
    config_only = WorkersAICallbackHandler()
    llm = ChatWorkersAI(model=LLAMA_33)
    with get_workersai_callback() as cb:
        answers = llm.batch(prompts, config={"callbacks": [config_only], "max_concurrency": 8})
    assert [a.content for a in answers] == list(SYNONYMS.values())

    # the executor threads inherit the block's context: the core counted each request once,
    # and the handler given in `config` counted the same 50 runs from on_llm_end
    for handler in (cb, config_only):
        assert handler.requests == handler.successful_requests == 50
        assert (handler.prompt_tokens, handler.completion_tokens) == (2055, 100)
        assert handler.total_cost == pytest.approx(llama_usd(2055, 100))
    assert cb.neurons == pytest.approx(45 * 1.5 + 5 * 1.53)  # as each answer reported them
    # neurons reach on_llm_end through response_metadata["neurons"]
    assert config_only.neurons == pytest.approx(cb.neurons)


@pytest.mark.vcr
def test_agent_with_tool_calls() -> None:
    agent = create_agent(ChatWorkersAI(model=LLAMA_33, temperature=0), [multiply, add_vat])
    with get_workersai_callback() as cb:
        # the handler also in `config`: still counted once per request
        state = agent.invoke({"messages": [("user", VAT_TASK)]}, config={"callbacks": [cb]})
    messages = state["messages"]
    assert [m.content for m in messages if isinstance(m, ToolMessage)] == ["13.5", "16.2"]
    assert messages[-1].content == VAT_ANSWER
    llama = cb.by_model[LLAMA_33]
    # two tool-call turns and the answer: 169 + 242 + 317 prompt, 17 + 17 + 12 completion
    assert (llama.requests, llama.prompt_tokens, llama.completion_tokens) == (3, 728, 46)
    assert llama.neurons == pytest.approx(7.99 + 9.94 + 10.91)
    assert cb.total_cost == pytest.approx(llama_usd(728, 46))


@pytest.mark.vcr
@pytest.mark.xfail(
    sys.version_info < (3, 11),
    reason="Python 3.10's asyncio.create_task takes no context=, so LangGraph cannot carry "
    "the caller's contextvars into async node tasks: context-scoped handlers (this one, like "
    "langchain-core's get_openai_callback) see no requests made inside async agents there",
    strict=True,
)
async def test_async_agent_with_tool_calls() -> None:
    agent = create_agent(ChatWorkersAI(model=LLAMA_33, temperature=0), [multiply, add_vat])
    config_only = WorkersAICallbackHandler()
    with get_workersai_callback() as cb:
        state = await agent.ainvoke(
            {"messages": [("user", VAT_TASK)]}, config={"callbacks": [config_only]}
        )
    assert state["messages"][-1].content == VAT_ANSWER
    for handler in (cb, config_only):
        assert (handler.requests, handler.prompt_tokens, handler.completion_tokens) == (3, 728, 46)


@pytest.mark.vcr
async def test_concurrent_async_calls_are_counted_once() -> None:
    llm = ChatWorkersAI(model=LLAMA_33)
    config_only = WorkersAICallbackHandler()
    prompts = [PRIME_PROMPT.format(n=n) for n in PRIMES]
    with get_workersai_callback() as cb:
        answers = await asyncio.gather(
            *(llm.ainvoke(p, config={"callbacks": [cb, config_only]}) for p in prompts[:10])
        )
        answers += await llm.abatch(prompts[10:], config={"callbacks": [config_only]})
    assert [a.content for a in answers] == [f"{PRIMES[n]}." for n in PRIMES]
    for handler in (cb, config_only):
        assert handler.requests == 20
        assert (handler.prompt_tokens, handler.completion_tokens) == (820, 40)
    assert cb.neurons == pytest.approx(20 * 1.5)


@pytest.mark.vcr
def test_nested_blocks_each_count_what_happens_inside() -> None:
    llm = ChatWorkersAI(model=LLAMA_33)
    with get_workersai_callback() as outer:
        llm.invoke(PRIME_PROMPT.format(n=0))
        with get_workersai_callback() as inner:
            llm.invoke(PRIME_PROMPT.format(n=1))
    assert (outer.requests, inner.requests) == (2, 1)


@pytest.mark.vcr
def test_a_thread_without_the_context_is_counted_through_its_callbacks() -> None:
    llm = ChatWorkersAI(model=LLAMA_33)
    with get_workersai_callback() as cb:

        def work() -> None:
            # a bare thread does not inherit the block's context: the core cannot attribute
            # this request, the callback passed along can (and does, once)
            llm.invoke(PRIME_PROMPT.format(n=2), config={"callbacks": [cb]})

        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
        # the same in a thread that runs inside the block's context: the core counts it
        contextvars.copy_context().run(llm.invoke, PRIME_PROMPT.format(n=3))
    assert cb.requests == 2
    # each request's neurons once: one via the core, one via on_llm_end's response_metadata
    assert cb.neurons == pytest.approx(1.5 + 1.5)


@pytest.mark.vcr
def test_config_only_and_context_manager_agree() -> None:
    """The same calls counted each way: identical tokens, cached and reasoning tokens,
    neurons and cost."""
    llama = ChatWorkersAI(model=LLAMA_33)
    kimi = ChatWorkersAI(model=KIMI)
    gpt_oss = ChatWorkersAI(model=GPT_OSS)
    conversation = [
        ("user", "What is prefix caching?"),
        ("assistant", "Reusing the computed state of a prompt prefix shared by requests."),
        ("user", CACHED_PROMPT),
    ]

    def run(callbacks: list[WorkersAICallbackHandler]) -> None:
        config = {"callbacks": callbacks}
        list(llama.stream(LINE_PROMPT.format(topic="the market at noon"), config=config))
        kimi.invoke(conversation, config=config)
        gpt_oss.invoke(REASONING_PROMPT, config=config)

    config_only = WorkersAICallbackHandler()
    run([config_only])
    with get_workersai_callback() as cb:
        run([])

    for handler in (config_only, cb):
        assert handler.requests == 3
        assert sorted(handler.by_model) == sorted([LLAMA_33, KIMI, GPT_OSS])
        assert (handler.prompt_tokens, handler.completion_tokens) == (42 + 81 + 44, 10 + 7 + 23)
        assert handler.cached_tokens == 48  # Kimi's cached prefix, priced at its cached rate
        assert handler.reasoning_tokens == 14  # gpt-oss
    assert config_only.total_cost == pytest.approx(cb.total_cost)
    kimi_usage = cb.by_model[KIMI]
    assert kimi_usage.usd == pytest.approx(
        ((kimi_usage.prompt_tokens - 48) * 0.95 + 48 * 0.16 + kimi_usage.completion_tokens * 4.0)
        / 1e6
    )
    # Llama's stream reports neurons: both ways see them once, never summed over chunks
    assert (config_only.neurons, cb.neurons) == (pytest.approx(3.17), pytest.approx(3.17))


@pytest.mark.vcr
def test_unknown_price_is_reported_as_unknown_never_zero() -> None:
    with get_workersai_callback() as cb:
        pong = ChatWorkersAI(model=UNPRICED).invoke(UNPRICED_PROMPT)
        chunks = list(
            ChatWorkersAI(model=LLAMA_33).stream(LINE_PROMPT.format(topic="the market at noon"))
        )
    assert pong.content == "pong"
    # each answer carries its estimate; an unknown one is left out, never 0
    assert "cost_usd" not in pong.response_metadata
    streamed = sum(chunks[1:], chunks[0])
    assert streamed.response_metadata["cost_usd"] == pytest.approx(llama_usd(42, 10))
    assert [c for c in chunks if "cost_usd" in c.response_metadata] == chunks[-1:]
    assert cb.by_model[UNPRICED].usd is None
    assert cb.by_model[UNPRICED].prompt_tokens > 0  # tokens are known, the price is not
    assert cb.by_model[LLAMA_33].usd == pytest.approx(llama_usd(42, 10))
    assert cb.total_cost is None  # an unpriced request makes the total unknown, not smaller
    assert (cb.known_cost, cb.unpriced_requests) == (pytest.approx(llama_usd(42, 10)), 1)
    summary = str(cb).splitlines()
    lines = {line.split()[0]: line for line in summary[1:4]}
    assert lines[UNPRICED].endswith("unknown")
    assert not lines[LLAMA_33].endswith("unknown")
    assert lines["total"].endswith(f">={llama_usd(42, 10):.6f}")  # a lower bound, marked so
    assert summary[4] == (
        f"Estimated cost at least ${llama_usd(42, 10):.6f} (1 of 2 requests unpriced: "
        f"{UNPRICED}: no published price)."
    )
    assert "usd=unknown" in repr(cb)


@pytest.mark.vcr
async def test_embeddings_are_seen_by_the_context_manager() -> None:
    texts = [f"Field note {i}: llamas graze on the cloud" for i in range(25)]
    embeddings = WorkersAIEmbeddings(model=BGE, batch_size=10, max_concurrency=4)
    with get_workersai_callback() as cb:
        assert len(embeddings.embed_documents(texts)) == 25  # 3 requests, from pool threads
        assert len(await embeddings.aembed_documents(texts[:12])) == 12  # 2 requests
        embeddings.embed_query("Where do llamas graze?")  # 1 request
    bge = cb.by_model[BGE]
    assert (bge.requests, bge.requests_without_usage) == (6, 6)
    # the embeddings endpoint reports no token usage (wire reference §6.1): cost unknown
    assert bge.prompt_tokens == 0
    assert bge.usd is None and cb.total_cost is None
    assert (cb.known_cost, cb.unpriced_requests) == (0.0, 6)
    assert (
        f"Estimated cost unknown (6 of 6 requests unpriced: {BGE}: no token usage reported)."
    ) in str(cb).splitlines()


@pytest.mark.vcr
def test_batch_api_embeddings_report_usage_and_cost() -> None:
    texts = [f"Harbour log entry {i}: the tide turned early" for i in range(7)]
    embeddings = WorkersAIEmbeddings(
        model=BGE, use_batch_api=True, batch_size=3, batch_poll_interval=0.001
    )
    with get_workersai_callback() as cb:
        assert len(embeddings.embed_documents(texts)) == 7
    bge = cb.by_model[BGE]
    # one finished job of 3 requests (7 texts, 3 per request) reports the usage of all of them
    # (wire reference §1.6): 3 requests, the job's tokens counted once
    assert (bge.requests, bge.prompt_tokens, bge.requests_without_usage) == (3, 63, 0)
    assert cb.total_cost == pytest.approx(63 * 0.067e-6)


# -- mechanics (no requests) ------------------------------------------------------------------


def _workersai_result(**usage_details: object) -> LLMResult:
    message = AIMessage(
        content="ok",
        usage_metadata={
            "input_tokens": 1000,
            "output_tokens": 100,
            "total_tokens": 1100,
            **usage_details,  # type: ignore[typeddict-item]
        },
        response_metadata={"model_name": LLAMA_33, "model_provider": "cloudflare-workers-ai"},
    )
    return LLMResult(generations=[[ChatGeneration(message=message)]])


def test_on_llm_end_maps_usage_metadata() -> None:
    handler = WorkersAICallbackHandler()
    handler.on_llm_end(
        _workersai_result(
            input_token_details={"cache_read": 200}, output_token_details={"reasoning": 30}
        )
    )
    llama = handler.by_model[LLAMA_33]
    assert (llama.requests, llama.prompt_tokens, llama.completion_tokens) == (1, 1000, 100)
    assert (llama.cached_tokens, llama.reasoning_tokens, llama.neurons) == (200, 30, 0)
    assert handler.total_cost == pytest.approx(llama_usd(1000, 100))


def test_on_llm_end_defers_to_the_core_inside_the_block() -> None:
    with get_workersai_callback() as cb:
        cb.on_llm_end(_workersai_result())  # the core records this context's requests
        assert cb.requests == 0
    cb.on_llm_end(_workersai_result())
    assert cb.requests == 1


def test_other_providers_are_not_counted() -> None:
    handler = WorkersAICallbackHandler()
    other = GenericFakeChatModel(
        messages=iter(
            [
                AIMessage(
                    content="hi",
                    usage_metadata={"input_tokens": 3, "output_tokens": 1, "total_tokens": 4},
                    response_metadata={"model_name": "gpt-x", "model_provider": "openai"},
                )
            ]
        )
    )
    other.invoke("hello", config={"callbacks": [handler]})
    assert handler.requests == 0 and handler.by_model == {}


def test_the_block_registers_the_handler_with_langchain() -> None:
    with get_workersai_callback() as cb:
        assert cb in CallbackManager.configure().handlers
        with get_workersai_callback() as inner:
            handlers = CallbackManager.configure().handlers
            assert inner in handlers and cb not in handlers
        assert cb in CallbackManager.configure().handlers
    assert not any(
        isinstance(h, WorkersAICallbackHandler) for h in CallbackManager.configure().handlers
    )


def test_summary_and_reset() -> None:
    handler = WorkersAICallbackHandler()
    handler.on_llm_end(_workersai_result())
    summary = str(handler)
    assert LLAMA_33 in summary and "bundled price table" in summary
    assert summary.splitlines()[-3].split()[0] == "total"
    handler.reset()
    assert (handler.requests, handler.total_cost) == (0, 0.0)
