"""LangChain integration for Cloudflare Workers AI (over the ``workersai`` core)."""

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
