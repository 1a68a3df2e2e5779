"""LlamaIndex integration of Cloudflare Workers AI, over the ``workersai`` core."""

from llamaindex_workersai.embeddings import WorkersAIEmbedding
from llamaindex_workersai.llms import WorkersAI
from llamaindex_workersai.postprocessor import WorkersAIRerank

__all__ = ["WorkersAI", "WorkersAIEmbedding", "WorkersAIRerank"]
