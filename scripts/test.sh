#!/usr/bin/env bash
# The whole test suite, from a fresh machine: set-up, lint, generated-code check, tests.
# Usage: scripts/test.sh [pytest arguments]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/bootstrap.sh
scripts/system_deps.sh
echo "== lint (ruff)"
.venv/bin/ruff check .
echo "== tests (pytest)"
set +e
.venv/bin/python -m pytest -q "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
  echo "pytest collected no tests: that is a failure for this project" >&2
  exit 1
fi
exit "$status"
