"""Scenarios for the LangChain chat model's cassettes (``tests/langchain/test_chat_*.py``).

Composed, not recorded: each answer is written in the wire format the reference documents
for that model family and endpoint (``workers-ai-api.md``):

* native ``/ai/run`` answers in the v4 envelope; Llama 3.x tool calls in the legacy shape
  ``{"response": null, "tool_calls": [{"name", "arguments": {...}}]}`` with integer values
  sent as strings (§3.2.2);
* native SSE: ``{"response": "...", "p": "<padding>"}`` events, an empty event, the
  ``{"response": "", "usage": {...}}`` trailer and ``[DONE]`` (§3.3); streamed native tool
  calls as ``tool_calls`` arrays (whole call, OpenAI-delta with a null sentinel, or flat);
* ``/ai/v1/chat/completions``: ``chat.completion`` objects; streams with ``id-<ms>`` ids, a
  first chunk without ``role`` (Llama) or with ``role`` + empty reasoning (gpt-oss), tool-call
  deltas, and two terminal chunks (real usage, then the all-zero trailer) (§4);
* gpt-oss and Kimi on ``/ai/run`` answer in ``chat.completion`` form; gpt-oss answers a stream
  request with an empty JSON result and Kimi with the whole answer as JSON (§3.2.5, §3.3);
* errors in Cloudflare's envelope (5006, 7003+7000, 3040).

Requests are matched narrowly: one of the models below, plus either the standard suites'
``seed`` or a prompt used only by these tests.
Everything is deterministic (padding, ids and timestamps derive from the request), so
re-composing reproduces the same cassettes.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.compose import scenario
from workersai.testing import RecordedRequest, Reply, envelope

NATIVE = "native"
OPENAI = "openai"

LLAMA_33 = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
LLAMA_31_FAST = "@cf/meta/llama-3.1-8b-instruct-fast"
SCOUT = "@cf/meta/llama-4-scout-17b-16e-instruct"
GPT_OSS_120B = "@cf/openai/gpt-oss-120b"
GPT_OSS_20B = "@cf/openai/gpt-oss-20b"
KIMI = "@cf/moonshotai/kimi-k2.6"
HERMES = "@hf/nousresearch/hermes-2-pro-mistral-7b"
QWEN3 = "@cf/qwen/qwen3-30b-a3b-fp8"
DEEPSEEK_CODER = "@hf/thebloke/deepseek-coder-6.7b-instruct-awq"
MISTRAL_LORA = "@cf/mistral/mistral-7b-instruct-v0.2-lora"
MODELS = frozenset(
    {
        LLAMA_33,
        LLAMA_31_FAST,
        SCOUT,
        GPT_OSS_120B,
        GPT_OSS_20B,
        KIMI,
        HERMES,
        QWEN3,
        DEEPSEEK_CODER,
        MISTRAL_LORA,
    }
)

STANDARD_SEED = 4242  # the standard suites set it; it marks their requests
_EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z; timestamps are offsets from it


# --------------------------------------------------------------------------------------
# The request, read once
# --------------------------------------------------------------------------------------


@dataclass
class Ask:
    endpoint: str
    model: str
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def tools(self) -> dict[str, dict[str, Any]]:
        out = {}
        for tool in self.body.get("tools") or ():
            spec = tool.get("function", tool)
            out[spec["name"]] = spec.get("parameters") or {}
        return out

    @property
    def forced(self) -> str | bool:
        choice = self.body.get("tool_choice")
        if choice == "required":
            return True
        if isinstance(choice, Mapping):
            return str(choice["function"]["name"])
        return False

    @property
    def last(self) -> dict[str, Any]:
        return self.messages[-1] if self.messages else {}

    @property
    def last_user(self) -> str:
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return _text(message.get("content"))
        return str(self.body.get("prompt", ""))

    @property
    def standard(self) -> bool:
        """A request of the standard suites, which pin ``seed=STANDARD_SEED``."""
        return self.body.get("seed") == STANDARD_SEED

    def seed(self) -> str:
        return json.dumps(self.body, sort_keys=True)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if p.get("type") == "text")
    return ""


def _ask(request: RecordedRequest) -> Ask | None:
    if request.method != "POST":
        return None
    try:
        body = request.json() or {}
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    if request.path.endswith("/ai/v1/chat/completions"):
        endpoint, model = OPENAI, str(body.get("model", ""))
    elif request.model is not None:
        endpoint, model = NATIVE, request.model
    else:
        return None
    if model not in MODELS:
        return None
    return Ask(endpoint, model, body, request.headers)


# --------------------------------------------------------------------------------------
# What to answer
# --------------------------------------------------------------------------------------


@dataclass
class Plan:
    text: str = ""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    json: dict[str, Any] | None = None
    reasoning: str = ""
    cache_prefix: bool = False  # report the earlier turns as cached prompt tokens
    reasoning_tokens: int | None = None
    call_ids: list[str] | None = None  # ids the model uses (Kimi's turn-scoped ids)


HAIKUS = (
    "Whiskers in the sun,\nA slow blink from the windowsill,\nThe afternoon sleeps.\n\n"
    "Rain taps on the glass,\nThe kettle hums a low tune,\nPages turn themselves."
)
STORY = (
    "Mochi was a small grey cat who lived above a bakery. Every morning she followed the "
    "smell of warm bread down the stairs, and every morning the baker pretended not to see "
    "her steal a crumb. One winter night the ovens failed, and Mochi curled up on the "
    "dough to keep it warm. By dawn the loaves had risen, and the baker named his best "
    "bread after her."
)
JOKE = {
    "setup": "Why did the cat sit on the computer?",
    "punchline": "To keep an eye on the mouse!",
}

# Answers to the standard suites' plain prompts (last user message → text).
TEXT_ANSWERS = {
    "Hello": "Hello! How can I help you today?",
    "Hey": "Hey there! What can I do for you today?",
    # test_stop_sequence sends stop=["you"]: the server stops before the sequence.
    "hi": "Hi there! How can I help ",
    "hello": "Hello! Nice to meet you. What would you like to talk about?",
    "how are you": "I'm doing well, thanks for asking! How can I help you today?",
    "Write me 2 haikus. Only include the haikus.": HAIKUS,
    "Write a story about a cat.": STORY,
    "Give a concise description of this image.": (
        "A flowchart of an agentic RAG pipeline: a query is routed to retrieval, the "
        "documents are graded, and the answer is generated or the question is rewritten."
    ),
}

JOKE_PROMPTS = {
    "Tell me a joke about cats.": JOKE,
    "Give me a joke about cats, include the punchline.": JOKE,
    "Give me the setup to a joke about cats, no punchline.": {"setup": JOKE["setup"]},
    (
        "Tell me a joke about cats. Return the result as a JSON with 'setup' and 'punchline' "
        "keys. Return nothing other than JSON."
    ): JOKE,
}

# Tool calls by prompt: (tool name or None for "the forced/first tool", arguments).
CALLS: dict[str, tuple[str | None, dict[str, Any]]] = {
    "What is the value of magic_function(3)? Use the tool.": ("magic_function", {"input": 3}),
    "What is the value of magic_function_no_args()? Use the tool.": (
        "magic_function_no_args",
        {},
    ),
    "Using the tool, generate a Pirate greeting.": (
        "greeting_generator",
        {"answer_style": "Pirate"},
    ),
    "What is 3 + 4": ("my_adder_tool", {"a": 3, "b": 4}),
    "Hello!": (None, {"input": 3}),
    "What is the weather in San Francisco, CA?": ("get_weather", {"location": "San Francisco, CA"}),
    "Create a customer named '你好啊集团' (Hello Group) - a Chinese technology company": (
        "unicode_customer",
        {"customer_name": "你好啊集团", "description": "A Chinese technology company"},
    ),
    "Create a customer named 'こんにちは株式会社' (Hello Corporation) - a Japanese company": (
        "unicode_customer",
        {"customer_name": "こんにちは株式会社", "description": "A Japanese company"},
    ),
}

# Answers after a tool result, by the tool that ran.
AFTER_TOOL = {
    "my_adder_tool": "1 + 2 = 3.",
    "get_weather": "It's sunny in San Francisco, CA right now.",
    "random_image": "The image shows a flowchart of an agentic RAG pipeline.",
}


def _tool_that_ran(ask: Ask) -> tuple[str | None, str]:
    """(name, content) of the tool result the conversation ends with."""
    last = ask.last
    call_id = last.get("tool_call_id")
    for message in reversed(ask.messages):
        for call in message.get("tool_calls") or ():
            if call.get("id") == call_id:
                return call["function"]["name"], _text(last.get("content"))
    return last.get("name"), _text(last.get("content"))


def standard_plan(ask: Ask) -> Plan | None:
    """The answer to a standard-suite request, or ``None`` if it is not one."""
    prompt = ask.last_user
    response_format = ask.body.get("response_format")
    if response_format:
        joke = JOKE_PROMPTS.get(prompt)
        return Plan(json=dict(joke)) if joke is not None else None
    tools = ask.tools
    if tools and ask.last.get("role") == "tool":
        name, content = _tool_that_ran(ask)
        if name == "my_adder_tool" and content.startswith("Error"):
            return Plan(text="The tool needs both numbers; adding them myself: 1 + 2 = 3.")
        answer = AFTER_TOOL.get(name or "")
        return Plan(text=answer) if answer else None
    if tools:
        joke = JOKE_PROMPTS.get(prompt)
        if joke is not None and ask.forced:
            return Plan(calls=[(str(ask.forced) if isinstance(ask.forced, str) else "Joke", joke)])
        wanted = CALLS.get(prompt)
        if wanted is None:
            return None
        name, arguments = wanted
        if isinstance(ask.forced, str):
            name = ask.forced
        elif name is None or name not in tools:
            name = next(iter(tools))
        return Plan(calls=[(name, dict(arguments))])
    text = TEXT_ANSWERS.get(prompt)
    return Plan(text=text) if text is not None else None


# --------------------------------------------------------------------------------------
# How to say it: wire formats
# --------------------------------------------------------------------------------------


def _rng(ask: Ask, salt: str = "") -> random.Random:
    digest = hashlib.sha256((ask.model + ask.seed() + salt).encode()).hexdigest()
    return random.Random(int(digest[:16], 16))


def _padding(rng: random.Random) -> str:
    """Workers AI's anti side-channel ``p`` field: a random-length run of characters."""
    return (string.ascii_lowercase + string.digits + string.ascii_uppercase)[: rng.randint(1, 40)]


