"""LlamaIndex chat types ↔ the core's OpenAI-form messages and normalised results.

Outgoing: ``ChatMessage`` blocks become OpenAI-form dicts (text, ``image_url`` data URIs,
``tool_calls``, ``tool_call_id``); the core then applies every Workers AI rule (system
merging, ``content: ""`` for tool-call turns, data-URI checks, tool-call id restoration).

Incoming: a :class:`~workersai.ChatResult` or a stream of :class:`~workersai.ChatChunk`
becomes ``ChatResponse``s with ``TextBlock`` / ``ThinkingBlock`` / ``ToolCallBlock``s, usage
and finish reason in ``additional_kwargs`` and a ``raw`` dict with a top-level ``usage``
(which is where LlamaIndex's token counter looks).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llama_index.core.base.llms.types import (
    CachePoint,
    ChatMessage,
    ChatResponse,
    ContentBlock,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.llms.utils import parse_partial_json

from workersai import ChatChunk, ChatResult, InvalidInputError, ToolCall, Usage
from workersai.integration import envelope_result, image_data_uri
from workersai.pricing import estimate_cost

_ROLES: dict[str, str] = {
    MessageRole.SYSTEM.value: "system",
    MessageRole.DEVELOPER.value: "system",
    MessageRole.USER.value: "user",
    MessageRole.ASSISTANT.value: "assistant",
    MessageRole.TOOL.value: "tool",
    MessageRole.FUNCTION.value: "tool",
    MessageRole.CHATBOT.value: "assistant",
    MessageRole.MODEL.value: "assistant",
}


# --------------------------------------------------------------------------------------
# Outgoing
# --------------------------------------------------------------------------------------


def _convert_image_block(block: ImageBlock, where: str) -> dict[str, Any]:
    url = str(block.url) if block.url is not None else None
    if block.image is None and block.path is None and url is not None:
        # http(s) URLs are fetched and inlined by the core; data URIs go as they are.
        return {"type": "image_url", "image_url": {"url": url}}
    data = block.resolve_image(as_base64=True).read().decode("ascii")
    # Without a declared type, the core reads it from the bytes' magic number.
    url = image_data_uri(
        data,
        block.image_mimetype,
        where=where,
        hint="Set ImageBlock(image_mimetype='image/png') (or jpeg, webp, gif).",
    )
    return {"type": "image_url", "image_url": {"url": url}}


def _convert_tool_call_block(block: ToolCallBlock) -> dict[str, Any]:
    kwargs = block.tool_kwargs
    arguments = kwargs if isinstance(kwargs, str) else json.dumps(kwargs, ensure_ascii=False)
    return {
        "id": block.tool_call_id,
        "type": "function",
        "function": {"name": block.tool_name, "arguments": arguments},
    }


def _legacy_tool_calls(message: ChatMessage) -> list[dict[str, Any]]:
    """``additional_kwargs["tool_calls"]`` of messages built by other integrations."""
    calls = message.additional_kwargs.get("tool_calls")
    out: list[dict[str, Any]] = []
    for call in calls if isinstance(calls, list) else ():
        dumped = call.model_dump() if hasattr(call, "model_dump") else call
        if isinstance(dumped, Mapping):
            out.append(dict(dumped))
    return out


def _convert_message_to_dict(message: ChatMessage, index: int) -> dict[str, Any]:
    """One ``ChatMessage`` → an OpenAI-form message dict (thinking is never sent back)."""
    where = f"messages[{index}]"
    role = _ROLES.get(str(message.role.value), str(message.role.value))
    texts: list[str] = []
    parts: list[dict[str, Any]] = []
    tool_calls: list[dict[str, Any]] = []
    has_image = False
    for block in message.blocks:
        if isinstance(block, TextBlock):
            texts.append(block.text)
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ImageBlock):
            if role == "tool":
                continue  # Workers AI tool results are text
            parts.append(_convert_image_block(block, where))
            has_image = True
        elif isinstance(block, ToolCallBlock):
            tool_calls.append(_convert_tool_call_block(block))
        elif isinstance(block, (ThinkingBlock, CachePoint)):
            # Reasoning sent back corrupts multi-turn context; cache points have no
            # Workers AI equivalent (prompt caching is keyed by session affinity instead).
            continue
        else:
            raise InvalidInputError(
                f"{where}: Workers AI chat accepts text and image blocks, not "
                f"{type(block).__name__}",
                field=where,
            )
    wire: dict[str, Any] = {"role": role, "content": parts if has_image else "\n".join(texts)}
    if role == "assistant":
        tool_calls = tool_calls or _legacy_tool_calls(message)
        if tool_calls:
            wire["tool_calls"] = tool_calls
    elif role == "tool":
        call_id = message.additional_kwargs.get("tool_call_id")
        if isinstance(call_id, str) and call_id:
            wire["tool_call_id"] = call_id
    return wire


def _convert_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    return [_convert_message_to_dict(message, i) for i, message in enumerate(messages)]


# --------------------------------------------------------------------------------------
# Incoming
# --------------------------------------------------------------------------------------


def _response_kwargs(
    usage: Usage | None, finish_reason: str | None, model: str | None, gateway: Mapping[str, str]
) -> dict[str, Any]:
    """``ChatResponse.additional_kwargs``: token counts (flat, as LlamaIndex integrations put
    them), finish reason, model, AI Gateway info and the estimated ``cost_usd`` (left out
    when unknown, never reported as 0)."""
    out = usage.as_dict() if usage is not None else {}
    out["finish_reason"] = finish_reason
    if model:
        out["model"] = model
    if gateway:
        out["gateway"] = dict(gateway)
    if usage is not None:
        # The estimate ChatResult.cost and the usage trackers give.
        cost = estimate_cost(model, usage)
        if cost.usd is not None:
            out["cost_usd"] = cost.usd
    return out


def _openai_tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def _assistant_message(
    text: str,
    reasoning: str | None,
    calls: Sequence[tuple[str, str, dict[str, Any] | str, str]],
    reasoning_tokens: int | None = None,
) -> ChatMessage:
    """An assistant message from its parts; ``calls`` are ``(id, name, kwargs, raw_args)``."""
    blocks: list[ContentBlock] = []
    if reasoning:
        blocks.append(ThinkingBlock(content=reasoning, num_tokens=reasoning_tokens))
    if text or not calls:
        blocks.append(TextBlock(text=text))
    blocks.extend(
        ToolCallBlock(tool_call_id=call_id, tool_name=name, tool_kwargs=kwargs)
        for call_id, name, kwargs, _ in calls
    )
    additional_kwargs: dict[str, Any] = {}
    if calls:
        # Also in OpenAI form: LlamaIndex's streaming structured output looks for it here.
        additional_kwargs["tool_calls"] = [
            _openai_tool_call(call_id, name, raw) for call_id, name, _, raw in calls
        ]
    return ChatMessage(
        role=MessageRole.ASSISTANT, blocks=blocks, additional_kwargs=additional_kwargs
    )


def _call_parts(call: ToolCall) -> tuple[str, str, dict[str, Any] | str, str]:
    # Invalid calls keep their raw text so the turn still round-trips with its id.
    kwargs: dict[str, Any] | str = call.arguments if call.is_valid else call.raw_arguments
    return call.id, call.name, kwargs, call.raw_arguments


def _convert_result_to_message(result: ChatResult) -> ChatMessage:
    calls = [_call_parts(c) for c in (*result.tool_calls, *result.invalid_tool_calls)]
    reasoning_tokens = result.usage.reasoning_tokens if result.usage else None
    return _assistant_message(result.text, result.reasoning, calls, reasoning_tokens)


def _raw_of(result: ChatResult) -> Any:
    """The model's answer: the v4 envelope's ``result`` (what the Workers binding returns)
    or the OpenAI-compatible body, so ``raw["usage"]`` is where token counters look."""
    body = result.raw
    inner = envelope_result(body)
    if inner is not body:
        return dict(inner) if isinstance(inner, Mapping) else body
    return body


def _convert_result_to_response(result: ChatResult) -> ChatResponse:
    additional_kwargs = _with_parsed(
        _response_kwargs(result.usage, result.finish_reason, result.model, result.gateway),
        result,
    )
    return ChatResponse(
        message=_convert_result_to_message(result),
        raw=_raw_of(result),
        additional_kwargs=additional_kwargs,
    )


def _with_parsed(additional_kwargs: dict[str, Any], result: ChatResult) -> dict[str, Any]:
    if result.parsed is not None:
        # A JSON-mode answer's value, parsed once by the core (code fences included).
        additional_kwargs["parsed"] = result.parsed
    return additional_kwargs


@dataclass(slots=True)
class _PartialCall:
    id: str
    name: str
    arguments: str = ""


class _StreamState:
    """Accumulates a stream into ``ChatResponse``s carrying the whole message so far."""

    def __init__(self) -> None:
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._calls: dict[int, _PartialCall] = {}

    def add(self, chunk: ChatChunk) -> ChatResponse:
        """A content chunk → the accumulated message and this chunk's delta."""
        if chunk.text:
            self._text.append(chunk.text)
        if chunk.reasoning:
            self._reasoning.append(chunk.reasoning)
        for piece in chunk.tool_calls:
            call = self._calls.get(piece.index)
            if call is None:
                call = self._calls[piece.index] = _PartialCall(piece.id or "", piece.name or "")
            call.arguments += piece.arguments
        calls = [(c.id, c.name, c.arguments, c.arguments) for c in self._calls.values()]
        message = _assistant_message("".join(self._text), "".join(self._reasoning), calls)
        extra = {"thinking_delta": chunk.reasoning} if chunk.reasoning else {}
        return ChatResponse(message=message, delta=chunk.text, additional_kwargs=extra)

    def finish(self, chunk: ChatChunk, result: ChatResult) -> ChatResponse:
        """The final chunk → the assembled answer (tool arguments parsed and coerced by the
        core), with usage and finish reason."""
        raw: dict[str, Any] = {
            "id": chunk.id,
            "model": chunk.model,
            "finish_reason": chunk.finish_reason,
            "usage": chunk.usage.as_dict() if chunk.usage is not None else None,
        }
        return ChatResponse(
            message=_convert_result_to_message(result),
            delta="",
            raw=raw,
            additional_kwargs=_with_parsed(
                _response_kwargs(chunk.usage, chunk.finish_reason, chunk.model, chunk.gateway),
                result,
            ),
        )


def _parse_tool_kwargs(kwargs: dict[str, Any] | str) -> dict[str, Any]:
    """Tool arguments as a dict: objects as they are, JSON text parsed (partial JSON of a
    stream in progress too); anything unparseable → ``{}``."""
    if isinstance(kwargs, dict):
        return kwargs
    text = kwargs.strip()
    if not text:
        return {}
    try:
        parsed = json.loads(text)
    except ValueError:
        try:
            parsed = parse_partial_json(text)
        except ValueError:
            return {}
    return parsed if isinstance(parsed, dict) else {}
