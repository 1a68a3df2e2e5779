"""Bad input to every public entry point of the core clients.

Out-of-range values, wrong types, empty and oversized inputs, unknown models, non-image bytes
given as images, text that is not valid Unicode and pathological tool schemas must end in an
:class:`InvalidInputError` (naming the offending field) before anything is sent — the
loopback server must see zero requests — or in a documented transformation (more than 100
texts are split into several requests). Never a ``KeyError``/``TypeError``/``AttributeError``
from inside the package.

Every call runs on both :class:`WorkersAI` and :class:`AsyncWorkersAI`.
"""

from __future__ import annotations

import base64
import inspect
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import LOOPBACK
from workersai import (
    AsyncChatStream,
    AsyncWorkersAI,
    ChatStream,
    InvalidInputError,
    ModelNotFoundError,
    RetryPolicy,
    WorkersAI,
)
from workersai.testing import RecordedRequest, Reply, WorkersAIServer

pytestmark = LOOPBACK

FIXTURES = Path(__file__).parent.parent / "fixtures"
PNG = (FIXTURES / "photo.png").read_bytes()
WAV = (FIXTURES / "speech.wav").read_bytes()
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n" * 4
NOT_UTF8 = "caf\udce9"  # b"caf\xe9".decode("utf-8", "surrogateescape"): a lone surrogate

LLAMA = "@cf/meta/llama-3.1-8b-instruct-fast"  # catalog: prompt/content maxLength 131072
LLAMA33 = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"  # catalog: top_p 0.001-1
SCOUT = "@cf/meta/llama-4-scout-17b-16e-instruct"  # vision
BGE = "@cf/baai/bge-small-en-v1.5"
PLAMO = "@cf/pfnet/plamo-embedding-1b"  # no known query instruction
FLUX_1 = "@cf/black-forest-labs/flux-1-schnell"  # prompt maxLength 2048, takes no width
FLUX_2 = "@cf/black-forest-labs/flux-2-klein-9b"  # multipart form
SDXL = "@cf/stabilityai/stable-diffusion-xl-base-1.0"
IMG2IMG = "@cf/runwayml/stable-diffusion-v1-5-img2img"
INPAINTING = "@cf/runwayml/stable-diffusion-v1-5-inpainting"
USER = [{"role": "user", "content": "hi"}]

Client = WorkersAI | AsyncWorkersAI


def _image_uri(uri: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "image_url", "image_url": {"url": uri}}]}


def _image_part(data: bytes, mime: str = "image/png") -> dict[str, Any]:
    return _image_uri(f"data:{mime};base64,{base64.b64encode(data).decode()}")


