"""Cloudflare's v4 envelope ``{"result", "success", "errors", "messages"}`` (wire reference §1.2,
§2.1): the one place that decides what is an envelope, what its result is, which bodies are
not an answer at all, and which typed error a failed answer is.

``/ai/run`` wraps JSON answers in it; ``/ai/v1/*`` answers are bare OpenAI objects (§1.3), and
binary answers (PNG, audio) have no body to wrap. Parsers accept either form, so an answer is
unwrapped whether it arrives from the transport, a cassette or a Batch API item. A body that
only has ``result`` is an envelope a proxy stripped (§10.1); a 2xx body that is HTML, plain
text or empty is :func:`unexpected_answer`, and an event stream sent to a request that did not
ask for one is read as the stream it is (:class:`EventStreamBody`, §10.2).

:func:`error_from_response` picks the :mod:`workersai.errors` class by Cloudflare's code first
and the HTTP status second — the same condition arrives with different statuses (7003 as 404
or 400, 10000 as 401 or 403; §2) — and writes the hint that says what to do.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workersai import errors
from workersai._json import ascii_int
from workersai._sse import ServerSentEvent, SSEDecoder
from workersai.errors import APIError, CloudflareErrorDetail
from workersai.models import get_model_info, suggest_models

__all__ = [
    "EventStreamBody",
    "envelope_result",
    "error_from_response",
    "event_stream_body",
    "is_envelope",
    "unexpected_answer",
    "unwrap_envelope",
]

_ENVELOPE_KEYS = ("result", "success", "errors")
# What may stand beside a lone ``result`` in a stripped envelope: keys only envelopes carry.
_STRIPPED_ENVELOPE = frozenset({"result", "messages", "result_info"})


def is_envelope(body: Any) -> bool:
    """Whether ``body`` is a v4 envelope: a mapping with at least two of ``result``,
    ``success`` and ``errors``, or with ``result`` and nothing but envelope keys.

    The lone ``{"result": …}`` is an envelope whose ``success``/``errors`` a proxy or a
    Worker relaying ``env.AI.run`` dropped (BerriAI/litellm#29353). A model's own output is
    never a whole HTTP body: it is *inside* ``result``, ``response`` or ``choices``, so a
    ``result`` field of the model's JSON never reaches this test on its own — and a body with
    ``result`` beside other non-envelope keys (``{"result": 4, "steps": …}``) stays as it is.
    """
    if not isinstance(body, Mapping):
        return False
    if sum(key in body for key in _ENVELOPE_KEYS) >= 2:
        return True
    return "result" in body and all(key in _STRIPPED_ENVELOPE for key in body)


def envelope_result(body: Any) -> Any:
    """The ``result`` of an envelope; any other body as is. Never raises."""
    return body.get("result") if is_envelope(body) else body


def unwrap_envelope(
    body: Any,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    model: str | None = None,
) -> Any:
    """:func:`envelope_result`, after raising the typed error of a ``success: false`` body.

    A 2xx answer can still say ``success: false`` (seen through proxies and on stream
    requests answered with JSON), so the HTTP status alone does not prove success.
    """
    if isinstance(body, Mapping) and body.get("success") is False:
        raise error_from_response(status_code, body, headers=headers, model=model)
    return envelope_result(body)


# --------------------------------------------------------------------------------------
# 2xx bodies that are not an answer
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventStreamBody:
    """A ``text/event-stream`` body answering a request that did not ask to stream — some
    proxies and gateways force streaming (workers-ai-provider 3.0.5 "graceful degradation").
    The chat parser assembles it like a stream; nothing else reads it."""

    events: tuple[ServerSentEvent, ...]


def event_stream_body(content: bytes) -> EventStreamBody:
    decoder = SSEDecoder()
    return EventStreamBody((*decoder.feed(content), *decoder.flush()))


def unexpected_answer(
    body: Any,
    content_type: str,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    model: str | None = None,
    allow_text: bool = False,
    allow_binary: bool = False,
    invalid_json: bool = False,
) -> errors.UnexpectedResponseError | None:
    """The error for a successful answer whose decoded ``body`` is not a JSON answer, or
    ``None`` when it is one (wire reference §10.2).

    An HTML page (a captive portal, a proxy's login page), an empty body and an event stream
    nobody asked for are never an answer; nor are plain text and binary data, unless allowed
    (:meth:`WorkersAI.run` returns images and unknown models' text as they come). Returning
    any of them as the model's text would hand a portal page or transport framing to the
    caller. ``invalid_json``: the body is text the transport could not decode as the JSON
    its content type announced.
    """
    kind = content_type.partition(";")[0].strip().lower() or "no content type"
    check = "check base_url and any proxy or gateway in between."
    if isinstance(body, (bytes, bytearray)):
        if body and allow_binary:
            return None
        what = f"{len(body)} bytes of {kind}" if body else f"an empty body ({kind})"
        hint = f"This endpoint answers JSON: {check}"
    elif not isinstance(body, str):
        return None
    elif not body.strip():
        what = f"an empty body ({kind})"
        hint = f"Nothing came back: retry, and {check}"
    elif "json" in kind and not invalid_json:
        return None  # a JSON string answer
    elif "html" in kind or body.lstrip()[:1] == "<":
        what = f"an HTML page ({kind}): {_text_snippet(body, 120)}"
        hint = (
            "Something other than Workers AI answered: a captive portal (hotel or office Wi-Fi: "
            "open any web page to log in), a corporate proxy, or a wrong base_url."
        )
    elif "event-stream" in kind:
        what = "an event stream (text/event-stream) to a request that did not ask for one"
        hint = f"A proxy or gateway forced streaming: use client.stream(...), or {check}"
    elif "json" in kind:
        what = f"a body that is not valid JSON ({kind}): {_text_snippet(body, 120)}"
        hint = f"The answer was cut or rewritten on its way: retry, and {check}"
    elif allow_text:
        return None
    else:
        what = f"{kind}: {_text_snippet(body, 120)}"
        hint = f"This endpoint answers JSON: {check}"
    where = f" for {model}" if model else ""
    return errors.UnexpectedResponseError(
        f"Workers AI returned HTTP {status}{where} with {what}, not a JSON answer",
        status_code=status,
        request_id=(headers or {}).get("cf-ray"),
        model=model,
        body=body if isinstance(body, str) else None,
        hint=hint,
    )


# --------------------------------------------------------------------------------------
# Building an error from a response
# --------------------------------------------------------------------------------------

_BY_CODE: dict[int, type[APIError]] = {
    # AI Gateway (§10.3): rate limit, gateway token, credits, spend limit.
    2003: errors.RateLimitError,
    2009: errors.AuthenticationError,
    2021: errors.QuotaExceededError,
    2041: errors.QuotaExceededError,
    3003: errors.ModelInputError,
    3006: errors.RequestTooLargeError,
    3007: errors.RequestTimeoutError,
    3008: errors.RequestTimeoutError,
    3010: errors.ModelInputError,
    3021: errors.RateLimitError,
    3023: errors.PermissionDeniedError,
    3030: errors.ContentFlaggedError,
    3036: errors.DailyLimitExceededError,
    3040: errors.CapacityExceededError,
    3041: errors.PermissionDeniedError,
    3042: errors.ModelNotFoundError,
    3043: errors.InternalServerError,
    4006: errors.DailyLimitExceededError,
    5004: errors.ModelInputError,
    5005: errors.UnsupportedFeatureError,
    5006: errors.ModelInputError,
    5007: errors.ModelNotFoundError,
    5016: errors.LicenseAgreementRequiredError,
    5018: errors.PermissionDeniedError,
    5019: errors.UnsupportedFeatureError,
    5021: errors.ContextLengthExceededError,
    5023: errors.UnsupportedFeatureError,
    5024: errors.BadRequestError,
    5025: errors.UnsupportedFeatureError,
    5028: errors.ModelRetiredError,
    5035: errors.PermissionDeniedError,
    7000: errors.RouteNotFoundError,
    7001: errors.UnsupportedFeatureError,
    7003: errors.RouteNotFoundError,
    8006: errors.BadRequestError,
    10000: errors.AuthenticationError,
}

_BY_STATUS: dict[int, type[APIError]] = {
    400: errors.BadRequestError,
    401: errors.AuthenticationError,
    403: errors.PermissionDeniedError,
    404: errors.NotFoundError,
    405: errors.UnsupportedFeatureError,
    408: errors.RequestTimeoutError,
    409: errors.ConflictError,
    410: errors.ModelRetiredError,
    413: errors.RequestTooLargeError,
    422: errors.BadRequestError,
    429: errors.RateLimitError,
}

# Codes inside messages: "AiError: 5006: Error: ...", "InferenceUpstreamError: 3040: ...",
# "ERROR 3040: ...", "AiError: AiError: 3040: ...", "InferenceUpstreamError [AiError]: 3010:
# ...", "AiError 5023: ..." (§2.1, §10.3).
_EMBEDDED_CODE = re.compile(r"^(?:\s*(?:[A-Za-z]*Error|ERROR)(?:\s*\[\w+\])?:?\s+)*(\d{4,5}):")
# "This model was deprecated on 2026-05-30", "Model has been deprecated: ..." (§10.4).
_RETIRED_TEXT = re.compile(r"\b(?:was|has been) deprecated\b", re.IGNORECASE)
# 5021 "exceeded this model context window limit (8192)", vLLM's "maximum context length is
# 24000 tokens" inside 8007 (§10.3).
_CONTEXT_TEXT = re.compile(r"maximum context length|context window limit", re.IGNORECASE)
_CONTEXT_SIZE = re.compile(
    r"(?:maximum context length is|context window limit \()\s*(\d+)", re.IGNORECASE
)
_FIELD_POINTER = re.compile(r"(?:at|of) '(/[^']*)'")
_TAGS = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"\s+")

_TOKEN_HELP = (
    "Check CLOUDFLARE_API_TOKEN: it must be an API token (not the Global API Key) with the "
    "'Workers AI Read' permission ('Workers AI Edit' for fine-tunes) on this account."
)


def _parse_details(body: Any) -> tuple[CloudflareErrorDetail, ...]:
    """Every ``{code, message}`` of a failed answer, whatever its shape (§2.1, §10.3):

    * Cloudflare's ``errors`` array;
    * ``error`` as a list (AI Gateway), an object (OpenAI- and Anthropic-style, binding
      errors relayed as JSON) or a string;
    * top-level ``internalCode``/``code`` with ``message``/``description`` (AI Gateway's
      stored responses, proxies: ``{"message": "AiError: 5006: …"}``).
    """
    if not isinstance(body, Mapping):
        return ()
    details: list[CloudflareErrorDetail] = []
    for source in (body.get("errors"), body.get("error")):
        if details:
            break
        items = source if isinstance(source, list) else [source]
        for item in items:
            if isinstance(item, Mapping):
                message = item.get("message", item.get("description"))
                details.append(_detail(item.get("code"), message))
            elif isinstance(item, str) and item.strip():
                details.append(_detail(None, item))
    if not details:
        code = body.get("internalCode", body.get("code"))
        message = body.get("message", body.get("description"))
        if message is not None or isinstance(code, (int, str)):
            details.append(_detail(code, message))
    return tuple(details)


def _detail(code: Any, message: Any) -> CloudflareErrorDetail:
    text = str(message) if message is not None else ""
    parsed: int | None = None
    if isinstance(code, int) and not isinstance(code, bool):
        parsed = code
    elif isinstance(code, str):
        parsed = ascii_int(code)
    if parsed is None:
        embedded = _EMBEDDED_CODE.match(text)
        if embedded:
            parsed = int(embedded.group(1))
    return CloudflareErrorDetail(code=parsed, message=_inner_message(text))


def _inner_message(text: str) -> str:
    """The upstream server's own message when Workers AI wrapped its JSON error (8007:
    ``AiError: AiError: {"object": "error", "message": "…", "code": 400} (<uuid>)``, §10.3);
    otherwise ``text`` unchanged."""
    start = text.find("{")
    if start < 0:
        return text
    try:
        inner, _ = json.JSONDecoder().raw_decode(text, start)
    except ValueError:
        return text
    # Decoded from a "{": a JSON object, always.
    if isinstance(inner.get("error"), Mapping):
        inner = inner["error"]
    message = inner.get("message")
    return message.strip() if isinstance(message, str) and message.strip() else text


def _text_snippet(text: str, limit: int = 300) -> str:
    """Readable one-line excerpt of a non-JSON body (HTML from a proxy, usually)."""
    stripped = _SPACES.sub(" ", html.unescape(_TAGS.sub(" ", text))).strip()
    return stripped[:limit] + ("…" if len(stripped) > limit else "")


def _pick_class(status: int, codes: tuple[int, ...], text: str) -> type[APIError]:
    for code in codes:
        cls = _BY_CODE.get(code)
        if cls is not None:
            return cls
    # Conditions that come without a code of their own (a REST 400 "Model has been
    # deprecated", an upstream context-length error inside 8007), at whatever status.
    if _RETIRED_TEXT.search(text):
        return errors.ModelRetiredError
    if _CONTEXT_TEXT.search(text):
        return errors.ContextLengthExceededError
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return errors.InternalServerError
    if 200 <= status < 300:
        return errors.UnexpectedResponseError
    return APIError


def _suggestions(model: str | None) -> str:
    if not model:
        return ""
    close = suggest_models(model)
    if not close:
        return ""
    return " Did you mean: " + ", ".join(close) + "?"


def _hint(
    cls: type[APIError],
    status: int,
    codes: tuple[int, ...],
    text: str,
    model: str | None,
) -> str | None:
    model_name = model or "the model"
    if 7000 in codes or 7003 in codes:
        return (
            "No route for that URI: check the account id (CLOUDFLARE_ACCOUNT_ID, the 32-character "
            f"id from the dashboard URL, not a zone id or email) and the model id '{model_name}'."
            + _suggestions(model)
        )
    if 5007 in codes or 3042 in codes:
        return f"Workers AI does not know the model '{model_name}'." + _suggestions(model)
    if 2009 in codes:
        return (
            "This AI Gateway is authenticated: pass its token as "
            "GatewayOptions(id=..., authorization='<gateway token>')."
        )
    if cls is errors.ModelRetiredError:
        return _retired_hint(model)
    if 5035 in codes:
        return (
            f"{model_name} needs the Workers Paid plan: upgrade the account (Workers & Pages → "
            "Plans) or choose a model without it. Retrying will not help."
        )
    if cls is errors.ContextLengthExceededError:
        size = _CONTEXT_SIZE.search(text)
        window = f" ({size.group(1)} tokens)" if size else ""
        return (
            f"The prompt plus max_tokens do not fit {model_name}'s context window{window}: "
            "trim the prompt (older turns, long documents) or lower max_tokens. Retrying the "
            "same request will not help."
        )
    if 2021 in codes:
        return (
            "The AI Gateway's credits (Unified Billing) are used up: add credits in the "
            "dashboard (AI Gateway → Credits). Retrying will not help."
        )
    if 2041 in codes:
        return (
            "An AI Gateway spend-limit rule was reached: raise it in the gateway's settings or "
            "wait for its window to pass. Requests are not retried."
        )
    if 2003 in codes:
        return (
            "Rate limited by the AI Gateway's own rate-limiting rule. Requests are retried "
            "with backoff; raise the gateway's limit or lower the concurrency."
        )
    if 10000 in codes or cls is errors.AuthenticationError:
        return _TOKEN_HELP
    if 5016 in codes:
        return (
            f"'{model_name}' requires agreeing to its license once per account: call "
            f'client.agree_to_license({model_name!r}) (it sends {{"prompt": "agree"}}) '
            "after reading the terms, then retry."
        )
    if 3036 in codes or 4006 in codes:
        return (
            "The daily free allocation of 10,000 neurons is used up; it resets at 00:00 UTC. "
            "Retrying now will not help: upgrade to Workers Paid or wait for the reset."
        )
    if 3040 in codes:
        return (
            f"Workers AI is out of capacity for {model_name} right now. Requests are retried "
            "with backoff (max_retries); retry later or choose another model."
        )
    if 3030 in codes:
        return (
            "Workers AI's safety filter flagged the output: change the prompt (or the input "
            "image). The same input is flagged again, so it was not retried."
        )
    if 5024 in codes:
        return (
            f"{model_name} could not produce JSON that meets the response_format: simplify the "
            "schema, raise max_tokens, or ask for the structure through a tool "
            "(method='function_calling')."
        )
    if 8006 in codes:
        return (
            "A forced tool on a reasoning model ran out of tokens before its call: raise "
            "max_tokens (a few thousand leaves room to think) or use tool_choice='auto'."
        )
    if 5006 in codes or 5004 in codes or 3003 in codes or 3010 in codes:
        return _input_hint(text)
    if 5005 in codes:
        return (
            f"{model_name} does not accept LoRA adapters; use a base model whose id ends in -lora."
        )
    if 5023 in codes:
        return "JSON-schema mode cannot stream on Workers AI: request without streaming."
    if 5025 in codes:
        return (
            f"{model_name} does not support JSON Schema output; use tool calling "
            "(method='function_calling') or plain JSON mode."
        )
    if 3006 in codes or cls is errors.RequestTooLargeError:
        return (
            "The request is too large: send fewer texts per request or a smaller image/audio file."
        )
    if 7001 in codes:
        return "That endpoint does not exist for this method; use /ai/models/search to list models."
    if cls is errors.RateLimitError:
        return (
            "Rate limited by Workers AI (e.g. 300 requests/min for text generation, 3000 for "
            "embeddings). Requests are retried with backoff; lower the concurrency or add a "
            "rate limiter."
        )
    if status >= 500:
        return "Workers AI had a server error; it was retried. Try again shortly."
    if 3041 in codes or 5018 in codes:
        return f"This account is not allowed to use {model_name} (a private or partner model)."
    return None


def _retired_hint(model: str | None) -> str:
    info = get_model_info(model) if model else None
    if info is not None and info.retired is not None and info.retired.replacement:
        retired = info.retired
        note = f" {retired.note}" if retired.note else ""
        return (
            f"{info.id} was retired on {retired.on.isoformat()}: use {retired.replacement} "
            f"instead.{note}"
        )
    return (
        "Workers AI retired this model: choose a current one (`workersai models` lists them, "
        "or WorkersAI().list_models())." + _suggestions(model)
    )


def _input_hint(text: str) -> str:
    if "'array' not in 'string'" in text and "content" in text:
        return (
            "This model accepts only plain-text message content: send strings, not content "
            "parts (images need a vision model such as @cf/meta/llama-4-scout-17b-16e-instruct)."
        )
    if "required properties" in text and "'prompt'" in text and "'messages'" in text:
        return "Send either 'prompt' or 'messages' (exactly one)."
    pointer = _FIELD_POINTER.search(text)
    if pointer:
        return (
            f"Workers AI rejected the input field '{pointer.group(1)}'; check its type and range."
        )
    return "Workers AI rejected the input; check the fields against the model's schema."


def error_from_response(
    status: int,
    body: Any,
    *,
    headers: Mapping[str, str] | None = None,
    model: str | None = None,
) -> APIError:
    """Build the typed error for an error response.

    Args:
        status: HTTP status code.
        body: Decoded JSON body, or the raw text when the body is not JSON.
        headers: Response headers (for ``cf-ray`` and ``Retry-After``).
        model: The model the request was for (improves the hint).
    """
    headers = headers or {}
    details = _parse_details(body)
    codes = tuple(d.code for d in details if d.code is not None)
    if details:
        summary = "; ".join(
            f"{d.code}: {d.message}" if d.code is not None else d.message for d in details
        )
    elif isinstance(body, str) and body.strip():
        summary = f"non-JSON response body: {_text_snippet(body)}"
    else:
        summary = "no error details in the response body"
    # Every entry's message, read as one text by the rules that look at words.
    text = " ".join(d.message for d in details)
    cls = _pick_class(status, codes, text)
    hint = _hint(cls, status, codes, text, model)
    where = f" for {model}" if model else ""
    err = cls(
        f"Workers AI returned HTTP {status}{where}: {summary}",
        status_code=status,
        errors=details,
        request_id=headers.get("cf-ray"),
        model=model,
        body=body,
        hint=hint,  # retry_after: the transport sets it from the response's headers
    )
    if isinstance(err, errors.ModelInputError):
        pointer = _FIELD_POINTER.search(text)
        err.field = pointer.group(1) if pointer else None
    if isinstance(err, errors.ModelRetiredError) and model:
        info = get_model_info(model)
        if info is not None and info.retired is not None:
            err.replacement = info.retired.replacement
    return err
