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
    7003 Check the account id ... Did you mean: @cf/meta/llama-3.3-70b-instruct-fp8-fast, ...?
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "CapacityExceededError",
    "CloudflareErrorDetail",
    "ConflictError",
    "ContextLengthExceededError",
    "DailyLimitExceededError",
    "InternalServerError",
    "InvalidInputError",
    "LicenseAgreementRequiredError",
    "MissingCredentialsError",
    "ModelInputError",
    "ModelNotFoundError",
    "ModelRetiredError",
    "NotFoundError",
    "PermissionDeniedError",
    "QuotaExceededError",
    "RateLimitError",
    "RequestTimeoutError",
    "RequestTooLargeError",
    "RouteNotFoundError",
    "StreamError",
    "StreamTruncatedError",
    "UnexpectedResponseError",
    "UnsupportedFeatureError",
    "WorkersAIError",
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


class ContextLengthExceededError(BadRequestError):
    """The prompt plus ``max_tokens`` do not fit the model's context window (code 5021, or an
    upstream "maximum context length" message inside 8007). Sending it again cannot help."""


class ContentFlaggedError(BadRequestError):
    """Code 3030: Workers AI's safety filter flagged the model's output (image models, at
    whatever HTTP status). The same input is flagged again, so it is never retried."""


class ModelRetiredError(BadRequestError):
    """The model was retired (code 5028, "deprecated on <date>", HTTP 410).

    Attributes:
        replacement: The model the catalog recommends instead, when it knows one.
    """

    replacement: str | None = None


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


class QuotaExceededError(RateLimitError):
    """A spending or allocation limit is reached (AI Gateway spend limit 2041, AI Gateway
    credits 2021): no retry can succeed until the limit is raised or its window passes."""

    is_retryable = False


class DailyLimitExceededError(QuotaExceededError):
    """Code 3036 (and 4006, its older spelling): the daily free allocation of neurons is used
    up (not retryable today)."""


class InternalServerError(APIError):
    """HTTP 5xx."""

    is_retryable = True


class UnexpectedResponseError(APIError):
    """A successful status with a body we cannot read (not JSON, wrong shape)."""

    def __init__(self, message: str, *, status_code: int = 200, **details: Any) -> None:
        super().__init__(message, status_code=status_code, **details)


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
