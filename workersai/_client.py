"""The clients: :class:`WorkersAI` (sync) and :class:`AsyncWorkersAI` (async).

Both share everything but I/O: request building and answer parsing live in
:class:`_ClientBase` and the ``_chat`` / ``_embeddings`` modules; the two classes only send
and receive, through :mod:`workersai._transport` (the one retry layer).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, Literal

import httpx

from workersai import _json
from workersai._chat import (
    ChatRequest,
    ChatStreamAssembler,
    build_chat_request,
    chunks_from_result,
    parse_chat_response,
)
from workersai._config import Credentials, GatewayOptions, gateway_info, resolve_base_url
from workersai._embeddings import (
    DEFAULT_MAX_CONCURRENCY,
    BatchWaitOptions,
    EmbeddingRequest,
    EmbedKind,
    ProgressCallback,
    _gather_or_cancel,
    arun_plan,
    arun_plan_on_batch_api,
    parse_embedding_response,
    plan_embeddings,
    run_plan,
    run_plan_on_batch_api,
)
from workersai._envelope import envelope_result, unwrap_envelope
from workersai._json import ascii_int
from workersai._media import Multipart
from workersai._rerank import (
    DEFAULT_RERANK_MODEL,
    RerankResult,
    build_rerank_request,
    parse_rerank_response,
)
from workersai._transport import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    USER_AGENT,
    AsyncTransport,
    JSONAnswer,
    PreparedRequest,
    RetryPolicy,
    StreamOpened,
    SyncTransport,
    _ssl_context,
    check_seconds,
    coerce_timeout,
    decode_body,
)
from workersai.batch import PENDING, BatchJob, BatchTimeoutError
from workersai.errors import InvalidInputError, WorkersAIError
from workersai.models import ModelInfo, get_catalog, resolve_model, task_name
from workersai.results import ChatChunk, ChatResult, EmbeddingResult, Usage
from workersai.schemas import validate_input
from workersai.tasks import AsyncTaskMethods, TaskMethods
from workersai.usage import record_request, record_run

__all__ = ["AsyncChatStream", "AsyncWorkersAI", "ChatStream", "Multipart", "WorkersAI"]

logger = logging.getLogger(__name__)

_MAX_IMAGE_BYTES = 20 * 1024 * 1024
_MAX_BATCH_BYTES = 10_000_000  # "Total payload < 10 MB" (wire reference §1.6)


# --------------------------------------------------------------------------------------
# Streams
# --------------------------------------------------------------------------------------


class ChatStream:
    """Iterator of :class:`ChatChunk` for one streamed answer; the last chunk has
    ``is_final=True`` with usage and finish reason. Close it (or use ``with``) to stop early.

    Example:
        >>> with client.stream_chat(model, messages) as stream:
        ...     for chunk in stream:
        ...         print(chunk.text, end="")
        ...     print(stream.result().usage)
    """

    def __init__(self, chunks: Iterator[ChatChunk], result: ChatResultSource) -> None:
        self._chunks = chunks
        self._source = result

    def __iter__(self) -> Iterator[ChatChunk]:
        return self._chunks

    def __next__(self) -> ChatChunk:
        return next(self._chunks)

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()

    def result(self) -> ChatResult:
        """The assembled answer; consumes whatever was not iterated yet."""
        for _ in self._chunks:
            pass
        return self._source.result()


class AsyncChatStream:
    """Async twin of :class:`ChatStream`."""

    def __init__(self, chunks: AsyncIterator[ChatChunk], result: ChatResultSource) -> None:
        self._chunks = chunks
        self._source = result

    def __aiter__(self) -> AsyncIterator[ChatChunk]:
        return self._chunks

    async def __anext__(self) -> ChatChunk:
        return await self._chunks.__anext__()

    async def __aenter__(self) -> AsyncChatStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        close = getattr(self._chunks, "aclose", None)
        if close is not None:
            await close()

    async def result(self) -> ChatResult:
        async for _ in self._chunks:
            pass
        return self._source.result()


class ChatResultSource:
    """Holds whatever produces the final :class:`ChatResult` of a stream."""

    def __init__(self) -> None:
        self.assembler: ChatStreamAssembler | None = None
        self.complete: ChatResult | None = None

    def result(self) -> ChatResult:
        if self.complete is not None:
            return self.complete
        if self.assembler is not None:
            return self.assembler.result()
        raise WorkersAIError("The stream has not produced anything yet.")


# --------------------------------------------------------------------------------------
# Shared request building
# --------------------------------------------------------------------------------------


def _check_headers(headers: Mapping[Any, Any]) -> None:
    """Every header a string an HTTP/1.1 header can carry (else httpx fails mid-send).

    Values are never shown: Authorization and cf-aig-authorization carry secrets.
    """
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise InvalidInputError(
                f"header {name!r} must be a string, got {type(value).__name__}", field="headers"
            )
        if not value.isascii() or not value.isprintable():
            raise InvalidInputError(
                f"header {name!r} holds non-ASCII or control characters", field="headers"
            )


def _remote_image_urls(messages: Sequence[Mapping[str, Any]] | None) -> list[str]:
    urls: list[str] = []
    if isinstance(messages, (str, bytes, Mapping)) or not isinstance(messages, Sequence):
        return urls  # not messages at all: build_chat_request says why
    for message in messages:
        content = message.get("content") if isinstance(message, Mapping) else None
        if not isinstance(content, list):
            continue
        for part in content:
            if isinstance(part, Mapping) and part.get("type") == "image_url":
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, Mapping) else image
                if isinstance(url, str) and url.startswith(("http://", "https://")):
                    urls.append(url)
    return urls


def _with_inlined_images(
    messages: Sequence[Mapping[str, Any]], data_uris: Mapping[str, str]
) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    for message in messages:
        content = message.get("content")
        if not isinstance(content, list):
            out.append(message)
            continue
        parts = []
        for part in content:
            if isinstance(part, Mapping) and part.get("type") == "image_url":
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, Mapping) else image
                if isinstance(url, str) and url in data_uris:
                    part = {"type": "image_url", "image_url": {"url": data_uris[url]}}
            parts.append(part)
        out.append({**message, "content": parts})
    return out


# Image URLs are fetched by a client of their own: no Cloudflare token, none of a user
# http_client's default headers (which may carry credentials), and a short timeout.
_IMAGE_TIMEOUT = httpx.Timeout(20.0, connect=5.0)
_IMAGE_HEADERS = {"User-Agent": USER_AGENT, "Accept": "image/*"}
_IMAGE_HINT = "Workers AI needs images inline; pass the bytes or a data URI instead."


def _image_client_options() -> dict[str, Any]:
    return {
        "timeout": _IMAGE_TIMEOUT,
        "follow_redirects": True,
        "headers": _IMAGE_HEADERS,
        "verify": _ssl_context(),
    }


def _image_content_type(url: str, response: httpx.Response) -> str:
    """The image type of a fetched URL, checked before any of the body is read."""
    if response.status_code != 200:
        raise InvalidInputError(
            f"Could not fetch image {url}: HTTP {response.status_code}", hint=_IMAGE_HINT
        )
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if not content_type.startswith("image/"):
        raise InvalidInputError(
            f"{url} is not an image (content-type {content_type or 'missing'!r})",
            hint=_IMAGE_HINT,
        )
    declared = ascii_int(response.headers.get("content-length", ""))
    if declared is not None and declared > _MAX_IMAGE_BYTES:
        raise _image_too_large(url)
    return content_type


def _image_too_large(url: str) -> InvalidInputError:
    return InvalidInputError(
        f"{url} is larger than {_MAX_IMAGE_BYTES // (1024 * 1024)} MB", hint=_IMAGE_HINT
    )


class _ImageBuffer:
    """Collects an image body, refusing it as soon as it passes the size limit."""

    def __init__(self, url: str, content_type: str) -> None:
        self.url = url
        self.content_type = content_type
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > _MAX_IMAGE_BYTES:
            raise _image_too_large(self.url)
        self.parts.append(chunk)

    def data_uri(self) -> str:
        encoded = base64.b64encode(b"".join(self.parts)).decode("ascii")
        return f"data:{self.content_type};base64,{encoded}"


def _fetch_image(client: httpx.Client, url: str) -> str:
    try:
        with client.stream("GET", url) as response:
            buffer = _ImageBuffer(url, _image_content_type(url, response))
            for chunk in response.iter_bytes():
                buffer.add(chunk)
    except httpx.HTTPError as exc:
        raise InvalidInputError(f"Could not fetch image {url}: {exc}", hint=_IMAGE_HINT) from exc
    return buffer.data_uri()


async def _afetch_image(client: httpx.AsyncClient, url: str) -> str:
    try:
        async with client.stream("GET", url) as response:
            buffer = _ImageBuffer(url, _image_content_type(url, response))
            async for chunk in response.aiter_bytes():
                buffer.add(chunk)
    except httpx.HTTPError as exc:
        raise InvalidInputError(f"Could not fetch image {url}: {exc}", hint=_IMAGE_HINT) from exc
    return buffer.data_uri()


class _ClientBase:
    """Configuration and request building shared by the sync and async clients."""

    def __init__(
        self,
        account_id: str | None = None,
        api_token: str | Any | None = None,
        *,
        base_url: str | None = None,
        gateway: str | GatewayOptions | Mapping[str, Any] | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        session_affinity: str | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise InvalidInputError(
                f"max_retries must be a non-negative integer, got {max_retries!r}",
                field="max_retries",
            )
        if default_headers is not None and not isinstance(default_headers, Mapping):
            raise InvalidInputError(
                f"default_headers must be a mapping, got {type(default_headers).__name__}",
                field="default_headers",
            )
        if session_affinity is not None and not isinstance(session_affinity, str):
            raise InvalidInputError(
                f"session_affinity must be a string, got {type(session_affinity).__name__}",
                field="session_affinity",
            )
        self._credentials = Credentials.resolve(account_id, api_token)
        self.base_url = resolve_base_url(base_url)
        self.gateway = GatewayOptions.coerce(gateway)
        self.timeout = coerce_timeout(timeout)
        self.max_retries = max_retries
        self.session_affinity = session_affinity
        self.retry_policy = retry_policy or RetryPolicy()
        self._default_headers = dict(default_headers or {})

    @property
    def account_id(self) -> str | None:
        return self._credentials.account_id

    def __repr__(self) -> str:
        gateway = f", gateway={self.gateway.id!r}" if self.gateway else ""
        name = type(self).__name__
        return f"{name}(account_id={self.account_id!r}, base_url={self.base_url!r}{gateway})"

    def _prepare(
        self,
        method: str,
        route: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        model: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        stream: bool = False,
        session_affinity: str | None = None,
        idempotent: bool = True,
    ) -> PreparedRequest:
        for name, value in (("headers", headers), ("query", params)):
            if value is not None and not isinstance(value, Mapping):
                raise InvalidInputError(
                    f"{name} must be a mapping, got {type(value).__name__}", field=name
                )
        account_id, token = self._credentials.require()
        all_headers = {
            "Authorization": f"Bearer {token.get_secret_value()}",
            "User-Agent": USER_AGENT,
            "Accept": "text/event-stream" if stream else "application/json",
        }
        if json_body is not None:
            content = _json.dumps(json_body)
            all_headers["Content-Type"] = "application/json"
        elif content is not None:
            all_headers["Content-Type"] = content_type or "application/octet-stream"
        all_headers.update(self._default_headers)
        if self.gateway is not None:
            all_headers.update(self.gateway.headers())
        affinity = session_affinity or self.session_affinity
        if affinity:
            all_headers["x-session-affinity"] = affinity
        if headers:
            all_headers.update(headers)
        _check_headers(all_headers)
        return PreparedRequest(
            method=method,
            url=f"{self.base_url}/accounts/{account_id}/ai/{route}",
            headers=all_headers,
            content=content,
            params=dict(params) if params else None,
            timeout=coerce_timeout(timeout) if timeout is not None else self.timeout,
            max_retries=self.max_retries,
            model=model,
            label=f"{method} /ai/{route}",
            idempotent=idempotent,
        )

    def _unwrap(self, response: httpx.Response, model: str | None) -> Any:
        """The ``result`` of a v4 envelope; other JSON as is; binary bodies as ``bytes``."""
        return unwrap_envelope(
            decode_body(response),
            status_code=response.status_code,
            headers=response.headers,
            model=model,
        )

    def _checked_body(self, response: httpx.Response, model: str) -> Any:
        """Decoded body of a successful response, envelope kept (the parsers unwrap it);
        ``success: false`` envelopes raise."""
        body = decode_body(response)
        unwrap_envelope(
            body, status_code=response.status_code, headers=response.headers, model=model
        )
        return body

    def _chat_result(self, response: httpx.Response, chat: ChatRequest) -> ChatResult:
        body = self._checked_body(response, chat.model)
        result = parse_chat_response(body, chat, gateway=gateway_info(response.headers))
        record_request(chat.model, result.usage)
        return result

    def _finish_stream(self, chat: ChatRequest, source: ChatResultSource) -> ChatChunk:
        """The final chunk of an SSE stream (usage recorded once, here)."""
        if source.assembler is None:
            source.assembler = ChatStreamAssembler(chat)
        final = source.assembler.finish()
        record_request(chat.model, final.usage)
        return final

    def _run_request(
        self,
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
            return model_id, self._prepare(
                "POST", route, content=bytes(inputs), content_type=content_type, **common
            )
        if isinstance(inputs, Multipart):
            body, multipart_type = inputs.encode()
            return model_id, self._prepare(
                "POST", route, content=body, content_type=multipart_type, **common
            )
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
        return model_id, self._prepare("POST", route, json_body=payload, **common)

    def _chat_request(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]] | None,
        stream: bool,
        options: dict[str, Any],
    ) -> tuple[ChatRequest, PreparedRequest]:
        session_affinity = options.pop("session_affinity", None)
        extra_headers = options.pop("extra_headers", None)
        timeout = options.pop("timeout", None)
        keys = (
            "prompt",
            "endpoint",
            "tools",
            "tool_choice",
            "response_format",
            "lora",
            "raw",
            "reject_if_busy",
        )
        named = {k: options.pop(k) for k in keys if k in options}
        chat = build_chat_request(model, messages, stream=stream, params=options, **named)
        prepared = self._prepare(
            "POST",
            chat.route,
            json_body=chat.body,
            headers=extra_headers,
            model=chat.model,
            timeout=timeout,
            stream=chat.stream,
            session_affinity=session_affinity,
        )
        return chat, prepared

    def _chat_chunk_events(
        self,
        chat: ChatRequest,
        source: ChatResultSource,
        item: Any,
    ) -> list[ChatChunk] | ChatChunk | None:
        """One transport item of a chat stream → chunks (shared by sync and async)."""
        if isinstance(item, StreamOpened):
            source.assembler = ChatStreamAssembler(chat, gateway=gateway_info(item.headers))
            return None
        if isinstance(item, JSONAnswer):
            body = item.body
            unwrap_envelope(body, headers=item.headers, model=chat.model)  # success: false raises
            # Not recorded yet: an empty answer is replaced by the unstreamed fallback, and
            # only the answer the caller gets counts (see _json_answer_used).
            result = parse_chat_response(body, chat, gateway=gateway_info(item.headers))
            source.complete = result
            return chunks_from_result(result)
        assert source.assembler is not None
        return source.assembler.feed(item.data)

    def _json_answer_used(self, chat: ChatRequest, source: ChatResultSource) -> bool:
        """After a stream request was answered with JSON: ``True`` if that answer is the
        result (recorded now), ``False`` if it is empty and must be asked again unstreamed
        (gpt-oss on /ai/run, wire reference §3.3) — the fallback records its own answer."""
        assert source.complete is not None
        if _chat_empty(source.complete):
            return False
        record_request(chat.model, source.complete.usage)
        return True

    def _list_models_params(
        self,
        task: str | None,
        search: str | None,
        author: str | None,
        per_page: int,
        include_deprecated: bool,
        hide_experimental: bool,
    ) -> dict[str, str]:
        if isinstance(per_page, bool) or not isinstance(per_page, int) or per_page < 1:
            raise InvalidInputError(
                f"per_page must be a positive integer, got {per_page!r}", field="per_page"
            )
        for name, value in (("search", search), ("author", author)):
            if value is not None and not isinstance(value, str):
                raise InvalidInputError(
                    f"{name} must be a string, got {type(value).__name__}", field=name
                )
        params = {"per_page": str(per_page)}
        if task:
            params["task"] = task_name(task)
        if search:
            params["search"] = search
        if author:
            params["author"] = author
        if include_deprecated:
            params["include_deprecated"] = "true"
        if hide_experimental:
            params["hide_experimental"] = "true"
        return params

    def _batch_request(
        self, model: str, body: Mapping[str, Any], *, idempotent: bool = True
    ) -> tuple[str, PreparedRequest]:
        model_id = resolve_model(model)
        prepared = self._prepare(
            "POST",
            f"run/{model_id}",
            json_body=body,
            params={"queueRequest": "true"},
            model=model_id,
            idempotent=idempotent,
        )
        size = len(prepared.content or b"")
        if size > _MAX_BATCH_BYTES:
            raise InvalidInputError(
                f"The batch is {size / 1e6:.1f} MB; the Batch API takes at most "
                f"{_MAX_BATCH_BYTES // 1_000_000} MB per job (wire reference §1.6).",
                field="requests",
                hint="Split the requests into several jobs.",
            )
        return model_id, prepared

    def _batch_submit(
        self, model: str, requests: Sequence[Mapping[str, Any]]
    ) -> tuple[str, PreparedRequest, list[Any]]:
        """The submit request, and each item's ``external_reference`` in submission order.

        Items without one get their index (``"0"``, ``"1"``, …): the answer's ``responses``
        come back in no documented order, and the reference is what puts them back in
        submission order (:meth:`BatchJob.results`). A reference the caller set is kept.
        """
        if isinstance(requests, (str, bytes, Mapping)) or not isinstance(requests, Sequence):
            raise InvalidInputError(
                f"requests must be a list of model inputs, got {type(requests).__name__}",
                field="requests",
            )
        if not requests:
            raise InvalidInputError("a batch needs at least one request", field="requests")
        items: list[Mapping[str, Any]] = []
        for index, item in enumerate(requests):
            if not isinstance(item, Mapping):
                raise InvalidInputError(
                    f"requests[{index}] must be a model input (mapping), got {type(item).__name__}",
                    field=f"requests.{index}",
                )
            if item.get("external_reference") is None:
                item = {**item, "external_reference": str(index)}
            items.append(item)
        # Submitting queues and bills a job: a retry after the server may have accepted it
        # would queue it twice (see the transport's idempotent rule). Polls are safe to retry.
        model_id, prepared = self._batch_request(model, {"requests": items}, idempotent=False)
        return model_id, prepared, [item["external_reference"] for item in items]

    def _batch_poll(self, model: str, request_id: str) -> tuple[str, PreparedRequest]:
        if not isinstance(request_id, str) or not request_id.strip():
            raise InvalidInputError(
                f"request_id must be the non-empty id of a submitted job, got {request_id!r}",
                field="request_id",
            )
        return self._batch_request(model, {"request_id": request_id})


def _check_wait(poll_interval: float, max_poll_interval: float, timeout: float) -> None:
    check_seconds("poll_interval", poll_interval)
    check_seconds("max_poll_interval", max_poll_interval)
    check_seconds("timeout", timeout)


def _models_page(result: Any, raw: Any) -> tuple[list[ModelInfo], bool]:
    listed = result if isinstance(result, list) else []
    items = [ModelInfo.from_search_result(i) for i in listed if isinstance(i, Mapping)]
    info = raw.get("result_info") if isinstance(raw, Mapping) else None
    more = False
    if isinstance(info, Mapping):
        page, per_page = info.get("page"), info.get("per_page")
        total = info.get("total_count")
        if not isinstance(per_page, int) or isinstance(per_page, bool):
            per_page = 0
        if isinstance(page, int) and isinstance(total, int) and per_page:
            more = page * per_page < total
        else:
            more = bool(items) and len(items) >= per_page > 0
    return items, more


def _unstreamed(chat: ChatRequest, prepared: PreparedRequest) -> PreparedRequest:
    """The same chat request without streaming.

    gpt-oss on /ai/run answers ``stream: true`` with an empty JSON result (wire reference
    §3.3): the client asks again unstreamed and replays that answer as a stream.
    """
    logger.info("%s answered a stream request with JSON; asking again unstreamed", chat.model)
    body = {k: v for k, v in chat.body.items() if k not in ("stream", "stream_options")}
    return PreparedRequest(
        method=prepared.method,
        url=prepared.url,
        headers={**prepared.headers, "Accept": "application/json"},
        content=_json.dumps(body),
        params=prepared.params,
        timeout=prepared.timeout,
        max_retries=prepared.max_retries,
        model=prepared.model,
        label=prepared.label,
    )


def _chat_empty(result: ChatResult) -> bool:
    return not (result.text or result.tool_calls or result.invalid_tool_calls or result.reasoning)


# --------------------------------------------------------------------------------------
# Sync client
# --------------------------------------------------------------------------------------


class WorkersAI(TaskMethods, _ClientBase):
    """Synchronous Workers AI client.

    Args:
        account_id: Cloudflare account id; default ``CLOUDFLARE_ACCOUNT_ID`` / ``CF_ACCOUNT_ID``
            / the file named by ``CLOUDFLARE_ACCOUNT_ID_FILE``.
        api_token: API token (str or ``SecretStr``); default ``CLOUDFLARE_API_TOKEN`` /
            ``CF_AI_API_TOKEN`` / the file named by ``CLOUDFLARE_API_TOKEN_FILE``.
        base_url: API root; default ``CLOUDFLARE_BASE_URL`` or
            ``https://api.cloudflare.com/client/v4``.
        gateway: AI Gateway name or :class:`GatewayOptions`; default ``CLOUDFLARE_AI_GATEWAY``.
        timeout: Seconds (or ``httpx.Timeout``); default 60 s with a 5 s connect timeout.
        max_retries: Retries for 408/409/429/5xx and connection errors (default 2).
        http_client: Your own ``httpx.Client`` (not closed by :meth:`close`).
        default_headers: Headers added to every request.
        session_affinity: ``x-session-affinity`` value for prompt caching (§ prompt caching).
        retry_policy: Backoff settings.

    Missing credentials never fail construction; the first request raises
    :class:`~workersai.errors.MissingCredentialsError` naming the variables to set.

    Example:
        >>> from workersai import WorkersAI
        >>> client = WorkersAI()
        >>> client.chat("llama-3.3-70b-instruct-fp8-fast",
        ...             [{"role": "user", "content": "Say hi"}]).text
        'Hi!'
    """

    def __init__(
        self,
        account_id: str | None = None,
        api_token: str | Any | None = None,
        *,
        base_url: str | None = None,
        gateway: str | GatewayOptions | Mapping[str, Any] | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.Client | None = None,
        default_headers: Mapping[str, str] | None = None,
        session_affinity: str | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        super().__init__(
            account_id,
            api_token,
            base_url=base_url,
            gateway=gateway,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            session_affinity=session_affinity,
            retry_policy=retry_policy,
        )
        self._transport = SyncTransport(
            http_client=http_client, timeout=self.timeout, retry_policy=self.retry_policy
        )
        # What the Batch API remembers lives here, and client.batch is a view made on access:
        # a client holding its BatchAPI (which holds the client) would be a reference cycle,
        # freed only by the cyclic GC, in no particular order with its sockets.
        self._batch_book = _BatchBook()

    @property
    def batch(self) -> BatchAPI:
        """Workers AI's asynchronous Batch API: ``submit``, ``poll``, ``wait``."""
        return BatchAPI(self)

    def close(self) -> None:
        """Close the connection pool (not a user-supplied ``http_client``)."""
        self._transport.close()

    def __enter__(self) -> WorkersAI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- generic ------------------------------------------------------------------------

    def run(
        self,
        model: str,
        inputs: Mapping[str, Any] | bytes | Multipart | None = None,
        *,
        content_type: str | None = None,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        session_affinity: str | None = None,
        reject_if_busy: bool = False,
        validate: bool = True,
    ) -> Any:
        """Run any model once and return its ``result``.

        ``inputs`` is the model's JSON input, raw ``bytes`` (audio for Whisper; set
        ``content_type``) or a :class:`Multipart` form (FLUX.2). JSON answers are unwrapped
        from the ``{"result": ...}`` envelope; binary answers (SDXL PNGs) come back as
        ``bytes``. JSON inputs are validated against the task's schema first.

        Example:
            >>> png = client.run("@cf/stabilityai/stable-diffusion-xl-base-1.0",
            ...                  {"prompt": "a lighthouse at dusk"})
        """
        model_id, prepared = self._run_request(
            model,
            inputs,
            content_type=content_type,
            query=query,
            headers=headers,
            timeout=timeout,
            session_affinity=session_affinity,
            reject_if_busy=reject_if_busy,
            validate=validate,
        )
        output = self._unwrap(self._transport.request(prepared), model_id)
        record_run(model_id, inputs, output)
        return output

    def stream(
        self,
        model: str,
        inputs: Mapping[str, Any],
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        session_affinity: str | None = None,
        reject_if_busy: bool = False,
        validate: bool = True,
    ) -> ChatStream:
        """Stream a text-generation model from raw ``inputs``; yields parsed :class:`ChatChunk`s."""
        model_id, prepared = self._run_request(
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
        source = ChatResultSource()
        return ChatStream(self._iter_chat(chat, prepared, source), source)

    # -- chat ---------------------------------------------------------------------------

    def chat(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]] | None = None,
        **options: Any,
    ) -> ChatResult:
        """One chat completion, normalised whatever shape the model answers in.

        Args:
            model: Model id or short name.
            messages: OpenAI-form messages (``role``, ``content`` text or parts,
                ``tool_calls``, ``tool_call_id``). Image parts may be data URIs or
                http(s) URLs (fetched and inlined: Workers AI accepts only data URIs).
            **options: ``prompt``, ``endpoint`` (``"native"`` | ``"openai"``), ``tools``,
                ``tool_choice``, ``response_format``, ``lora``, ``raw``,
                ``reject_if_busy``, ``session_affinity``, ``extra_headers``, ``timeout``, and
                generation parameters (``temperature``, ``max_tokens``, ``top_p``, ``top_k``,
                ``seed``, penalties, ``stop``, ``reasoning_effort``, …); unknown keys are sent
                as is.

        Example:
            >>> result = client.chat("@cf/meta/llama-3.3-70b-instruct-fp8-fast",
            ...                      [{"role": "user", "content": "2+2?"}], max_tokens=20)
            >>> result.text, result.usage.total_tokens, result.finish_reason
            ('4', 41, 'stop')
        """
        messages = self._inline_images(messages)
        chat, prepared = self._chat_request(model, messages, False, dict(options))
        response = self._transport.request(prepared)
        return self._chat_result(response, chat)

    def stream_chat(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]] | None = None,
        **options: Any,
    ) -> ChatStream:
        """Stream a chat completion (same arguments as :meth:`chat`).

        Yields text/reasoning/tool-call deltas, then exactly one final chunk with usage and
        the finish reason. JSON-mode requests, which Workers AI cannot stream, are sent
        unstreamed and replayed as a stream.
        """
        messages = self._inline_images(messages)
        chat, prepared = self._chat_request(model, messages, True, dict(options))
        source = ChatResultSource()
        return ChatStream(self._iter_chat(chat, prepared, source), source)

    def _iter_chat(
        self, chat: ChatRequest, prepared: PreparedRequest, source: ChatResultSource
    ) -> Iterator[ChatChunk]:
        if not chat.stream:  # JSON mode: answer once, replay as a stream
            response = self._transport.request(prepared)
            result = self._chat_result(response, chat)
            source.complete = result
            yield from chunks_from_result(result)
            return
        for item in self._transport.iter_events(prepared):
            produced = self._chat_chunk_events(chat, source, item)
            if isinstance(produced, list):
                if self._json_answer_used(chat, source):
                    yield from produced
                else:
                    yield from self._unstreamed_fallback(chat, prepared, source)
                return
            if produced is not None:
                yield produced
        if source.assembler is None:
            source.assembler = ChatStreamAssembler(chat)
        held = source.assembler.release()
        if held is not None:
            yield held
        yield self._finish_stream(chat, source)

    def _unstreamed_fallback(
        self, chat: ChatRequest, prepared: PreparedRequest, source: ChatResultSource
    ) -> Iterator[ChatChunk]:
        retry = _unstreamed(chat, prepared)
        response = self._transport.request(retry)
        result = self._chat_result(response, chat)
        source.complete = result
        yield from chunks_from_result(result)

    def _inline_images(
        self, messages: Sequence[Mapping[str, Any]] | None
    ) -> Sequence[Mapping[str, Any]] | None:
        urls = _remote_image_urls(messages)
        if not urls or messages is None:
            return messages
        with httpx.Client(**_image_client_options()) as client:
            fetched = {url: _fetch_image(client, url) for url in dict.fromkeys(urls)}
        return _with_inlined_images(messages, fetched)

    # -- embeddings ---------------------------------------------------------------------

    def embed(
        self,
        model: str,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        pooling: Literal["mean", "cls"] | None = None,
        kind: EmbedKind | None = None,
        query_instruction: bool | str | None = None,
        endpoint: Literal["native", "openai"] = "native",
        timeout: float | httpx.Timeout | None = None,
        on_progress: ProgressCallback | None = None,
        use_batch_api: bool = False,
        batch_wait: BatchWaitOptions | None = None,
    ) -> EmbeddingResult:
        """Embed any number of texts; vectors come back in input order.

        Texts are split into requests of at most ``batch_size`` and the model's own limit
        (100 for BGE, 32 for qwen3-embedding), sent up to ``max_concurrency`` at a time from
        a thread pool (no event loop: safe inside Jupyter). The first failure, after the
        transport's retries, is raised and the requests not yet sent are dropped.

        Args:
            model: Embedding model id or short name.
            texts: Non-empty strings (Workers AI rejects ``""``: an empty text raises
                :class:`~workersai.errors.InvalidInputError` before any request). ``[]``
                returns no vectors without a request.
            batch_size: Texts per request (capped at the model's limit).
            max_concurrency: Requests in flight at once.
            pooling: ``"mean"`` or ``"cls"`` (BGE); sent only when set.
            kind: ``"query"`` or ``"document"``: selects qwen3-embedding's ``queries`` /
                ``documents`` input and enables ``query_instruction``.
            query_instruction: For ``kind="query"``: ``True`` for the model card's prefix
                (``"Represent this sentence for searching relevant passages: "`` on BGE
                v1.5), or the instruction text.
            endpoint: ``"native"`` (``/ai/run``) or ``"openai"`` (``/ai/v1/embeddings``).
            timeout: Per-request timeout.
            on_progress: ``on_progress(done, total)`` after each request, in this thread.
            use_batch_api: Queue the requests through the asynchronous Batch API instead
                and poll until done (for very large jobs).
            batch_wait: Polling interval and time limit for ``use_batch_api``.

        Example:
            >>> result = client.embed("@cf/baai/bge-base-en-v1.5", chunks)  # 10,000 texts
            >>> result.shape
            [10000, 768]
        """
        plan = plan_embeddings(
            model,
            texts,
            batch_size=batch_size,
            pooling=pooling,
            endpoint=endpoint,
            kind=kind,
            query_instruction=query_instruction,
        )
        if use_batch_api:
            return run_plan_on_batch_api(
                plan, self.batch, options=batch_wait, on_progress=on_progress
            )
        return run_plan(
            plan,
            lambda request: self._embed_once(request, timeout),
            max_concurrency=max_concurrency,
            on_progress=on_progress,
        )

    def _embed_once(
        self, request: EmbeddingRequest, timeout: float | httpx.Timeout | None
    ) -> EmbeddingResult:
        prepared = self._prepare(
            "POST", request.route, json_body=request.body, model=request.model, timeout=timeout
        )
        response = self._transport.request(prepared)
        result = parse_embedding_response(self._checked_body(response, request.model), request)
        record_request(request.model, result.usage)
        return result

    # -- reranking ------------------------------------------------------------------------

    def rerank(
        self,
        query: str,
        documents: Sequence[str],
        *,
        model: str = DEFAULT_RERANK_MODEL,
        top_k: int | None = None,
        timeout: float | httpx.Timeout | None = None,
    ) -> list[RerankResult]:
        """Score ``documents`` against ``query``; best first, each with its input ``index``.

        ``[]`` returns ``[]`` without a request; empty strings are refused before any request.

        Example:
            >>> client.rerank("Which is a pet?", ["a llama", "a cat", "a cloud"], top_k=2)
            [RerankResult(index=1, score=0.91), RerankResult(index=0, score=0.12)]
        """
        if isinstance(documents, Sequence) and not isinstance(documents, str) and not documents:
            return []
        request = build_rerank_request(model, query, documents, top_k=top_k)
        prepared = self._prepare(
            "POST", request.route, json_body=request.body, model=request.model, timeout=timeout
        )
        response = self._transport.request(prepared)
        body = self._checked_body(response, request.model)
        record_run(request.model, request.body, envelope_result(body))
        return parse_rerank_response(body, request)

    # -- catalog and account --------------------------------------------------------------

    def list_models(
        self,
        *,
        task: str | None = None,
        search: str | None = None,
        author: str | None = None,
        per_page: int = 100,
        include_deprecated: bool = False,
        hide_experimental: bool = False,
        update_catalog: bool = True,
        max_pages: int | None = None,
    ) -> list[ModelInfo]:
        """All models from ``GET /ai/models/search`` (every page), e.g. ``task="text-generation"``.

        The results refresh the process-wide catalog (prices included) unless
        ``update_catalog=False``. ``max_pages`` stops early (``max_pages=1, per_page=1`` is
        the cheapest call that proves the account id and token work).
        """
        params = self._list_models_params(
            task, search, author, per_page, include_deprecated, hide_experimental
        )
        models: list[ModelInfo] = []
        page = 1
        while True:
            prepared = self._prepare("GET", "models/search", params={**params, "page": str(page)})
            response = self._transport.request(prepared)
            raw = decode_body(response)
            items, more = _models_page(self._unwrap(response, None), raw)
            models.extend(items)
            if not more or not items or (max_pages is not None and page >= max_pages):
                break
            page += 1
        if update_catalog:
            get_catalog().update(models)
        return models

    def model_schema(self, model: str) -> dict[str, Any]:
        """The model's input/output JSON Schema (``GET /ai/models/schema``)."""
        model_id = resolve_model(model)
        prepared = self._prepare("GET", "models/schema", params={"model": model_id}, model=model_id)
        result = self._unwrap(self._transport.request(prepared), model_id)
        return dict(result) if isinstance(result, Mapping) else {"schema": result}

    def agree_to_license(self, model: str) -> None:
        """Accept a model's license for this account (sends ``{"prompt": "agree"}``, §8.2).

        Read the model's terms first; Workers AI answers 5016 until this was sent once.
        """
        self.run(model, {"prompt": "agree"}, validate=False)


