"""The wire-format emulator used to compose cassettes (``WORKERSAI_CASSETTES=compose``).

Each module here registers *scenarios*: functions that look at a recorded request and
return the :class:`~workersai.testing.Reply` Workers AI would send, in the exact formats of
``workers-ai-api.md`` (native envelope, SSE with ``p`` padding and usage trailer,
OpenAI-compatible chunks with ``id-<ms>`` ids and the duplicated terminal chunk, ...).
The first scenario that returns a reply wins.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import pkgutil
from collections.abc import Callable, Iterator

from workersai.testing import RecordedRequest, Reply

Scenario = Callable[[RecordedRequest], "Reply | None"]
SCENARIOS: list[Scenario] = []


def scenario(func: Scenario) -> Scenario:
    """Register a scenario (module import order, then definition order)."""
    SCENARIOS.append(func)
    return func


@functools.cache
def _load_scenarios() -> None:
    # Every module, even when a test module already imported some of them (and so
    # registered their scenarios) before the first request.
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def handler(request: RecordedRequest) -> Reply:
    _load_scenarios()
    for candidate in SCENARIOS:
        reply = candidate(request)
        if reply is not None:
            return reply
    return Reply.error(
        599,
        None,
        f"compose: no scenario for {request.method} {request.path} {request.body[:200]!r}",
    )


#: The account id every composed exchange was made with (scrubbed to ACCOUNT_ID on record).
COMPOSE_ACCOUNT_ID = "0123456789abcdef0123456789abcdef"
# Every variable a client reads its credentials, API root or gateway from.
_CLIENT_ENV = (
    "CLOUDFLARE_BASE_URL",
    "CLOUDFLARE_ACCOUNT_ID",
    "CLOUDFLARE_API_TOKEN",
    "CF_ACCOUNT_ID",
    "CF_AI_API_TOKEN",
    "CLOUDFLARE_ACCOUNT_ID_FILE",
    "CLOUDFLARE_API_TOKEN_FILE",
    "CLOUDFLARE_AI_GATEWAY",
    "WORKERSAI_OFFLINE",
)


@contextlib.contextmanager
def pointed_at(base_url: str) -> Iterator[None]:
    """Every client created inside talks to ``base_url`` with composed credentials; the
    environment is restored afterwards (a developer's real token never reaches the emulator)."""
    saved = {name: os.environ.get(name) for name in _CLIENT_ENV}
    for name in _CLIENT_ENV:
        os.environ.pop(name, None)
    os.environ["CLOUDFLARE_BASE_URL"] = base_url
    os.environ["CLOUDFLARE_ACCOUNT_ID"] = COMPOSE_ACCOUNT_ID
    os.environ["CLOUDFLARE_API_TOKEN"] = "composed-token-not-a-secret"
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
