"""A proxy from the environment gets a pool like the direct one: the same engine, TLS
settings and connection limits (``_OwnedAsyncClient._init_proxy_transport``)."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import httpx
import pytest

from workersai._transport import _OwnedAsyncClient

LIMITS = httpx.Limits(max_connections=7, max_keepalive_connections=5)
PROXY = "http://127.0.0.1:9"


class _RecordingEngine:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> httpx.AsyncBaseTransport:
        self.calls.append(kwargs)
        return httpx.AsyncHTTPTransport()


@pytest.fixture(autouse=True)
def proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ALL_PROXY", "HTTP_PROXY", "NO_PROXY", "all_proxy", "http_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", PROXY)


def _build(engine: Any, context: ssl.SSLContext) -> tuple[_OwnedAsyncClient, list[Any]]:
    async def main() -> tuple[_OwnedAsyncClient, list[Any]]:
        client = _OwnedAsyncClient(
            asyncio.get_running_loop(), engine, limits=LIMITS, verify=context
        )
        mounts = [t for t in client._mounts.values() if t is not None]
        await client.aclose()
        return client, mounts

    return asyncio.run(main())


def test_the_engine_builds_the_proxy_pool_with_the_same_settings() -> None:
    engine, context = _RecordingEngine(), ssl.create_default_context()
    _build(engine, context)
    direct, proxied = engine.calls
    assert direct == {"verify": context, "trust_env": True, "limits": LIMITS}
    assert proxied.pop("proxy").url == httpx.URL(PROXY)
    assert proxied == direct


def test_without_an_engine_httpx_builds_the_proxy_pool_with_the_same_settings() -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    _, mounts = _build(None, context)
    (pool,) = [m._pool for m in mounts]
    assert (pool._max_connections, pool._max_keepalive_connections) == (7, 5)
    assert pool._ssl_context is context
