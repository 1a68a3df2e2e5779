"""Cloudflare's v4 envelope ``{"result", "success", "errors", "messages"}`` (wire reference §1.2,
§2.1): the one place that decides what is an envelope and what its result is.

``/ai/run`` wraps JSON answers in it; ``/ai/v1/*`` answers are bare OpenAI objects (§1.3), and
binary answers (PNG, audio) have no body to wrap. Parsers accept either form, so an answer is
unwrapped whether it arrives from the transport, a cassette or a Batch API item.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workersai.errors import error_from_response

__all__ = ["envelope_result", "is_envelope", "unwrap_envelope"]

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
