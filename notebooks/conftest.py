"""The notebooks run as tests (nbmake, ``--nbmake`` in pyproject's addopts), offline.

Each notebook starts with ``replay_unless_live(...)``; here its kernel always takes the
offline branch and replays the bundled answers (``workersai/examples/<name>.json.gz``):

* ``tests/conftest.py`` puts placeholder credentials in ``os.environ`` for the whole run, and a
  developer may have real ones there, so the kernel gets ``WORKERSAI_OFFLINE=1`` and no
  Cloudflare variables at all (the kernel is a separate process, out of pytest-socket's
  reach: it must never be able to go live);
* ``WORKERSAI_REPLAY_PACE=0``: replayed streams arrive at once instead of token by token.

A cell that raises fails its notebook's test, and so do the checks some cells carry in their
metadata (``nbmake.post_cell_execute``: asserts on what the cell shows, run after it by nbmake
only, so the notebook reads as plain user code). After changing a notebook, re-compose its
answers: ``python scripts/compose_examples.py <name>``.

Under ``--disable-socket`` the test process may still reach 127.0.0.1, where the kernel's
channels listen (``tests/conftest.py`` gives loopback tests the same mark). pytest-socket
applies marks only to items that take fixtures, which notebook items do not, so the
restriction is applied here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import pytest_socket

HERE = Path(__file__).parent
LOOPBACK_HOSTS = ["127.0.0.1"]
KERNEL_ENV = {"WORKERSAI_OFFLINE": "1", "WORKERSAI_REPLAY_PACE": "0"}
_CREDENTIAL_PREFIXES = ("CLOUDFLARE_", "CF_")

_saved_env: dict[str, str] = {}


def _is_notebook(item: pytest.Item) -> bool:
    return bool(getattr(item, "nbmake", False)) and HERE in Path(str(item.path)).parents


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _is_notebook(item):
            item.add_marker(pytest.mark.allow_hosts(LOOPBACK_HOSTS))


def pytest_runtest_setup(item: pytest.Item) -> None:
    if not _is_notebook(item):
        return
    config = item.config
    if config.getoption("--disable-socket") and not config.getoption("--force-enable-socket"):
        # What pytest-socket does for a fixture-taking item with this mark.
        pytest_socket.socket_allow_hosts(
            LOOPBACK_HOSTS, allow_unix_socket=config.getoption("--allow-unix-socket")
        )
    # The kernel inherits this process's environment when nbmake starts it.
    _saved_env.clear()
    _saved_env.update(os.environ)
    for name in list(os.environ):
        if name.startswith(_CREDENTIAL_PREFIXES):
            del os.environ[name]
    os.environ.update(KERNEL_ENV)


def pytest_runtest_teardown(item: pytest.Item) -> None:
    # pytest-socket's own teardown lifts the socket restriction for every item.
    if _is_notebook(item) and _saved_env:
        os.environ.clear()
        os.environ.update(_saved_env)
        _saved_env.clear()
