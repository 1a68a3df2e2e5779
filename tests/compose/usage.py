"""Scenarios for the usage/cost callbacks' cassettes (``tests/*/test_callbacks_*.py``).

Composed, not recorded. The answers use the wire formats of ``workers-ai-api.md``:

* native ``/ai/run`` results in the v4 envelope with ``usage``; Llama 3.3's usage also carries
  ``neurons``, a float (§2.4: "Streaming/JSON usage may include ``neurons``"); Llama tool calls
  in the legacy shape ``{"response": null, "tool_calls": [{"name", "arguments"}]}`` with
  numbers sent as strings (§3.2.2);
* native SSE for Llama 3.3: ``{"response": ..., "p": <padding>}`` events that each carry the
  usage so far (Workers AI "reports ``usage`` on every streamed chunk, not just the final
  one", with ``neurons`` — §3.3), whole tool calls in OpenAI form, an empty event, the
  ``{"response": "", "usage": {...}}`` trailer and ``[DONE]`` — so a client that summed the
  chunks' usage would count each stream several times over;
* Kimi and gpt-oss answer ``chat.completion`` objects on ``/ai/run`` (§3.2.5), with
  ``prompt_tokens_details.cached_tokens`` and ``completion_tokens_details.reasoning_tokens``;
* Llama 3.1 8B fast (no published price in the catalog) in the classic native shape.

Embeddings and reranking requests are answered by ``tests/compose/embeddings.py`` in their
documented shapes (embeddings report no usage, §6.1; finished Batch API jobs do, §1.6).

Neurons are derived from the token counts with the per-model rates of Workers AI's pricing
page, so they agree with the USD estimate. Requests are matched by model plus the exact
prompts below, used only by these tests.
"""

from __future__ import annotations

import json
from typing import Any

from tests.compose import chat, scenario
from tests.compose.chat import NATIVE, Ask, Plan
from workersai.testing import RecordedRequest, Reply

LLAMA_33 = chat.LLAMA_33
UNPRICED = chat.LLAMA_31_FAST  # the catalog publishes no price for it
KIMI = chat.KIMI
GPT_OSS = chat.GPT_OSS_120B

# Neurons per million input / output tokens (Workers AI pricing page).
NEURONS_PER_M = {LLAMA_33: (26668, 204805)}

# -- prompts (shared with the tests) ---------------------------------------------------

LINE_PROMPT = "In one line, describe {topic}."
LINES = {
    "the harbour at dawn": "Gulls wheel over still water as the first boats slip out.",
    "the lighthouse at night": "Its slow beam sweeps the dark and finds the rocks again.",
    "the market at noon": "Voices, fruit and heat crowd every narrow aisle.",
}

SYNONYM_PROMPT = "Give one synonym for the word '{word}'."
SYNONYMS = {
    "happy": "Joyful.",
    "sad": "Sorrowful.",
    "fast": "Quick.",
    "slow": "Sluggish.",
    "big": "Large.",
    "small": "Tiny.",
    "bright": "Luminous.",
    "dark": "Dim.",
    "strong": "Sturdy.",
    "weak": "Feeble.",
    "smart": "Clever.",
    "brave": "Courageous.",
    "calm": "Serene.",
    "angry": "Furious.",
    "easy": "Simple.",
    "hard": "Difficult.",
    "old": "Ancient.",
    "new": "Novel.",
    "rich": "Wealthy.",
    "poor": "Needy.",
    "cold": "Chilly.",
    "hot": "Scorching.",
    "loud": "Noisy.",
    "quiet": "Silent.",
    "clean": "Spotless.",
    "dirty": "Grimy.",
    "empty": "Vacant.",
    "full": "Packed.",
    "funny": "Amusing.",
    "strange": "Peculiar.",
    "kind": "Gentle.",
    "cruel": "Harsh.",
    "tired": "Weary.",
    "eager": "Keen.",
    "famous": "Renowned.",
    "honest": "Truthful.",
    "huge": "Enormous.",
    "tiny": "Minute.",
    "wet": "Damp.",
    "dry": "Arid.",
    "quick": "Swift.",
    "shy": "Timid.",
    "proud": "Dignified.",
    "lucky": "Fortunate.",
    "odd": "Unusual.",
    "safe": "Secure.",
    "wise": "Sage.",
    "wild": "Untamed.",
    "young": "Youthful.",
    "begin": "Start.",
}

PRIME_PROMPT = "Name one prime number greater than {n}."
PRIMES = {
    n: next(p for p in range(n + 1, 200) if all(p % d for d in range(2, p))) for n in range(20)
}

VAT_TASK = "What do 3 notebooks at 4.50 EUR each cost with 20% VAT? Use the tools."
VAT_ANSWER = "Three notebooks cost 16.20 EUR including 20% VAT."

