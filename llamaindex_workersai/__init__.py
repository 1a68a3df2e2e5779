"""LlamaIndex integration for Cloudflare Workers AI (over the ``workersai`` core)."""

from llamaindex_workersai.callbacks import WorkersAIUsageHandler, workersai_usage
from llamaindex_workersai.embeddings import WorkersAIEmbedding
from llamaindex_workersai.llms import WorkersAI
from llamaindex_workersai.postprocessor import WorkersAIRerank
from llamaindex_workersai.readers import WorkersAIWhisperReader
from llamaindex_workersai.tools import WorkersAIImageTool, WorkersAIImageToolSpec

__all__ = [
    "WorkersAI",
    "WorkersAIEmbedding",
    "WorkersAIImageTool",
    "WorkersAIImageToolSpec",
    "WorkersAIRerank",
    "WorkersAIUsageHandler",
    "WorkersAIWhisperReader",
    "workersai_usage",
]
