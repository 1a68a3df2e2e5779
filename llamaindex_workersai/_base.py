"""What every LlamaIndex class of this package shares: the core clients, kept off the fields.

LlamaIndex serialises fields into ``to_dict()``/``to_payload()`` and instrumentation events,
so credentials live only inside the core clients held in a private attribute.

Pickling keeps the connection's settings — account id, API root, gateway options, timeout,
retries — but never a credential: an unpickled object reads the API token from the
environment again (``CLOUDFLARE_API_TOKEN`` / ``CF_AI_API_TOKEN`` /
``CLOUDFLARE_API_TOKEN_FILE``), and its first request fails with
:class:`~workersai.MissingCredentialsError` when none is set. A gateway's own
``authorization`` token is not carried either.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from workersai import AsyncWorkersAI, GatewayOptions, WorkersAI


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
        base_url: str | None = None,
        gateway: str | GatewayOptions | None = None,
        timeout: float | None = None,
        max_retries: int = 2,
    ) -> None:
        kwargs: dict[str, Any] = {
            "base_url": base_url,
            "gateway": gateway,
            "max_retries": max_retries,
        }
        if timeout is not None:
            kwargs["timeout"] = timeout
        self.client = WorkersAI(account_id, api_token, **kwargs)
        self.async_client = AsyncWorkersAI(account_id, api_token, **kwargs)
        # What a pickle carries: the resolved settings, so an unpickled object talks to the
        # same account, root and gateway — everything but the secrets.
        self._settings: dict[str, Any] = {
            "account_id": self.client.account_id,
            "base_url": self.client.base_url,
            "gateway": public_gateway(self.client.gateway),
            "timeout": timeout,
            "max_retries": max_retries,
        }

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
    account_id = settings.get("account_id")
    return WorkersAIConnection(
        account_id, None, **{k: v for k, v in settings.items() if k != "account_id"}
    )


def restore_connection(component: Any, state: dict[str, Any]) -> None:
    """After LlamaIndex's ``__setstate__`` (which re-runs ``__init__`` from the fields, with
    credentials from the environment), put back the pickled connection's settings."""
    private = state.get("__pydantic_private__") or {}
    connection = private.get("_connection")
    if isinstance(connection, WorkersAIConnection):
        component._connection = connection
