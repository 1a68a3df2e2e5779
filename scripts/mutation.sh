#!/usr/bin/env bash
# Mutation testing of the core's critical modules with mutmut 3 (configured in pyproject.toml,
# [tool.mutmut]): each mutant is a small deliberate bug in one function, run against the tests
# of tests/core that reach that function; a mutant no test catches is a gap in the suite.
#
#   bash scripts/mutation.sh [MINUTES] [MODULE ...]      e.g.  bash scripts/mutation.sh 45 _sse batch
#
# Bounded: the run stops after MINUTES (default 45) and keeps every verdict it reached; the next
# run picks up the mutants without one, and after a complete run only the mutants of functions
# whose code changed are tested again. With MODULEs, those modules are tested in full.
# Then:  python scripts/mutation_scores.py     the score per module (Markdown)
#        mutmut results                        the survivors;  mutmut show NAME  a survivor's diff
# A full run of every module takes a few hours on 2 cores (_transport, _chat and _envelope are
# reached by most tests): run a few modules at a time. It is not part of .ci/run.
set -uo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-45}
shift || true
export CI=true
names=()
for module in "$@"; do names+=("workersai.${module}.*"); done
echo "mutmut run ${names[*]:-(every mutant without a verdict)}, at most ${MINUTES} min"
# SIGINT first: mutmut saves each verdict as it lands, so a stopped run keeps what it finished.
timeout --signal=INT --kill-after=120 "${MINUTES}m" mutmut run "${names[@]}"
python scripts/mutation_scores.py
