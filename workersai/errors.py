"""Typed errors carrying Cloudflare's error codes and a hint that says what to do.

Every error this package raises derives from :class:`WorkersAIError`. Errors returned by the
API derive from :class:`APIError` and carry the HTTP status, every ``errors[].code`` and
message of Cloudflare's envelope, the ``cf-ray`` request id, and a hint. Transport failures
are :class:`APIConnectionError` / :class:`APITimeoutError`. Bad input caught before any
request is :class:`InvalidInputError` (also a ``ValueError``).

The subclass is chosen by Cloudflare's code first and the HTTP status second, because the
same condition arrives with different statuses (7003 comes as 404 or 400, 10000 as 401 or
403) — see the wire reference §2.

Example:
    >>> try:
    ...     client.chat("llama-3-70b-instruct", [{"role": "user", "content": "hi"}])
    ... except workersai.RouteNotFoundError as err:
    ...     print(err.code, err.hint)
    7003 Check the account id ... Did you mean: @cf/meta/llama-3.1-70b-instruct?
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workersai._digits import ascii_int

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "CapacityExceededError",
    "CloudflareErrorDetail",
    "ConflictError",
    "DailyLimitExceededError",
    "InternalServerError",
    "InvalidInputError",
    "LicenseAgreementRequiredError",
    "MissingCredentialsError",
    "ModelInputError",
    "ModelNotFoundError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTimeoutError",
    "RequestTooLargeError",
    "RouteNotFoundError",
    "StreamError",
    "StreamTruncatedError",
    "UnexpectedResponseError",
    "UnsupportedFeatureError",
    "WorkersAIError",
    "error_from_response",
]


class WorkersAIError(Exception):
    """Base class of every error raised by ``workersai``.

    Attributes:
        message: What went wrong.
        hint: What to do about it, when we know.
        is_retryable: Whether sending the same request again later can succeed.
    """

    is_retryable: bool = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\nHint: {self.hint}"
        return self.message


class MissingCredentialsError(WorkersAIError):
    """The account id or API token is not configured (raised at the first request)."""


class InvalidInputError(WorkersAIError, ValueError):
    """Input rejected on the client, before any request was sent.

    Attributes:
        field: Dotted path of the offending field, when known (``"temperature"``,
            ``"messages.0.content"``).
    """

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.field = field


@dataclass(frozen=True, slots=True)
class CloudflareErrorDetail:
    """One entry of Cloudflare's ``errors`` array."""

    code: int | None
    message: str


class APIError(WorkersAIError):
    """Workers AI answered with an error.

    Attributes:
        status_code: HTTP status of the response.
        errors: Every ``{code, message}`` of Cloudflare's ``errors`` array, in order.
        code: The first Cloudflare error code (``None`` for a non-JSON body).
        codes: All Cloudflare error codes.
        request_id: The ``cf-ray`` header, for Cloudflare support.
        model: The model the request was for, if any.
        body: The decoded response body (JSON value or text).
        retry_after: Seconds the server asked us to wait (``Retry-After``), if sent.
        retries_taken: How many retries were made before this error was raised.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        errors: tuple[CloudflareErrorDetail, ...] = (),
        request_id: str | None = None,
        model: str | None = None,
        body: Any = None,
        retry_after: float | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status_code = status_code
        self.errors = errors
        self.request_id = request_id
        self.model = model
        self.body = body
        self.retry_after = retry_after
        self.retries_taken = 0

    @property
    def code(self) -> int | None:
        return self.errors[0].code if self.errors else None

    @property
    def codes(self) -> tuple[int, ...]:
        return tuple(e.code for e in self.errors if e.code is not None)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code}, codes={list(self.codes)})"


class BadRequestError(APIError):
    """HTTP 400: the request was rejected as invalid."""


class ModelInputError(BadRequestError):
    """The model's input schema rejected the request (codes 5006, 5004, 3003).

    Attributes:
        field: The JSON pointer Workers AI named (``/messages/0/content``), if any.
    """

    field: str | None = None


class UnsupportedFeatureError(BadRequestError):
    """The model or endpoint does not support what was asked (LoRA 5005, JSON schema 5025,
    JSON schema with streaming 5023, wrong HTTP method 7001, deprecated SDK 5019)."""


class AuthenticationError(APIError):
    """HTTP 401 (or code 10000): the API token was rejected."""


class PermissionDeniedError(APIError):
    """HTTP 403: the account may not use this model or feature."""


class LicenseAgreementRequiredError(PermissionDeniedError):
    """Code 5016: the model's license must be agreed to once per account."""


