"""LlamaIndex integration for Cloudflare Workers AI (over the ``workersai`` core)."""

from llamaindex_workersai.readers import WorkersAIWhisperReader
from llamaindex_workersai.tools import WorkersAIImageToolSpec

__all__ = ["WorkersAIImageToolSpec", "WorkersAIWhisperReader"]