def _deep_schema(depth: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


_TOOL = {"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}
_RECURSIVE = {
    "type": "object",
    "properties": {"node": {"$ref": "#/$defs/Node"}},
    "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}},
}


async def _drive(value: Any) -> Any:
    """Await a coroutine and drain a stream, so lazy failures surface too."""
    if inspect.isawaitable(value):
        value = await value
    if isinstance(value, ChatStream):
        return list(value)
    if isinstance(value, AsyncChatStream):
        return [chunk async for chunk in value]
    return value


def case(call: Callable[[Any], Any], field: str | None, id: str) -> Any:
    """``call(client)`` must raise InvalidInputError whose ``field`` starts with ``field``
    (``None``: the field is not known, e.g. an encoding failure)."""
    return pytest.param(call, field, id=id)


CALLS = [
    # -- models: wrong type, empty, URL syntax, unknown short name, wrong task ------------
    case(lambda c: c.chat(123, USER), "model", "chat-model-int"),
    case(lambda c: c.chat(None, USER), "model", "chat-model-none"),
    case(lambda c: c.chat("  ", USER), "model", "chat-model-blank"),
    case(lambda c: c.chat("@cf/meta/llama?x=1", USER), "model", "chat-model-url-syntax"),
    case(lambda c: c.chat("llama-3-70b-instruct", USER), "model", "chat-model-unknown-name"),
    case(lambda c: c.chat(BGE, USER), "model", "chat-embedding-model"),
    case(lambda c: c.stream_chat(FLUX_1, USER), "model", "stream-image-model"),
    case(lambda c: c.embed(LLAMA, ["x"]), "model", "embed-chat-model"),
    case(lambda c: c.rerank("q", ["a"], model=LLAMA), "model", "rerank-chat-model"),
    case(lambda c: c.generate_image("x", model=LLAMA), "model", "image-chat-model"),
    case(lambda c: c.transcribe(WAV, model=BGE), "model", "transcribe-embedding-model"),
    case(lambda c: c.translate("x", "fr", model=LLAMA), "model", "translate-chat-model"),
    case(lambda c: c.model_schema(5), "model", "schema-model-int"),
    case(lambda c: c.run(["@cf/x"], {}), "model", "run-model-list"),
    # -- messages ------------------------------------------------------------------------
    case(lambda c: c.chat(LLAMA, 5), "messages", "messages-int"),
    case(lambda c: c.chat(LLAMA, "hello"), "messages", "messages-str"),
    case(lambda c: c.chat(LLAMA, {"role": "user", "content": "x"}), "messages", "messages-dict"),
    case(lambda c: c.chat(LLAMA, []), "messages", "messages-empty"),
    case(lambda c: c.chat(LLAMA), "messages", "messages-missing"),
    case(lambda c: c.chat(LLAMA, [5]), "messages.0", "message-int"),
    case(lambda c: c.chat(LLAMA, [{"content": "x"}]), "messages.0.role", "message-no-role"),
    case(lambda c: c.chat(LLAMA, [{"role": "user", "content": 5}]), "messages", "content-int"),
    case(
        lambda c: c.chat(LLAMA, [{"role": "user", "content": "caf\xe9".encode("latin-1")}]),
        "messages",
        "content-bytes",
    ),
    case(
        lambda c: c.chat(LLAMA, [{"role": "user", "content": NOT_UTF8}]), None, "content-not-utf8"
    ),
    case(
        lambda c: c.chat(LLAMA, [{"role": "user", "content": "x" * 131_073}]),
        "messages.0.content",
        "content-over-maxlength",
    ),
    case(
        lambda c: c.chat(LLAMA, [{"role": "user", "content": [{"type": "audio", "x": 1}]}]),
        "messages",
        "content-part-unknown",
    ),
    case(
        lambda c: c.chat(LLAMA, [{"role": "assistant", "content": "", "tool_calls": 5}]),
        "messages.0.tool_calls",
        "tool-calls-int",
    ),
    case(
        lambda c: c.chat(LLAMA, [{"role": "assistant", "content": "", "tool_calls": [5]}]),
        "messages",
        "tool-call-int",
    ),
    case(
        lambda c: c.chat(LLAMA, [{"role": "assistant", "tool_calls": [{"args": {}}]}]),
        "messages",
        "tool-call-no-name",
    ),
    case(lambda c: c.chat(LLAMA, [{"role": "tool", "content": "4"}]), "messages.0", "tool-no-id"),
    # -- images in chat --------------------------------------------------------------------
    case(lambda c: c.chat(SCOUT, [_image_part(PDF)]), "messages", "image-part-pdf-bytes"),
    case(lambda c: c.chat(SCOUT, [_image_part(WAV)]), "messages", "image-part-audio-bytes"),
    case(lambda c: c.chat(SCOUT, [_image_uri("data:image/png;base64,!!")]), "messages", "b64"),
    case(lambda c: c.chat(LLAMA, [_image_part(PNG)]), "messages", "image-to-text-only-model"),
    # -- generation parameters -----------------------------------------------------------
    case(lambda c: c.chat(LLAMA, USER, temperature=9), "temperature", "temperature-high"),
    case(lambda c: c.chat(LLAMA, USER, temperature="hot"), "temperature", "temperature-str"),
    case(lambda c: c.chat(LLAMA, USER, temperature=math.nan), "temperature", "temperature-nan"),
    case(lambda c: c.chat(LLAMA, USER, max_tokens=0), "max_tokens", "max-tokens-zero"),
    case(lambda c: c.chat(LLAMA, USER, max_tokens=2.5), "max_tokens", "max-tokens-float"),
    case(lambda c: c.chat(LLAMA, USER, top_k=51), "top_k", "top-k-high"),
    case(lambda c: c.chat(LLAMA33, USER, top_p=1.5), "top_p", "top-p-model-range"),
    case(lambda c: c.chat(LLAMA, USER, seed=0), "seed", "seed-zero"),
    case(lambda c: c.chat(LLAMA, USER, stop=5), "stop", "stop-int"),
    case(lambda c: c.chat(LLAMA, USER, reasoning_effort="max"), "reasoning_effort", "effort"),
    case(lambda c: c.chat(LLAMA, USER, endpoint="v2"), "endpoint", "endpoint-unknown"),
    case(lambda c: c.chat(LLAMA, USER, prompt="x"), "prompt", "prompt-and-messages"),
    case(lambda c: c.chat(LLAMA, prompt=""), "prompt", "prompt-empty"),
    case(lambda c: c.chat(LLAMA, prompt=5), "prompt", "prompt-int"),
    case(lambda c: c.chat(LLAMA, prompt="x" * 131_073), "prompt", "prompt-over-maxlength"),
    case(lambda c: c.chat(LLAMA, USER, lora="x", endpoint="openai"), "endpoint", "lora-openai"),
    case(lambda c: c.chat(LLAMA, USER, timeout="soon"), "timeout", "timeout-str"),
    case(lambda c: c.chat(LLAMA, USER, timeout=-1), "timeout", "timeout-negative"),
    case(lambda c: c.chat(LLAMA, USER, timeout=math.inf), "timeout", "timeout-inf"),
    case(lambda c: c.chat(LLAMA, USER, extra_headers=5), "headers", "extra-headers-int"),
    case(lambda c: c.chat(LLAMA, USER, extra_headers={"x-n": 1}), "headers", "header-value-int"),
    case(lambda c: c.chat(LLAMA, USER, extra_headers={"x-n": "é"}), "headers", "header-non-ascii"),
    case(lambda c: c.chat(LLAMA, USER, extra_headers={"x": "a\r\nb"}), "headers", "header-crlf"),
    case(lambda c: c.chat(LLAMA, USER, session_affinity=7), "headers", "affinity-int"),
    # -- tools, tool_choice, response_format -----------------------------------------------
    case(lambda c: c.chat(LLAMA33, USER, tools=5), "tools", "tools-int"),
    case(lambda c: c.chat(LLAMA33, USER, tools={"name": "f"}), "tools", "tools-dict"),
    case(lambda c: c.chat(LLAMA33, USER, tools=[5]), "tools.0", "tool-int"),
    case(lambda c: c.chat(LLAMA33, USER, tools=[{"description": "x"}]), "tools.0", "tool-no-name"),
    case(
        lambda c: c.chat(LLAMA33, USER, tools=[{"name": "f", "parameters": "x"}]),
        "tools.0",
        "tool-parameters-str",
    ),
    case(lambda c: c.chat(LLAMA33, USER, tools=[_TOOL, _TOOL]), "tools", "tool-names-repeat"),
    case(
        lambda c: c.chat(LLAMA33, USER, tools=[{"name": "f", "parameters": _deep_schema(3000)}]),
        None,
        "tool-schema-too-deep",
    ),
    case(
        lambda c: c.chat(LLAMA33, USER, tools=[{"name": "f", "parameters": _RECURSIVE}]),
        None,
        "tool-schema-recursive-ref",
    ),
    case(
        lambda c: c.chat(
            LLAMA33, USER, tools=[{"name": "f", "parameters": {"$ref": "#/$defs/Missing"}}]
        ),
        None,
        "tool-schema-dangling-ref",
    ),
    case(lambda c: c.chat(LLAMA33, USER, tools=[_TOOL], tool_choice="magic"), "tool_choice", "tc"),
    case(lambda c: c.chat(LLAMA33, USER, tools=[_TOOL], tool_choice=5), "tool_choice", "tc-int"),
    case(
        lambda c: c.chat(LLAMA33, USER, tools=[_TOOL], tool_choice={"name": "sub"}),
        "tool_choice",
        "tc-unbound",
    ),
    case(lambda c: c.chat(LLAMA, USER, response_format="json"), "response_format", "rf-str"),
    case(lambda c: c.chat(LLAMA, USER, response_format={"type": "xml"}), "response_format", "rf"),
    case(
        lambda c: c.chat(LLAMA, USER, response_format={"type": "json_schema"}),
        "response_format",
        "rf-schema-missing",
    ),
    # -- embeddings ----------------------------------------------------------------------
    case(lambda c: c.embed(BGE, 5), "text", "embed-texts-int"),
    case(lambda c: c.embed(BGE, None), "text", "embed-texts-none"),
    case(lambda c: c.embed(BGE, "one text"), "text", "embed-texts-str"),
    case(lambda c: c.embed(BGE, {"a": 1}), "text", "embed-texts-dict"),
    case(lambda c: c.embed(BGE, ["a", ""]), "text.1", "embed-empty-text"),
    case(lambda c: c.embed(BGE, ["a", 5]), "text.1", "embed-text-int"),
    case(lambda c: c.embed(BGE, [b"caf\xe9"]), "text.0", "embed-text-bytes"),
    case(lambda c: c.embed(BGE, ["ok", NOT_UTF8]), None, "embed-text-not-utf8"),
    case(lambda c: c.embed(BGE, ["x"], batch_size=0), "batch_size", "embed-batch-size-zero"),
    case(lambda c: c.embed(BGE, ["x"], batch_size=True), "batch_size", "embed-batch-size-bool"),
    case(lambda c: c.embed(BGE, ["x"], max_concurrency=0), "max_concurrency", "embed-conc"),
    case(lambda c: c.embed(BGE, ["x"], pooling="max"), "pooling", "embed-pooling"),
    case(
        lambda c: c.embed(BGE, ["x"], pooling="cls", endpoint="openai"),
        "pooling",
        "embed-pooling-openai",
    ),
    case(lambda c: c.embed(BGE, ["x"], kind="passage"), "kind", "embed-kind"),
    case(lambda c: c.embed(BGE, ["x"], endpoint="grpc"), "endpoint", "embed-endpoint"),
    case(
        lambda c: c.embed(BGE, ["x"], kind="query", query_instruction=5),
        "query_instruction",
        "embed-instruction-int",
    ),
    case(
        lambda c: c.embed(PLAMO, ["x"], kind="query", query_instruction=True),
        "query_instruction",
        "embed-instruction-unknown",
    ),
    case(
        lambda c: c.embed(BGE, ["x"], endpoint="openai", use_batch_api=True),
        "endpoint",
        "embed-batch-api-openai",
    ),
    # -- reranking -----------------------------------------------------------------------
    case(lambda c: c.rerank(5, ["a"]), "query", "rerank-query-int"),
    case(lambda c: c.rerank("", ["a"]), "query", "rerank-query-empty"),
    case(lambda c: c.rerank("q", 5), "contexts", "rerank-docs-int"),
    case(lambda c: c.rerank("q", None), "contexts", "rerank-docs-none"),
    case(lambda c: c.rerank("q", "one doc"), "contexts", "rerank-docs-str"),
    case(lambda c: c.rerank("q", ["a", 5]), "contexts.1", "rerank-doc-int"),
    case(lambda c: c.rerank("q", ["a", ""]), "contexts.1", "rerank-doc-empty"),
    case(lambda c: c.rerank("q", ["a"], top_k=0), "top_k", "rerank-top-k-zero"),
    case(lambda c: c.rerank("q", ["a"], top_k="2"), "top_k", "rerank-top-k-str"),
    # -- run / stream --------------------------------------------------------------------
    case(lambda c: c.run(LLAMA, 5), "inputs", "run-inputs-int"),
    case(lambda c: c.run(LLAMA, "hello"), "inputs", "run-inputs-str"),
    case(lambda c: c.run(LLAMA, {"prompt": "x", "temperature": 9}), "temperature", "run-range"),
    case(lambda c: c.run(LLAMA, {"prompt": "x", "stream": True}), "stream", "run-stream-flag"),
    case(lambda c: c.run(LLAMA, b"raw", reject_if_busy=True), "reject_if_busy", "run-raw-busy"),
    case(lambda c: c.run(LLAMA, {"prompt": "x"}, query=5), "query", "run-query-int"),
    case(lambda c: c.run(LLAMA, {"prompt": "x"}, headers=["a"]), "headers", "run-headers-list"),
    case(lambda c: c.run(LLAMA, {"prompt": NOT_UTF8}), None, "run-not-utf8"),
    case(lambda c: c.stream(LLAMA, b"raw"), "inputs", "stream-bytes"),
    case(lambda c: c.stream(LLAMA, {}), None, "stream-no-prompt"),
    # -- task methods ----------------------------------------------------------------------
    case(lambda c: c.translate(None, "fr"), "text", "translate-none"),
    case(lambda c: c.translate("x", 5), "target_lang", "translate-lang-int"),
    case(lambda c: c.summarize("x", max_length=-5), "max_length", "summarize-length"),
    case(lambda c: c.summarize(""), "input_text", "summarize-empty"),
    case(lambda c: c.classify_text(""), "text", "classify-empty"),
    case(lambda c: c.classify_image(None), None, "classify-image-none"),
    case(lambda c: c.classify_image(PDF), "image", "classify-image-pdf"),
    case(lambda c: c.classify_image(WAV), "image", "classify-image-audio"),
    case(lambda c: c.classify_image(b""), None, "classify-image-empty"),
    case(lambda c: c.classify_image("no/such/file.png"), None, "classify-image-missing-file"),
    case(lambda c: c.classify_image("https://x.test/cat.png"), None, "classify-image-url"),
    case(lambda c: c.describe_image(PDF), "image", "describe-image-pdf"),
    case(lambda c: c.describe_image(None), None, "describe-image-none"),
    case(lambda c: c.detect_objects(12), None, "detect-image-int"),
    case(lambda c: c.generate_image(""), "prompt", "image-prompt-empty"),
    case(lambda c: c.generate_image(5), "prompt", "image-prompt-int"),
    case(lambda c: c.generate_image("x" * 2049), "prompt", "image-prompt-over-maxlength"),
    case(lambda c: c.generate_image("x", width=512), "width", "image-flux1-width"),
    case(lambda c: c.generate_image("x", num_steps=99), "steps", "image-steps-high"),
    case(lambda c: c.generate_image("x", model=SDXL, width="big"), "width", "image-width-str"),
    case(lambda c: c.generate_image("x", model=IMG2IMG, image=PDF), "image", "image-not-image"),
    case(lambda c: c.generate_image("x", model=IMG2IMG), "image", "img2img-without-image"),
    case(lambda c: c.generate_image("x", model=INPAINTING, image=PNG), "mask", "inpaint-no-mask"),
    case(lambda c: c.generate_image("x", image=PNG), "image", "flux1-takes-no-image"),
    case(lambda c: c.generate_image(NOT_UTF8, model=FLUX_2), None, "flux2-form-not-utf8"),
    case(lambda c: c.generate_image("x", model=FLUX_2, image=[PNG] * 5), "image", "flux2-5-imgs"),
    case(lambda c: c.transcribe(None), None, "transcribe-none"),
    case(lambda c: c.transcribe(PNG), "audio", "transcribe-image-bytes"),
    case(lambda c: c.transcribe(b""), None, "transcribe-empty"),
    case(lambda c: c.transcribe("no/such/file.mp3"), None, "transcribe-missing-file"),
    case(lambda c: c.transcribe(WAV, task="summarize"), "task", "transcribe-task"),
    case(lambda c: c.speak(None), None, "speak-none"),
    case(lambda c: c.speak(5), "prompt", "speak-int"),
    # -- batch API and catalog -----------------------------------------------------------
    case(lambda c: c.batch.submit(BGE, []), "requests", "batch-empty"),
    case(lambda c: c.batch.submit(BGE, 5), "requests", "batch-int"),
    case(lambda c: c.batch.submit(BGE, {"text": ["a"]}), "requests", "batch-dict"),
    case(lambda c: c.batch.submit(BGE, [5]), "requests.0", "batch-item-int"),
    case(
        lambda c: c.batch.submit(BGE, [{"text": ["x" * 1000]}] * 11_000),
        "requests",
        "batch-over-10mb",
    ),
    case(lambda c: c.batch.poll(BGE, ""), "request_id", "poll-empty-id"),
    case(lambda c: c.batch.poll(BGE, 5), "request_id", "poll-int-id"),
    case(lambda c: c.batch.wait(BGE, "id", poll_interval=0), "poll_interval", "wait-interval"),
    case(lambda c: c.batch.wait(BGE, "id", timeout=math.nan), "timeout", "wait-timeout-nan"),
    case(lambda c: c.list_models(per_page=0), "per_page", "models-per-page"),
    case(lambda c: c.list_models(task=5), "task", "models-task-int"),
    case(lambda c: c.list_models(search=["x"]), "search", "models-search-list"),
]


@pytest.fixture(params=[WorkersAI, AsyncWorkersAI], ids=["sync", "async"])
def flavour(request: pytest.FixtureRequest) -> type[Client]:
    kind: type[Client] = request.param
    return kind


@pytest.fixture
def client(flavour: type[Client], server: WorkersAIServer) -> Client:
    return flavour("acct", "tok", base_url=server.base_url, max_retries=0)


@pytest.mark.parametrize(("call", "field"), CALLS)
async def test_bad_call_fails_before_any_request(
    flavour: type[Client],
    shared_server: WorkersAIServer,
    call: Callable[[Any], Any],
    field: str | None,
) -> None:
    client = flavour("acct", "tok", base_url=shared_server.base_url, max_retries=0)
    sent_before = len(shared_server.requests)
    with pytest.raises(InvalidInputError) as info:
        await _drive(call(client))
    assert shared_server.requests[sent_before:] == []
    if field is not None:
        assert (info.value.field or "").startswith(field), (info.value.field, str(info.value))
    assert info.value.message


async def test_an_unknown_short_name_comes_with_suggestions(client: Client) -> None:
    with pytest.raises(InvalidInputError) as info:
        await _drive(client.embed("bge-base-en", ["x"]))
    assert info.value.hint is not None and "@cf/baai/bge-base-en-v1.5" in info.value.hint


# -- constructors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param({"account_id": 123}, "account_id", id="account-int"),
        pytest.param({"api_token": 123}, "api_token", id="token-int"),
        pytest.param({"base_url": 5}, "base_url", id="base-url-int"),
        pytest.param({"base_url": "api.cloudflare.com"}, "base_url", id="base-url-no-scheme"),
        pytest.param({"gateway": 5}, "gateway", id="gateway-int"),
        pytest.param({"gateway": ""}, "gateway", id="gateway-empty"),
        pytest.param({"gateway": {"id": "gw", "cache_ttl": -1}}, "gateway", id="gateway-ttl"),
        pytest.param(
            {"gateway": {"id": "gw", "max_attempts": 9}}, "gateway", id="gateway-attempts"
        ),
        pytest.param({"gateway": {"id": "gw", "ttl": 3}}, "gateway", id="gateway-unknown-key"),
        pytest.param({"timeout": "5"}, "timeout", id="timeout-str"),
        pytest.param({"timeout": 0}, "timeout", id="timeout-zero"),
        pytest.param({"timeout": math.nan}, "timeout", id="timeout-nan"),
        pytest.param({"timeout": True}, "timeout", id="timeout-bool"),
        pytest.param({"max_retries": -1}, "max_retries", id="retries-negative"),
        pytest.param({"max_retries": 1.5}, "max_retries", id="retries-float"),
        pytest.param({"max_retries": True}, "max_retries", id="retries-bool"),
        pytest.param({"default_headers": 5}, "default_headers", id="headers-int"),
        pytest.param({"session_affinity": 5}, "session_affinity", id="affinity-int"),
        pytest.param({"retry_policy": "fast"}, "retry_policy", id="retry-policy-str"),
        pytest.param({"http_client": "pool"}, "http_client", id="http-client-str"),
    ],
)
def test_bad_constructor_argument_is_refused_at_construction(
    flavour: type[Client], kwargs: dict[str, Any], field: str
) -> None:
    arguments: dict[str, Any] = {"account_id": "acct", "api_token": "tok", **kwargs}
    with pytest.raises(InvalidInputError) as info:
        flavour(**arguments)
    assert (info.value.field or "").startswith(field)


