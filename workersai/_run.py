"""Any model, run once: the request of ``client.run(model, inputs)`` — a JSON input, raw
bytes (Whisper audio, with their content type) or a multipart form (FLUX.2) — and of
``client.stream(model, inputs)``, a raw text-generation input streamed and read like a chat.

Like :mod:`workersai.batch`, the functions take the client's request builder (``prepare``:
credentials, headers, URL) and return what the client sends; JSON inputs are validated
against the task's schema first (wire reference §1.2).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx

from workersai._chat import ChatRequest
from workersai._media import Multipart
from workersai._transport import PreparedRequest
from workersai.errors import InvalidInputError
from workersai.models import resolve_model
from workersai.schemas import validate_input

__all__ = ["run_request", "stream_request"]

PrepareRequest = Callable[..., PreparedRequest]
"""The client's request builder: ``_ClientBase._prepare``."""


def run_request(
    prepare: PrepareRequest,
    model: str,
    inputs: Mapping[str, Any] | bytes | Multipart | None,
    *,
    content_type: str | None,
    query: Mapping[str, str] | None,
    headers: Mapping[str, str] | None,
    timeout: float | httpx.Timeout | None,
    session_affinity: str | None,
    reject_if_busy: bool,
    validate: bool,
    stream: bool = False,
) -> tuple[str, PreparedRequest]:
    model_id = resolve_model(model)
    allowed: tuple[type, ...] = (
        (Mapping,) if stream else (Mapping, bytes, bytearray, memoryview, Multipart)
    )
    if inputs is not None and not isinstance(inputs, allowed):
        wanted = "a JSON object (mapping)" if stream else "a mapping, bytes or Multipart"
        raise InvalidInputError(
            f"inputs must be {wanted}, got {type(inputs).__name__}", field="inputs"
        )
    route = f"run/{model_id}"
    common: dict[str, Any] = {
        "params": query,
        "headers": headers,
        "model": model_id,
        "timeout": timeout,
        "session_affinity": session_affinity,
        "stream": stream,
    }
    if isinstance(inputs, (bytes, bytearray, memoryview)):
        if reject_if_busy:
            raise InvalidInputError("reject_if_busy needs a JSON body", field="reject_if_busy")
        return model_id, prepare(
            "POST", route, content=bytes(inputs), content_type=content_type, **common
        )
    if isinstance(inputs, Multipart):
        body, multipart_type = inputs.encode()
        return model_id, prepare("POST", route, content=body, content_type=multipart_type, **common)
    payload: dict[str, Any] = dict(inputs or {})
    if stream:
        payload["stream"] = True
    elif payload.get("stream"):
        raise InvalidInputError(
            "inputs ask for a stream: use client.stream(...) instead of run()", field="stream"
        )
    if reject_if_busy:
        payload["options"] = {**payload.get("options", {}), "rejectIfBusy": True}
    if validate:
        validate_input(model_id, payload)
    return model_id, prepare("POST", route, json_body=payload, **common)


def stream_request(
    prepare: PrepareRequest,
    model: str,
    inputs: Mapping[str, Any],
    *,
    headers: Mapping[str, str] | None,
    timeout: float | httpx.Timeout | None,
    session_affinity: str | None,
    reject_if_busy: bool,
    validate: bool,
) -> tuple[ChatRequest, PreparedRequest]:
    """``stream()`` of raw inputs: the request, and how to read its answer."""
    model_id, prepared = run_request(
        prepare,
        model,
        inputs,
        content_type=None,
        query=None,
        headers=headers,
        timeout=timeout,
        session_affinity=session_affinity,
        reject_if_busy=reject_if_busy,
        validate=validate,
        stream=True,
    )
    chat = ChatRequest(
        model=model_id,
        endpoint="native",
        route=f"run/{model_id}",
        body=dict(inputs or {}),
        stream=True,
    )
    return chat, prepared