class NotFoundError(APIError):
    """HTTP 404."""


class RouteNotFoundError(NotFoundError):
    """Codes 7000/7003: no route — the account id or the model id is wrong."""


class ModelNotFoundError(NotFoundError):
    """Codes 5007/3042: the model id is not known to Workers AI."""


class RequestTimeoutError(APIError):
    """HTTP 408 (codes 3007/3008): Workers AI timed out or aborted the request."""

    is_retryable = True


class ConflictError(APIError):
    """HTTP 409."""

    is_retryable = True


class RequestTooLargeError(APIError):
    """HTTP 413 (code 3006): the request body is too large."""


class RateLimitError(APIError):
    """HTTP 429: too many requests; retried automatically with backoff."""

    is_retryable = True


class CapacityExceededError(RateLimitError):
    """Code 3040: Workers AI is out of capacity for this model right now (retryable)."""


class DailyLimitExceededError(RateLimitError):
    """Code 3036: the daily free allocation of neurons is used up (not retryable today)."""

    is_retryable = False


class InternalServerError(APIError):
    """HTTP 5xx."""

    is_retryable = True


class UnexpectedResponseError(APIError):
    """A successful status with a body we cannot read (not JSON, wrong shape)."""


class APIConnectionError(WorkersAIError):
    """The request could not be sent or the response could not be read."""

    is_retryable = True

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retries_taken = 0


class APITimeoutError(APIConnectionError):
    """The request timed out on our side (see the ``timeout`` option)."""


class StreamError(WorkersAIError):
    """A stream broke after events were delivered, or carried an unreadable event."""


class StreamTruncatedError(StreamError):
    """The stream ended without ``[DONE]`` and without a finish reason.

    Attributes:
        partial_text: The text received before the stream ended.
    """

    is_retryable = True

    def __init__(self, message: str, *, partial_text: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.partial_text = partial_text


# --------------------------------------------------------------------------------------
# Building an error from a response
# --------------------------------------------------------------------------------------

_BY_CODE: dict[int, type[APIError]] = {
    3003: ModelInputError,
    3006: RequestTooLargeError,
    3007: RequestTimeoutError,
    3008: RequestTimeoutError,
    3023: PermissionDeniedError,
    3036: DailyLimitExceededError,
    3040: CapacityExceededError,
    3041: PermissionDeniedError,
    3042: ModelNotFoundError,
    5004: ModelInputError,
    5005: UnsupportedFeatureError,
    5006: ModelInputError,
    5007: ModelNotFoundError,
    5016: LicenseAgreementRequiredError,
    5018: PermissionDeniedError,
    5019: UnsupportedFeatureError,
    5023: UnsupportedFeatureError,
    5025: UnsupportedFeatureError,
    7000: RouteNotFoundError,
    7001: UnsupportedFeatureError,
    7003: RouteNotFoundError,
    10000: AuthenticationError,
}

_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    405: UnsupportedFeatureError,
    408: RequestTimeoutError,
    409: ConflictError,
    413: RequestTooLargeError,
    422: BadRequestError,
    429: RateLimitError,
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
        return InternalServerError
    if 200 <= status < 300:
        return UnexpectedResponseError
    return APIError


def _suggestions(model: str | None) -> str:
    if not model:
        return ""
    from workersai.models import suggest_models  # lazy: the catalog is only needed for hints

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
    if 10000 in codes or cls is AuthenticationError:
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
    if 3006 in codes or cls is RequestTooLargeError:
        return (
            "The request is too large: send fewer texts per request or a smaller image/audio file."
        )
    if 7001 in codes:
        return "That endpoint does not exist for this method; use /ai/models/search to list models."
    if cls is RateLimitError:
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
    if isinstance(err, ModelInputError):
        pointer = _FIELD_POINTER.search(" ".join(d.message for d in details))
        err.field = pointer.group(1) if pointer else None
    return err
