"""LangChain integration for Cloudflare Workers AI (over the ``workersai`` core)."""

# The framework first, so that installing without the extra ends in one line naming it.
try:
    import langchain_core  # noqa: F401
except ModuleNotFoundError as exc:
    if exc.name != "langchain_core":  # the framework is there; something it imports is missing
        raise
    raise ModuleNotFoundError(
        "langchain_workersai needs langchain-core, which is not installed: "
        'pip install "workersai[langchain]"',
        name=exc.name,
    ) from None

from langchain_workersai.audio import WorkersAIWhisperLoader, WorkersAIWhisperParser
from langchain_workersai.callbacks import WorkersAICallbackHandler, get_workersai_callback
from langchain_workersai.chat_models import ChatWorkersAI
from langchain_workersai.embeddings import WorkersAIEmbeddings
from langchain_workersai.images import WorkersAIImage
from langchain_workersai.rerankers import WorkersAIReranker
from langchain_workersai.tasks import WorkersAISummarizer, WorkersAITranslator

__all__ = [
    "ChatWorkersAI",
    "WorkersAICallbackHandler",
    "WorkersAIEmbeddings",
    "WorkersAIImage",
    "WorkersAIReranker",
    "WorkersAISummarizer",
    "WorkersAITranslator",
    "WorkersAIWhisperLoader",
    "WorkersAIWhisperParser",
    "get_workersai_callback",
]
