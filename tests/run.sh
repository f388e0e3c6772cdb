#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs what it needs, then lints, type-checks and
# runs every test, lab tests included. Extra arguments go to pytest.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
bash tests/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# The lab tests must run here: a missing prerequisite is an error, not a skip. The property
# tests run their full, derandomized count (tests/hostile/test_reader_properties.py).
GDOCTOR_REQUIRE_LAB=1 GDOCTOR_HYPOTHESIS=ci .venv/bin/pytest "$@"