class _BatchBook:
    """What a client's Batch API remembers about jobs (for the sync and async APIs alike).

    * the ``external_reference`` of each item of the jobs it submitted, so a poll can put
      the responses back in submission order whatever references the caller chose;
    * which finished jobs it has recorded in the usage trackers: a job counts once, when it
      is first seen done — by :meth:`poll`, :meth:`wait` or a submit answered done at once —
      however often it is polled afterwards.
    """

    _MAX_JOBS = 4096  # bound on both memories; the oldest entries go first

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._references: OrderedDict[str, list[Any]] = OrderedDict()
        self._recorded: OrderedDict[str, None] = OrderedDict()

    def _remember(self, store: OrderedDict[str, Any], key: str, value: Any) -> None:
        store[key] = value
        store.move_to_end(key)
        while len(store) > self._MAX_JOBS:
            store.popitem(last=False)

    def job(
        self,
        model_id: str,
        result: Any,
        *,
        request_id: str | None = None,
        references: list[Any] | None = None,
    ) -> BatchJob:
        job_id = (
            str(result.get("request_id") or request_id or "") if isinstance(result, Mapping) else ""
        )
        with self._lock:
            if references is not None and job_id:
                self._remember(self._references, job_id, references)
            known = references if references is not None else self._references.get(job_id)
        job = BatchJob.from_result(result, request_id=request_id, references=known)
        if job.done:
            self._record_once(model_id, job)
        return job

    def _record_once(self, model_id: str, job: BatchJob) -> None:
        if job.request_id:
            with self._lock:
                if job.request_id in self._recorded:
                    return
                self._remember(self._recorded, job.request_id, None)
        _record_batch_usage(model_id, job)


