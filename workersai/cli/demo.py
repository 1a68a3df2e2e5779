"""``workersai demo``: the package's main job end to end, in both frameworks.

1. a streamed chat — LangChain ``ChatWorkersAI.stream``;
2. a tool-calling agent — ``langchain.agents.create_agent`` with two tools;
3. RAG over the README — LlamaIndex ``VectorStoreIndex`` with ``WorkersAIEmbedding`` (BGE),
   ``WorkersAIRerank`` and the ``WorkersAI`` LLM;
4. an image saved to disk — LangChain ``WorkersAIImage``.

This is the only module of ``workersai`` that imports LangChain or LlamaIndex: it sits on
top of the adapters, like the rest of the CLI, and is imported only by ``workersai demo``.
Without credentials it replays the bundled example answers (:mod:`workersai.examples`);
everything else — streaming, the agent loop, chunking, embedding, indexing, retrieval and
reranking — really runs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from workersai.cli._output import describe_error, report, save_image
from workersai.errors import APIConnectionError, WorkersAIError
from workersai.examples import readme_text, replay_unless_live
from workersai.usage import track_usage

EXAMPLE = "demo"
CHAT_PROMPT = "In two sentences: what is Cloudflare Workers AI good for?"
AGENT_QUESTION = "What's the weather in Lisbon right now, and how warm is that in Fahrenheit?"
RAG_QUESTION = "How do I re-record the test cassettes live?"
IMAGE_PROMPT = "a lighthouse at dusk on a rocky coast, calm sea, warm light"
IMAGE_FILE = "workersai-demo.png"

# The agent's tools answer from local data: the demo shows the tool-calling loop, not a
# weather service.
_WEATHER = {"lisbon": "Sunny, 21 °C", "zurich": "Cloudy, 9 °C", "tokyo": "Rain, 14 °C"}


def _missing_extras() -> list[str]:
    missing = []
    for module, package in (
        ("langchain_core", "langchain-core"),
        ("langchain.agents", "langchain"),
        ("llama_index.core", "llama-index-core"),
        ("PIL", "pillow"),
    ):
        try:
            __import__(module)
        except ImportError:
            missing.append(package)
    return missing


def _step(number: int, title: str) -> None:
    print(f"\n{number}/4  {title}", flush=True)


def _say(text: str) -> None:
    print(f"     {text}", flush=True)


def streamed_chat() -> None:
    from langchain_workersai import ChatWorkersAI

    llm = ChatWorkersAI(temperature=0.3)
    _step(1, f"Streamed chat — LangChain ChatWorkersAI ({llm.model})")
    _say(f"> {CHAT_PROMPT}")
    sys.stdout.write("     ")
    final: Any = None
    for chunk in llm.stream(CHAT_PROMPT):
        sys.stdout.write(str(chunk.content))
        sys.stdout.flush()
        final = chunk if final is None else final + chunk
    print()
    usage = final.usage_metadata if final is not None else None
    reason = final.response_metadata.get("finish_reason") if final is not None else None
    if usage:
        _say(f"[finish: {reason} · {usage['input_tokens']} in / {usage['output_tokens']} out]")


def tool_agent() -> None:
    from langchain.agents import create_agent
    from langchain_core.messages import AIMessage, ToolMessage
    from langchain_core.tools import tool

    from langchain_workersai import ChatWorkersAI

    @tool
    def get_weather(city: str) -> str:
        """Current weather in a city: conditions and temperature in °C."""
        return _WEATHER.get(city.strip().lower(), f"No weather data for {city}.")

    @tool
    def celsius_to_fahrenheit(celsius: float) -> float:
        """Convert a temperature from degrees Celsius to degrees Fahrenheit."""
        return round(celsius * 9 / 5 + 32, 1)

    llm = ChatWorkersAI(temperature=0)
    agent = create_agent(llm, [get_weather, celsius_to_fahrenheit])
    _step(2, "Tool-calling agent — langchain.agents.create_agent + ChatWorkersAI")
    _say(f"> {AGENT_QUESTION}")
    state = agent.invoke({"messages": [{"role": "user", "content": AGENT_QUESTION}]})
    for message in state["messages"]:
        if isinstance(message, AIMessage) and message.tool_calls:
            for call in message.tool_calls:
                args = ", ".join(f"{k}={v!r}" for k, v in call["args"].items())
                _say(f"→ {call['name']}({args})")
        elif isinstance(message, ToolMessage):
            _say(f"  ← {message.content}")
    _say(str(state["messages"][-1].content))


def rag_over_readme() -> None:
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.core.node_parser import MarkdownNodeParser

    from llamaindex_workersai import WorkersAI, WorkersAIEmbedding, WorkersAIRerank

    embed_model = WorkersAIEmbedding()
    _step(3, f"RAG over README.md — LlamaIndex, {embed_model.model_name} + reranker + WorkersAI")
    document = Document(text=readme_text(), metadata={"file_name": "README.md"})
    nodes = MarkdownNodeParser().get_nodes_from_documents([document])
    started = time.perf_counter()
    index = VectorStoreIndex(nodes, embed_model=embed_model)
    dims = embed_model.dimensions
    _say(
        f"indexed {len(nodes)} sections ({dims}-dim vectors) in "
        f"{time.perf_counter() - started:.2f} s"
    )
    engine = index.as_query_engine(
        llm=WorkersAI(temperature=0),
        similarity_top_k=6,
        node_postprocessors=[WorkersAIRerank(top_n=2)],
    )
    _say(f"> {RAG_QUESTION}")
    response = engine.query(RAG_QUESTION)
    for line in str(response).strip().splitlines():
        _say(line)
    for source in response.source_nodes:
        # MarkdownNodeParser keeps the headings above a section in `header_path`.
        parents = source.node.metadata.get("header_path", "/").strip("/").split("/")[1:]
        heading = source.node.get_content().splitlines()[0].lstrip("# ")
        where = " / ".join([*filter(None, parents), heading])
        _say(f"  source: README.md § {where}  (rerank score {source.score:.2f})")


def image_to_disk(out_dir: Path) -> None:
    from langchain_workersai import WorkersAIImage

    generator = WorkersAIImage()
    _step(4, f"Image — LangChain WorkersAIImage ({generator.model})")
    _say(f"> {IMAGE_PROMPT}")
    image = generator.invoke(IMAGE_PROMPT)
    _say(save_image(image, out_dir / IMAGE_FILE))


def run_demo(*, out_dir: Path, usage: bool = False, offline: bool = False) -> int:
    """Run the four steps; returns the exit code.

    The picture goes to ``out_dir / "workersai-demo.png"``; ``out_dir`` is created when
    missing. A live run that fails says how to run the demo offline instead.
    """
    missing = _missing_extras()
    if missing:
        report(
            "the demo uses the LangChain and LlamaIndex integrations, which need "
            + ", ".join(missing)
            + ".",
            'pip install "workersai[all]"',
        )
        return 1
    if out_dir.exists() and not out_dir.is_dir():
        report(f"--out-dir {out_dir} is a file", "Pass a directory (it is created if missing).")
        return 1
    mode = replay_unless_live(EXAMPLE, offline=offline)
    try:
        with track_usage() as tracker:
            streamed_chat()
            tool_agent()
            rag_over_readme()
            image_to_disk(out_dir)
    except WorkersAIError as exc:
        if mode != "live":
            raise
        print(flush=True)  # a streamed step may have left its line open
        message, hint = describe_error(exc)
        offline_tip = "`workersai demo --offline` replays bundled example answers."
        if isinstance(exc, APIConnectionError):
            hint = f"Check the network and any proxy, or run the demo offline: {offline_tip}"
        elif hint:
            hint = f"{hint} Or run the demo offline: {offline_tip}"
        else:
            hint = f"Run the demo offline: {offline_tip}"
        report(message, hint)
        return 1
    print()
    if usage:
        print(tracker.summary())
    else:
        total = tracker.total
        print(
            f"done: {total.requests} requests, {total.total_tokens} tokens "
            "(--usage for neurons and estimated cost)"
        )
    return 0
