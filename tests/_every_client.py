"""``WorkersAI``, and its interface over ``AsyncWorkersAI`` on each async engine: for tests of
a rule that must hold on every transport (a fixture builds one client kind per parameter)."""

from __future__ import annotations

from typing import Any

from tests._blocking import BlockingAsyncClient
from workersai import WorkersAI

#: The sync client, then ``AsyncWorkersAI`` on aiohttp's pool and on httpx's.
CLIENT_KINDS = ("sync", "aiohttp", "httpx")


class ClientMaker:
    """``maker(base_url, **kwargs)`` builds a client of ``kind``; :meth:`close` closes them all."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._made: list[Any] = []

    def __call__(self, base_url: str, **kwargs: Any) -> Any:
        if self.kind == "sync":
            client: Any = WorkersAI("acct", "tok", base_url=base_url, **kwargs)
        else:
            client = BlockingAsyncClient(
                "acct", "tok", base_url=base_url, http_backend=self.kind, **kwargs
            )
        self._made.append(client)
        return client

    def close(self) -> None:
        for client in self._made:
            client.close()