def _record_batch_usage(model_id: str, job: BatchJob) -> None:
    """A finished job of N items is N requests. The job's ``usage`` (wire reference §1.6)
    covers all of them, so it is recorded with the first and the others add no tokens; a
    job without one is recorded item by item with each result's own ``usage``, if any."""
    items: list[Any] = list(job.items) or [None]
    if job.usage is not None:
        record_request(model_id, job.usage)
        for _ in items[1:]:
            record_request(model_id, Usage())
        return
    for item in items:
        result = item.result if item is not None else None
        record_request(
            model_id, Usage.from_wire(result.get("usage")) if isinstance(result, Mapping) else None
        )


class BatchAPI:
    """``client.batch``: Workers AI's asynchronous Batch API (see :mod:`workersai.batch`)."""

    def __init__(self, client: WorkersAI) -> None:
        self._client = client
        self._book = client._batch_book

    def submit(self, model: str, requests: Sequence[Mapping[str, Any]]) -> BatchJob:
        """Queue ``requests`` (each a model input) and return the job (status ``queued``).

        Each item without an ``external_reference`` is sent with its index as one. The
        submit is not retried once it may have reached the server (a second submit would
        queue and bill the job twice); a refused (429) or unsent request still is.
        """
        model_id, prepared, references = self._client._batch_submit(model, requests)
        result = self._client._unwrap(self._client._transport.request(prepared), model_id)
        return self._book.job(model_id, result, references=references)

    def poll(self, model: str, request_id: str) -> BatchJob:
        """Current state of a job; ``job.done`` once its ``responses`` are in."""
        model_id, prepared = self._client._batch_poll(model, request_id)
        result = self._client._unwrap(self._client._transport.request(prepared), model_id)
        return self._book.job(model_id, result, request_id=request_id)

    def wait(
        self,
        model: str,
        request_id: str,
        *,
        poll_interval: float = 1.0,
        max_poll_interval: float = 30.0,
        timeout: float = 3600.0,
    ) -> BatchJob:
        """Poll with exponential backoff (×1.5 up to ``max_poll_interval``) until done."""
        _check_wait(poll_interval, max_poll_interval, timeout)
        deadline = time.monotonic() + timeout
        interval = poll_interval
        while True:
            job = self.poll(model, request_id)
            if job.status not in PENDING:
                return job
            if time.monotonic() + interval > deadline:
                raise BatchTimeoutError(
                    f"Batch {request_id} still {job.status} after {timeout:.0f}s",
                    request_id=request_id,
                )
            time.sleep(interval)
            interval = min(interval * 1.5, max_poll_interval)