async def test_an_http_client_of_the_other_flavour_is_refused() -> None:
    async with httpx.AsyncClient() as async_pool:
        with pytest.raises(InvalidInputError, match=r"an httpx\.Client"):
            WorkersAI("acct", "tok", http_client=async_pool)  # type: ignore[arg-type]
    with httpx.Client() as sync_pool, pytest.raises(InvalidInputError, match=r"httpx\.AsyncClient"):
        AsyncWorkersAI("acct", "tok", http_client=sync_pool)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("account_id", "token", "field"),
    [
        pytest.param("acct/../other-account", "tok", "account_id", id="account-path"),
        pytest.param("acct id", "tok", "account_id", id="account-space"),
        pytest.param("acct", "tok\nen", "api_token", id="token-line-break"),
        pytest.param("acct", "tök", "api_token", id="token-non-ascii"),
        pytest.param("acct", '"tok"  ', "api_token", id="token-quoted-space"),
    ],
)
async def test_malformed_credentials_fail_at_the_first_call_without_echoing_the_token(
    server: WorkersAIServer, account_id: str, token: str, field: str
) -> None:
    # Like missing credentials, malformed ones (often from the environment) are reported by
    # the first call, not at construction — but still before anything is sent.
    for client in (
        WorkersAI(account_id, token, base_url=server.base_url),
        AsyncWorkersAI(account_id, token, base_url=server.base_url),
    ):
        with pytest.raises(InvalidInputError) as info:
            await _drive(client.chat(LLAMA, USER))
        assert info.value.field == field
        assert token not in str(info.value) + repr(info.value)
    assert server.requests == []


