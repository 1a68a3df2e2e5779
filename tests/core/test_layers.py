"""The layers: the core never imports a framework (``workersai`` works with only httpx and
pydantic; the one exception is ``workersai.cli.demo``, the top layer that shows the
integrations), core modules import each other without cycles, and the adapters use only the
core's declared surface.
"""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

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


# --------------------------------------------------------------------------------------
# The arrows point down: no import cycle, no private core module used by an adapter
# --------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
ADAPTERS = ("langchain_workersai", "llamaindex_workersai")


def _module_files(package: str) -> dict[str, Path]:
    files = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        files[name] = path
    return files


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module ``name`` imports, at module level or inside a function (a deferred import
    closes a cycle as surely as a module-level one). ``from pkg import sub`` counts as an
    import of the module ``pkg.sub``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                ).strip(".")
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    return {module for module in found if module in known and module != name}


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``graph`` (a path that returns to its start), or ``[]``."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_core_modules_import_each_other_without_cycles() -> None:
    # Parent packages are left out: importing `workersai.errors` runs `workersai/__init__`,
    # which imports everything, so every module would "import" the package otherwise.
    files = _module_files("workersai")
    known = set(files) - {"workersai"}
    graph = {name: _imports(name, path, known) for name, path in files.items() if name in known}
    assert graph["workersai._client"] >= {"workersai.batch", "workersai._streams"}  # sanity
    assert _cycle(graph) == [], " -> ".join(_cycle(graph))


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []


def test_adapters_use_no_private_core_module() -> None:
    # What the adapters may use is declared in workersai.integration (and the public
    # modules); everything in workersai._* is free to change.
    core = set(_module_files("workersai"))
    private = {name for name in core if any(p.startswith("_") for p in name.split(".")[1:])}
    offenders = {
        f"{path.relative_to(ROOT)} imports {module}"
        for package in ADAPTERS
        for name, path in _module_files(package).items()
        for module in _imports(name, path, core | private)
        if module in private
    }
    assert offenders == set()
    # ...and the check sees an adapter's imports at all
    chat = _module_files("langchain_workersai")["langchain_workersai.chat_models"]
    assert "workersai.integration" in _imports("langchain_workersai.chat_models", chat, core)
