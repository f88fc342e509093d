#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests, then the end-to-end tests
# with real @m-ld/m-ld clones (tests/interop), the website in chromium
# (tests/web), then the shared acceptance scenarios that this gateway already
# covers (when ../shared is beside the repo).
set -euo pipefail
cd "$(dirname "$0")/.."

# --examples: the interop tests use examples/flip_record to corrupt a store
cargo build --locked --bins --examples
cargo test --locked
export GATEWAY_BIN="$(pwd)/${CARGO_TARGET_DIR:-target}/debug/meld-gateway"
case "${CARGO_TARGET_DIR:-}" in /*) GATEWAY_BIN="$CARGO_TARGET_DIR/debug/meld-gateway" ;; esac

echo "== tests/interop: real @m-ld/m-ld clones against $GATEWAY_BIN"
(cd tests/interop && npm ci --no-audit --no-fund --loglevel=error && node run.mjs)

echo "== tests/web: the website in chromium against $GATEWAY_BIN"
(cd tests/web && npm ci --no-audit --no-fund --loglevel=error && node run.mjs)

shared=../shared/interop
if [ -f "$shared/run.mjs" ]; then
  echo "== ../shared/interop acceptance scenarios"
  bash scripts/shared-interop.sh   # all, email ones through a loopback SMTP sink
else
  echo "(no ../shared/interop beside the repository: acceptance scenarios skipped)"
fi
