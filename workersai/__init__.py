"""Cloudflare Workers AI for Python: a fast, typed REST core.

>>> from workersai import WorkersAI
>>> client = WorkersAI()  # CLOUDFLARE_ACCOUNT_ID / CLOUDFLARE_API_TOKEN from the environment
>>> client.chat("llama-3.3-70b-instruct-fp8-fast", [{"role": "user", "content": "hi"}]).text

The LangChain integration lives in ``langchain_workersai``, the LlamaIndex one in
``llamaindex_workersai``; both are thin layers over this package.
"""

from workersai._client import AsyncChatStream, AsyncWorkersAI, ChatStream, Multipart, WorkersAI
from workersai._config import GatewayOptions
from workersai._rerank import RerankResult
from workersai._transport import RetryPolicy
from workersai._version import __version__
from workersai.audio import AudioResult, Segment, Transcript, Word
from workersai.batch import BatchItem, BatchJob, BatchTimeoutError, BatchWaitOptions
from workersai.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CapacityExceededError,
    ConflictError,
    ContentFlaggedError,
    ContextLengthExceededError,
    DailyLimitExceededError,
    InternalServerError,
    InvalidInputError,
    LicenseAgreementRequiredError,
    MissingCredentialsError,
    ModelInputError,
    ModelNotFoundError,
    ModelRetiredError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    RequestTimeoutError,
    RequestTooLargeError,
    RouteNotFoundError,
    StreamError,
    StreamTruncatedError,
    UnexpectedResponseError,
    UnsupportedFeatureError,
    WorkersAIError,
)
from workersai.generation import GenerationReport, agenerate, generate
from workersai.images import ImageNotConvertedWarning, ImageResult
from workersai.models import ModelInfo, get_catalog, get_model_info, resolve_model
from workersai.results import (
    ChatChunk,
    ChatResult,
    EmbeddingResult,
    ToolCall,
    ToolCallChunk,
    Usage,
)
from workersai.tasks import TASKS, BoundingBox, DetectedObject, Label

__all__ = [
    "TASKS",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncChatStream",
    "AsyncWorkersAI",
    "AudioResult",
    "AuthenticationError",
    "BadRequestError",
    "BatchItem",
    "BatchJob",
    "BatchTimeoutError",
    "BatchWaitOptions",
    "BoundingBox",
    "CapacityExceededError",
    "ChatChunk",
    "ChatResult",
    "ChatStream",
    "ConflictError",
    "ContentFlaggedError",
    "ContextLengthExceededError",
    "DailyLimitExceededError",
    "DetectedObject",
    "EmbeddingResult",
    "GatewayOptions",
    "GenerationReport",
    "ImageNotConvertedWarning",
    "ImageResult",
    "InternalServerError",
    "InvalidInputError",
    "Label",
    "LicenseAgreementRequiredError",
    "MissingCredentialsError",
    "ModelInfo",
    "ModelInputError",
    "ModelNotFoundError",
    "ModelRetiredError",
    "Multipart",
    "NotFoundError",
    "PermissionDeniedError",
    "QuotaExceededError",
    "RateLimitError",
    "RequestTimeoutError",
    "RequestTooLargeError",
    "RerankResult",
    "RetryPolicy",
    "RouteNotFoundError",
    "Segment",
    "StreamError",
    "StreamTruncatedError",
    "ToolCall",
    "ToolCallChunk",
    "Transcript",
    "UnexpectedResponseError",
    "UnsupportedFeatureError",
    "Usage",
    "Word",
    "WorkersAI",
    "WorkersAIError",
    "__version__",
    "agenerate",
    "generate",
    "get_catalog",
    "get_model_info",
    "resolve_model",
]