def _pieces(text: str) -> list[str]:
    """Split text into token-sized pieces (words with their leading space, punctuation)."""
    return re.findall(r"\s*[\w'’]+|\s*[^\w\s]|\s+", text) or [text]


def _tokens(text: str) -> int:
    return max(1, len(_pieces(text)))


def _usage(ask: Ask, plan: Plan) -> dict[str, Any]:
    prompt_text = json.dumps(ask.messages or ask.body.get("prompt", ""), ensure_ascii=False)
    prompt = 24 + len(prompt_text) // 4 + 60 * len(ask.tools)
    completion = _tokens(plan.text or json.dumps(plan.json or [c[1] for c in plan.calls]))
    completion += _tokens(plan.reasoning) if plan.reasoning else 0
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if plan.cache_prefix:
        prefix = json.dumps(ask.messages[:-1], ensure_ascii=False)
        cached = (24 + len(prefix) // 4) // 16 * 16  # whole cache blocks of the prefix
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    if plan.reasoning_tokens is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": plan.reasoning_tokens}
    return usage


def _tool_id(ask: Ask, index: int) -> str:
    return "chatcmpl-tool-" + hashlib.md5(f"{ask.seed()}{index}".encode()).hexdigest()


def _call_id(ask: Ask, plan: Plan, index: int) -> str:
    return plan.call_ids[index] if plan.call_ids else _tool_id(ask, index)


def _created(ask: Ask) -> tuple[int, str]:
    offset = _rng(ask, "created").randint(0, 10_000_000)
    return _EPOCH + offset, f"id-{(_EPOCH + offset) * 1000 + offset % 1000}"


def _gateway_headers(ask: Ask) -> dict[str, str]:
    if "cf-aig-gateway-id" not in ask.headers:
        return {}
    return {
        "cf-aig-cache-status": "MISS",
        "cf-aig-log-id": "01JGATEWAYLOG" + _created(ask)[1][-8:],
    }


def _stringly(arguments: dict[str, Any]) -> dict[str, Any]:
    """Legacy Llama output: numbers come back as strings ("3")."""
    return {
        k: str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
        for k, v in arguments.items()
    }


# -- native /ai/run ---------------------------------------------------------------------


def native_result(ask: Ask, plan: Plan) -> Reply:
    """Classic native result (Llama 3.x): ``response`` + legacy ``tool_calls`` + usage."""
    result: dict[str, Any]
    if plan.calls:
        result = {
            "response": None,
            "tool_calls": [{"name": n, "arguments": _stringly(a)} for n, a in plan.calls],
        }
    elif plan.json is not None:
        result = {"response": plan.json}
    else:
        result = {"response": plan.text}
    result["usage"] = _usage(ask, plan)
    return Reply.result(result, headers=_gateway_headers(ask))


def scout_result(ask: Ask, plan: Plan) -> Reply:
    """Llama 4 Scout on ``/ai/run``: OpenAI-like tool calls with *object* arguments."""
    result: dict[str, Any] = {"response": plan.text if plan.json is None else plan.json}
    if plan.calls:
        result["tool_calls"] = [
            {
                "id": _call_id(ask, plan, i),
                "type": "function",
                "function": {"name": n, "arguments": a},
            }
            for i, (n, a) in enumerate(plan.calls)
        ]
    result["usage"] = _usage(ask, plan)
    return Reply.result(result, headers=_gateway_headers(ask))


def native_stream(ask: Ask, plan: Plan, *, tool_style: str = "whole") -> Reply:
    """Native SSE: text events with ``p`` padding, an empty event, the usage trailer.

    ``tool_style``: ``whole`` — each call in one OpenAI-form event (Llama 3.3);
    ``delta`` — start event, argument fragments and the null sentinel;
    ``flat`` — legacy ``{name, arguments: {...}}`` with string values (Hermes).
    """
    rng = _rng(ask)
    events: list[dict[str, Any]] = []
    for piece in _pieces(plan.text) if plan.text else ():
        events.append({"response": piece, "p": _padding(rng)})
    for index, (name, arguments) in enumerate(plan.calls):
        call_id = _call_id(ask, plan, index)
        if tool_style == "flat":
            events.append(
                {"response": "", "tool_calls": [{"name": name, "arguments": _stringly(arguments)}]}
            )
        elif tool_style == "delta":
            events.append(
                {
                    "tool_calls": [
                        {
                            "id": call_id,
                            "type": "function",
                            "index": index,
                            "function": {"name": name},
                        }
                    ],
                    "p": _padding(rng),
                }
            )
            text = json.dumps(arguments, ensure_ascii=False)
            for fragment in _fragments(text, rng):
                events.append(
                    {"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}
                )
            events.append(
                {
                    "tool_calls": [
                        {"id": None, "type": None, "function": {"name": None, "arguments": None}}
                    ]
                }
            )
        else:
            events.append(
                {
                    "response": "",
                    "tool_calls": [
                        {
                            "id": call_id,
                            "type": "function",
                            "index": index,
                            "function": {
                                "name": name,
                                "arguments": json.dumps(arguments, ensure_ascii=False),
                            },
                        }
                    ],
                    "p": _padding(rng),
                }
            )
    if plan.calls and tool_style != "flat":
        events.append({"tool_calls": [], "p": _padding(rng)})
    events.append({"response": "", "p": _padding(rng)})
    events.append({"response": "", "usage": _usage(ask, plan)})
    return Reply.sse(events, headers=_gateway_headers(ask))


def _fragments(text: str, rng: random.Random) -> list[str]:
    out, start = [], 0
    while start < len(text):
        size = rng.randint(2, 7)
        out.append(text[start : start + size])
        start += size
    return out


def chat_completion(ask: Ask, plan: Plan) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` object (``/ai/v1``, and gpt-oss/Kimi on ``/ai/run``)."""
    created, response_id = _created(ask)
    content: str | None = plan.text
    if plan.json is not None:
        content = json.dumps(plan.json, ensure_ascii=False)
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if plan.reasoning:
        message["reasoning_content"] = plan.reasoning
    if plan.calls:
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": _call_id(ask, plan, i),
                "type": "function",
                "function": {"name": n, "arguments": json.dumps(a, ensure_ascii=False)},
            }
            for i, (n, a) in enumerate(plan.calls)
        ]
    return {
        "id": response_id,
        "object": "chat.completion",
        "created": created,
        "model": ask.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if plan.calls else "stop",
            }
        ],
        "usage": _usage(ask, plan),
    }


def openai_stream(ask: Ask, plan: Plan, *, gpt_oss: bool = False) -> Reply:
    """``/ai/v1`` SSE chunks exactly as recorded (§4): same ``id-<ms>`` id on every chunk,
    the duplicated terminal chunk with the all-zero usage trailer (Llama) or repeated usage
    (gpt-oss)."""
    rng = _rng(ask)
    created, response_id = _created(ask)
    head = {"id": response_id, "created": created, "model": ask.model}

    def chunk(delta: dict[str, Any], **extra: Any) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": 0, "delta": delta}
        if gpt_oss:
            choice.update({"logprobs": None, "finish_reason": None, "token_ids": None})
        choice.update(extra)
        return {**head, "object": "chat.completion.chunk", "choices": [choice]}

    events: list[dict[str, Any]] = []
    if gpt_oss:
        events.append(chunk({"role": "assistant", "content": ""}))
        events.append(chunk({"reasoning_content": ""}))
        for piece in _pieces(plan.reasoning) if plan.reasoning else ():
            events.append(chunk({"reasoning_content": piece}))
    text = json.dumps(plan.json, ensure_ascii=False) if plan.json is not None else plan.text
    for piece in _pieces(text) if text else ():
        events.append(chunk({"content": piece}))
    for index, (name, arguments) in enumerate(plan.calls):
        start = {
            "id": _call_id(ask, plan, index),
            "type": "function",
            "index": index,
            "function": {"name": name, "arguments": ""},
        }
        events.append(chunk({"tool_calls": [start]}))
        for fragment in _fragments(json.dumps(arguments, ensure_ascii=False), rng):
            events.append(
                chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})
            )
    if gpt_oss:
        events.append(chunk({}, stop_reason=200012))
    finish = "tool_calls" if plan.calls else "stop"
    usage = _usage(ask, plan)

    def terminal(usage: dict[str, Any]) -> dict[str, Any]:
        # Terminal chunks put `object` after `id` and keep a `choices` entry (unlike OpenAI).
        return {
            "id": response_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": ask.model,
            "choices": [{"index": 0, "delta": {}, "finish_reason": finish}],
            "usage": usage,
        }

    events.append(terminal(usage))
    if gpt_oss:  # the second terminal chunk repeats the usage, with cached tokens
        cached = usage.get("prompt_tokens_details", {}).get("cached_tokens", 0)
        events.append(terminal({**usage, "prompt_tokens_details": {"cached_tokens": cached}}))
    else:  # Llama: the second terminal chunk reports all-zero usage
        zero = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        events.append(terminal({**zero, "prompt_tokens_details": {"cached_tokens": 0}}))
    return Reply.sse(events, headers=_gateway_headers(ask))


def answer(ask: Ask, plan: Plan) -> Reply:
    """The reply in the format of ``ask``'s model family and endpoint."""
    if ask.endpoint == OPENAI:
        if ask.stream:
            return openai_stream(ask, plan, gpt_oss=ask.model.startswith("@cf/openai/"))
        return Reply.json(chat_completion(ask, plan), headers=_gateway_headers(ask))
    if ask.model in (GPT_OSS_120B, GPT_OSS_20B):
        if ask.stream:  # gpt-oss does not stream on /ai/run: an empty JSON result (§3.3)
            return Reply.result({"response": ""})
        return Reply.result(chat_completion(ask, plan))
    if ask.model == KIMI:  # Kimi answers in OpenAI form, and as JSON even to a stream request
        return Reply.result(chat_completion(ask, plan))
    if ask.model == SCOUT:
        return (
            native_stream(ask, plan, tool_style="delta") if ask.stream else scout_result(ask, plan)
        )
    if ask.model == HERMES:
        return (
            native_stream(ask, plan, tool_style="flat") if ask.stream else native_result(ask, plan)
        )
    return native_stream(ask, plan) if ask.stream else native_result(ask, plan)


# --------------------------------------------------------------------------------------
# Scenarios used only by the quirk, agent and unit tests (distinctive prompts)
# --------------------------------------------------------------------------------------

QUIRKS: dict[str, Callable[[Ask], Reply | Plan | None]] = {}


def quirk(
    prompt: str,
) -> Callable[[Callable[[Ask], Reply | Plan | None]], Callable[[Ask], Reply | Plan | None]]:
    def register(
        func: Callable[[Ask], Reply | Plan | None],
    ) -> Callable[[Ask], Reply | Plan | None]:
        QUIRKS[prompt] = func
        return func

    return register


@quirk("Translate to French: I love programming.")
def _translate(ask: Ask) -> Plan:
    return Plan(text="J'adore la programmation.")


@quirk("How many legs do 4 spiders have? Use the calculator.")
def _legacy_string_arguments(ask: Ask) -> Plan:
    # §3.2.2: legacy tool calls carry numbers as strings, lists as JSON-encoded strings.
    if ask.last.get("role") == "tool":
        return Plan(text="Four spiders have 32 legs.")
    return Plan(calls=[("multiply", {"a": 4, "b": 8, "factors": "[4, 8]"})])


@quirk("Give me the weather in Lisbon as a tool call.")
def _gpt_oss_leak(ask: Ask) -> Reply:
    # §3.2.8 / cloudflare/ai#560: a forced call leaks into message.content as JSON text.
    plan = Plan(
        text=json.dumps({"name": "get_weather", "arguments": {"city": "Lisbon"}}),
        reasoning="The user wants the weather for Lisbon; call get_weather.",
    )
    if ask.stream:
        return Reply.result({"response": ""})
    completion = chat_completion(ask, plan)
    completion["choices"][0]["message"]["tool_calls"] = []
    completion["choices"][0]["finish_reason"] = "stop"
    return Reply.result(completion)


@quirk("Give me the weather in Porto as a tool call.")
def _gpt_oss_leak_streamed(ask: Ask) -> Plan:
    # The same leak on the OpenAI-compatible stream: the call arrives as content deltas.
    return Plan(
        text=json.dumps({"name": "get_weather", "arguments": {"city": "Porto"}}),
        reasoning="Call get_weather for Porto.",
    )


@quirk("Check the weather in Oslo and in Bergen.")
def _kimi_turn_ids(ask: Ask) -> Plan:
    # cloudflare/ai#526: Kimi numbers calls per turn, so "functions.get_weather:0" repeats.
    tool_results = [m for m in ask.messages if m.get("role") == "tool"]
    if len(tool_results) == 0:
        return Plan(calls=[("get_weather", {"city": "Oslo"})], call_ids=["functions.get_weather:0"])
    if len(tool_results) == 1:
        return Plan(
            calls=[("get_weather", {"city": "Bergen"})], call_ids=["functions.get_weather:0"]
        )
    return Plan(text="Oslo is cloudy at 4°C and Bergen is rainy at 6°C.")


@quirk("Say something short.")
def _zero_usage_trailer(ask: Ask) -> Plan:
    return Plan(text="Something short.")


@quirk("Describe a cat as JSON with name and color.")
def _json_object_response(ask: Ask) -> Plan:
    # §3.2.4: JSON mode's `response` is an object on /ai/run.
    return Plan(json={"name": "Mochi", "color": "grey"})


@quirk("Is 9.11 larger than 9.9? Think first.")
def _reasoning(ask: Ask) -> Plan:
    return Plan(
        text="No. 9.9 is larger than 9.11, because 0.90 > 0.11.",
        reasoning="Compare the decimals: 9.11 has 0.11, 9.9 has 0.90. So 9.9 is larger.",
        reasoning_tokens=21,
    )


@quirk("What is prefix caching? One sentence.")
def _cached_prompt(ask: Ask) -> Plan:
    return Plan(
        text="Prefix caching reuses the computed attention state of a shared prompt prefix.",
        cache_prefix=True,
    )


@quirk("Describe this picture in five words.")
def _text_only_model_gets_image(ask: Ask) -> Reply:
    # §2.3: content-part arrays sent to a text-only model.
    return Reply.error(
        400,
        5006,
        "AiError: Bad input: Error: Type mismatch of '/messages/0/content', 'array' not in "
        "'string'",
    )


@quirk("Route this to a missing account.")
def _bad_account(ask: Ask) -> Reply:
    # §1.1 / §2.3: a malformed account id gives 404 with 7003 + 7000.
    return Reply.json(
        envelope(
            None,
            errors=[
                {
                    "code": 7003,
                    "message": "Could not route to /client/v4/accounts/ACCOUNT_ID/ai/run/"
                    f"{ask.model}, perhaps your object identifier is invalid?",
                },
                {"code": 7000, "message": "No route for that URI"},
            ],
        ),
        status=404,
    )


@quirk("Tell me about capacity.")
def _capacity(ask: Ask) -> Reply:
    return Reply.error(
        429, 3040, "Capacity temporarily exceeded, please try again.", headers={"retry-after": "0"}
    )


@quirk("Explain LoRA in one sentence.")
def _lora(ask: Ask) -> Plan:
    return Plan(text="LoRA fine-tunes a model by training small low-rank adapter matrices.")


@quirk("Summarise this conversation.")
def _gateway(ask: Ask) -> Plan:
    return Plan(text="You asked for a summary of a short conversation.")


@quirk("Find flights from Paris to Rome on May 3.")
def _native_delta_stream(ask: Ask) -> Plan:
    # Llama 4 Scout streams native tool calls OpenAI-delta style, ending with a null sentinel.
    return Plan(calls=[("search_flights", {"origin": "Paris", "destination": "Rome", "day": 3})])


@quirk("Reply with broken arguments.")
def _invalid_arguments(ask: Ask) -> Reply:
    # A call whose arguments are not JSON: it must become an invalid tool call.
    completion = chat_completion(ask, Plan(calls=[("get_weather", {"city": "Rome"})]))
    completion["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = '{"city": "Ro'
    if ask.endpoint == NATIVE:
        return Reply.result(completion)
    return Reply.json(completion)


# Agent tests: a two-tool task (look up a city's population and its area, then divide).
AGENT_PROMPT = "What is the population density of Zurich? Look up its population and area."
AGENT_FACTS = {"population": "Zurich has 443,037 inhabitants.", "area": "Zurich covers 87.88 km²."}


@quirk(AGENT_PROMPT)
def _agent(ask: Ask) -> Plan:
    results = [m for m in ask.messages if m.get("role") == "tool"]
    if not results:
        return Plan(
            calls=[("get_population", {"city": "Zurich"}), ("get_area", {"city": "Zurich"})]
        )
    return Plan(text="Zurich has about 5,041 inhabitants per km² (443,037 people on 87.88 km²).")


@quirk("Name three primary colors.")
def _lcel(ask: Ask) -> Plan:
    return Plan(text="Red, yellow and blue.")


@quirk("Write one sentence about the sea.")
def _lcel_stream(ask: Ask) -> Plan:
    return Plan(text="The sea keeps every secret the shore forgets.")


@scenario
def langchain_chat(request: RecordedRequest) -> Reply | None:
    ask = _ask(request)
    if ask is None:
        return None
    handler = QUIRKS.get(ask.last_user)
    if handler is not None:
        produced = handler(ask)
        if produced is None or isinstance(produced, Reply):
            return produced
        return answer(ask, produced)
    if not ask.standard:
        return None
    plan = standard_plan(ask)
    return answer(ask, plan) if plan is not None else None
