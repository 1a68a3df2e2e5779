"""LlamaIndex integration for Cloudflare Workers AI (over the ``workersai`` core)."""

# The framework first, so that installing without the extra ends in one line naming it.
try:
    import llama_index.core  # noqa: F401
except ModuleNotFoundError as exc:
    if exc.name not in ("llama_index", "llama_index.core"):  # something it imports is missing
        raise
    raise ModuleNotFoundError(
        "llamaindex_workersai needs llama-index-core, which is not installed: "
        'pip install "workersai[llamaindex]"',
        name=exc.name,
    ) from None

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
