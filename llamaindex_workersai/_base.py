"""What every LlamaIndex class of this package shares: one connection definition.

Every class that talks to Workers AI takes the same connection settings:

``account_id``, ``api_token`` (alias ``api_key``)
    Credentials; default ``CLOUDFLARE_ACCOUNT_ID`` / ``CF_ACCOUNT_ID`` /
    ``CLOUDFLARE_ACCOUNT_ID_FILE`` and ``CLOUDFLARE_API_TOKEN`` / ``CF_AI_API_TOKEN`` /
    ``CLOUDFLARE_API_TOKEN_FILE``.
``base_url``, ``gateway``, ``timeout``, ``max_retries``
    API root, AI Gateway (a name or :class:`~workersai.GatewayOptions`), seconds per
    request (default 60 s, connect 5 s), retries of 408/409/429/5xx and connection errors.
``http_client``, ``async_http_client``
    Your own ``httpx.Client`` / ``httpx.AsyncClient`` (names as in llama-index-llms-openai);
    they are never closed by this package.

Any other keyword that is not a field of the class raises ``TypeError`` naming the field it
most resembles (``WorkersAI(acount_id=...)``): pydantic alone would drop it without a word.

LlamaIndex serialises fields into ``to_dict()``/``to_payload()`` and instrumentation events,
so credentials and HTTP clients are never fields: they live only inside the core clients,
held in a private attribute. ``base_url``, ``gateway`` (without its ``authorization``
token), ``timeout`` and ``max_retries`` are fields, so ``from_dict(to_dict())`` keeps them.

Pickling keeps the connection's settings — account id, API root, gateway options, timeout,
retries — but never a credential nor an HTTP client: an unpickled object reads the API
token from the environment again, and its first request fails with
:class:`~workersai.MissingCredentialsError` when none is set. A gateway's own
``authorization`` token is not carried either.
"""

from __future__ import annotations

import difflib
from typing import Any

import httpx
from llama_index.core.bridge.pydantic import BaseModel, Field, PrivateAttr, field_validator
from pydantic import SecretStr

from workersai import AsyncWorkersAI, GatewayOptions, WorkersAI

#: Connection settings that are not fields (credentials and HTTP clients).
_PRIVATE_SETTINGS = ("account_id", "api_token", "api_key", "http_client", "async_http_client")


def public_gateway(gateway: GatewayOptions | None) -> GatewayOptions | None:
    """``gateway`` without its ``authorization`` token (what fields and pickles may hold)."""
    if gateway is None or gateway.authorization is None:
        return gateway
    return gateway.model_copy(update={"authorization": None})


class WorkersAIConnection:
    """A sync and an async core client built from the same settings."""

    __slots__ = ("_settings", "async_client", "client")

    def __init__(
        self,
        account_id: str | None = None,
        api_token: str | SecretStr | None = None,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        gateway: str | GatewayOptions | None = None,
        timeout: float | None = None,
        max_retries: int = 2,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        kwargs: dict[str, Any] = {
            "base_url": base_url,
            "gateway": gateway,
            "max_retries": max_retries,
        }
        if timeout is not None:
            kwargs["timeout"] = timeout
        token = api_token if api_token is not None else api_key
        self.client = WorkersAI(account_id, token, http_client=http_client, **kwargs)
        self.async_client = AsyncWorkersAI(
            account_id, token, http_client=async_http_client, **kwargs
        )
        # What a pickle carries: the resolved settings, so an unpickled object talks to the
        # same account, root and gateway — everything but the secrets and the HTTP clients.
        self._settings: dict[str, Any] = {
            "account_id": self.client.account_id,
            "base_url": self.client.base_url,
            "gateway": public_gateway(self.client.gateway),
            "timeout": timeout,
            "max_retries": max_retries,
        }

    @classmethod
    def pop_from(cls, settings: dict[str, Any]) -> WorkersAIConnection:
        """A connection from the connection keywords in ``settings``, which are taken out
        (what is left are the caller's own options)."""
        names = (*_PRIVATE_SETTINGS, "base_url", "gateway", "timeout", "max_retries")
        return cls(**{name: settings.pop(name) for name in names if name in settings})

    def __deepcopy__(self, memo: dict[int, Any]) -> WorkersAIConnection:
        # Connection pools (and their locks) are shared, as model_copy() shares them;
        # copying would only duplicate sockets and credentials.
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        # Picklable (clients hold locks and sockets, so not as they are): LlamaIndex would
        # otherwise drop the attribute with a warning on the root logger.
        return (_restore_connection, (self._settings,))

    def __repr__(self) -> str:
        return f"WorkersAIConnection(account_id={self.client.account_id!r})"


def _restore_connection(settings: dict[str, Any]) -> WorkersAIConnection:
    return WorkersAIConnection(**settings)


def _refuse_unknown_keywords(cls: type[BaseModel], data: dict[str, Any]) -> None:
    """Raise ``TypeError`` for a keyword that is neither a field nor a connection setting.

    Pydantic would drop it without a word, so ``WorkersAI(acount_id=...)`` would quietly
    use the account of the environment.
    """
    known = {*_PRIVATE_SETTINGS, *cls.model_fields}
    unknown = [name for name in data if name not in known]
    if unknown:
        name = unknown[0]
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise TypeError(f"{cls.__name__}() got an unexpected keyword argument {name!r}{hint}")


class WorkersAIClientFields(BaseModel):
    """The connection of a LlamaIndex component; mixed in before the LlamaIndex base class.

    Takes the connection settings described in :mod:`llamaindex_workersai._base` as
    keywords; credentials and HTTP clients go to the core clients in ``_connection`` only.
    """

    base_url: str | None = Field(default=None, description="API root (CLOUDFLARE_BASE_URL).")
    gateway: GatewayOptions | None = Field(
        default=None, description="AI Gateway options (without its token), if routed through one."
    )
    timeout: float | None = Field(default=None, gt=0, description="Request timeout in seconds.")
    max_retries: int = Field(default=2, ge=0, description="Retries of retryable failures.")

    _connection: WorkersAIConnection = PrivateAttr()

    def __init__(self, **data: Any) -> None:
        _refuse_unknown_keywords(type(self), data)
        private = {name: data.pop(name) for name in _PRIVATE_SETTINGS if name in data}
        gateway = data.get("gateway")  # with its token, which the field drops
        super().__init__(**data)
        self._connection = WorkersAIConnection(
            **private,
            base_url=self.base_url,
            gateway=gateway,
            timeout=self.timeout,
            max_retries=self.max_retries,
        )

    @field_validator("gateway", mode="before")
    @classmethod
    def _gateway_options(cls, value: Any) -> GatewayOptions | None:
        # A name or a mapping becomes options; the gateway's token stays in the client.
        return None if value is None else public_gateway(GatewayOptions.coerce(value))

    def __setstate__(self, state: dict[str, Any]) -> None:
        # LlamaIndex's __setstate__ re-runs __init__ from the fields (credentials from the
        # environment); the pickled connection then brings back the account id and the rest.
        super().__setstate__(state)
        connection = (state.get("__pydantic_private__") or {}).get("_connection")
        if isinstance(connection, WorkersAIConnection):
            self._connection = connection
