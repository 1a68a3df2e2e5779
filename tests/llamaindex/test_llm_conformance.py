"""The LlamaIndex conformance suite against :class:`WorkersAI`, native and OpenAI-compatible."""

from __future__ import annotations

from typing import Any

from llamaindex_workersai import WorkersAI
from tests.llamaindex.conformance import LLMConformanceTests

MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"


class TestLlamaIndexWorkersAINative(LLMConformanceTests):
    """``/ai/run``: classic ``{"response"}`` answers, legacy tool calls, native SSE."""

    @property
    def llm_class(self) -> type[WorkersAI]:
        return WorkersAI

    @property
    def llm_params(self) -> dict[str, Any]:
        return {"model": MODEL, "temperature": 0}


class TestLlamaIndexWorkersAIOpenAI(LLMConformanceTests):
    """``/ai/v1/chat/completions``: OpenAI objects and chunks (wire reference §4)."""

    @property
    def llm_class(self) -> type[WorkersAI]:
        return WorkersAI

    @property
    def llm_params(self) -> dict[str, Any]:
        return {"model": MODEL, "temperature": 0, "endpoint": "openai"}
