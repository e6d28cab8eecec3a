#!/usr/bin/env bash
# The product in under a minute: a tool promoted, approved, called, refused by policy and by
# budget, and the audit log verified; a Host and a Runtime on this machine, over mTLS.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/bootstrap.sh
exec .venv/bin/aesp demo "$@"
