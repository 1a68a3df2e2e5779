"""Scenarios for the examples bundled with the package: ``workersai demo`` and the notebooks
(``scripts/compose_examples.py`` records them into ``workersai/examples/*.json.gz``).

The chat answers use the wire formats of ``tests/compose/chat.py`` (native SSE with ``p``
padding and the usage trailer; Llama 3.3 tool calls in the legacy shape with string-typed
values, §3.2.2). The RAG answer is extractive: it quotes the retrieved context, so it is right
only when retrieval found the right README section. Composed, not recorded.
"""

from __future__ import annotations

import re

from tests.compose import scenario
from tests.compose.chat import LLAMA_33, Ask, Plan, _ask, answer, quirk
from workersai.cli import demo
from workersai.testing import RecordedRequest, Reply


@quirk(demo.CHAT_PROMPT)
def _demo_chat(ask: Ask) -> Plan:
    return Plan(
        text="Cloudflare Workers AI runs open models — Llama, Mistral, BGE, Whisper, Flux and "
        "more — on GPUs in Cloudflare's network, so you call them with one HTTP request and "
        "pay per use. It suits chat and agents, embeddings for search and RAG, speech, "
        "translation and image generation without running any infrastructure yourself."
    )


@quirk(demo.AGENT_QUESTION)
def _demo_agent(ask: Ask) -> Plan:
    results = [m for m in ask.messages if m.get("role") == "tool"]
    if not results:
        return Plan(calls=[("get_weather", {"city": "Lisbon"})])
    weather = str(results[0].get("content", ""))
    celsius = re.search(r"(-?\d+(?:\.\d+)?) ?°C", weather)
    if len(results) == 1 and celsius:
        # §3.2.2: the legacy shape carries the number as a string ("21").
        return Plan(calls=[("celsius_to_fahrenheit", {"celsius": celsius.group(1)})])
    fahrenheit = str(results[-1].get("content", "?"))
    conditions = weather.split(",", maxsplit=1)[0].lower()
    return Plan(
        text=f"It's {conditions} in Lisbon at {celsius.group(1) if celsius else '?'} °C, "
        f"which is {fahrenheit} °F."
    )


_COMMAND = re.compile(r"^\s*(WORKERSAI_CASSETTES=live [^\n]+)$", re.MULTILINE)


@scenario
def demo_rag_answer(request: RecordedRequest) -> Reply | None:
    ask = _ask(request)
    if ask is None or ask.model != LLAMA_33:
        return None
    text = "\n".join(str(m.get("content")) for m in ask.messages)
    if f"Query: {demo.RAG_QUESTION}" not in text:
        return None
    command = _COMMAND.search(text)
    if command is None:
        return answer(ask, Plan(text="The context does not say how to re-record the cassettes."))
    return answer(
        ask,
        Plan(
            text="Set CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN, then run "
            f"`{command.group(1)}`. It records every cassette again against Cloudflare; the "
            "account id and all request headers are scrubbed before anything is written."
        ),
    )
