"""What framework integrations build on, beyond the clients.

``langchain_workersai`` and ``llamaindex_workersai`` are thin: they translate framework types
to and from the core's and leave every Workers AI quirk to the core. Besides the clients,
results and errors exported by :mod:`workersai` (and the public modules ``workersai.models``,
``.schemas``, ``.images``, ``.audio``, ``.tasks``, ``.results``, ``.pricing``, ``.usage``), this
is all they use. A third integration (Haystack, DSPy, …) would use the same names.

Everything here is stable API. The ``workersai._*`` modules behind it are private: they may
be split, renamed or rewritten at any time, and no adapter imports them (a test checks).

Credentials
    :func:`account_id_from_env`, :func:`api_token_from_env` — the environment defaults
    (``CLOUDFLARE_ACCOUNT_ID`` / ``CF_ACCOUNT_ID`` / ``CLOUDFLARE_ACCOUNT_ID_FILE`` and
    ``CLOUDFLARE_API_TOKEN`` / ``CF_AI_API_TOKEN`` / ``CLOUDFLARE_API_TOKEN_FILE``) for
    fields that default to them. The token comes back as a ``SecretStr``.
    :func:`per_call_options` — one call's keyword arguments as request options:
    ``request_timeout`` read as ``timeout``, and :data:`CONNECTION_SETTINGS` (``api_key``,
    ``base_url``, …) refused instead of being sent to the model.

Chat
    :data:`GENERATION_PARAMS` — the generation parameters with a meaning in the core; an
    adapter exposes these as its own fields and passes anything else through.
    :func:`normalize_tool_choice` — a framework's ``tool_choice`` spelling (``"any"``,
    ``True``, a tool name, an OpenAI dict) as Workers AI accepts it, checked before a request.
    :func:`image_data_uri` — image bytes, base64 or a URL as the ``data:`` URI Workers AI
    needs in a message.

Embeddings
    :data:`DEFAULT_MAX_CONCURRENCY`, :data:`EmbedKind`, :func:`batch_limit` (texts per
    request for a model), :func:`embedding_dimensions`, :func:`progress_bar` (a tqdm
    ``on_progress`` callback), and :class:`BatchWaitOptions` for ``use_batch_api``.

Reranking, media and raw answers
    :data:`DEFAULT_RERANK_MODEL`; :func:`mime_for_path` (a file's media type from its name);
    :func:`envelope_result` (the ``result`` of Cloudflare's ``{"result", "success", …}``
    envelope, any other body as is — for showing a raw answer).

Example:
    >>> from workersai.integration import GENERATION_PARAMS, normalize_tool_choice
    >>> normalize_tool_choice("get_weather", ["get_weather"])
    {'type': 'function', 'function': {'name': 'get_weather'}}
"""

from __future__ import annotations

from workersai._chat import GENERATION_PARAMS
from workersai._config import (
    CONNECTION_SETTINGS,
    account_id_from_env,
    api_token_from_env,
    per_call_options,
)
from workersai._embeddings import (
    DEFAULT_MAX_CONCURRENCY,
    EmbedKind,
    batch_limit,
    embedding_dimensions,
    progress_bar,
)
from workersai._envelope import envelope_result
from workersai._media import mime_for_path
from workersai._messages import image_data_uri
from workersai._rerank import DEFAULT_RERANK_MODEL
from workersai._tools import normalize_tool_choice
from workersai.batch import BatchWaitOptions

__all__ = [
    "CONNECTION_SETTINGS",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_RERANK_MODEL",
    "GENERATION_PARAMS",
    "BatchWaitOptions",
    "EmbedKind",
    "account_id_from_env",
    "api_token_from_env",
    "batch_limit",
    "embedding_dimensions",
    "envelope_result",
    "image_data_uri",
    "mime_for_path",
    "normalize_tool_choice",
    "per_call_options",
    "progress_bar",
]
