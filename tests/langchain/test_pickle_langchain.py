"""Pickling a LangChain class keeps its connection settings, never a secret (as LlamaIndex's).

A pickle used to carry the API token (and a gateway's token), and failed outright once the
object had made a request (its core client holds locks and sockets).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

import langchain_workersai as lc
from workersai import GatewayOptions

FACTORIES: dict[str, Callable[..., Any]] = {
    "chat": lc.ChatWorkersAI,
    "embeddings": lc.WorkersAIEmbeddings,
    "reranker": lc.WorkersAIReranker,
    "image": lc.WorkersAIImage,
    "whisper": lc.WorkersAIWhisperParser,
    "translator": lambda **conn: lc.WorkersAITranslator(target_lang="fr", **conn),
    "summarizer": lc.WorkersAISummarizer,
}


@pytest.mark.parametrize("name", list(FACTORIES))
def test_a_pickle_keeps_the_settings_and_rereads_only_the_token(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    gateway = GatewayOptions(id="gw", cache_ttl=60, authorization=SecretStr("gw-secret-9"))
    http_async = httpx.AsyncClient()  # never opened: nothing to close
    with httpx.Client() as http:
        obj = FACTORIES[name](
            account_id="explicit-account",
            api_key="pickle-secret-1",
            base_url="http://127.0.0.1:9/client/v4",
            gateway=gateway,
            timeout=12,
            max_retries=4,
            http_client=http,
            http_async_client=http_async,
        )
        assert obj._client is not None  # built: they hold locks and sockets
        assert obj._async_client is not None
        data = pickle.dumps(obj)
    assert b"pickle-secret-1" not in data
    assert b"gw-secret-9" not in data
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "token-from-the-environment")
    restored = pickle.loads(data)
    assert restored.api_token.get_secret_value() == "token-from-the-environment"
    assert (restored.http_client, restored.http_async_client) == (None, None)
    client = restored._client
    assert client is not obj._client
    assert (client.account_id, client.base_url) == ("explicit-account", obj.base_url)
    assert (client.timeout.read, client.max_retries) == (12, 4)
    assert client.gateway is not None
    assert client.gateway.headers() == {"cf-aig-gateway-id": "gw", "cf-aig-cache-ttl": "60"}
    # The pickled object itself is untouched.
    assert obj.api_token.get_secret_value() == "pickle-secret-1"
    assert obj.gateway == gateway
    assert obj.http_client is http


def test_an_unpickled_object_without_a_token_in_the_environment_has_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = pickle.dumps(lc.ChatWorkersAI(account_id="acct", api_key="tok-3"))
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN")
    assert pickle.loads(data).api_token is None  # the first request says what to set
