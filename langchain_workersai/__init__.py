"""LangChain integration of Cloudflare Workers AI, over the ``workersai`` core."""

from langchain_workersai.embeddings import WorkersAIEmbeddings
from langchain_workersai.rerankers import WorkersAIReranker

__all__ = ["WorkersAIEmbeddings", "WorkersAIReranker"]
