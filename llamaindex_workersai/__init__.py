"""LlamaIndex integration of Cloudflare Workers AI."""

from llamaindex_workersai.llms import WorkersAI

__all__ = ["WorkersAI"]
