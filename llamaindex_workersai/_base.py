"""What every LlamaIndex class of this package shares: the core clients, kept off the fields.

LlamaIndex serialises fields into ``to_dict()``/``to_payload()`` and instrumentation events,
so credentials live only inside the core clients held in a private attribute.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from workersai import AsyncWorkersAI, GatewayOptions, WorkersAI


class WorkersAIConnection:
    """A sync and an async core client built from the same settings."""

    __slots__ = ("async_client", "client")

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

    def __deepcopy__(self, memo: dict[int, Any]) -> WorkersAIConnection:
        # Connection pools (and their locks) are shared, as model_copy() shares them;
        # copying would only duplicate sockets and credentials.
        return self

    def __repr__(self) -> str:
        return f"WorkersAIConnection(account_id={self.client.account_id!r})"