# -- documented transformations and pass-throughs -------------------------------------------


def _embed_answer(request: RecordedRequest) -> Reply:
    texts = request.json()["text"]
    return Reply.result(
        {"shape": [len(texts), 1], "data": [[float(t)] for t in texts], "pooling": "mean"}
    )


async def test_more_than_100_texts_are_split_into_requests_of_at_most_100(
    client: Client, server: WorkersAIServer
) -> None:
    server.handler = _embed_answer
    texts = [str(i) for i in range(250)]
    result = await _drive(client.embed(BGE, texts, max_concurrency=3))
    assert sorted(len(r.json()["text"]) for r in server.requests) == [50, 100, 100]
    assert result.vectors == [[float(i)] for i in range(250)]
    assert result.shape == [250, 1]


async def test_batch_size_above_the_model_limit_is_capped(
    client: Client, server: WorkersAIServer
) -> None:
    server.handler = _embed_answer
    await _drive(client.embed(BGE, [str(i) for i in range(101)], batch_size=500))
    assert sorted(len(r.json()["text"]) for r in server.requests) == [1, 100]


async def test_empty_lists_need_no_request(client: Client, server: WorkersAIServer) -> None:
    assert (await _drive(client.embed(BGE, []))).vectors == []
    assert await _drive(client.rerank("q", [])) == []
    assert server.requests == []


