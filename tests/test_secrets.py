"""Secrets: none in the committed cassettes, none in anything the package shows or logs.

1. Every cassette is decoded (gzip YAML, binary bodies, base64 runs inside text bodies) and
   scanned for Authorization headers, bearer/API-token-looking values and account ids other
   than the ``ACCOUNT_ID`` placeholder. The scanner is tested on planted secrets, and the
   scrubbing that produces the cassettes is tested for choosing the placeholder by where a
   value came from (not by what it looks like).
2. With a sentinel token (and a sentinel AI Gateway token), the core clients and every adapter
   class are built, shown, serialised, traced and used against the loopback server — a
   success, a stream, a retried 429, a 401 and a 5006 — while every logger is captured at
   DEBUG. The sentinel reaches the server (so the test uses it) and appears nowhere else:
   ``repr``/``str``/``model_dump``/``_identifying_params``/LangSmith params/LlamaIndex
   ``to_payload``/``to_dict``/``to_json``/instrumentation events/callbacks/log records/
   exception messages, reprs and tracebacks.
3. The package's modules log through module loggers and never configure logging.
"""

from __future__ import annotations

import ast
import asyncio
import base64
import binascii
import functools
import json
import logging
import re
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumps as lc_dumps
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.llms import ChatMessage
from llama_index.core.schema import NodeWithScore, TextNode
from pydantic import SecretStr
from vcr.request import Request

import langchain_workersai
import llamaindex_workersai
import workersai
from tests import _cassettes
from tests._cassettes import (
    ACCOUNT_PLACEHOLDER,
    CASSETTES,
    TOKEN_PLACEHOLDER,
    load_cassette,
    scrub_request,
    scrub_response,
)
from workersai import AsyncWorkersAI, GatewayOptions, RetryPolicy, WorkersAI, WorkersAIError
from workersai.testing import RecordedRequest, Reply, WorkersAIServer

TOKEN = "sentinel-TOKEN-8c1f4e2a9b7d"
GATEWAY_TOKEN = "sentinel-GWTOKEN-3d9a71c0"
ACCOUNT = "sentinelacct5e2d"
SECRETS = (TOKEN, GATEWAY_TOKEN)
CHAT_MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
FAST = RetryPolicy(initial_delay=0.001, max_delay=0.005)
PACKAGES = (workersai, langchain_workersai, llamaindex_workersai)

# -- 1. cassettes -------------------------------------------------------------------------

_SECRET_HEADERS = ("authorization", "cf-aig-authorization", "x-auth-key", "x-auth-email", "cookie")
_BEARER = re.compile(rb"bearer\s+[^\s\"']+", re.IGNORECASE)
# Cloudflare API tokens are 40 URL-safe characters; runs inside longer base64 don't count.
_TOKEN_LIKE = re.compile(rb"(?<![A-Za-z0-9_+/=-])[A-Za-z0-9_-]{40}(?![A-Za-z0-9_+/=-])")
# Account ids are 32 hex digits; ids the API itself generates carry a known prefix.
_HEX32 = re.compile(rb"(?<![0-9a-fA-F])[0-9a-fA-F]{32}(?![0-9a-fA-F])")
_GENERATED_ID_PREFIXES = (b"chatcmpl-tool-", b"workersai-")  # tool-call ids, form boundaries
_SSE_PADDING = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # "p" fields
_ACCOUNT_PATH = re.compile(rb"/accounts/([^/?#\s\"']+)")
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/]{24,}={0,2}")
# Credentials that exist somewhere in this repository's tooling (compose mode, replay mode).
_KNOWN_CREDENTIALS = (
    b"0123456789abcdef0123456789abcdef",
    b"composed-token-not-a-secret",
    b"test-token",
)


def _as_bytes(value: Any) -> bytes:
    if value is None:
        return b""
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _expanded(body: bytes) -> Iterator[bytes]:
    """The body, and what every base64 run inside it decodes to (images, audio, nested)."""
    yield body
    for run in _BASE64_RUN.findall(body):
        try:
            yield base64.b64decode(run + b"=" * (-len(run) % 4))
        except (binascii.Error, ValueError):
            continue