UNPRICED_PROMPT = "Reply with the single word pong."

CACHED_PROMPT = "And what does it save? One sentence."
REASONING_PROMPT = "Which is larger, 9.11 or 9.9? Think it through."

RAG_QUERY = "How tall is the lighthouse of Varnholm?"
RAG_ANSWER = "The lighthouse of Varnholm is 41 metres tall."


def _plan(ask: Ask) -> Plan | None:
    prompt = ask.last_user
    if ask.model == LLAMA_33:
        for topic, line in LINES.items():
            if prompt == LINE_PROMPT.format(topic=topic):
                return Plan(text=line)
        for word, synonym in SYNONYMS.items():
            if prompt == SYNONYM_PROMPT.format(word=word):
                return Plan(text=synonym)
        for n, prime in PRIMES.items():
            if prompt == PRIME_PROMPT.format(n=n):
                return Plan(text=f"{prime}.")
        if prompt == VAT_TASK:
            return _vat_turn(ask)
        if f"Query: {RAG_QUERY}" in prompt:
            return Plan(text=RAG_ANSWER)
    if ask.model == UNPRICED and prompt == UNPRICED_PROMPT:
        return Plan(text="pong")
    if ask.model == KIMI and prompt == CACHED_PROMPT:
        return Plan(text="It saves recomputing the shared prefix.", cache_prefix=True)
    if ask.model == GPT_OSS and prompt == REASONING_PROMPT:
        return Plan(
            text="9.9 is larger.",
            reasoning="Compare 9.90 with 9.11: 0.90 > 0.11.",
            reasoning_tokens=14,
        )
    return None


def _vat_turn(ask: Ask) -> Plan:
    """Multiply, then add VAT, then answer: one tool call per turn."""
    results = [m for m in ask.messages if m.get("role") == "tool"]
    if not results:
        return Plan(calls=[("multiply", {"a": 3, "b": 4.5})])
    if len(results) == 1:
        return Plan(calls=[("add_vat", {"amount": 13.5, "rate": 20})])
    return Plan(text=VAT_ANSWER)


# -- rendering ----------------------------------------------------------------------------


def _usage(ask: Ask, prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    rates = NEURONS_PER_M.get(ask.model)
    if rates is not None:
        neurons = prompt_tokens * rates[0] / 1e6 + completion_tokens * rates[1] / 1e6
        usage["neurons"] = round(neurons, 2)
    return usage


def _final_usage(ask: Ask, plan: Plan) -> dict[str, Any]:
    counted = chat._usage(ask, plan)
    return _usage(ask, counted["prompt_tokens"], counted["completion_tokens"])


def _native_result(ask: Ask, plan: Plan) -> Reply:
    result: dict[str, Any]
    if plan.calls:
        result = {
            "response": None,
            "tool_calls": [{"name": n, "arguments": chat._stringly(a)} for n, a in plan.calls],
        }
    else:
        result = {"response": plan.text}
    result["usage"] = _final_usage(ask, plan)
    return Reply.result(result)


def _native_sse(ask: Ask, plan: Plan) -> Reply:
    """Padded text events and whole tool calls, each with the usage so far; the trailer."""
    rng = chat._rng(ask)
    final = _final_usage(ask, plan)
    prompt_tokens = final["prompt_tokens"]
    events: list[dict[str, Any]] = []
    pieces = chat._pieces(plan.text) if plan.text else []
    for done, piece in enumerate(pieces, start=1):
        events.append(
            {"response": piece, "p": chat._padding(rng), "usage": _usage(ask, prompt_tokens, done)}
        )
    for index, (name, arguments) in enumerate(plan.calls):
        call = {
            "id": chat._call_id(ask, plan, index),
            "type": "function",
            "index": index,
            "function": {"name": name, "arguments": json.dumps(arguments)},
        }
        events.append(
            {
                "response": "",
                "tool_calls": [call],
                "p": chat._padding(rng),
                "usage": _usage(ask, prompt_tokens, final["completion_tokens"]),
            }
        )
    if plan.calls:
        events.append({"tool_calls": [], "p": chat._padding(rng)})
    events.append({"response": "", "p": chat._padding(rng)})
    events.append({"response": "", "usage": final})
    return Reply.sse(events)


@scenario
def usage_callbacks(request: RecordedRequest) -> Reply | None:
    ask = chat._ask(request)
    if ask is None:
        return None
    plan = _plan(ask)
    if plan is None:
        return None
    if ask.model == LLAMA_33 and ask.endpoint == NATIVE:
        return _native_sse(ask, plan) if ask.stream else _native_result(ask, plan)
    return chat.answer(ask, plan)
