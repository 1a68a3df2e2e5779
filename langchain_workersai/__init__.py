"""LangChain integration of Cloudflare Workers AI (over the ``workersai`` core)."""

from langchain_workersai.chat_models import ChatWorkersAI

__all__ = ["ChatWorkersAI"]