def _body_problems(body: bytes) -> list[str]:
    problems = []
    for blob in _expanded(body):
        for match in _BEARER.findall(blob):
            problems.append(f"bearer credential {match[:20]!r}")
        for match in _TOKEN_LIKE.findall(blob):
            if match not in _SSE_PADDING:
                problems.append(f"token-like value {match[:6]!r}...")
        for match in _HEX32.finditer(blob):
            if not blob[: match.start()].endswith(_GENERATED_ID_PREFIXES):
                problems.append(f"account-id-like value {match.group()[:6]!r}...")
        for account in _ACCOUNT_PATH.findall(blob):
            if account != ACCOUNT_PLACEHOLDER.encode():
                problems.append(f"account id {account[:6]!r}... in a path")
        for known in _KNOWN_CREDENTIALS:
            if known in blob:
                problems.append(f"credential {known[:6]!r}...")
    return problems


def cassette_problems(cassette: dict[str, Any]) -> list[str]:
    """Everything in a decoded cassette that looks like a credential."""
    problems = []
    for request in cassette["requests"]:
        for name in request.headers:
            if name.lower() in _SECRET_HEADERS:
                problems.append(f"request header {name}")
        for account in _ACCOUNT_PATH.findall(request.uri.encode()):
            if account != ACCOUNT_PLACEHOLDER.encode():
                problems.append(f"account id {account[:6]!r}... in {request.uri[:40]}")
        problems += _body_problems(request.uri.encode())
        problems += [f"request body: {p}" for p in _body_problems(_as_bytes(request.body))]
    for response in cassette["responses"]:
        for name in response["headers"]:
            if name.lower() in (*_SECRET_HEADERS, "set-cookie"):
                problems.append(f"response header {name}")
        body = _as_bytes(response["body"]["string"])
        problems += [f"response body: {p}" for p in _body_problems(body)]
    return problems


CASSETTE_FILES = sorted(CASSETTES.glob("*.yaml.gz"))


@functools.cache
def _decoded(path: Path) -> dict[str, Any]:
    return load_cassette(path)


def test_there_are_cassettes_with_binary_and_base64_bodies_to_scan() -> None:
    # Guards the scan below against silently scanning nothing, or only text.
    assert len(CASSETTE_FILES) > 100
    bodies = [
        _as_bytes(r["body"]["string"]) for f in CASSETTE_FILES for r in _decoded(f)["responses"]
    ]
    assert any(b and not _is_utf8(b) for b in bodies)  # stored as YAML !!binary
    assert any(len(list(_expanded(b))) > 1 for b in bodies)  # base64 inside JSON


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@pytest.mark.parametrize("path", CASSETTE_FILES, ids=lambda p: p.name.removesuffix(".yaml.gz"))
def test_cassette_holds_no_credentials(path: Path) -> None:
    assert cassette_problems(_decoded(path)) == []


def _planted(
    *, headers: dict[str, Any] | None = None, uri: str = "", body: bytes = b"", answer: bytes = b""
) -> dict[str, Any]:
    root = f"https://api.cloudflare.com/client/v4/accounts/{ACCOUNT_PLACEHOLDER}/ai/run/@cf/x"
    return {
        "requests": [Request("POST", uri or root, body, headers or {})],
        "responses": [{"status": {"code": 200}, "headers": {}, "body": {"string": answer}}],
    }


@pytest.mark.parametrize(
    ("cassette", "found"),
    [
        (_planted(headers={"Authorization": "Bearer x"}), "request header"),
        (_planted(uri="https://api.cloudflare.com/client/v4/accounts/abc123/ai/run/x"), "account"),
        (_planted(body=b'{"auth": "Bearer abc.def"}'), "bearer"),
        (_planted(answer=b'{"token": "' + b"Ab3_" * 10 + b'"}'), "token-like"),
        (_planted(answer=b'{"id": "' + b"0f" * 16 + b'"}'), "account-id-like"),
        (_planted(answer=base64.b64encode(b"xx /accounts/deadbeef/ai/run yy")), "in a path"),
        (_planted(answer=base64.b64encode(b"Authorization: Bearer s3cr3t-value")), "bearer"),
        (_planted(body=b"composed-token-not-a-secret"), "credential"),
    ],
)
def test_the_scanner_finds_planted_credentials(cassette: dict[str, Any], found: str) -> None:
    assert any(found in problem for problem in cassette_problems(cassette))


