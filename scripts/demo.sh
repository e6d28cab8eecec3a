#!/usr/bin/env bash
# The product in under a minute: a Host, a Runtime and an agent, on this machine, over mTLS.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/bootstrap.sh
exec .venv/bin/aesp demo "$@"