async def test_an_unknown_full_model_id_is_sent_and_answered_with_a_typed_error(
    client: Client, server: WorkersAIServer
) -> None:
    # Full ids pass through unchecked: new models appear before the bundled catalog knows
    # them. Workers AI's own answer (5007) becomes a typed, non-retried error.
    server.enqueue(Reply.error(400, 5007, "No such model @cf/acme/brand-new-9b or task"))
    with pytest.raises(ModelNotFoundError) as info:
        await _drive(client.chat("@cf/acme/brand-new-9b", USER))
    assert info.value.code == 5007
    assert [r.model for r in server.requests] == ["@cf/acme/brand-new-9b"]


async def test_a_huge_but_flat_tool_schema_is_sent_once_intact(
    client: Client, server: WorkersAIServer
) -> None:
    # Workers AI documents no size limit for tools, so a wide schema goes as it is (a too
    # large body would come back as 413 / 3006, RequestTooLargeError).
    properties = {f"field_{i}": {"type": "string", "description": "d" * 40} for i in range(3000)}
    tool = {"name": "fill_form", "parameters": {"type": "object", "properties": properties}}
    server.enqueue(Reply.result({"response": "ok"}))
    await _drive(client.chat(LLAMA33, USER, tools=[tool]))
    [request] = server.requests
    sent = request.json()["tools"][0]["function"]["parameters"]["properties"]
    assert sent == properties
    assert len(request.body) > 200_000