def test_the_scanner_accepts_generated_ids_and_padding() -> None:
    answer = (
        b'{"id": "chatcmpl-tool-'
        + b"ab" * 16
        + b'", "p": "'
        + _SSE_PADDING[:40]
        + b'", "image": "'
        + base64.b64encode(bytes(range(256)) * 4)
        + b'"}'
    )
    assert cassette_problems(_planted(answer=answer)) == []


# The bug this fixes: the placeholder used to be chosen from the *value* ("TOKEN" in it, or
# longer than 32 characters), so a short token became "ACCOUNT_ID" and an account id
# containing "token" became "TOKEN".
@pytest.mark.parametrize(
    ("account_id", "token"),
    [
        pytest.param("0123456789abcdef0123456789abcdef", "Zq9xR2-short-tok", id="short-token"),
        pytest.param("my-token-account", "a" * 40, id="account-id-says-token"),
        pytest.param("acct-9f8e", "acct-9f8e-and-more-token", id="token-contains-account-id"),
    ],
)
def test_scrubbing_chooses_the_placeholder_by_the_variable(
    monkeypatch: pytest.MonkeyPatch, account_id: str, token: str
) -> None:
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", account_id)
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", token)
    body = json.dumps({"echo": f"{account_id} {token}"}).encode()
    request = Request(
        "POST",
        f"http://127.0.0.1:8765/client/v4/accounts/{account_id}/ai/run/@cf/x",
        body,
        {"Authorization": f"Bearer {token}"},
    )
    scrubbed = scrub_request(request)
    assert (
        scrubbed.uri
        == f"https://api.cloudflare.com/client/v4/accounts/{ACCOUNT_PLACEHOLDER}/ai/run/@cf/x"
    )
    assert scrubbed.headers == {}
    assert json.loads(scrubbed.body) == {"echo": f"{ACCOUNT_PLACEHOLDER} {TOKEN_PLACEHOLDER}"}
    response = scrub_response(
        {
            "headers": {"Set-Cookie": ["x"], "content-type": ["application/json"]},
            "body": {"string": f"{token}|{account_id}".encode()},
        }
    )
    assert response["body"]["string"] == f"{TOKEN_PLACEHOLDER}|{ACCOUNT_PLACEHOLDER}".encode()
    assert list(response["headers"]) == ["content-type"]


