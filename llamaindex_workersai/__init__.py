"""LlamaIndex integration of Cloudflare Workers AI, over the ``workersai`` core."""

from llamaindex_workersai.embeddings import WorkersAIEmbedding
from llamaindex_workersai.postprocessor import WorkersAIRerank

__all__ = ["WorkersAIEmbedding", "WorkersAIRerank"]
