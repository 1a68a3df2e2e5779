"""Test set-up shared by every suite: hermetic credentials, VCR cassettes, a loopback server.

Cassette modes (``WORKERSAI_CASSETTES``):

``replay`` (default)
    Tests replay ``tests/cassettes``; nothing touches the network. Credentials are fixed
    placeholders and ``CLOUDFLARE_BASE_URL`` is ignored, so a developer's environment
    cannot leak into a run.
``compose``
    Cassettes are (re)written by recording against ``tests/compose`` — a loopback emulator
    that answers in the documented Workers AI wire format. This is how the committed
    cassettes were made (see ``tests/cassettes/README.md``).
``live``
    Cassettes are recorded against the real API with your ``CLOUDFLARE_ACCOUNT_ID`` and
    ``CLOUDFLARE_API_TOKEN``:
    ``WORKERSAI_CASSETTES=live pytest tests --record-mode=rewrite -m vcr``.
"""

from __future__ import annotations

import ast
import asyncio
import functools
import gc
import inspect
import os
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from vcr import VCR

from tests._blocking import BlockingAsyncClient
from tests._cassettes import (
    CASSETTES,
    FilesystemPersister,
    GzipYamlSerializer,
    json_body_matcher,
    scrub_request,
    scrub_response,
)
from workersai import RetryPolicy
from workersai.models import ModelCatalog, get_catalog
from workersai.testing import WorkersAIServer

MODE = os.environ.get("WORKERSAI_CASSETTES", "replay").lower()
if MODE not in ("replay", "compose", "live"):
    raise pytest.UsageError(f"WORKERSAI_CASSETTES must be replay, compose or live, not {MODE!r}")

REPLAY_ACCOUNT_ID = "test-account"
REPLAY_API_TOKEN = "test-token"
_HERMETIC_UNSET = (
    "CLOUDFLARE_BASE_URL",
    "CLOUDFLARE_AI_GATEWAY",
    "CF_ACCOUNT_ID",
    "CF_AI_API_TOKEN",
    "CLOUDFLARE_ACCOUNT_ID_FILE",
    "CLOUDFLARE_API_TOKEN_FILE",
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sync_only: a test of the sync client alone (not run on the async transports)"
    )
    if MODE == "replay":
        for name in _HERMETIC_UNSET:
            os.environ.pop(name, None)
        os.environ["CLOUDFLARE_ACCOUNT_ID"] = REPLAY_ACCOUNT_ID
        os.environ["CLOUDFLARE_API_TOKEN"] = REPLAY_API_TOKEN
    elif MODE == "live":
        missing = [
            n for n in ("CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN") if not os.environ.get(n)
        ]
        if missing:
            raise pytest.UsageError(f"WORKERSAI_CASSETTES=live needs {', '.join(missing)}")


@pytest.fixture(scope="session", autouse=MODE == "compose")
def _compose_emulator() -> Iterator[WorkersAIServer | None]:
    """In compose mode, every client in the session talks to the wire-format emulator."""
    if MODE != "compose":
        yield None
        return
    from tests.compose import handler, pointed_at

    with WorkersAIServer(handler) as server, pointed_at(server.base_url):
        yield server


@pytest.fixture(scope="session")
def vcr_config() -> dict[str, Any]:
    return {
        # No "record_mode" here: the CLI decides (pytest-recording's default is "none", so a
        # missing or mismatched cassette fails instead of going live).
        "cassette_library_dir": str(CASSETTES),
        "serializer": "yaml.gz",
        "path_transformer": VCR.ensure_suffix(".yaml.gz"),
        "match_on": ["method", "uri", "json_body"],
        "before_record_request": scrub_request,
        "before_record_response": scrub_response,
        "decode_compressed_response": True,
        # Each recorded answer plays once, in order: a retried request (429 then 200) or the same
        # prompt sent twice must get the answers it got when recorded, not the first one again.
        "allow_playback_repeats": False,
        "ignore_hosts": ["api.smith.langchain.com"],
    }


@pytest.fixture
def default_cassette_name(request: pytest.FixtureRequest, record_mode: str) -> str:
    """``<TestClass>.<test>`` for test classes (the langchain-tests convention),
    ``<module>.<test>`` for plain functions, so names never collide across files."""
    name = request.node.name.replace("/", "-")
    if request.cls is not None:
        name = f"{request.cls.__name__}.{name}"
    else:
        name = f"{request.module.__name__.rsplit('.', 1)[-1]}.{name}"
    if record_mode == "rewrite":
        # pytest-recording deletes the cassette path without our ".yaml.gz" suffix, so the old
        # file would be appended to (and its stale answers replayed first): remove it here,
        # before the cassette is loaded.
        (CASSETTES / f"{name}.yaml.gz").unlink(missing_ok=True)
    return name


def pytest_recording_configure(config: pytest.Config, vcr: VCR) -> None:
    vcr.register_persister(FilesystemPersister())
    vcr.register_serializer("yaml.gz", GzipYamlSerializer())
    vcr.register_matcher("json_body", json_body_matcher)


# -- loopback servers ----------------------------------------------------------------------

#: Lets a test reach servers on 127.0.0.1 and nothing else, even under --disable-socket.
LOOPBACK = pytest.mark.allow_hosts(["127.0.0.1"])


