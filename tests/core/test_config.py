"""Credentials (env, legacy names, *_FILE), base URL, AI Gateway headers, session affinity,
rejectIfBusy — and the token never showing up where it should not."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from workersai import (
    GatewayOptions,
    MissingCredentialsError,
    RetryPolicy,
    WorkersAI,
    WorkersAIError,
)
from workersai._transport import merge_headers
from workersai.errors import InvalidInputError
from workersai.integration import CONNECTION_SETTINGS, per_call_options
from workersai.testing import Reply, WorkersAIServer

LLAMA = "@cf/meta/llama-3.1-8b-instruct-fast"
USER = [{"role": "user", "content": "hi"}]
TOKEN = "sentinel-token-5f1b7c2e9a"
ENV = (
    "CLOUDFLARE_ACCOUNT_ID",
    "CF_ACCOUNT_ID",
    "CLOUDFLARE_API_TOKEN",
    "CF_AI_API_TOKEN",
    "CLOUDFLARE_ACCOUNT_ID_FILE",
    "CLOUDFLARE_API_TOKEN_FILE",
    "CLOUDFLARE_BASE_URL",
    "CLOUDFLARE_AI_GATEWAY",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_construction_never_fails_and_first_request_names_the_variables(
    clean_env: pytest.MonkeyPatch,
) -> None:
    client = WorkersAI()
    with pytest.raises(MissingCredentialsError) as info:
        client.chat(LLAMA, USER)
    text = str(info.value)
    for name in (
        "CLOUDFLARE_ACCOUNT_ID",
        "CF_ACCOUNT_ID",
        "CLOUDFLARE_ACCOUNT_ID_FILE",
        "CLOUDFLARE_API_TOKEN",
        "CF_AI_API_TOKEN",
        "CLOUDFLARE_API_TOKEN_FILE",
    ):
        assert name in text


def test_only_the_missing_one_is_named(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CLOUDFLARE_ACCOUNT_ID", "acct")
    with pytest.raises(MissingCredentialsError) as info:
        WorkersAI().chat(LLAMA, USER)
    assert "API token" in str(info.value) and "account id" not in str(info.value).split("Hint")[0]


@pytest.mark.parametrize(
    ("account_var", "token_var"),
    [("CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN"), ("CF_ACCOUNT_ID", "CF_AI_API_TOKEN")],
)
def test_credentials_from_env(
    clean_env: pytest.MonkeyPatch, server: WorkersAIServer, account_var: str, token_var: str
) -> None:
    clean_env.setenv(account_var, "acct-env")
    clean_env.setenv(token_var, TOKEN)
    clean_env.setenv("CLOUDFLARE_BASE_URL", server.base_url)
    server.enqueue(Reply.result({"response": "ok"}))
    WorkersAI().chat(LLAMA, USER)
    request = server.requests[0]
    assert request.path.startswith("/client/v4/accounts/acct-env/ai/run/")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


def test_credentials_from_files(
    clean_env: pytest.MonkeyPatch, server: WorkersAIServer, tmp_path: Path
) -> None:
    (tmp_path / "account").write_text("acct-file\n")
    (tmp_path / "token").write_text(f"  {TOKEN}\n")
    clean_env.setenv("CLOUDFLARE_ACCOUNT_ID_FILE", str(tmp_path / "account"))
    clean_env.setenv("CLOUDFLARE_API_TOKEN_FILE", str(tmp_path / "token"))
    server.enqueue(Reply.result({"response": "ok"}))
    WorkersAI(base_url=server.base_url).chat(LLAMA, USER)
    assert "/accounts/acct-file/" in server.requests[0].path
    assert server.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_unreadable_token_file_is_explained_at_first_request(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("CLOUDFLARE_ACCOUNT_ID", "acct")
    clean_env.setenv("CLOUDFLARE_API_TOKEN_FILE", str(tmp_path / "missing"))
    client = WorkersAI()
    with pytest.raises(MissingCredentialsError, match="cannot be read"):
        client.chat(LLAMA, USER)


def test_explicit_arguments_win_over_env(
    clean_env: pytest.MonkeyPatch, server: WorkersAIServer
) -> None:
    clean_env.setenv("CLOUDFLARE_ACCOUNT_ID", "from-env")
    clean_env.setenv("CLOUDFLARE_API_TOKEN", "env-token")
    server.enqueue(Reply.result({"response": "ok"}))
    WorkersAI("explicit", SecretStr(TOKEN), base_url=server.base_url).chat(LLAMA, USER)
    assert "/accounts/explicit/" in server.requests[0].path
    assert server.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_base_url_validation(clean_env: pytest.MonkeyPatch) -> None:
    assert WorkersAI().base_url == "https://api.cloudflare.com/client/v4"
    assert (
        WorkersAI(base_url="http://127.0.0.1:9/client/v4/").base_url
        == "http://127.0.0.1:9/client/v4"
    )
    with pytest.raises(WorkersAIError, match="http"):
        WorkersAI(base_url="api.cloudflare.com")


def test_token_never_in_repr_str_logs_or_errors(
    clean_env: pytest.MonkeyPatch,
    server: WorkersAIServer,
    caplog: pytest.LogCaptureFixture,
    fast_retries: RetryPolicy,
) -> None:
    client = WorkersAI(
        "acct",
        TOKEN,
        base_url=server.base_url,
        retry_policy=fast_retries,
        gateway=GatewayOptions(id="gw", authorization="gw-" + TOKEN),
    )
    assert TOKEN not in repr(client) and TOKEN not in str(client)
    assert TOKEN not in repr(client._credentials) and TOKEN not in repr(client.gateway)
    server.enqueue(Reply.error(429, 3040, "busy"), Reply.error(401, 10000, "Authentication error"))
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(WorkersAIError) as info:
            client.chat(LLAMA, USER)
    captured = caplog.text + str(info.value) + repr(info.value) + repr(info.value.__dict__)
    assert TOKEN not in captured
    assert "Retrying POST /ai/run/@cf/meta/llama-3.1-8b-instruct-fast" in caplog.text


def test_gateway_headers(server: WorkersAIServer, clean_env: pytest.MonkeyPatch) -> None:
    # §1.5: the 2026 unified form — normal endpoint + cf-aig-* headers
    gateway = GatewayOptions(
        id="my-gateway",
        cache_ttl=3600,
        skip_cache=True,
        cache_key="k1",
        metadata={"team": "search", "run": 7},
        request_timeout_ms=15000,
        max_attempts=3,
        retry_delay_ms=500,
        backoff="exponential",
        collect_log=False,
        authorization=SecretStr("gw-token"),
    )
    server.enqueue(Reply.result({"response": "ok"}, headers={"cf-aig-cache-status": "MISS"}))
    result = WorkersAI("acct", "tok", base_url=server.base_url, gateway=gateway).chat(LLAMA, USER)
    headers = server.requests[0].headers
    assert (
        server.requests[0].path
        == "/client/v4/accounts/acct/ai/run/@cf/meta/llama-3.1-8b-instruct-fast"
    )
    assert {k: v for k, v in headers.items() if k.startswith("cf-aig-")} == {
        "cf-aig-gateway-id": "my-gateway",
        "cf-aig-cache-ttl": "3600",
        "cf-aig-skip-cache": "true",
        "cf-aig-cache-key": "k1",
        "cf-aig-metadata": '{"team":"search","run":7}',
        "cf-aig-request-timeout": "15000",
        "cf-aig-max-attempts": "3",
        "cf-aig-retry-delay": "500",
        "cf-aig-backoff": "exponential",
        "cf-aig-collect-log": "false",
        "cf-aig-authorization": "Bearer gw-token",
    }
    assert result.gateway == {"cache_status": "MISS"}


def test_gateway_by_name_and_from_env(
    server: WorkersAIServer, clean_env: pytest.MonkeyPatch
) -> None:
    server.enqueue(Reply.result({"response": "ok"}), Reply.result({"response": "ok"}))
    WorkersAI("acct", "tok", base_url=server.base_url, gateway="gw-1").chat(LLAMA, USER)
    clean_env.setenv("CLOUDFLARE_AI_GATEWAY", "gw-env")
    WorkersAI("acct", "tok", base_url=server.base_url).chat(LLAMA, USER)
    assert [r.headers.get("cf-aig-gateway-id") for r in server.requests] == ["gw-1", "gw-env"]


def test_gateway_options_are_validated() -> None:
    with pytest.raises(ValidationError):
        GatewayOptions(id="gw", metadata={str(i): i for i in range(6)})
    with pytest.raises(ValidationError):
        GatewayOptions(id="gw", backoff="random")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        GatewayOptions(id="gw", cache_tll=3)  # type: ignore[call-arg]


def test_session_affinity_and_reject_if_busy(server: WorkersAIServer) -> None:
    # DOCS-PC: x-session-affinity header; DOCS-RIB: options.rejectIfBusy in the body
    server.enqueue(Reply.result({"response": "ok"}), Reply.result({"response": "ok"}))
    client = WorkersAI("acct", "tok", base_url=server.base_url, session_affinity="ses_12345678")
    client.chat("@cf/moonshotai/kimi-k2.6", USER, reject_if_busy=True, max_tokens=2400)
    client.chat(LLAMA, USER, session_affinity="ses_other")
    first, second = server.requests
    assert first.headers["x-session-affinity"] == "ses_12345678"
    assert first.json() == {"messages": USER, "max_tokens": 2400, "options": {"rejectIfBusy": True}}
    assert second.headers["x-session-affinity"] == "ses_other"


def test_invalid_max_retries() -> None:
    with pytest.raises(WorkersAIError, match="max_retries"):
        WorkersAI(max_retries=-1)


# --------------------------------------------------------------------------------------
# Per-call options: transport settings stay out of the body, connection settings refused
# --------------------------------------------------------------------------------------


def test_per_call_options_read_request_timeout_as_the_timeout() -> None:
    options = {"temperature": 0.2, "request_timeout": 5, "extra_headers": {"x-a": "1"}}
    assert per_call_options(options) == {
        "temperature": 0.2,
        "timeout": 5,
        "extra_headers": {"x-a": "1"},
    }
    assert options["request_timeout"] == 5  # the caller's mapping is left alone
    with pytest.raises(InvalidInputError, match="not both"):
        per_call_options({"timeout": 1, "request_timeout": 2})


@pytest.mark.parametrize("name", sorted(CONNECTION_SETTINGS))
def test_a_connection_setting_given_to_one_chat_call_is_refused_before_any_request(
    server: WorkersAIServer, name: str
) -> None:
    # Sent as model input, api_key would hand the token to the model (and its logs).
    with WorkersAI("acct", "tok", base_url=server.base_url) as client:
        with pytest.raises(InvalidInputError, match="connection setting") as raised:
            client.chat(LLAMA, [{"role": "user", "content": "hi"}], **{name: "x"})
    assert raised.value.field == name
    assert server.requests == []


def test_a_per_call_request_timeout_is_applied_and_never_sent(server: WorkersAIServer) -> None:
    server.enqueue(Reply.result({"response": "hi"}))
    with WorkersAI("acct", "tok", base_url=server.base_url) as client:
        client.chat(LLAMA, [{"role": "user", "content": "hi"}], request_timeout=7)
    (request,) = server.requests
    assert "request_timeout" not in request.json() and "timeout" not in request.json()


def test_a_header_that_is_not_a_string_names_its_type_not_its_value() -> None:
    with pytest.raises(InvalidInputError) as info:
        WorkersAI("acct", "tok", default_headers={"X-Team": 7})  # type: ignore[dict-item]
    assert (info.value.message, info.value.field) == (
        "header 'X-Team' must be a string, got int",
        "headers",
    )


def test_extra_headers_that_differ_only_in_case_are_one_header() -> None:
    headers = {"Authorization": "Bearer t"}
    merge_headers(headers, {"X-Team": "a", "x-team": "b", "AUTHORIZATION": "Bearer u"})
    assert headers == {"x-team": "b", "AUTHORIZATION": "Bearer u"}
