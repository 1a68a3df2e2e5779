"""The clients: :class:`WorkersAI` (sync) and :class:`AsyncWorkersAI` (async).

Both share everything but I/O: :class:`_ClientBase` holds the settings and builds every
request; the two classes only send and receive, through :mod:`workersai._transport` (the one
retry layer). Each feature lives in its own module, its sync and async halves side by side,
and the clients wire them together:

* chat — :mod:`workersai._chat` (requests, answers, stream assembly), :mod:`workersai._streams`
  (the stream objects), :mod:`workersai._image_urls` (image URLs fetched and inlined),
  :mod:`workersai._fallback` (the next model when one cannot answer);
* any model run once — :mod:`workersai._run`;
* embeddings — :mod:`workersai._embeddings`; reranking — :mod:`workersai._rerank`;
* the Batch API — :mod:`workersai.batch` (``client.batch``);
* the other tasks (images, speech, translation, …) — :mod:`workersai.tasks`, mixed in;
* the catalog — :mod:`workersai.models`; usage and cost — :mod:`workersai.usage`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, Literal

import httpx

from workersai import _json
from workersai._chat import ChatRequest, build_chat_request, parse_chat_response
from workersai._concurrency import Post, check_concurrency, run_on_private_loop
from workersai._config import (
    Credentials,
    GatewayOptions,
    gateway_info,
    per_call_options,
    resolve_base_url,
)
from workersai._embeddings import (
    DEFAULT_MAX_CONCURRENCY,
    EmbeddingPlan,
    EmbeddingRequest,
    EmbedKind,
    ProgressCallback,
    arun_plan,
    parse_embedding_response,
    plan_embeddings,
    run_plan,
)
from workersai._envelope import envelope_result
from workersai._fallback import FallbackWalk, check_fallback_models
from workersai._image_urls import ainline_image_urls, inline_image_urls
from workersai._media import Multipart
from workersai._rerank import (
    DEFAULT_RERANK_MODEL,
    RerankRequest,
    RerankResult,
    build_rerank_request,
    parse_rerank_response,
)
from workersai._run import run_request, stream_request
from workersai._streams import AsyncChatStream, ChatStream, ChatStreamState, unstreamed
from workersai._transport import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    USER_AGENT,
    AsyncTransport,
    HttpBackend,
    PreparedRequest,
    RetryPolicy,
    SyncTransport,
    check_headers,
    choose_async_backend,
    coerce_timeout,
    decode_body,
    merge_headers,
    read_checked_body,
    read_result,
)
from workersai.batch import (
    AsyncBatchAPI,
    BatchAPI,
    BatchBook,
    BatchWaitOptions,
    arun_plan_on_batch_api,
    run_plan_on_batch_api,
)
from workersai.errors import InvalidInputError, WorkersAIError
from workersai.models import ModelInfo, get_catalog, resolve_model, search_page, search_params
from workersai.results import ChatChunk, ChatResult, EmbeddingResult
from workersai.tasks import AsyncTaskMethods, TaskMethods
from workersai.usage import record_request, record_run

logger = logging.getLogger(__name__)

__all__ = ["AsyncChatStream", "AsyncWorkersAI", "ChatStream", "Multipart", "WorkersAI"]


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
        fallback_models: Sequence[str] | None = None,
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
        check_headers(default_headers or {})  # now, not at the first request
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
        self.fallback_models = check_fallback_models(fallback_models)
        # Whether this account is known to route (an answer came back): a 7003 then means
        # the model, and chat may fall back (see workersai._fallback).
        self._account_routes = False
        self._common_cache: tuple[tuple[Any, Any], dict[str, str]] | None = None

    @property
    def account_id(self) -> str | None:
        return self._credentials.account_id

    @property
    def http_backend(self) -> str:
        """What sends the requests: ``"httpx"``, ``"aiohttp"`` (async clients, when
        ``httpx-aiohttp`` is installed) or ``"http_client"`` (the client you passed)."""
        transport: SyncTransport | AsyncTransport = self._transport  # type: ignore[attr-defined]
        return transport.backend

    def __repr__(self) -> str:
        gateway = f", gateway={self.gateway.id!r}" if self.gateway else ""
        name = type(self).__name__
        return (
            f"{name}(account_id={self.account_id!r}, base_url={self.base_url!r}{gateway}, "
            f"http_backend={self.http_backend!r})"
        )

    def _common_headers(self) -> dict[str, str]:
        """``default_headers``, the gateway's and ``session_affinity``'s headers: built and
        checked once, again only when ``gateway`` or ``session_affinity`` is replaced."""
        key = (self.gateway, self.session_affinity)
        cached = self._common_cache
        if cached is not None and cached[0][0] is key[0] and cached[0][1] is key[1]:
            return cached[1]
        headers = dict(self._default_headers)
        if self.gateway is not None:
            merge_headers(headers, self.gateway.headers())
        if self.session_affinity:
            merge_headers(headers, {"x-session-affinity": self.session_affinity})
        check_headers(headers)
        self._common_cache = (key, headers)
        return headers

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
            if len(content) < 8192:
                # orjson's bytes keep the 4 KiB buffer they were written in: a small body
                # lives as long as its request (retries, a thousand queued calls), so it is
                # copied to its own size (~0.1 µs; 60 bytes held instead of 4 KiB).
                content = memoryview(content).tobytes()
            all_headers["Content-Type"] = "application/json"
        elif content is not None:
            all_headers["Content-Type"] = content_type or "application/octet-stream"
            if content_type:
                check_headers({"Content-Type": content_type})
        merge_headers(all_headers, self._common_headers())
        # What this call adds is checked on every call; the rest was checked once.
        if session_affinity:
            check_headers({"x-session-affinity": session_affinity})
            merge_headers(all_headers, {"x-session-affinity": session_affinity})
        if headers:
            check_headers(headers)
            merge_headers(all_headers, headers)
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

    def _chat_request(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]] | None,
        stream: bool,
        options: dict[str, Any],
    ) -> tuple[ChatRequest, PreparedRequest]:
        options = per_call_options(options)
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

    def _chat_result(self, response: httpx.Response, chat: ChatRequest) -> ChatResult:
        body = read_checked_body(response, chat.model, event_stream=True)
        result = parse_chat_response(body, chat, gateway=gateway_info(response.headers))
        record_request(chat.model, result.usage)
        return result

    def _fallback_walk(self, model: str, options: dict[str, Any]) -> FallbackWalk:
        """The chain of models one chat call may ask: ``model``, then ``fallback_models``
        (the call's, else the client's)."""
        fallbacks = options.pop("fallback_models", None)
        chain = self.fallback_models if fallbacks is None else check_fallback_models(fallbacks)
        return FallbackWalk(model, chain)

    def _account_check(self) -> PreparedRequest:
        """A request that routes whatever the model: it proves the account id works, so a
        7003 for a model is the model's (see :mod:`workersai._fallback`)."""
        return self._prepare("GET", "models/search", params={"per_page": "1"})

    def _feature_request(
        self, request: EmbeddingRequest | RerankRequest, timeout: float | httpx.Timeout | None
    ) -> PreparedRequest:
        """The request of a feature module's own request object (embeddings, reranking)."""
        return self._prepare(
            "POST", request.route, json_body=request.body, model=request.model, timeout=timeout
        )

    @staticmethod
    def _embed_result(response: httpx.Response, request: EmbeddingRequest) -> EmbeddingResult:
        result = parse_embedding_response(read_checked_body(response, request.model), request)
        record_request(request.model, result.usage)
        return result

    @staticmethod
    def _rerank_results(response: httpx.Response, request: RerankRequest) -> list[RerankResult]:
        body = read_checked_body(response, request.model)
        record_run(request.model, request.body, envelope_result(body))
        return parse_rerank_response(body, request)

    def _search_request(self, params: Mapping[str, str], page: int) -> PreparedRequest:
        return self._prepare("GET", "models/search", params={**params, "page": str(page)})

    def _schema_request(self, model: str) -> tuple[str, PreparedRequest]:
        model_id = resolve_model(model)
        return model_id, self._prepare(
            "GET", "models/schema", params={"model": model_id}, model=model_id
        )


