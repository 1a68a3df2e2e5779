"""What every LangChain class of this package shares: credential fields and lazy clients.

Credentials default to the environment (``CLOUDFLARE_ACCOUNT_ID`` / ``CF_ACCOUNT_ID`` /
``CLOUDFLARE_ACCOUNT_ID_FILE`` and ``CLOUDFLARE_API_TOKEN`` / ``CF_AI_API_TOKEN`` /
``CLOUDFLARE_API_TOKEN_FILE``); the token is a ``SecretStr`` and construction never fails
when they are missing — the first request does, naming what to set.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from workersai import AsyncWorkersAI, GatewayOptions, WorkersAI
from workersai.integration import account_id_from_env, api_token_from_env

_C = TypeVar("_C")

# One lock for every object: clients are built once per object, so it is rarely taken and
# never held for long; a per-object lock would have to survive model_copy() and pickling.
_CLIENT_LOCK = threading.Lock()


class WorkersAIClientFields(BaseModel):
    """Connection settings; mixed into the chat model, embeddings, images and reranker."""

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

    def _client_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "base_url": self.base_url,
            "gateway": self.gateway,
            "max_retries": self.max_retries,
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
            "_client", lambda: WorkersAI(self.account_id, self.api_token, **self._client_kwargs())
        )

    @property
    def _async_client(self) -> AsyncWorkersAI:
        """The async core client (it keeps one connection pool per event loop)."""
        return self._built_once(
            "_async_client",
            lambda: AsyncWorkersAI(self.account_id, self.api_token, **self._client_kwargs()),
        )