def test_scrubbing_covers_credentials_read_from_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in (
        "CLOUDFLARE_ACCOUNT_ID",
        "CF_ACCOUNT_ID",
        "CLOUDFLARE_API_TOKEN",
        "CF_AI_API_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "token").write_text("file-held-secret-77\n")
    (tmp_path / "account").write_text("fileacct42\n")
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN_FILE", str(tmp_path / "token"))
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID_FILE", str(tmp_path / "account"))
    assert _cassettes._scrub_text("fileacct42 file-held-secret-77") == (
        f"{ACCOUNT_PLACEHOLDER} {TOKEN_PLACEHOLDER}"
    )


# -- 2. the sentinel token ------------------------------------------------------------------


class Shown:
    """Collects everything a user, a tracer or a log could see, and checks it."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []

    def add(self, where: str, value: Any) -> None:
        text = value if isinstance(value, str) else repr(value)
        self.texts.append((where, text))

    def look(self, where: str, obj: Any, *methods: str) -> None:
        self.add(f"{where} repr", repr(obj))
        self.add(f"{where} str", str(obj))
        self.add(f"{where} vars", _safe_vars(obj))
        for name in methods:
            method = getattr(obj, name, None)
            if method is None:
                continue
            value = method() if callable(method) else method
            self.add(f"{where}.{name}", value)
            self.add(f"{where}.{name} json", json.dumps(value, default=repr))

    def error(self, where: str, error: BaseException) -> None:
        self.add(f"{where} str", str(error))
        self.add(f"{where} repr", repr(error))
        self.add(f"{where} vars", _safe_vars(error))
        self.add(f"{where} traceback", "".join(traceback.format_exception(error)))

    def assert_clean(self) -> None:
        assert len(self.texts) > 20  # something was looked at
        leaks = [where for where, text in self.texts if any(s in text for s in SECRETS)]
        assert leaks == []


def _safe_vars(obj: Any) -> str:
    try:
        return repr(vars(obj))
    except TypeError:  # slots
        return repr({k: getattr(obj, k, None) for k in getattr(type(obj), "__slots__", ())})


def _gateway() -> GatewayOptions:
    return GatewayOptions(id="gw", authorization=SecretStr(GATEWAY_TOKEN))


USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


def answer(request: RecordedRequest) -> Reply:
    """A correct answer for whatever the adapters send (chat, stream, embed, rerank)."""
    body = request.json() or {}
    if "text" in body:
        return Reply.result(
            {"shape": [len(body["text"]), 2], "data": [[0.1, 0.2]] * len(body["text"])}
        )
    if "contexts" in body:
        return Reply.result(
            {"response": [{"id": i, "score": 0.5} for i in range(len(body["contexts"]))]}
        )
    if body.get("stream"):
        return Reply.sse([{"response": "Hi"}, {"response": "", "usage": USAGE}])
    return Reply.result({"response": "Hi", "usage": USAGE})


FAILURES = (
    Reply.error(401, 10000, "Authentication error"),
    Reply.error(400, 5006, "AiError: Bad input: Error: Type mismatch of '/messages/0/content'"),
)


@pytest.fixture
def shown(caplog: pytest.LogCaptureFixture) -> Iterator[Shown]:
    """Every logger at DEBUG for the test; the records are checked at the end."""
    collected = Shown()
    caplog.set_level(logging.DEBUG)
    for name in ("workersai", "langchain_workersai", "llamaindex_workersai", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    yield collected
    records = caplog.get_records("call")
    for record in records:
        collected.add(f"log {record.name}", record.getMessage())
        collected.add(f"log {record.name} args", record.args)
        if record.exc_info:
            collected.add(
                f"log {record.name} exc", "".join(traceback.format_exception(*record.exc_info))
            )
    assert any(r.name.startswith("workersai") and "Retrying" in r.getMessage() for r in records)
    assert any(r.levelno == logging.DEBUG for r in records)
    collected.assert_clean()


def _sent_the_sentinel(server: WorkersAIServer) -> None:
    """The secrets did reach the server: a test that never used them could not fail."""
    assert len(server.requests) > 5
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in server.requests)
    gateway = [r.headers.get("cf-aig-authorization") for r in server.requests]
    assert gateway.count(f"Bearer {GATEWAY_TOKEN}") > len(gateway) // 2
    assert all(f"/accounts/{ACCOUNT}/" in r.path for r in server.requests)


def _failing_calls(
    server: WorkersAIServer, shown: Shown, where: str, call: Callable[[], Any]
) -> None:
    for reply, code in zip(FAILURES, (10000, 5006), strict=True):
        server.enqueue(reply)
        with pytest.raises(WorkersAIError) as info:
            call()
        assert info.value.code == code  # type: ignore[attr-defined]
        shown.error(f"{where} {code}", info.value)


def test_core_clients_never_show_the_token(server: WorkersAIServer, shown: Shown) -> None:
    server.handler = answer
    user = [{"role": "user", "content": "hi"}]
    sync = WorkersAI(
        ACCOUNT, TOKEN, base_url=server.base_url, gateway=_gateway(), retry_policy=FAST
    )
    as_secret = WorkersAI(ACCOUNT, SecretStr(TOKEN), base_url=server.base_url, gateway=_gateway())
    for where, client in (("sync", sync), ("secretstr", as_secret)):
        shown.look(where, client)
        shown.look(f"{where} credentials", client._credentials)
        shown.look(f"{where} gateway", client.gateway, "model_dump", "model_dump_json")
    server.enqueue(
        Reply.error(429, 3040, "Capacity temporarily exceeded", headers={"Retry-After": "0"})
    )
    shown.add("chat", sync.chat(CHAT_MODEL, user))
    shown.add("stream", list(sync.stream_chat(CHAT_MODEL, user)))
    shown.add("embed", sync.embed("@cf/baai/bge-base-en-v1.5", ["a", "b"]))
    _failing_calls(server, shown, "sync", lambda: sync.chat(CHAT_MODEL, user))
    server.enqueue(Reply.connection_reset())
    with pytest.raises(WorkersAIError) as info:
        WorkersAI(ACCOUNT, TOKEN, base_url=server.base_url, max_retries=0).chat(CHAT_MODEL, user)
    shown.error("reset", info.value)
    sync.close()

    async def use_async() -> None:
        client = AsyncWorkersAI(ACCOUNT, TOKEN, base_url=server.base_url, gateway=_gateway())
        shown.look("async", client)
        shown.add("achat", await client.chat(CHAT_MODEL, user))
        for reply in FAILURES:
            server.enqueue(reply)
            with pytest.raises(WorkersAIError) as failure:
                await client.chat(CHAT_MODEL, user)
            shown.error("async", failure.value)
        await client.aclose()

    asyncio.run(use_async())
    _sent_the_sentinel(server)


class Recorder(BaseCallbackHandler):
    """What a tracer (LangSmith) receives: serialized objects, invocation params, metadata."""

    def __init__(self, shown: Shown) -> None:
        self.shown = shown

    def _record(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.shown.add(f"callback {name}", (args, kwargs))

    def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None:
        self._record("chat_model_start", *args, **kwargs)

    def on_llm_end(self, *args: Any, **kwargs: Any) -> None:
        self._record("llm_end", *args, **kwargs)

    def on_llm_error(self, *args: Any, **kwargs: Any) -> None:
        self._record("llm_error", *args, **kwargs)

    def on_chain_start(self, *args: Any, **kwargs: Any) -> None:
        self._record("chain_start", *args, **kwargs)

    def on_chain_error(self, *args: Any, **kwargs: Any) -> None:
        self._record("chain_error", *args, **kwargs)


def test_langchain_classes_never_show_the_token(server: WorkersAIServer, shown: Shown) -> None:
    server.handler = answer
    conn: dict[str, Any] = {
        "account_id": ACCOUNT,
        "api_key": TOKEN,
        "base_url": server.base_url,
        "gateway": _gateway(),
    }
    chat = langchain_workersai.ChatWorkersAI(**conn, temperature=0.2)
    objects: dict[str, Any] = {
        "chat": chat,
        "embeddings": langchain_workersai.WorkersAIEmbeddings(**conn),
        "reranker": langchain_workersai.WorkersAIReranker(**conn),
        "image": langchain_workersai.WorkersAIImage(**conn),
        "translator": langchain_workersai.WorkersAITranslator(**conn, target_lang="fr"),
        "summarizer": langchain_workersai.WorkersAISummarizer(**conn),
        "whisper": langchain_workersai.WorkersAIWhisperParser(**conn),
    }
    loader = langchain_workersai.WorkersAIWhisperLoader("speech.wav", **conn)
    shown.look("whisper loader", loader)
    for where, obj in objects.items():
        shown.look(where, obj, "model_dump", "to_json")
        shown.add(f"{where} model_dump json", obj.model_dump_json())
        shown.add(f"{where} dumps", lc_dumps(obj))
    shown.add("chat identifying params", chat._identifying_params)
    shown.add("chat ls params", chat._get_ls_params())
    shown.add("chat default params", chat._default_params)
    callbacks = {"callbacks": [Recorder(shown)]}
    server.enqueue(
        Reply.error(429, 3040, "Capacity temporarily exceeded", headers={"Retry-After": "0"})
    )
    shown.add("invoke", chat.invoke("hi", config=callbacks))
    shown.add("stream", list(chat.stream("hi", config=callbacks)))
    shown.add("embed", objects["embeddings"].embed_documents(["a"]))
    shown.add("rerank", objects["reranker"].rerank(["a", "b"], "q"))
    _failing_calls(server, shown, "langchain", lambda: chat.invoke("hi", config=callbacks))
    _sent_the_sentinel(server)


class EventRecorder(BaseEventHandler):
    """What LlamaIndex instrumentation (and any observability integration) receives."""

    seen: list[str] = []

    @classmethod
    def class_name(cls) -> str:
        return "EventRecorder"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.seen.append(repr(event.model_dump()) + repr(kwargs))


@pytest.fixture
def events() -> Iterator[EventRecorder]:
    dispatcher = get_dispatcher()
    recorder = EventRecorder(seen=[])
    dispatcher.add_event_handler(recorder)
    try:
        yield recorder
    finally:
        dispatcher.event_handlers.remove(recorder)


def test_llamaindex_classes_never_show_the_token(
    server: WorkersAIServer, shown: Shown, events: EventRecorder
) -> None:
    server.handler = answer
    conn: dict[str, Any] = {
        "account_id": ACCOUNT,
        "api_token": TOKEN,
        "base_url": server.base_url,
        "gateway": _gateway(),
    }
    llm = llamaindex_workersai.WorkersAI(**conn)
    objects: dict[str, Any] = {
        "llm": llm,
        "embedding": llamaindex_workersai.WorkersAIEmbedding(**conn),
        "rerank": llamaindex_workersai.WorkersAIRerank(**conn),
        "reader": llamaindex_workersai.WorkersAIWhisperReader(**conn),
        "llm api_key": llamaindex_workersai.WorkersAI(**{**conn, "api_token": None}, api_key=TOKEN),
    }
    for where, obj in objects.items():
        shown.look(where, obj, "to_payload", "to_dict", "model_dump")
        shown.add(f"{where} to_json", obj.to_json())
        shown.add(f"{where} metadata", getattr(obj, "metadata", None))
    tools = llamaindex_workersai.WorkersAIImageToolSpec(**conn)
    shown.look("image tool spec", tools)
    shown.add("image tools", [t.metadata for t in tools.to_tool_list()])
    server.enqueue(
        Reply.error(429, 3040, "Capacity temporarily exceeded", headers={"Retry-After": "0"})
    )
    user = [ChatMessage(role="user", content="hi")]
    shown.add("chat", llm.chat(user))  # the 429 is retried (Retry-After: 0)
    shown.add("stream", list(llm.stream_chat(user)))
    shown.add("embed", objects["embedding"].get_text_embedding_batch(["a", "b"]))
    nodes = [NodeWithScore(node=TextNode(text="a")), NodeWithScore(node=TextNode(text="b"))]
    shown.add("rerank", objects["rerank"].postprocess_nodes(nodes, query_str="q"))
    _failing_calls(server, shown, "llamaindex", lambda: llm.chat(user))
    assert len(events.seen) > 5
    for index, event in enumerate(events.seen):
        shown.add(f"event {index}", event)
    _sent_the_sentinel(server)


# -- 3. logging hygiene ---------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _modules() -> list[tuple[str, ast.Module]]:
    found = []
    for package in PACKAGES:
        root = Path(package.__file__).parent  # type: ignore[arg-type]
        for path in sorted(root.rglob("*.py")):
            name = ".".join((package.__name__, *path.relative_to(root).with_suffix("").parts))
            found.append((name.removesuffix(".__init__"), ast.parse(path.read_text("utf-8"))))
    return found


def _is_logging_call(node: ast.Call, names: set[str]) -> bool:
    func = node.func
    return (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id == "logging"
        and func.attr in names
    )


_ROOT_LOGGING = {"basicConfig", "debug", "info", "warning", "error", "exception", "critical", "log"}


def test_no_module_configures_logging_or_logs_to_the_root_logger() -> None:
    modules = _modules()
    assert len(modules) > 30
    offenders = []
    for name, tree in modules:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _is_logging_call(node, _ROOT_LOGGING):
                offenders.append(f"{name}:{node.lineno} logging.{node.func.attr}")  # type: ignore[attr-defined]
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in (
                "addHandler",
                "setLevel",
            ):
                offenders.append(f"{name}:{node.lineno} .{node.func.attr}()")  # type: ignore[attr-defined]
            if (
                isinstance(node, ast.ImportFrom)
                and node.module == "logging"
                and any(alias.name in _ROOT_LOGGING for alias in node.names)
            ):
                offenders.append(f"{name}:{node.lineno} from logging import ...")
    assert offenders == []


def test_every_logger_is_the_modules_own() -> None:
    loggers = []
    for name, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _is_logging_call(node, {"getLogger"}):
                argument = node.args[0] if node.args else None
                is_module_logger = isinstance(argument, ast.Name) and argument.id == "__name__"
                loggers.append((name, node.lineno, is_module_logger))
    assert len(loggers) >= 5
    assert [(name, line) for name, line, ok in loggers if not ok] == []
