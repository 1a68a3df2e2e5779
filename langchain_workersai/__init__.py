"""LangChain integration for Cloudflare Workers AI (over the ``workersai`` core)."""

from langchain_workersai.audio import WorkersAIWhisperLoader, WorkersAIWhisperParser
from langchain_workersai.images import WorkersAIImage
from langchain_workersai.tasks import WorkersAISummarizer, WorkersAITranslator

__all__ = [
    "WorkersAIImage",
    "WorkersAISummarizer",
    "WorkersAITranslator",
    "WorkersAIWhisperLoader",
    "WorkersAIWhisperParser",
]
