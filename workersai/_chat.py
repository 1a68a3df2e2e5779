"""Text generation on the wire: building requests, normalising answers, assembling streams.

Everything model-specific about chat lives here, so the LangChain and LlamaIndex adapters
only translate framework types:

* request: ``messages`` or (LoRA / ``raw``) ``prompt``, only the parameters that were set,
  tools in OpenAI form with references inlined, ``tool_choice`` mapped, JSON-schema
  ``response_format`` as the *bare* schema on ``/ai/run`` with the name and description
  folded in (wire reference §3.1, §4, §10.6);
* answer: the text shapes and tool-call shapes of §3.2 (and the Anthropic Messages shape,
  §10.7) → :class:`ChatResult`; an event stream sent to an unstreamed request is assembled
  like a stream (§10.2); reasoning written inline between ``<think>`` tags is moved to
  ``reasoning``, in answers and streams alike (:mod:`workersai._think`, §10.10);
* stream: native ``{"response"}`` events and OpenAI ``choices[].delta`` events (§3.3, §4)
  → :class:`ChatChunk`, usage merged by maximum, one final chunk, truncation detected; a tool
  call's argument fragments are kept until its name arrives (§10.5).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from workersai import _json
from workersai._envelope import EventStreamBody, envelope_result, error_from_response
from workersai._messages import prepare_messages, render_prompt
from workersai._think import InlineThinkFilter, prefills_think, split_inline_think
from workersai._tools import (
    _CODE_FENCE,
    bound_tool_name,
    complete_arguments,
    forced_tool,
    inline_refs,
    normalize_tool_choice,
    normalize_tools,
    salvage_tool_calls,
    tool_call_from_wire,
    unique_tool_call_id,
    wire_tool_call_id,
)
from workersai.errors import (
    InvalidInputError,
    StreamError,
    StreamTruncatedError,
)
from workersai.models import get_model_info, resolve_model, warn_if_retired
from workersai.results import ChatChunk, ChatResult, ToolCall, ToolCallChunk, Usage
from workersai.schemas import TextGenerationInput, validate_input

Endpoint = Literal["native", "openai"]

# Generation parameters with a meaning in this package — the one list the adapters use for
# theirs (LangChain's fields, LlamaIndex's constructor keywords); anything else the caller
# passes is sent as is.
GENERATION_PARAMS = (
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "seed",
    "repetition_penalty",
    "frequency_penalty",
    "presence_penalty",
    "stop",
    "reasoning_effort",
    "chat_template_kwargs",
)

# Tasks whose models answer chat requests ("" when the catalog entry has no task).
_CHAT_TASKS = frozenset({"", "text generation", "image-to-text"})

_FINISH_REASONS = {
    "stop": "stop",
    "eos": "stop",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "length": "length",
    "model_length": "length",
    "max_tokens": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "tool_use": "tool_calls",
    "content_filter": "content_filter",
    "error": "error",
}


@dataclass(slots=True)
class ChatRequest:
    """A chat request ready to send, plus what is needed to read its answer."""

    model: str
    endpoint: Endpoint
    route: str  # below /accounts/{id}/ai/
    body: dict[str, Any]
    stream: bool  # the wire request streams (never in JSON mode, §3.2.4)
    json_mode: bool = False  # the answer is JSON: parsed into ChatResult.parsed
    tool_schemas: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    forced: str | bool = False
    max_tokens: int | None = None


def _response_format(value: Mapping[str, Any], endpoint: Endpoint, model: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInputError(
            "response_format must be a mapping such as {'type': 'json_object'}, "
            f"got {type(value).__name__}",
            field="response_format",
        )
    kind = value.get("type")
    if kind not in ("json_object", "json_schema", "text"):
        raise InvalidInputError(
            f"response_format.type must be 'json_object', 'json_schema' or 'text', got {kind!r}",
            field="response_format.type",
        )
    if kind != "json_schema":
        return dict(value)
    spec = value.get("json_schema")
    if not isinstance(spec, Mapping):
        raise InvalidInputError(
            "response_format json_schema needs a 'json_schema' object", field="response_format"
        )
    # OpenAI envelope {name, description, schema, strict} or the bare schema.
    is_envelope = isinstance(spec.get("schema"), Mapping) and "type" not in spec
    schema = inline_refs(spec["schema"] if is_envelope else spec)
    name = spec.get("name") if is_envelope else None
    description = spec.get("description") if is_envelope else None
    # Workers AI's own models take the bare schema on /ai/run; partner models there
    # ("openai/gpt-5.4-mini") are OpenAI's and reject it ("Missing required parameter:
    # 'response_format.json_schema.name'", cloudflare/ai#559).
    if endpoint == "native" and model.startswith("@"):
        # The envelope's name and description would be lost: they become the schema's own
        # title and description, unless it has them (cloudflare/ai#559, PR #576; §10.6).
        if isinstance(name, str) and name:
            schema.setdefault("title", name)
        if isinstance(description, str) and description:
            schema.setdefault("description", description)
        return {"type": "json_schema", "json_schema": schema}
    envelope: dict[str, Any] = {"name": name if isinstance(name, str) and name else "response"}
    if isinstance(description, str) and description:
        envelope["description"] = description
    envelope["schema"] = schema
    if is_envelope and spec.get("strict") is not None:
        envelope["strict"] = spec["strict"]
    return {"type": "json_schema", "json_schema": envelope}


def build_chat_request(
    model: str,
    messages: Sequence[Mapping[str, Any]] | None = None,
    *,
    prompt: str | None = None,
    endpoint: Endpoint = "native",
    stream: bool = False,
    tools: Sequence[Mapping[str, Any]] | None = None,
    tool_choice: Any = None,
    response_format: Mapping[str, Any] | None = None,
    lora: str | None = None,
    raw: bool | None = None,
    reject_if_busy: bool = False,
    params: Mapping[str, Any] | None = None,
) -> ChatRequest:
    """Build (and validate) a chat request. ``params`` holds generation parameters and any
    extra fields; ``None`` values are dropped so only what the caller set is sent."""
    if endpoint not in ("native", "openai"):
        raise InvalidInputError("endpoint must be 'native' or 'openai'", field="endpoint")
    model_id = resolve_model(model)
    info = get_model_info(model_id)
    if info is not None and info.retired is not None:
        warn_if_retired(info.id)
    if info is not None and info.task.lower() not in _CHAT_TASKS:
        raise InvalidInputError(
            f"{model_id} is a {info.task} model, not a text-generation model",
            field="model",
            hint="Chat with a Text Generation model such as "
            "@cf/meta/llama-3.3-70b-instruct-fp8-fast.",
        )
    body: dict[str, Any] = {k: v for k, v in (params or {}).items() if v is not None}
    if isinstance(body.get("stop"), list) and not body["stop"]:
        del body["stop"]

    use_prompt = prompt is not None or lora is not None or bool(raw)
    if use_prompt and endpoint == "openai":
        raise InvalidInputError(
            "lora, raw and prompt need the native endpoint (endpoint='native')", field="endpoint"
        )
    if prompt is not None and messages is not None:
        raise InvalidInputError("pass messages or prompt, not both", field="prompt")
    if prompt is not None:
        body["prompt"] = prompt
    elif messages is None:
        raise InvalidInputError("pass messages or prompt", field="messages")
    elif use_prompt:
        body["prompt"] = render_prompt(messages, model_id, raw=bool(raw))
    else:
        body["messages"] = prepare_messages(messages, info)
    if lora is not None:
        body["lora"] = lora
    if raw:
        body["raw"] = True

    route = f"run/{model_id}" if endpoint == "native" else "v1/chat/completions"
    request = ChatRequest(model=model_id, endpoint=endpoint, route=route, body=body, stream=stream)
    if tools:
        normalized = normalize_tools(tools)
        body["tools"] = normalized
        request.tool_schemas = {
            t["function"]["name"]: t["function"]["parameters"] for t in normalized
        }
    if tool_choice is not None:
        choice = normalize_tool_choice(tool_choice, list(request.tool_schemas))
        if choice is not None:
            body["tool_choice"] = choice
            request.forced = forced_tool(choice)
    if response_format is not None:
        body["response_format"] = _response_format(response_format, endpoint, model_id)
        request.json_mode = body["response_format"].get("type") in ("json_schema", "json_object")
        if stream and request.json_mode:
            # JSON mode cannot stream (error 5023): call once, replay as a stream.
            request.stream = False
    if reject_if_busy:
        body["options"] = {**body.get("options", {}), "rejectIfBusy": True}

    validate_input(info or model_id, body, schema=TextGenerationInput)
    # Validated: max_tokens, when set, is an integer (the schema is strict).
    max_tokens = body.get("max_tokens")
    if max_tokens is None and info is not None and "max_tokens" in info.params:
        default = info.params["max_tokens"].default
        max_tokens = int(default) if default is not None else None
    request.max_tokens = max_tokens

    if endpoint == "openai":
        body["model"] = model_id
    if request.stream:
        body["stream"] = True
        if endpoint == "openai":
            body["stream_options"] = {"include_usage": True}
    return request


# --------------------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------------------


def finish_reason(
    reported: Any,
    *,
    has_tool_calls: bool,
    usage: Usage | None,
    max_tokens: int | None,
    # Only the max_tokens checks leave it out, and they look for "length" alone, which
    # has_text never changes: the default cannot be told apart.
    has_text: bool = True,  # pragma: no mutate
) -> str:
    """Normalised finish reason; inferred when the answer has none (classic ``/ai/run``).

    It never says ``tool_calls`` without a tool call: gemma-4 reports ``tool_calls`` with
    none, with prose or nothing at all (cloudflare/ai#561, §10.5) — the prose is the answer
    (``stop``), and an answer with neither is a failed one (``error``), so no agent waits for
    tool results that will never come.
    """
    if isinstance(reported, str) and reported:
        mapped = _FINISH_REASONS.get(reported, reported)
        # OpenAI-compatible answers sometimes say "stop" next to a tool call (cloudflare/ai#192).
        if has_tool_calls and mapped == "stop":
            return "tool_calls"
        if mapped == "tool_calls" and not has_tool_calls:
            return "stop" if has_text else "error"
        return mapped
    if has_tool_calls:
        return "tool_calls"
    if usage is not None and max_tokens is not None and usage.completion_tokens >= max_tokens:
        return "length"
    return "stop"


def _text(value: Any) -> tuple[str, Any]:
    """(text, parsed JSON value or None) from a ``response``/``content`` field."""
    if value is None:
        return "", None
    if isinstance(value, str):
        return value, None
    if isinstance(value, (bool, int, float)):
        return _json.dumps_str(value), value
    if isinstance(value, list) and all(
        isinstance(p, Mapping) and p.get("type") in ("text", "output_text") for p in value
    ):
        return "".join(str(p.get("text", "")) for p in value), None
    return _json.dumps_str(value), value


def parse_json_answer(text: str) -> Any:
    """The JSON value of a JSON-mode answer sent as text (§3.2.4 promises an object; many
    models send text, often in a Markdown code fence), or ``None`` if it is not JSON."""
    stripped = text.strip()
    fenced = _CODE_FENCE.match(stripped)
    if fenced:
        stripped = fenced.group(1)
    try:
        return _json.loads(stripped)
    except ValueError:
        return None


def _split_calls(calls: list[ToolCall]) -> tuple[list[ToolCall], list[ToolCall]]:
    return [c for c in calls if c.is_valid], [c for c in calls if not c.is_valid]


def _list(value: Any) -> list[Any]:
    """``value`` if the answer has a list there, else nothing to iterate."""
    return value if isinstance(value, list) else []


def _responses_api(result: Mapping[str, Any]) -> tuple[str, str | None, list[dict[str, Any]]]:
    """(text, reasoning, raw tool calls) of a Responses-API object (gpt-oss, §5)."""
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for item in _list(result.get("output")):
        if not isinstance(item, Mapping):
            continue
        kind = item.get("type")
        if kind == "message":
            texts.extend(
                str(part.get("text", ""))
                for part in _list(item.get("content"))
                if isinstance(part, Mapping) and part.get("type") in ("output_text", "text")
            )
        elif kind == "reasoning":
            for key in ("content", "summary"):
                reasoning.extend(
                    str(part.get("text", ""))
                    for part in _list(item.get(key))
                    if isinstance(part, Mapping)
                )
        elif kind == "function_call":
            calls.append(
                {
                    "id": item.get("call_id") or item.get("id"),
                    "name": item.get("name"),
                    "arguments": item.get("arguments"),
                }
            )
    text = "".join(texts) or str(result.get("output_text") or "")
    return text, ("".join(reasoning) or None), calls


def _anthropic_message(result: Mapping[str, Any]) -> tuple[str, str | None, list[dict[str, Any]]]:
    """(text, reasoning, raw tool calls) of an Anthropic Messages answer (partner models on
    ``/ai/run``, cloudflare/ai#554; §10.7)."""
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in _list(result.get("content")):
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text") or ""))
        elif kind == "thinking":
            reasoning.append(str(block.get("thinking") or ""))
        elif kind == "tool_use":
            calls.append(
                {"id": block.get("id"), "name": block.get("name"), "arguments": block.get("input")}
            )
    return "".join(texts), ("".join(reasoning) or None), calls


def _is_anthropic_message(result: Any) -> bool:
    return (
        isinstance(result, Mapping)
        and result.get("type") == "message"
        and isinstance(result.get("content"), list)
    )


def _from_event_stream(
    body: EventStreamBody, request: ChatRequest | None, gateway: dict[str, str] | None
) -> ChatResult:
    """The answer an event stream carries, assembled exactly as a streamed one (§10.2)."""
    # Only the model, tools, JSON mode and max_tokens of a request matter to the assembler.
    chat = request or ChatRequest(
        model="",
        endpoint="native",
        route="",  # pragma: no mutate (never read by the assembler)
        body={},
        stream=True,  # pragma: no mutate (never read by the assembler)
    )
    assembler = ChatStreamAssembler(chat, gateway=gateway)
    payloads: list[Any] = []
    for event in body.events:
        assembler.feed(event.data)
        if event.data.strip() != "[DONE]":
            payloads.append(_json.loads(event.data))
    assembler.release()
    assembler.finish()  # a cut stream is a StreamTruncatedError, not a shorter answer
    result = assembler.result()
    result.raw = payloads
    return result


def _prefills_think(request: ChatRequest | None, model: str | None) -> bool:
    """Whether the answer starts inside the model's reasoning: its chat template pre-fills
    ``<think>`` — unless the prompt was sent ``raw``, without the template."""
    if request is not None and request.body.get("raw"):
        return False
    return prefills_think((request.model if request else None) or model)


def parse_chat_response(
    body: Any,
    request: ChatRequest | None = None,
    *,
    gateway: dict[str, str] | None = None,
) -> ChatResult:
    """Normalise any text-generation answer (wire reference §9.3-4) into a :class:`ChatResult`.

    ``body`` is the decoded JSON body (envelope or not), or an :class:`EventStreamBody` when a
    proxy answered an unstreamed request with a stream.
    """
    if isinstance(body, EventStreamBody):
        return _from_event_stream(body, request, gateway)
    result = envelope_result(body)
    model = request.model if request else None
    schemas = request.tool_schemas if request else {}
    reasoning: str | None = None
    # For the shapes that leave them unset; "" would read the same (no calls, no reason).
    raw_calls: Any = None  # pragma: no mutate
    reported_finish: Any = None  # pragma: no mutate
    response_id: str | None = None
    parsed: Any = None
    usage: Usage | None = None

    if isinstance(result, str):
        text = result
    elif isinstance(result, Mapping) and isinstance(result.get("choices"), list):
        choices = result["choices"]
        choice = choices[0] if choices and isinstance(choices[0], Mapping) else {}
        message = choice.get("message")
        message = message if isinstance(message, Mapping) else {}
        text, parsed = _text(message.get("content"))
        reasoning = message.get("reasoning_content") or message.get("reasoning") or None
        raw_calls = message.get("tool_calls")
        reported_finish = choice.get("finish_reason")
        usage = Usage.from_wire(result.get("usage"))
        response_id = result.get("id")
        model = result.get("model") or model
    elif isinstance(result, Mapping) and result.get("object") == "response":
        text, reasoning, raw_calls = _responses_api(result)
        usage = Usage.from_wire(result.get("usage"))
        response_id = result.get("id")
        model = result.get("model") or model
    elif _is_anthropic_message(result):
        text, reasoning, raw_calls = _anthropic_message(result)
        reported_finish = result.get("stop_reason")
        usage = Usage.from_wire(result.get("usage"))
        response_id = result.get("id")
        model = result.get("model") or model
    elif isinstance(result, Mapping):
        text, parsed = _text(result.get("response"))
        raw_calls = result.get("tool_calls")
        reasoning = result.get("reasoning_content") or result.get("reasoning") or None
        reported_finish = result.get("finish_reason")
        usage = Usage.from_wire(result.get("usage"))
    elif result is None:
        text = ""
    else:  # a bare number, e.g. JSON mode asked for one
        text, parsed = _text(result)

    if not reasoning and parsed is None and text:
        # Reasoning left inline by the model (cloudflare/workers-ai-provider#16, §10.10).
        cut = (
            finish_reason(
                reported_finish,
                has_tool_calls=False,
                usage=usage,
                max_tokens=(request.max_tokens if request else None),
            )
            == "length"
        )
        text, reasoning = split_inline_think(
            text, prefilled=_prefills_think(request, model), cut=cut
        )

    calls: list[ToolCall] = []
    for raw in raw_calls if isinstance(raw_calls, list) else ():
        if isinstance(raw, Mapping):
            call = tool_call_from_wire(raw, schemas)
            if call is not None:
                calls.append(call)
    if not calls and request is not None and schemas and text:
        calls = salvage_tool_calls(text, schemas, forced=request.forced)
        if calls:
            text = ""
    if parsed is None and text and request is not None and request.json_mode:
        parsed = parse_json_answer(text)
    valid, invalid = _split_calls(calls)
    return ChatResult(
        text=text,
        tool_calls=valid,
        invalid_tool_calls=invalid,
        reasoning=reasoning if isinstance(reasoning, str) else None,
        usage=usage,
        finish_reason=finish_reason(
            reported_finish,
            has_tool_calls=bool(calls),
            usage=usage,
            max_tokens=request.max_tokens if request else None,
            has_text=bool(text),
        ),
        model=model,
        id=response_id,
        parsed=parsed,
        gateway=dict(gateway or {}),
        raw=body,
    )


def chunks_from_result(result: ChatResult) -> list[ChatChunk]:
    """Replay a complete result as a stream: one content chunk and the final chunk."""
    calls = result.tool_calls + result.invalid_tool_calls
    chunks: list[ChatChunk] = []
    if result.text or result.reasoning or calls:
        chunks.append(
            ChatChunk(
                text=result.text,
                reasoning=result.reasoning or "",
                tool_calls=[
                    ToolCallChunk(index=i, id=c.id, name=c.name, arguments=c.raw_arguments)
                    for i, c in enumerate(calls)
                ],
                model=result.model,
                id=result.id,
            )
        )
    chunks.append(
        ChatChunk(
            is_final=True,
            finish_reason=result.finish_reason,
            usage=result.usage,
            model=result.model,
            id=result.id,
            gateway=result.gateway,
        )
    )
    return chunks


# --------------------------------------------------------------------------------------
# Streams
# --------------------------------------------------------------------------------------


@dataclass(slots=True)
class _CallState:
    id: str | None = None  # the server's id (made unique), once one arrived
    name: str = ""
    arguments: list[str] = field(default_factory=list)
    announced: bool = False  # its first chunk (id and name) went out


class ChatStreamAssembler:
    """Turns SSE ``data`` payloads of one stream into :class:`ChatChunk`s.

    Feed each payload to :meth:`feed`; call :meth:`finish` at end of stream for the final
    chunk (which raises :class:`StreamTruncatedError` if the stream ended without ``[DONE]``
    and without a finish reason); :meth:`result` gives the assembled :class:`ChatResult`.
    """

    # Declared here, not in __init__: mutation testing copies __init__ once per mutant, and
    # mypy would reject every copy for declaring the attributes again.
    _request: ChatRequest
    _gateway: dict[str, str]
    _text: list[str]
    _reasoning: list[str]
    _calls: dict[int, _CallState]
    _usage: Usage | None
    _finish: Any
    _model: str | None
    _id: str | None
    done: bool
    _hold_text: bool
    _held: list[str]
    _think: InlineThinkFilter | None

    def __init__(self, request: ChatRequest, *, gateway: dict[str, str] | None = None) -> None:
        self._request = request
        self._gateway = dict(gateway or {})
        self._text = []
        self._reasoning = []
        self._calls = {}
        self._usage = None
        self._finish = None  # pragma: no mutate ("" reads as no finish reason too)
        self._model = request.model or None  # "": an answer parsed without a request
        self._id = None
        self.done = False
        # With a forced tool, text is held back until the end: gpt-oss may write the call as
        # JSON text (§3.2.8), which is salvaged into a tool call instead of streamed as text.
        self._hold_text = bool(request.forced and request.tool_schemas)
        self._held = []
        # Reasoning written inline between <think> tags (§10.10); made at the first event,
        # whose model names the answer's model when there is no request.
        self._think = None

    def _think_filter(self) -> InlineThinkFilter:
        if self._think is None:
            self._think = InlineThinkFilter(prefilled=_prefills_think(self._request, self._model))
        return self._think

    @property
    def partial_text(self) -> str:
        return "".join(self._text)

    def feed(self, data: str) -> ChatChunk | None:
        """One event's data; returns a content chunk, or ``None`` if it carried no content."""
        if data.strip() == "[DONE]":
            self.done = True
            return None
        try:
            payload = _json.loads(data)
        except ValueError:
            raise StreamError(
                f"Workers AI sent an unreadable stream event: {data[:120]!r}",
                hint="The stream was abandoned; retry the request.",
            ) from None
        if not isinstance(payload, Mapping):
            return None
        if payload.get("error") or payload.get("errors"):
            raise error_from_response(200, payload, model=self._request.model)
        usage = Usage.from_wire(payload.get("usage"))
        if usage is not None:
            self._usage = usage if self._usage is None else self._usage.merge(usage)
        self._id = self._id or payload.get("id")
        if isinstance(payload.get("model"), str):
            self._model = payload["model"]

        choices = payload.get("choices")
        if isinstance(choices, list):
            if not choices or not isinstance(choices[0], Mapping):
                return None
            choice = choices[0]
            delta = choice.get("delta") or choice.get("message")
            if not isinstance(delta, Mapping):
                delta = {}
            text = delta.get("content")
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            raw_calls = delta.get("tool_calls")
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]
        else:
            text = payload.get("response")
            reasoning = payload.get("reasoning_content") or payload.get("reasoning")
            raw_calls = payload.get("tool_calls")
            if payload.get("finish_reason"):
                self._finish = payload["finish_reason"]
        if not isinstance(text, str):
            text = _text(text)[0]  # None → "", a JSON value → its JSON text
        reasoning = reasoning if isinstance(reasoning, str) else ""
        think = self._think_filter()
        if reasoning:
            think.pass_through()  # the server splits the reasoning out itself
        inline_reasoning = ""
        if text:
            text, inline_reasoning = think.feed(text)
        chunk = ChatChunk(
            text=text or "",
            reasoning=reasoning + inline_reasoning,
            tool_calls=self._tool_call_chunks(raw_calls),
            model=self._model,
            id=self._id,
        )
        if self._hold_text and not self._calls:
            if chunk.text:
                self._held.append(chunk.text)
                chunk.text = ""
        elif self._held:
            # A real call came: nothing will be salvaged, so the held text goes out now, ahead
            # of this event's text — released at the end, it would follow text that came after.
            chunk.text = "".join(self._held) + chunk.text
            self._held.clear()
        if chunk.text:
            self._text.append(chunk.text)
        if chunk.reasoning:
            self._reasoning.append(chunk.reasoning)
        if not (chunk.text or chunk.reasoning or chunk.tool_calls):
            return None
        return chunk

    def _tool_call_chunks(self, raw_calls: Any) -> list[ToolCallChunk]:
        """Tool-call deltas → chunks, accumulated by index whatever arrives first.

        GLM and QwQ stream argument fragments *before* the call's name (cloudflare/ai#523,
        §10.5): those fragments, and the server's id, are kept until the name arrives; the
        call's first chunk then carries its id, name and every fragment so far — so a chunk
        with a name always comes first, as the adapters expect.
        """
        if not isinstance(raw_calls, list):
            return []
        schemas = self._request.tool_schemas
        out: list[ToolCallChunk] = []
        for raw in raw_calls:
            if not isinstance(raw, Mapping):
                continue
            function = raw.get("function")
            if isinstance(function, Mapping):
                name, arguments = function.get("name"), function.get("arguments")
                # Object arguments are never a fragment: the whole call came in this event.
                complete = arguments is not None and not isinstance(arguments, str)
            else:  # flat {name, arguments} — a whole call in one event
                name, arguments = raw.get("name"), raw.get("arguments", raw.get("parameters"))
                complete = arguments is not None
            raw_id = raw.get("id")
            if name is None and arguments is None and raw_id is None:
                continue  # null-finalisation sentinel (§3.3)
            index = raw.get("index")
            if not isinstance(index, int):
                index = self._index_for(raw_id, name)
            state = self._calls.setdefault(index, _CallState())
            if state.id is None and isinstance(raw_id, str) and raw_id:
                state.id = unique_tool_call_id(raw_id)
            if not state.name and isinstance(name, str) and name:
                state.name = bound_tool_name(name, schemas)
            if complete:
                # Coerce a complete call's values now ("3" → 3 for an integer parameter), as
                # the unstreamed path does, so streamed and invoked tool calls agree.
                arguments = complete_arguments(arguments, schemas.get(state.name))
            # Otherwise a fragment: a string, or None when the delta has none.
            if arguments:
                state.arguments.append(arguments)
            if state.announced:
                if arguments:
                    out.append(ToolCallChunk(index=index, arguments=arguments))
            elif state.name:
                state.id = state.id or unique_tool_call_id(None)
                state.announced = True
                out.append(
                    ToolCallChunk(
                        index=index,
                        id=state.id,
                        name=state.name,
                        arguments="".join(state.arguments),
                    )
                )
        return out

    def _index_for(self, raw_id: Any, name: Any) -> int:
        for index, state in self._calls.items():
            # The id as the server sent it: "functions.f:1" is not "functions.f:10~wai…"; a
            # missing or empty id matches none (no call's id is empty).
            if state.id is not None and wire_tool_call_id(state.id) == raw_id:
                return index
        if isinstance(name, str) and name:
            return len(self._calls)
        return max(self._calls, default=0)

    def release(self) -> ChatChunk | None:
        """What was held back, as one chunk: the end of inline reasoning (§10.10), and the
        text held while a tool was forced — salvaged tool calls, or the text itself.

        Call once at the end of the stream, before :meth:`finish`.
        """
        text, reasoning = self._release_think()
        tool_calls: list[ToolCallChunk] = []
        # Text is still held only if no call came (the first call releases it, see feed).
        if self._hold_text and not self._calls:
            # What the filter gave back ends the held text: together they are the forced
            # call written as text (salvaged), or the answer.
            held = "".join(self._held) + text
            self._held.clear()
            text = ""
            salvaged = salvage_tool_calls(
                held, self._request.tool_schemas, forced=self._request.forced
            )
            for index, call in enumerate(salvaged):
                self._calls[index] = _CallState(
                    id=call.id,
                    name=call.name,
                    arguments=[call.raw_arguments],
                    announced=True,  # pragma: no mutate (true, but nothing is fed after release)
                )
                tool_calls.append(
                    ToolCallChunk(
                        index=index, id=call.id, name=call.name, arguments=call.raw_arguments
                    )
                )
            if not salvaged:
                text = held
        if text:
            self._text.append(text)
        if not (text or reasoning or tool_calls):
            return None
        return ChatChunk(
            text=text, reasoning=reasoning, tool_calls=tool_calls, model=self._model, id=self._id
        )

    def _release_think(self) -> tuple[str, str]:
        """Flush the inline-reasoning filter: ``(text, reasoning)`` it held back. When a
        pre-filled model's complete answer never closed its reasoning, what streamed as
        reasoning was the answer (see :mod:`workersai._think`): it is given back as text."""
        if self._think is None:
            return "", ""
        cut = (
            finish_reason(
                self._finish,
                has_tool_calls=False,
                usage=self._usage,
                max_tokens=self._request.max_tokens,
            )
            == "length"
        )
        text, reasoning, restored = self._think.end(cut=cut)
        if restored is not None:
            # Only inline reasoning streamed: a reasoning field before the text turns the
            # filter off, and no model is known to send one after its text.
            self._reasoning.clear()
            text = restored
        if reasoning:
            self._reasoning.append(reasoning)
        return text, reasoning

    def finish(self) -> ChatChunk:
        """The final chunk. Raises :class:`StreamTruncatedError` for a truncated stream."""
        if not self.done and not self._finish:
            raise StreamTruncatedError(
                f"The stream from {self._request.model} ended without [DONE] or a finish reason "
                f"after {len(self.partial_text)} characters.",
                partial_text=self.partial_text,
                hint="The connection was cut mid-answer; retry the request.",
            )
        calls = bool(self._calls)
        return ChatChunk(
            is_final=True,
            finish_reason=finish_reason(
                self._finish,
                has_tool_calls=calls,
                usage=self._usage,
                max_tokens=self._request.max_tokens,
                has_text=bool(self._text),
            ),
            usage=self._usage,
            model=self._model,
            id=self._id,
            gateway=self._gateway,
        )

    def result(self) -> ChatResult:
        """Everything streamed so far, as one :class:`ChatResult`."""
        calls = []
        for index in sorted(self._calls):
            state = self._calls[index]
            arguments = "".join(state.arguments)
            call = tool_call_from_wire(
                {"name": state.name, "arguments": arguments}, self._request.tool_schemas
            )
            if call is None:  # fragments whose name never came: nothing can run them
                state.id = state.id or unique_tool_call_id(None)
                call = ToolCall(
                    id=state.id,
                    name="",
                    arguments={},
                    raw_arguments=arguments,
                    error="the model streamed arguments but never named the tool",
                )
            call.id = state.id or call.id  # the id the call's first chunk announced
            calls.append(call)
        valid, invalid = _split_calls(calls)
        text = self.partial_text
        return ChatResult(
            text=text,
            tool_calls=valid,
            invalid_tool_calls=invalid,
            parsed=parse_json_answer(text) if self._request.json_mode and text else None,
            reasoning="".join(self._reasoning) or None,
            usage=self._usage,
            finish_reason=finish_reason(
                self._finish,
                has_tool_calls=bool(calls),
                usage=self._usage,
                max_tokens=self._request.max_tokens,
                has_text=bool(text),
            ),
            model=self._model,
            id=self._id,
            gateway=self._gateway,
        )
