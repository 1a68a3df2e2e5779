"""What a new user meets before the first real call: installing without an extra, and the
README's snippets copied as they are.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

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