@pytest.fixture
def loopback_images() -> Iterator[None]:
    """Image URLs on 127.0.0.1 pass the SSRF guard of fetched images (every other private
    address is still refused), so tests fetch from loopback servers through the guarded,
    default path."""
    from workersai import _url_guard

    real = _url_guard._is_public
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_url_guard, "_is_public", lambda a: str(a) == "127.0.0.1" or real(a))
        yield


def settle_ast_after_keyboard_interrupt() -> None:
    """Absorb a CPython 3.11 bug before pytest parses source again (it does to rewrite an
    import or to show a failure): after a KeyboardInterrupt leaves an asyncio task, the next
    large ``ast.parse`` in the process fails once with "AST constructor recursion depth
    mismatch". asyncio alone reproduces it (a task raising KeyboardInterrupt under
    ``loop.run_until_complete``); 3.10, 3.12 and 3.13 do not. Call it after a test that
    interrupts a job on a private event loop."""
    try:
        ast.parse(inspect.getsource(asyncio.base_events))
    except SystemError:
        pass


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        # compose mode records against the loopback emulator from every cassette test
        if MODE == "compose" or "server" in getattr(item, "fixturenames", ()):
            item.add_marker(LOOPBACK)
        # langchain-tests' stream benchmark replays its one recorded stream many times
        if item.name.startswith("test_stream_time"):
            item.add_marker(pytest.mark.vcr(allow_playback_repeats=True))


# -- shared fixtures ---------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def _no_event_loop_left_by_earlier_modules() -> None:
    """Close the main thread's event loop if an earlier module left one open.

    llama-index's ``asyncio_run()`` calls ``asyncio.get_event_loop()``, which creates and sets
    a loop nobody closes; the first test that resets the loop (``asyncio.run()``) drops it,
    and its "unclosed event loop" ResourceWarning would fail whichever test collects it.
    Module-scoped, so it runs before any test's own loop exists.
    """
    local = getattr(asyncio.get_event_loop_policy(), "_local", None)
    loop = getattr(local, "_loop", None)
    if loop is None or loop.is_running():
        return
    asyncio.set_event_loop(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        loop.close()
        gc.collect()


FAST_RETRIES = RetryPolicy(initial_delay=0.001, max_delay=0.01, max_retry_after=5.0)


@pytest.fixture
def server() -> Iterator[WorkersAIServer]:
    """A scripted loopback Workers AI server (see ``workersai.testing``)."""
    with WorkersAIServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def shared_server() -> Iterator[WorkersAIServer]:
    """One loopback server for a whole module's table of cases (cheaper than one per case)."""
    with WorkersAIServer() as srv:
        yield srv


def loopback_connection(server: WorkersAIServer) -> dict[str, Any]:
    """Constructor arguments pointing a LangChain or LlamaIndex class at ``server``."""
    return {"account_id": "acct", "api_key": "tok", "base_url": server.base_url, "max_retries": 0}


@pytest.fixture
def isolated_catalog(monkeypatch: pytest.MonkeyPatch) -> ModelCatalog:
    """A private copy of the process-wide catalog, so a refresh cannot leak into other tests."""
    from workersai import models

    original = get_catalog()
    copy = ModelCatalog(original.all(include_retired=True), as_of=original.as_of)
    monkeypatch.setattr(models, "_catalog", copy)
    return copy


@pytest.fixture
def fast_retries() -> RetryPolicy:
    """Backoff short enough for tests (retry counts are still real)."""
    return FAST_RETRIES


# -- both async transports -------------------------------------------------------------------

#: Suites that run on both async transports (aiohttp, and httpx's own pool): their async tests
#: once per engine (``WORKERSAI_ASYNC_HTTP``), their sync tests as written and again through
#: :class:`tests._blocking.BlockingAsyncClient` on each engine (``WorkersAI`` in the module's
#: namespace is swapped for it) — so every promise those suites check for the sync client is
#: checked on each async transport too. ``@pytest.mark.sync_only`` keeps a test as written.
ASYNC_HTTP_SUITES = frozenset(
    {
        "tests.core.test_transport",
        "tests.core.test_transport_fixes",
        "tests.core.test_fault_storm",
        "tests.core.test_streaming",
    }
)
ENGINES = ("aiohttp", "httpx")


def _is_async_test(function: Callable[..., Any]) -> bool:
    """Whether a test drives the async client itself (it then runs once per engine)."""
    if inspect.iscoroutinefunction(function):
        return True
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return False
    return "AsyncWorkersAI" in source or "asyncio." in source


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.module.__name__ not in ASYNC_HTTP_SUITES:
        return
    if metafunc.definition.get_closest_marker("sync_only"):
        return
    if _is_async_test(metafunc.function):
        metafunc.parametrize("async_http", ENGINES, indirect=True)
    else:
        engines = [f"blocking-{engine}" for engine in ENGINES]
        metafunc.parametrize("async_http", ["sync", *engines], indirect=True)


@pytest.fixture(autouse=True)
def async_http(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The async engine a test of :data:`ASYNC_HTTP_SUITES` runs on ("default" elsewhere:
    aiohttp when installed)."""
    param: str = getattr(request, "param", "default")
    engine = param.removeprefix("blocking-")
    if engine in ENGINES:
        monkeypatch.setenv("WORKERSAI_ASYNC_HTTP", engine)
    if param.startswith("blocking-"):
        facade = functools.partial(BlockingAsyncClient, http_backend=engine)
        monkeypatch.setattr(request.module, "WorkersAI", facade)
    yield param
    made, BlockingAsyncClient.made[:] = list(BlockingAsyncClient.made), []
    for client in made:
        client.close()
