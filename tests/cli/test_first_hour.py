"""What a new user meets before the first real call: installing without an extra, and the
README's snippets copied as they are.
"""

from __future__ import annotations

import ast
import builtins
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# A sys.meta_path finder that makes a framework "not installed" for one interpreter, the way a
# bare `pip install workersai` leaves it (the test environment has every extra installed).
_BLOCK = textwrap.dedent(
    """
    import sys

    class NotInstalled:
        def find_spec(self, name, path=None, target=None):
            if name == {top!r} or name.startswith({top!r} + "."):
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, NotInstalled())
    try:
        import {adapter}
    except ImportError as exc:  # what user code that guards the import catches
        print(type(exc).__name__, exc, sep=": ")
    """
)


@pytest.mark.parametrize(
    ("adapter", "framework", "extra"),
    [
        ("langchain_workersai", "langchain_core", "langchain"),
        ("llamaindex_workersai", "llama_index", "llamaindex"),
    ],
)
def test_an_adapter_without_its_extra_names_the_extra(
    adapter: str, framework: str, extra: str
) -> None:
    code = _BLOCK.format(top=framework, adapter=adapter)
    caught = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert caught.returncode == 0, caught.stderr
    assert caught.stdout.strip().endswith(f'pip install "workersai[{extra}]"'), caught.stdout
    assert caught.stdout.startswith(f"ModuleNotFoundError: {adapter} needs ")

    # Unguarded, as a newcomer types it: one traceback whose last line says what to install.
    bare = code.replace("try:\n    import", "if True:\n    import").split("except")[0]
    uncaught = subprocess.run(
        [sys.executable, "-c", bare], capture_output=True, text=True, check=False
    )
    assert uncaught.returncode == 1
    last = uncaught.stderr.strip().splitlines()[-1]
    assert last.endswith(f'pip install "workersai[{extra}]"'), uncaught.stderr
    assert "direct cause" not in uncaught.stderr  # not two tracebacks for one missing extra


def test_a_missing_dependency_of_an_installed_framework_is_not_blamed_on_the_extra() -> None:
    # langchain-core is there but something it imports is not: say that, not "install the
    # extra" (which is installed and would not help).
    code = _BLOCK.format(top="langsmith", adapter="langchain_workersai")
    caught = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert caught.stdout.strip() == "ModuleNotFoundError: No module named 'langsmith'", (
        caught.stdout + caught.stderr
    )


# -- the README's snippets ------------------------------------------------------------------

README = Path(__file__).parents[2] / "README.md"
_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _snippets() -> list[str]:
    return _PYTHON_BLOCK.findall(README.read_text(encoding="utf-8"))


def _defined(tree: ast.AST) -> set[str]:
    """Every name a snippet binds: imports, assignments, loop and with targets, defs, args."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def test_the_readme_has_python_snippets() -> None:
    assert len(_snippets()) >= 7  # the quickstarts, gateway, rate limits, usage, testing


@pytest.mark.parametrize("number", range(len(_snippets())))
def test_every_name_a_readme_snippet_uses_is_defined_in_it(number: int) -> None:
    # Copied alone into a file, each snippet must not end in a NameError (`texts`, `messages`).
    snippet = _snippets()[number]
    tree = ast.parse(snippet)
    used = {
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }
    undefined = used - _defined(tree) - set(dir(builtins))
    assert not undefined, f"README snippet {number} uses {sorted(undefined)}:\n{snippet}"


def test_the_llamaindex_quickstart_reads_text_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # The reader exactly as the README builds it, run from the repository root: docs/ holds
    # benchmarks.png, which SimpleDirectoryReader would index as characters of binary.
    from llama_index.core import SimpleDirectoryReader

    (snippet,) = [s for s in _snippets() if "SimpleDirectoryReader(" in s]
    (call,) = [
        node
        for node in ast.walk(ast.parse(snippet))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "SimpleDirectoryReader"
    ]
    monkeypatch.chdir(README.parent)
    assert any(path.suffix == ".png" for path in Path("docs").iterdir())  # what is avoided
    reader = eval(ast.unparse(call), {"SimpleDirectoryReader": SimpleDirectoryReader})
    files = [Path(path) for path in reader.input_files]
    assert files, "the quickstart would index nothing"
    assert {path.suffix for path in files} <= {".md", ".txt"}, files