async def test_non_ascii_text_is_sent_as_utf8(client: Client, server: WorkersAIServer) -> None:
    # The counterpart of the lone-surrogate cases: real non-ASCII text is fine.
    server.enqueue(Reply.result({"response": "ok"}))
    text = "Ça va? 你好 🦙 \u0000 end"
    await _drive(client.chat(LLAMA, [{"role": "user", "content": text}]))
    assert server.requests[0].json()["messages"][0]["content"] == text
    assert "🦙".encode() in server.requests[0].body


def test_retry_policy_instance_is_accepted(fast_retries: RetryPolicy) -> None:
    assert WorkersAI("acct", "tok", retry_policy=fast_retries).retry_policy is fast_retries


async def test_non_ascii_gateway_metadata_is_sent_json_escaped(
    flavour: type[Client], server: WorkersAIServer
) -> None:
    # An HTTP header cannot carry raw UTF-8: the metadata JSON goes ASCII-escaped, which
    # decodes to the same object; a non-ASCII cache key cannot be escaped and is refused.
    server.enqueue(Reply.result({"response": "ok"}))
    metadata = {"team": "équipe", "run": 7}
    client = flavour(
        "acct", "tok", base_url=server.base_url, gateway={"id": "gw", "metadata": metadata}
    )
    await _drive(client.chat(LLAMA, USER))
    header = server.requests[0].headers["cf-aig-metadata"]
    assert header.isascii() and json.loads(header) == metadata
    refused = flavour(
        "acct", "tok", base_url=server.base_url, gateway={"id": "gw", "cache_key": "clé"}
    )
    with pytest.raises(InvalidInputError) as info:
        await _drive(refused.chat(LLAMA, USER))
    assert info.value.field == "headers" and "cf-aig-cache-key" in str(info.value)
    assert len(server.requests) == 1