# --------------------------------------------------------------------------------------
# Async client
# --------------------------------------------------------------------------------------


class AsyncWorkersAI(AsyncTaskMethods, _ClientBase):
    """Asynchronous Workers AI client; same arguments and methods as :class:`WorkersAI`.

    One ``httpx.AsyncClient`` is kept per event loop, so the object can be used from several
    ``asyncio.run`` calls (and Jupyter) safely.

    Example:
        >>> client = AsyncWorkersAI()
        >>> result = await client.chat("llama-3.3-70b-instruct-fp8-fast",
        ...                            [{"role": "user", "content": "Say hi"}])
    """

    def __init__(
        self,
        account_id: str | None = None,
        api_token: str | Any | None = None,
        *,
        base_url: str | None = None,
        gateway: str | GatewayOptions | Mapping[str, Any] | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.AsyncClient | None = None,
        default_headers: Mapping[str, str] | None = None,
        session_affinity: str | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        super().__init__(
            account_id,
            api_token,
            base_url=base_url,
            gateway=gateway,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            session_affinity=session_affinity,
            retry_policy=retry_policy,
        )
        self._transport = AsyncTransport(
            http_client=http_client, timeout=self.timeout, retry_policy=self.retry_policy
        )
        self._batch_book = _BatchBook()  # see WorkersAI.__init__

    @property
    def batch(self) -> AsyncBatchAPI:
        """Async twin of :attr:`WorkersAI.batch`."""
        return AsyncBatchAPI(self)

    async def aclose(self) -> None:
        """Close this event loop's connection pool (not a user-supplied ``http_client``)."""
        await self._transport.aclose()

    async def __aenter__(self) -> AsyncWorkersAI:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def run(
        self,
        model: str,
        inputs: Mapping[str, Any] | bytes | Multipart | None = None,
        *,
        content_type: str | None = None,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        session_affinity: str | None = None,
        reject_if_busy: bool = False,
        validate: bool = True,
    ) -> Any:
        """Async twin of :meth:`WorkersAI.run`."""
        model_id, prepared = self._run_request(
            model,
            inputs,
            content_type=content_type,
            query=query,
            headers=headers,
            timeout=timeout,
            session_affinity=session_affinity,
            reject_if_busy=reject_if_busy,
            validate=validate,
        )
        output = self._unwrap(await self._transport.request(prepared), model_id)
        record_run(model_id, inputs, output)
        return output

    def stream(
        self,
        model: str,
        inputs: Mapping[str, Any],
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        session_affinity: str | None = None,
        reject_if_busy: bool = False,
        validate: bool = True,
    ) -> AsyncChatStream:
        """Async twin of :meth:`WorkersAI.stream` (iterate with ``async for``)."""
        model_id, prepared = self._run_request(
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
        source = ChatResultSource()
        return AsyncChatStream(self._iter_chat(chat, prepared, source), source)

    async def chat(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]] | None = None,
        **options: Any,
    ) -> ChatResult:
        """Async twin of :meth:`WorkersAI.chat`."""
        messages = await self._inline_images(messages)
        chat, prepared = self._chat_request(model, messages, False, dict(options))
        response = await self._transport.request(prepared)
        return self._chat_result(response, chat)

    async def stream_chat(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]] | None = None,
        **options: Any,
    ) -> AsyncChatStream:
        """Async twin of :meth:`WorkersAI.stream_chat` (``await`` it, then ``async for``)."""
        messages = await self._inline_images(messages)
        chat, prepared = self._chat_request(model, messages, True, dict(options))
        source = ChatResultSource()
        return AsyncChatStream(self._iter_chat(chat, prepared, source), source)

    async def _iter_chat(
        self, chat: ChatRequest, prepared: PreparedRequest, source: ChatResultSource
    ) -> AsyncIterator[ChatChunk]:
        if not chat.stream:
            response = await self._transport.request(prepared)
            result = self._chat_result(response, chat)
            source.complete = result
            for chunk in chunks_from_result(result):
                yield chunk
            return
        async for item in self._transport.iter_events(prepared):
            produced = self._chat_chunk_events(chat, source, item)
            if isinstance(produced, list):
                if self._json_answer_used(chat, source):
                    for chunk in produced:
                        yield chunk
                else:
                    async for chunk in self._unstreamed_fallback(chat, prepared, source):
                        yield chunk
                return
            if produced is not None:
                yield produced
        if source.assembler is None:
            source.assembler = ChatStreamAssembler(chat)
        held = source.assembler.release()
        if held is not None:
            yield held
        yield self._finish_stream(chat, source)

    async def _unstreamed_fallback(
        self, chat: ChatRequest, prepared: PreparedRequest, source: ChatResultSource
    ) -> AsyncIterator[ChatChunk]:
        retry = _unstreamed(chat, prepared)
        response = await self._transport.request(retry)
        result = self._chat_result(response, chat)
        source.complete = result
        for chunk in chunks_from_result(result):
            yield chunk

    async def _inline_images(
        self, messages: Sequence[Mapping[str, Any]] | None
    ) -> Sequence[Mapping[str, Any]] | None:
        urls = list(dict.fromkeys(_remote_image_urls(messages)))
        if not urls or messages is None:
            return messages
        async with httpx.AsyncClient(**_image_client_options()) as client:
            data = await _gather_or_cancel([_afetch_image(client, url) for url in urls])
        return _with_inlined_images(messages, dict(zip(urls, data, strict=True)))

    async def embed(
        self,
        model: str,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        pooling: Literal["mean", "cls"] | None = None,
        kind: EmbedKind | None = None,
        query_instruction: bool | str | None = None,
        endpoint: Literal["native", "openai"] = "native",
        timeout: float | httpx.Timeout | None = None,
        on_progress: ProgressCallback | None = None,
        use_batch_api: bool = False,
        batch_wait: BatchWaitOptions | None = None,
    ) -> EmbeddingResult:
        """Async twin of :meth:`WorkersAI.embed` (bounded concurrent tasks on this loop)."""
        plan = plan_embeddings(
            model,
            texts,
            batch_size=batch_size,
            pooling=pooling,
            endpoint=endpoint,
            kind=kind,
            query_instruction=query_instruction,
        )
        if use_batch_api:
            return await arun_plan_on_batch_api(
                plan, self.batch, options=batch_wait, on_progress=on_progress
            )
        return await arun_plan(
            plan,
            lambda request: self._embed_once(request, timeout),
            max_concurrency=max_concurrency,
            on_progress=on_progress,
        )

    async def _embed_once(
        self, request: EmbeddingRequest, timeout: float | httpx.Timeout | None
    ) -> EmbeddingResult:
        prepared = self._prepare(
            "POST", request.route, json_body=request.body, model=request.model, timeout=timeout
        )
        response = await self._transport.request(prepared)
        result = parse_embedding_response(self._checked_body(response, request.model), request)
        record_request(request.model, result.usage)
        return result

    async def rerank(
        self,
        query: str,
        documents: Sequence[str],
        *,
        model: str = DEFAULT_RERANK_MODEL,
        top_k: int | None = None,
        timeout: float | httpx.Timeout | None = None,
    ) -> list[RerankResult]:
        """Async twin of :meth:`WorkersAI.rerank`."""
        if isinstance(documents, Sequence) and not isinstance(documents, str) and not documents:
            return []
        request = build_rerank_request(model, query, documents, top_k=top_k)
        prepared = self._prepare(
            "POST", request.route, json_body=request.body, model=request.model, timeout=timeout
        )
        response = await self._transport.request(prepared)
        body = self._checked_body(response, request.model)
        record_run(request.model, request.body, envelope_result(body))
        return parse_rerank_response(body, request)

    async def list_models(
        self,
        *,
        task: str | None = None,
        search: str | None = None,
        author: str | None = None,
        per_page: int = 100,
        include_deprecated: bool = False,
        hide_experimental: bool = False,
        update_catalog: bool = True,
        max_pages: int | None = None,
    ) -> list[ModelInfo]:
        """Async twin of :meth:`WorkersAI.list_models`."""
        params = self._list_models_params(
            task, search, author, per_page, include_deprecated, hide_experimental
        )
        models: list[ModelInfo] = []
        page = 1
        while True:
            prepared = self._prepare("GET", "models/search", params={**params, "page": str(page)})
            response = await self._transport.request(prepared)
            items, more = _models_page(self._unwrap(response, None), decode_body(response))
            models.extend(items)
            if not more or not items or (max_pages is not None and page >= max_pages):
                break
            page += 1
        if update_catalog:
            get_catalog().update(models)
        return models

    async def model_schema(self, model: str) -> dict[str, Any]:
        """Async twin of :meth:`WorkersAI.model_schema`."""
        model_id = resolve_model(model)
        prepared = self._prepare("GET", "models/schema", params={"model": model_id}, model=model_id)
        result = self._unwrap(await self._transport.request(prepared), model_id)
        return dict(result) if isinstance(result, Mapping) else {"schema": result}

    async def agree_to_license(self, model: str) -> None:
        """Async twin of :meth:`WorkersAI.agree_to_license`."""
        await self.run(model, {"prompt": "agree"}, validate=False)


