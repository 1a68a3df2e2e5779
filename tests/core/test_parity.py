"""Every sync/async pair offers the same things: the same public methods, with the same
parameters (names, kinds, order) and the same defaults — so a user moving a script to asyncio
only adds ``await``, and a parameter added to one twin cannot be forgotten on the other.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from workersai import AsyncChatStream, AsyncWorkersAI, ChatStream, WorkersAI
from workersai._concurrency import amap_bounded, map_bounded
from workersai._embeddings import arun_plan, run_plan
from workersai._image_urls import ainline_image_urls, inline_image_urls
from workersai._transport import AsyncTransport, SyncTransport
from workersai.batch import (
    AsyncBatchAPI,
    BatchAPI,
    arun_plan_on_batch_api,
    run_plan_on_batch_api,
)
from workersai.tasks import AsyncTaskMethods, TaskMethods

# The async spelling of a sync name, where it differs (as in httpx and asyncio).
ASYNC_NAMES = {
    "close": "aclose",
    "__enter__": "__aenter__",
    "__exit__": "__aexit__",
    "__iter__": "__aiter__",
    "__next__": "__anext__",
}
SPECIAL = set(ASYNC_NAMES) | set(ASYNC_NAMES.values())

CLASS_PAIRS = [
    (WorkersAI, AsyncWorkersAI),
    (BatchAPI, AsyncBatchAPI),
    (TaskMethods, AsyncTaskMethods),
    (SyncTransport, AsyncTransport),
    (ChatStream, AsyncChatStream),
]
FUNCTION_PAIRS = [
    (map_bounded, amap_bounded),
    (run_plan, arun_plan),
    (run_plan_on_batch_api, arun_plan_on_batch_api),
    (inline_image_urls, ainline_image_urls),
]


def public_methods(cls: type) -> dict[str, Any]:
    return {
        name: member
        for name, member in inspect.getmembers(cls)
        if (not name.startswith("_") or name in SPECIAL)
        and "__mutmut_" not in name  # mutmut (scripts/mutation.sh) adds its mutants as members
        and (callable(member) or isinstance(member, property))
        and not isinstance(member, type)
    }


def shape(function: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
    """Parameters as (name, kind, default): annotations may differ (httpx.Client vs
    httpx.AsyncClient), nothing else may."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


def _id(pair: tuple[Any, Any]) -> str:
    return f"{pair[0].__name__}/{pair[1].__name__}"


@pytest.mark.parametrize("pair", CLASS_PAIRS, ids=_id)
def test_the_twins_have_the_same_public_methods(pair: tuple[type, type]) -> None:
    sync, async_ = public_methods(pair[0]), public_methods(pair[1])
    assert {ASYNC_NAMES.get(name, name) for name in sync} == set(async_)


@pytest.mark.parametrize("pair", CLASS_PAIRS, ids=_id)
def test_the_twins_take_the_same_parameters_with_the_same_defaults(
    pair: tuple[type, type],
) -> None:
    sync, async_ = public_methods(pair[0]), public_methods(pair[1])
    for name, method in sync.items():
        twin = async_[ASYNC_NAMES.get(name, name)]
        if isinstance(method, property):
            assert isinstance(twin, property), name
            continue
        assert shape(method) == shape(twin), name


# Methods that only build an object (a stream, an iterator) in both twins; the rest do I/O.
BUILDERS = {"stream", "__iter__"}


@pytest.mark.parametrize("pair", CLASS_PAIRS, ids=_id)
def test_the_async_twin_awaits_where_the_sync_one_blocks(pair: tuple[type, type]) -> None:
    sync, async_ = public_methods(pair[0]), public_methods(pair[1])
    for name, method in sync.items():
        if isinstance(method, property) or name in BUILDERS:
            continue
        twin = async_[ASYNC_NAMES.get(name, name)]
        assert not inspect.iscoroutinefunction(method), name
        assert inspect.iscoroutinefunction(twin) or inspect.isasyncgenfunction(twin), name


@pytest.mark.parametrize("pair", FUNCTION_PAIRS, ids=_id)
def test_twin_functions_take_the_same_parameters(
    pair: tuple[Callable[..., Any], Callable[..., Any]],
) -> None:
    assert shape(pair[0]) == shape(pair[1])
    assert inspect.iscoroutinefunction(pair[1]) and not inspect.iscoroutinefunction(pair[0])


def test_the_check_sees_a_missing_parameter() -> None:
    class Sync:
        def chat(self, model: str, *, timeout: float = 1.0) -> None: ...

    class Async:
        async def chat(self, model: str) -> None: ...

    assert shape(Sync.chat) != shape(Async.chat)
    assert set(public_methods(Sync)) == {"chat"}
