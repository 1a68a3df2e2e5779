"""Cloudflare's v4 envelope ``{"result", "success", "errors", "messages"}`` (wire reference §1.2,
§2.1): the one place that decides what is an envelope, what its result is, and which typed
error a failed answer is.

``/ai/run`` wraps JSON answers in it; ``/ai/v1/*`` answers are bare OpenAI objects (§1.3), and
binary answers (PNG, audio) have no body to wrap. Parsers accept either form, so an answer is
unwrapped whether it arrives from the transport, a cassette or a Batch API item.

:func:`error_from_response` picks the :mod:`workersai.errors` class by Cloudflare's code first
and the HTTP status second — the same condition arrives with different statuses (7003 as 404
or 400, 10000 as 401 or 403; §2) — and writes the hint that says what to do.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

from workersai import errors
from workersai._json import ascii_int
from workersai.errors import APIError, CloudflareErrorDetail
from workersai.models import suggest_models

__all__ = ["envelope_result", "error_from_response", "is_envelope", "unwrap_envelope"]

_ENVELOPE_KEYS = ("result", "success", "errors")


def is_envelope(body: Any) -> bool:
    """Whether ``body`` is a v4 envelope: a mapping with at least two of ``result``,
    ``success`` and ``errors`` (one of them alone can be a model's own output field)."""
    return isinstance(body, Mapping) and sum(key in body for key in _ENVELOPE_KEYS) >= 2


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
# Building an error from a response
# --------------------------------------------------------------------------------------

_BY_CODE: dict[int, type[APIError]] = {
    3003: errors.ModelInputError,
    3006: errors.RequestTooLargeError,
    3007: errors.RequestTimeoutError,
    3008: errors.RequestTimeoutError,
    3023: errors.PermissionDeniedError,
    3036: errors.DailyLimitExceededError,
    3040: errors.CapacityExceededError,
    3041: errors.PermissionDeniedError,
    3042: errors.ModelNotFoundError,
    5004: errors.ModelInputError,
    5005: errors.UnsupportedFeatureError,
    5006: errors.ModelInputError,
    5007: errors.ModelNotFoundError,
    5016: errors.LicenseAgreementRequiredError,
    5018: errors.PermissionDeniedError,
    5019: errors.UnsupportedFeatureError,
    5023: errors.UnsupportedFeatureError,
    5025: errors.UnsupportedFeatureError,
    7000: errors.RouteNotFoundError,
    7001: errors.UnsupportedFeatureError,
    7003: errors.RouteNotFoundError,
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
    413: errors.RequestTooLargeError,
    422: errors.BadRequestError,
    429: errors.RateLimitError,
}

# "AiError: 5006: Error: ..." / "InferenceUpstreamError: 3040: ..." — codes inside messages.
_EMBEDDED_CODE = re.compile(r"^(?:[A-Za-z]+Error:\s*)?(\d{4,5}):\s")
_FIELD_POINTER = re.compile(r"(?:at|of) '(/[^']*)'")
_TAGS = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"\s+")

_TOKEN_HELP = (
    "Check CLOUDFLARE_API_TOKEN: it must be an API token (not the Global API Key) with the "
    "'Workers AI Read' permission ('Workers AI Edit' for fine-tunes) on this account."
)


def _parse_details(body: Any) -> tuple[CloudflareErrorDetail, ...]:
    """Read Cloudflare's ``errors`` array (or an OpenAI-style ``error`` object)."""
    if not isinstance(body, Mapping):
        return ()
    details: list[CloudflareErrorDetail] = []
    raw_errors = body.get("errors")
    if isinstance(raw_errors, list):
        for item in raw_errors:
            if isinstance(item, Mapping):
                details.append(_detail(item.get("code"), item.get("message")))
            elif isinstance(item, str):
                details.append(_detail(None, item))
    raw_error = body.get("error")
    if not details and isinstance(raw_error, Mapping):
        details.append(_detail(raw_error.get("code"), raw_error.get("message")))
    elif not details and isinstance(raw_error, str):
        details.append(_detail(None, raw_error))
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
    return CloudflareErrorDetail(code=parsed, message=text)


def _text_snippet(text: str, limit: int = 300) -> str:
    """Readable one-line excerpt of a non-JSON body (HTML from a proxy, usually)."""
    stripped = _SPACES.sub(" ", html.unescape(_TAGS.sub(" ", text))).strip()
    return stripped[:limit] + ("…" if len(stripped) > limit else "")


def _pick_class(status: int, codes: tuple[int, ...]) -> type[APIError]:
    for code in codes:
        cls = _BY_CODE.get(code)
        if cls is not None:
            return cls
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
    messages: list[str],
    model: str | None,
) -> str | None:
    text = " ".join(messages)
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
    if 10000 in codes or cls is errors.AuthenticationError:
        return _TOKEN_HELP
    if 5016 in codes:
        return (
            f"'{model_name}' requires agreeing to its license once per account: call "
            f'client.agree_to_license({model_name!r}) (it sends {{"prompt": "agree"}}) '
            "after reading the terms, then retry."
        )
    if 3036 in codes:
        return (
            "The daily free allocation of 10,000 neurons is used up; it resets at 00:00 UTC. "
            "Retrying now will not help: upgrade to Workers Paid or wait for the reset."
        )
    if 3040 in codes:
        return (
            f"Workers AI is out of capacity for {model_name} right now. Requests are retried "
            "with backoff (max_retries); retry later or choose another model."
        )
    if 5006 in codes or 5004 in codes or 3003 in codes:
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
    cls = _pick_class(status, codes)
    hint = _hint(cls, status, codes, [d.message for d in details], model)
    where = f" for {model}" if model else ""
    err = cls(
        f"Workers AI returned HTTP {status}{where}: {summary}",
        status_code=status,
        errors=details,
        request_id=headers.get("cf-ray"),
        model=model,
        body=body,
        retry_after=None,
        hint=hint,
    )
    if isinstance(err, errors.ModelInputError):
        pointer = _FIELD_POINTER.search(" ".join(d.message for d in details))
        err.field = pointer.group(1) if pointer else None
    return err
