#!/usr/bin/env bash
# Regenerates aesp/proto/ (generated code only) from proto/ with the pinned grpcio-tools.
# Usage: scripts/gen_protos.sh [OUTDIR]   (default aesp/proto; tests pass a temp dir to compare)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-"$root/aesp/proto"}
py=${PYTHON:-"$root/.venv/bin/python"}
rm -rf "$out"
mkdir -p "$out"
cd "$root/proto"
mapfile -t files < <(find altar -name '*.proto' | LC_ALL=C sort)
"$py" -m grpc_tools.protoc -I. --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" "${files[@]}"
# grpc_tools writes imports relative to the include root ("from altar.adm.v1 import ...");
# the generated tree lives inside the aesp package, so make them absolute.
find "$out" -name '*.py' -o -name '*.pyi' | LC_ALL=C sort | while read -r f; do
  sed -i -E 's/^from altar\./from aesp.proto.altar./; s/^import altar\./import aesp.proto.altar./' "$f"
done
for d in "$out" $(find "$out" -type d -mindepth 1 | LC_ALL=C sort); do
  [ -f "$d/__init__.py" ] || printf '"""Generated protobuf code. Do not edit; run scripts/gen_protos.sh."""\n' > "$d/__init__.py"
done
