"""The core never imports a framework: ``workersai`` works with only httpx and pydantic.

The one exception is ``workersai.cli.demo``, the top layer that shows the integrations.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import workersai

FRAMEWORKS = ("langchain", "langchain_core", "llama_index", "langgraph")


def test_no_core_module_imports_a_framework() -> None:
    modules = [
        m.name
        for m in pkgutil.walk_packages(workersai.__path__, "workersai.")
        if m.name not in ("workersai.cli.demo", "workersai.__main__")
    ]
    assert "workersai.cli" in modules and "workersai.testing" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FRAMEWORKS!r}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
