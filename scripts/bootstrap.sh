#!/usr/bin/env bash
# Creates .venv (Python >= 3.11) and installs aesp with its development tools. Idempotent:
# re-running it only installs what changed. Used by scripts/test.sh and scripts/demo.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

pick_python() {
  for candidate in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "aesp needs Python 3.11 or newer; install it (e.g. apt-get install python3) and retry." >&2
  return 1
}

if [ ! -x .venv/bin/python ]; then
  py=$(pick_python)
  "$py" -m venv .venv 2>/dev/null || {
    # Debian ships venv separately.
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      "$py" -m venv .venv
    else
      echo "could not create a virtual environment; install python3-venv" >&2; exit 1
    fi
  }
fi

stamp=.venv/.aesp-installed
want=$(cat requirements-dev.txt pyproject.toml adapters/*/pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -U pip >/dev/null
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
  for adapter in adapters/*/; do
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e "$adapter"
  done
  echo "$want" > "$stamp"
fi