def _no_documents(documents: Sequence[str]) -> bool:
    """``rerank(query, [])``: nothing to score, no request."""
    return isinstance(documents, Sequence) and not isinstance(documents, str) and not documents


def _model_schema(result: Any) -> dict[str, Any]:
    return dict(result) if isinstance(result, Mapping) else {"schema": result}


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
        fallback_models: Models to ask, in order, when a chat model is out of capacity
            (3040) after its retries or not available to the account (5035, retired 5028,
            7003 once the account id is proven to work); see :mod:`workersai._fallback`.
            ``result.model`` says which one answered.

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
        fallback_models: Sequence[str] | None = None,
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
            fallback_models=fallback_models,
        )
        self._transport = SyncTransport(
            http_client=http_client, timeout=self.timeout, retry_policy=self.retry_policy
        )
        # What the Batch API remembers lives here, and client.batch is a view made on access:
        # a client holding its BatchAPI (which holds the client) would be a reference cycle,
        # freed only by the cyclic GC, in no particular order with its sockets.
        self._batch_book = BatchBook()

    @property
    def batch(self) -> BatchAPI:
        """Workers AI's asynchronous Batch API: ``submit``, ``poll``, ``wait``."""
        return BatchAPI(self._prepare, self._transport, self._batch_book)

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
        model_id, prepared = run_request(
            self._prepare,
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
        output = read_result(self._transport.request(prepared), model_id)
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
        chat, prepared = stream_request(
            self._prepare,
            model,
            inputs,
            headers=headers,
            timeout=timeout,
            session_affinity=session_affinity,
            reject_if_busy=reject_if_busy,
            validate=validate,
        )
        state = ChatStreamState(chat)
        return ChatStream(self._iter_chat(prepared, state), state)

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
                ``reject_if_busy``, ``session_affinity``, ``extra_headers``, ``timeout``,
                ``fallback_models`` (this call's, instead of the client's), and
                generation parameters (``temperature``, ``max_tokens``, ``top_p``, ``top_k``,
                ``seed``, penalties, ``stop``, ``reasoning_effort``, …); unknown keys are sent
                as is.

        Example:
            >>> result = client.chat("@cf/meta/llama-3.3-70b-instruct-fp8-fast",
            ...                      [{"role": "user", "content": "2+2?"}], max_tokens=20)
            >>> result.text, result.usage.total_tokens, result.finish_reason
            ('4', 41, 'stop')
        """
        messages = inline_image_urls(messages)
        walk = self._fallback_walk(model, options)
        requests = walk.requests(lambda m: self._chat_request(m, messages, False, dict(options)))
        for chat, prepared in requests:
            try:
                result = self._chat_result(self._transport.request(prepared), chat)
            except WorkersAIError as exc:
                self._after_failure(walk, exc)
                continue
            self._account_routes = True
            return result
        raise walk.exhausted()

    def stream_chat(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]] | None = None,
        **options: Any,
    ) -> ChatStream:
        """Stream a chat completion (same arguments as :meth:`chat`).

        Yields text/reasoning/tool-call deltas, then exactly one final chunk with usage and
        the finish reason. JSON-mode requests, which Workers AI cannot stream, are sent
        unstreamed and replayed as a stream. With fallback models, a model that cannot answer
        hands over only before the stream's first chunk.
        """
        messages = inline_image_urls(messages)
        walk = self._fallback_walk(model, options)
        attempts = walk.requests(lambda m: self._chat_request(m, messages, True, dict(options)))
        chat, prepared = next(attempts)  # the first model's bad input raises here, unsent
        state = ChatStreamState(chat)
        return ChatStream(self._iter_fallback(walk, attempts, prepared, state), state)

    def _iter_fallback(
        self,
        walk: FallbackWalk,
        attempts: Iterator[tuple[ChatRequest, PreparedRequest]],
        prepared: PreparedRequest,
        state: ChatStreamState,
    ) -> Iterator[ChatChunk]:
        """The stream of the first model that answers; a model falls back only until its
        first chunk was delivered."""
        while True:
            delivered = False
            try:
                for chunk in self._iter_chat(prepared, state):
                    delivered = True
                    yield chunk
            except WorkersAIError as exc:
                if delivered:
                    raise
                self._after_failure(walk, exc)
            else:
                self._account_routes = True
                return
            attempt = next(attempts, None)
            if attempt is None:
                raise walk.exhausted()
            chat, prepared = attempt
            state.restart(chat)

    def _after_failure(self, walk: FallbackWalk, error: WorkersAIError) -> None:
        """Raise ``error`` unless the call may move on to the next model."""
        if walk.failed(error):  # a 7003: the next model only if the account routes
            if self._account_routes or self._account_works():
                walk.account_ok()
            else:
                walk.account_wrong()

    def _account_works(self) -> bool:
        try:
            self._transport.request(self._account_check())
        except WorkersAIError:
            return False
        self._account_routes = True
        return True

    def _iter_chat(self, prepared: PreparedRequest, state: ChatStreamState) -> Iterator[ChatChunk]:
        chat = state.chat
        if not chat.stream:  # JSON mode: answer once, replay as a stream
            yield from state.replay(self._chat_result(self._transport.request(prepared), chat))
            return
        for item in self._transport.iter_events(prepared):
            produced = state.feed(item)
            if isinstance(produced, list):  # answered with JSON instead of a stream
                if state.json_answer_used():
                    yield from produced
                else:
                    response = self._transport.request(unstreamed(chat, prepared))
                    yield from state.replay(self._chat_result(response, chat))
                return
            if produced is not None:
                yield produced
        yield from state.tail()

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
        a thread pool — or, for a job of more than two rounds when aiohttp is installed, from
        an event loop of its own (run in this thread, or in a helper thread when a loop is
        already running here, as in Jupyter): decoding large answers in threads that share
        the GIL is slower than on one loop. Either way ``on_progress`` is called in this
        thread. The first failure, after the transport's
        retries, is raised and the requests not yet sent are dropped.

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
        if self._runs_on_private_loop(len(plan.requests), max_concurrency):
            logger.debug("Embedding %d requests on a private event loop", len(plan.requests))
            return run_on_private_loop(
                lambda post: self._embed_on_loop(plan, max_concurrency, timeout, on_progress, post)
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
        response = self._transport.request(self._feature_request(request, timeout))
        return self._embed_result(response, request)

    def _runs_on_private_loop(self, requests: int, max_concurrency: int) -> bool:
        """Whether a job of ``requests`` is sent from one event loop on aiohttp rather than
        from threads: only when this client owns its connections (a client passed in is
        used as is), aiohttp is there and not declined (``WORKERSAI_ASYNC_HTTP=httpx``), and
        the job is more than two rounds long, so the loop's own new connections are paid
        back (a short job keeps the pooled, already open ones)."""
        return (
            self._transport.backend == "httpx"
            and requests > 2 * check_concurrency(max_concurrency)
            and choose_async_backend(None, None)[0] == "aiohttp"
        )

    async def _embed_on_loop(
        self,
        plan: EmbeddingPlan,
        max_concurrency: int,
        timeout: float | httpx.Timeout | None,
        on_progress: ProgressCallback | None,
        post: Post,
    ) -> EmbeddingResult:
        """A sync client's job on its private loop: the async twin's sending and decoding,
        over a transport of this loop's own (same timeout and retry policy), closed at the
        end; progress is posted back to the caller's thread."""
        transport = AsyncTransport(
            timeout=self.timeout, retry_policy=self.retry_policy, http_backend="aiohttp"
        )

        async def send(request: EmbeddingRequest) -> EmbeddingResult:
            response = await transport.request(self._feature_request(request, timeout))
            return self._embed_result(response, request)

        def progress(done: int, total: int) -> None:
            assert on_progress is not None
            post(lambda: on_progress(done, total))

        try:
            return await arun_plan(
                plan,
                send,
                max_concurrency=max_concurrency,
                on_progress=None if on_progress is None else progress,
            )
        finally:
            await transport.aclose()

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
        if _no_documents(documents):
            return []
        request = build_rerank_request(model, query, documents, top_k=top_k)
        response = self._transport.request(self._feature_request(request, timeout))
        return self._rerank_results(response, request)

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
        params = search_params(
            task=task,
            search=search,
            author=author,
            per_page=per_page,
            include_deprecated=include_deprecated,
            hide_experimental=hide_experimental,
        )
        models: list[ModelInfo] = []
        page = 1
        while True:
            response = self._transport.request(self._search_request(params, page))
            items, more = search_page(read_result(response), decode_body(response))
            models.extend(items)
            if not more or not items or (max_pages is not None and page >= max_pages):
                break
            page += 1
        if update_catalog:
            get_catalog().update(models)
        return models

    def model_schema(self, model: str) -> dict[str, Any]:
        """The model's input/output JSON Schema (``GET /ai/models/schema``)."""
        model_id, prepared = self._schema_request(model)
        return _model_schema(read_result(self._transport.request(prepared), model_id))

    def agree_to_license(self, model: str) -> None:
        """Accept a model's license for this account (sends ``{"prompt": "agree"}``, §8.2).

        Read the model's terms first; Workers AI answers 5016 until this was sent once.
        """
        self.run(model, {"prompt": "agree"}, validate=False)


# --------------------------------------------------------------------------------------
# Async client
# --------------------------------------------------------------------------------------


class AsyncWorkersAI(AsyncTaskMethods, _ClientBase):
    """Asynchronous Workers AI client; same arguments and methods as :class:`WorkersAI`,
    plus ``http_backend``.

    One connection pool is kept per event loop, so the object can be used from several
    ``asyncio.run`` calls (and Jupyter) safely. The pool is aiohttp's when ``httpx-aiohttp``
    is installed (``pip install 'workersai[speed]'``; several times faster under
    concurrency), httpx's otherwise; either way requests and responses are httpx objects.

    Args:
        http_backend: ``"aiohttp"`` or ``"httpx"`` to choose the pool explicitly; default
            ``WORKERSAI_ASYNC_HTTP``, else aiohttp when installed. An ``http_client`` you
            pass is always used as is (passing both is an error). ``client.http_backend``
            and the repr show the choice; the ``workersai._transport`` logger says why at
            DEBUG level.

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
        fallback_models: Sequence[str] | None = None,
        http_backend: HttpBackend | None = None,
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
            fallback_models=fallback_models,
        )
        self._transport = AsyncTransport(
            http_client=http_client,
            timeout=self.timeout,
            retry_policy=self.retry_policy,
            http_backend=http_backend,
        )
        self._batch_book = BatchBook()  # see WorkersAI.__init__

    @property
    def batch(self) -> AsyncBatchAPI:
        """Async twin of :attr:`WorkersAI.batch`."""
        return AsyncBatchAPI(self._prepare, self._transport, self._batch_book)

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
        model_id, prepared = run_request(
            self._prepare,
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
        output = read_result(await self._transport.request(prepared), model_id)
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
        chat, prepared = stream_request(
            self._prepare,
            model,
            inputs,
            headers=headers,
            timeout=timeout,
            session_affinity=session_affinity,
            reject_if_busy=reject_if_busy,
            validate=validate,
        )
        state = ChatStreamState(chat)
        return AsyncChatStream(self._iter_chat(prepared, state), state)

    async def chat(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]] | None = None,
        **options: Any,
    ) -> ChatResult:
        """Async twin of :meth:`WorkersAI.chat`."""
        messages = await ainline_image_urls(messages)
        walk = self._fallback_walk(model, options)
        requests = walk.requests(lambda m: self._chat_request(m, messages, False, dict(options)))
        for chat, prepared in requests:
            try:
                result = self._chat_result(await self._transport.request(prepared), chat)
            except WorkersAIError as exc:
                await self._after_failure(walk, exc)
                continue
            self._account_routes = True
            return result
        raise walk.exhausted()

    async def stream_chat(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]] | None = None,
        **options: Any,
    ) -> AsyncChatStream:
        """Async twin of :meth:`WorkersAI.stream_chat` (``await`` it, then ``async for``)."""
        messages = await ainline_image_urls(messages)
        walk = self._fallback_walk(model, options)
        attempts = walk.requests(lambda m: self._chat_request(m, messages, True, dict(options)))
        chat, prepared = next(attempts)  # the first model's bad input raises here, unsent
        state = ChatStreamState(chat)
        return AsyncChatStream(self._iter_fallback(walk, attempts, prepared, state), state)

    async def _iter_fallback(
        self,
        walk: FallbackWalk,
        attempts: Iterator[tuple[ChatRequest, PreparedRequest]],
        prepared: PreparedRequest,
        state: ChatStreamState,
    ) -> AsyncIterator[ChatChunk]:
        """Async twin of :meth:`WorkersAI._iter_fallback`."""
        while True:
            delivered = False
            try:
                async for chunk in self._iter_chat(prepared, state):
                    delivered = True
                    yield chunk
            except WorkersAIError as exc:
                if delivered:
                    raise
                await self._after_failure(walk, exc)
            else:
                self._account_routes = True
                return
            attempt = next(attempts, None)
            if attempt is None:
                raise walk.exhausted()
            chat, prepared = attempt
            state.restart(chat)

    async def _after_failure(self, walk: FallbackWalk, error: WorkersAIError) -> None:
        """Async twin of :meth:`WorkersAI._after_failure`."""
        if walk.failed(error):
            if self._account_routes or await self._account_works():
                walk.account_ok()
            else:
                walk.account_wrong()

    async def _account_works(self) -> bool:
        try:
            await self._transport.request(self._account_check())
        except WorkersAIError:
            return False
        self._account_routes = True
        return True

    async def _iter_chat(
        self, prepared: PreparedRequest, state: ChatStreamState
    ) -> AsyncIterator[ChatChunk]:
        chat = state.chat
        if not chat.stream:
            result = self._chat_result(await self._transport.request(prepared), chat)
            for chunk in state.replay(result):
                yield chunk
            return
        async for item in self._transport.iter_events(prepared):
            produced = state.feed(item)
            if isinstance(produced, list):
                if not state.json_answer_used():
                    response = await self._transport.request(unstreamed(chat, prepared))
                    produced = state.replay(self._chat_result(response, chat))
                for chunk in produced:
                    yield chunk
                return
            if produced is not None:
                yield produced
        for chunk in state.tail():
            yield chunk

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
        response = await self._transport.request(self._feature_request(request, timeout))
        return self._embed_result(response, request)

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
        if _no_documents(documents):
            return []
        request = build_rerank_request(model, query, documents, top_k=top_k)
        response = await self._transport.request(self._feature_request(request, timeout))
        return self._rerank_results(response, request)

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
        params = search_params(
            task=task,
            search=search,
            author=author,
            per_page=per_page,
            include_deprecated=include_deprecated,
            hide_experimental=hide_experimental,
        )
        models: list[ModelInfo] = []
        page = 1
        while True:
            response = await self._transport.request(self._search_request(params, page))
            items, more = search_page(read_result(response), decode_body(response))
            models.extend(items)
            if not more or not items or (max_pages is not None and page >= max_pages):
                break
            page += 1
        if update_catalog:
            get_catalog().update(models)
        return models

    async def model_schema(self, model: str) -> dict[str, Any]:
        """Async twin of :meth:`WorkersAI.model_schema`."""
        model_id, prepared = self._schema_request(model)
        return _model_schema(read_result(await self._transport.request(prepared), model_id))

    async def agree_to_license(self, model: str) -> None:
        """Async twin of :meth:`WorkersAI.agree_to_license`."""
        await self.run(model, {"prompt": "agree"}, validate=False)
