"""The mutation score of each module mutmut tested, as a Markdown table (run from the repo root
after ``bash scripts/mutation.sh``).

A mutant counts as caught when a test failed on it or it timed out (an endless loop is caught
too); mutants mypy rejects before any test runs are left out of the score, as are mutants no
test reaches ("no tests") and those not run yet ("not checked").
"""

from __future__ import annotations

import collections
import json
from pathlib import Path

# mutmut 3's exit codes of a mutant's test run
_STATUS = {
    0: "survived",
    1: "caught",
    3: "caught",
    24: "timeout",
    -24: "timeout",
    36: "timeout",
    152: "timeout",
    255: "timeout",
    5: "no tests",
    33: "no tests",
    37: "rejected by mypy",
    -11: "segfault",
    -9: "segfault",
}


def _counts(meta: Path) -> collections.Counter[str]:
    verdicts = json.loads(meta.read_text())["exit_code_by_key"].values()
    return collections.Counter(
        "not checked" if v is None else _STATUS.get(v, f"exit {v}") for v in verdicts
    )


def _row(name: str, counts: collections.Counter[str]) -> str:
    caught = counts["caught"] + counts["timeout"]
    tested = caught + counts["survived"]
    score = f"{100 * caught / tested:.0f} %" if tested else "-"
    return (
        f"| {name} | {sum(counts.values())} | {caught} | {counts['survived']} | "
        f"{counts['rejected by mypy']} | {counts['no tests']} | {counts['not checked']} | {score} |"
    )


def main() -> None:
    columns = ("mutants", "caught", "survived", "rejected by mypy", "no tests", "not checked")
    print("| module | " + " | ".join(columns) + " | score |")
    print("|---|" + "---:|" * (len(columns) + 1))
    total: collections.Counter[str] = collections.Counter()
    for meta in sorted(Path("mutants").rglob("*.py.meta")):
        counts = _counts(meta)
        if counts:
            total += counts
            module = meta.relative_to("mutants").as_posix()[: -len(".py.meta")].replace("/", ".")
            print(_row(f"`{module}`", counts))
    print(_row("**all**", total))


if __name__ == "__main__":
    main()
