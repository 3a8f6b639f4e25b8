#!/usr/bin/env bash
# The project's test command: every test of the workspace, then a smoke run of the real
# binaries in dev mode. Sets up what the tests need first (a Python venv with grpcio for the
# other-language interop test). Run from anywhere: `scripts/test.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/interop-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import grpc, grpc_tools, grpc_health, grpc_reflection" 2>/dev/null; then
  echo "== setting up $venv (grpcio for the interop test)"
  mkdir -p target
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/interop/requirements.txt
fi
export SLT_INTEROP_PYTHON="$PWD/$venv/bin/python"

echo "== cargo test --workspace"
cargo test --workspace --locked

echo "== dev-mode smoke test (real binaries)"
scripts/smoke-dev.sh