class AsyncBatchAPI:
    """Async twin of :class:`BatchAPI`."""

    def __init__(self, client: AsyncWorkersAI) -> None:
        self._client = client
        self._book = client._batch_book

    async def submit(self, model: str, requests: Sequence[Mapping[str, Any]]) -> BatchJob:
        model_id, prepared, references = self._client._batch_submit(model, requests)
        response = await self._client._transport.request(prepared)
        return self._book.job(
            model_id, self._client._unwrap(response, model_id), references=references
        )

    async def poll(self, model: str, request_id: str) -> BatchJob:
        model_id, prepared = self._client._batch_poll(model, request_id)
        response = await self._client._transport.request(prepared)
        return self._book.job(
            model_id, self._client._unwrap(response, model_id), request_id=request_id
        )

    async def wait(
        self,
        model: str,
        request_id: str,
        *,
        poll_interval: float = 1.0,
        max_poll_interval: float = 30.0,
        timeout: float = 3600.0,
    ) -> BatchJob:
        _check_wait(poll_interval, max_poll_interval, timeout)
        deadline = time.monotonic() + timeout
        interval = poll_interval
        while True:
            job = await self.poll(model, request_id)
            if job.status not in PENDING:
                return job
            if time.monotonic() + interval > deadline:
                raise BatchTimeoutError(
                    f"Batch {request_id} still {job.status} after {timeout:.0f}s",
                    request_id=request_id,
                )
            await asyncio.sleep(interval)
            interval = min(interval * 1.5, max_poll_interval)
