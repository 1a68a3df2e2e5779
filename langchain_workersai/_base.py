"""What every LangChain class of this package shares: connection fields and lazy clients.

Every class that talks to Workers AI takes the same connection settings: ``account_id``,
``api_token`` (alias ``api_key``), ``base_url``, ``gateway``, ``timeout`` (alias
``request_timeout``), ``max_retries``, and your own ``http_client`` (``httpx.Client``) /
``http_async_client`` (``httpx.AsyncClient``), named as in langchain-openai and never closed
by this package.

Credentials default to the environment (``CLOUDFLARE_ACCOUNT_ID`` / ``CF_ACCOUNT_ID`` /
``CLOUDFLARE_ACCOUNT_ID_FILE`` and ``CLOUDFLARE_API_TOKEN`` / ``CF_AI_API_TOKEN`` /
``CLOUDFLARE_API_TOKEN_FILE``); the token is a ``SecretStr`` and construction never fails
when they are missing — the first request does, naming what to set.

Pickling keeps every setting but the secrets and the HTTP clients: an unpickled object
reads the API token from the environment again (and drops a gateway's ``authorization``
token), and builds its own connection pool.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic.json_schema import SkipJsonSchema

from workersai import AsyncWorkersAI, GatewayOptions, WorkersAI
from workersai.integration import account_id_from_env, api_token_from_env

_C = TypeVar("_C")

# One lock for every object: clients are built once per object, so it is rarely taken and
# never held for long; a per-object lock would have to survive model_copy() and pickling.
_CLIENT_LOCK = threading.Lock()


class WorkersAIClientFields(BaseModel):
    """Connection settings; mixed into every class that calls Workers AI (chat model,
    embeddings, reranker, images, Whisper parser, translator, summarizer)."""

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    account_id: str | None = Field(default_factory=account_id_from_env)
    """Cloudflare account id (default: ``CLOUDFLARE_ACCOUNT_ID``)."""
    api_token: SecretStr | None = Field(default_factory=api_token_from_env, alias="api_key")
    """API token with Workers AI permission (default: ``CLOUDFLARE_API_TOKEN``).

    Alias: ``api_key``."""
    base_url: str | None = None
    """API root (default: ``CLOUDFLARE_BASE_URL`` or ``https://api.cloudflare.com/client/v4``)."""
    gateway: str | GatewayOptions | None = None
    """AI Gateway name or :class:`~workersai.GatewayOptions`.

    Default: ``CLOUDFLARE_AI_GATEWAY``."""
    timeout: float | None = Field(default=None, gt=0, alias="request_timeout")
    """Request timeout in seconds (default 60 s, connect 5 s). Never "no timeout".

    Alias: ``request_timeout`` (LangChain's usual name)."""
    max_retries: int = Field(default=2, ge=0)
    """Retries for 408/409/429/5xx and connection errors, with backoff and ``Retry-After``."""
    # Not in JSON schemas or dumps: objects, not settings.
    http_client: SkipJsonSchema[httpx.Client | None] = Field(default=None, exclude=True, repr=False)
    """Your own ``httpx.Client`` for sync calls (proxies, mTLS, …); never closed here."""
    http_async_client: SkipJsonSchema[httpx.AsyncClient | None] = Field(
        default=None, exclude=True, repr=False
    )
    """Your own ``httpx.AsyncClient`` for async calls; never closed here."""

    def _client_kwargs(
        self, http_client: httpx.Client | httpx.AsyncClient | None
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "account_id": self.account_id,
            "api_token": self.api_token,
            "base_url": self.base_url,
            "gateway": self.gateway,
            "max_retries": self.max_retries,
            "http_client": http_client,
        }
        if self.timeout is not None:
            kwargs["timeout"] = self.timeout
        return kwargs

    def _built_once(self, key: str, build: Callable[[], _C]) -> _C:
        # Threads of batch() race for a fresh object's client; functools.cached_property
        # has no lock on Python 3.12+, so each would build (and leak) a connection pool.
        client: _C | None = self.__dict__.get(key)
        if client is None:
            with _CLIENT_LOCK:
                client = self.__dict__.get(key)
                if client is None:
                    client = self.__dict__[key] = build()
        return client

    @property
    def _client(self) -> WorkersAI:
        """The sync core client, created on first use (one connection pool per object)."""
        return self._built_once(
            "_client", lambda: WorkersAI(**self._client_kwargs(self.http_client))
        )

    @property
    def _async_client(self) -> AsyncWorkersAI:
        """The async core client (it keeps one connection pool per event loop)."""
        return self._built_once(
            "_async_client", lambda: AsyncWorkersAI(**self._client_kwargs(self.http_async_client))
        )

    def __getstate__(self) -> dict[Any, Any]:
        state = super().__getstate__()
        # Built clients hold sockets and locks; the HTTP clients are the user's own.
        fields = {k: v for k, v in state["__dict__"].items() if k not in _BUILT_CLIENTS}
        fields.update(api_token=None, http_client=None, http_async_client=None)
        if isinstance(self.gateway, GatewayOptions) and self.gateway.authorization is not None:
            fields["gateway"] = self.gateway.model_copy(update={"authorization": None})
        return {**state, "__dict__": fields}

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state)
        self.__dict__["api_token"] = api_token_from_env()


_BUILT_CLIENTS = ("_client", "_async_client")
