"""The wire-format emulator used to compose cassettes (``WORKERSAI_CASSETTES=compose``).

Each module here registers *scenarios*: functions that look at a recorded request and
return the :class:`~workersai.testing.Reply` Workers AI would send, in the exact formats of
``workers-ai-api.md`` (native envelope, SSE with ``p`` padding and usage trailer,
OpenAI-compatible chunks with ``id-<ms>`` ids and the duplicated terminal chunk, ...).
The first scenario that returns a reply wins.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable

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
