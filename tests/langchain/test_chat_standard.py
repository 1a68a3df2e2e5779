"""langchain-tests' standard integration suite for ChatWorkersAI, replayed from cassettes.

Two full runs of the suite:

* ``TestChatWorkersAI``: the native endpoint (``/ai/run``) with Llama 3.3 70B — legacy
  tool-call shapes (string argument values, no ids), native SSE with ``p`` padding and a
  usage trailer, JSON mode answered with an object.
* ``TestChatWorkersAIOpenAIEndpoint``: ``endpoint="openai"`` (``/ai/v1/chat/completions``)
  with Llama 4 Scout — OpenAI chunks with ``id-<ms>`` ids and the duplicated zero-usage
  terminal chunk, tool-call deltas, and image inputs.

The cassettes are composed from the documented wire formats (``tests/compose/chat.py``),
not recorded from the live API. The image the media tests download is composed too: in
compose mode the GET to raw.githubusercontent.com is answered locally with a generated PNG,
and the cassette holds that answer.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import httpcore
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage
from langchain_tests.integration_tests import ChatModelIntegrationTests

from langchain_workersai import ChatWorkersAI
from tests.compose.chat import GPT_OSS_120B, KIMI, LLAMA_31_FAST, LLAMA_33, SCOUT, STANDARD_SEED
from tests.conftest import MODE

pytestmark = pytest.mark.vcr

_MEDIA_HOST = "raw.githubusercontent.com"


def _composed_png() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (96, 64), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((8, 8, 40, 28), outline="black")
    draw.rectangle((56, 36, 88, 56), outline="black")
    draw.line((40, 18, 56, 46), fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def _composed_media(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Compose mode only: answer the media tests' image download locally (no internet)."""
    if MODE != "compose":
        yield
        return
    real = httpcore.ConnectionPool.handle_request
    png = _composed_png()

    def handle(self: httpcore.ConnectionPool, request: httpcore.Request) -> httpcore.Response:
        if request.url.host == _MEDIA_HOST.encode():
            return httpcore.Response(200, headers=[(b"content-type", b"image/png")], content=png)
        return real(self, request)

    monkeypatch.setattr(httpcore.ConnectionPool, "handle_request", handle)
    yield


def _invoke(llm: BaseChatModel, messages: Any, *, stream: bool) -> AIMessage:
    if not stream:
        result = llm.invoke(messages)
        assert isinstance(result, AIMessage)
        return result
    full: AIMessageChunk | None = None
    for chunk in llm.stream(messages):
        full = chunk if full is None else full + chunk
    assert full is not None
    return full


class TestChatWorkersAI(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[ChatWorkersAI]:
        return ChatWorkersAI

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": LLAMA_33, "seed": STANDARD_SEED}

    @property
    def enable_vcr_tests(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str | None:
        return LLAMA_31_FAST

    @property
    def supported_usage_metadata_details(self) -> dict[Any, list[Any]]:
        return {
            "invoke": ["reasoning_output", "cache_read_input"],
            "stream": ["reasoning_output", "cache_read_input"],
        }

    def invoke_with_reasoning_output(self, *, stream: bool = False) -> AIMessage:
        # gpt-oss reports reasoning tokens (and streams via the unstreamed fallback, §3.3).
        llm = ChatWorkersAI(model=GPT_OSS_120B, reasoning_effort="low")
        return _invoke(llm, "Is 9.11 larger than 9.9? Think first.", stream=stream)

    def invoke_with_cache_read_input(self, *, stream: bool = False) -> AIMessage:
        # Prompt caching: session affinity routes to a warm replica; cached tokens in usage.
        llm = ChatWorkersAI(model=KIMI, session_affinity="ses_docs_42")
        messages = [
            SystemMessage("You are a concise assistant for an engineering team. " * 40),
            HumanMessage("What is prefix caching? One sentence."),
        ]
        return _invoke(llm, messages, stream=stream)


class TestChatWorkersAIOpenAIEndpoint(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[ChatWorkersAI]:
        return ChatWorkersAI

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": SCOUT, "endpoint": "openai", "seed": STANDARD_SEED}

    @property
    def enable_vcr_tests(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str | None:
        return LLAMA_33

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        # Workers AI takes only data URIs; the client downloads http(s) images and inlines them.
        return True
