#!/usr/bin/env bash
# Runs scenarios of the shared acceptance suite (../shared/interop) against a
# freshly started gateway from target/debug. The suite is copied to a
# temporary directory so that its node_modules never land in ../shared.
# The suite's SMTP sink gets a free loopback port, and the gateway sends its
# activation emails there (plain SMTP: loopback needs no TLS).
# Usage: scripts/shared-interop.sh [SCENARIO[,SCENARIO...]]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${GATEWAY_BIN:-${CARGO_TARGET_DIR:-target}/debug/meld-gateway}
[ -x "$bin" ] || { echo "no gateway binary at $bin (cargo build first)" >&2; exit 1; }
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }; rm -rf "$work"' EXIT

cp -r ../shared/interop "$work/suite"
rm -rf "$work/suite/node_modules"
(cd "$work/suite" && npm ci --no-audit --no-fund --loglevel=error)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
smtp_port=$(free_port)
# The suite refuses many bad keys from one address on purpose: lockouts are
# tested by tests/interop's own lockout scenario instead
key=$("$bin" init --root rootacc --gateway ex.org | sed -n 's/^M_LD_GATEWAY_AUTH__KEY=//p')
M_LD_GATEWAY_GATEWAY=ex.org M_LD_GATEWAY_AUTH__KEY="$key" M_LD_GATEWAY_DATA_PATH="$work/data" \
  M_LD_GATEWAY_ADDRESS__PORT="$port" \
  M_LD_GATEWAY_AUTH__LOCKOUT_FAILURES=100000 \
  M_LD_GATEWAY_SMTP__HOST=127.0.0.1 M_LD_GATEWAY_SMTP__PORT="$smtp_port" \
  M_LD_GATEWAY_SMTP__FROM='m-ld gateway <gateway@ex.org>' LOG_LEVEL=${LOG_LEVEL:-info} "$bin" serve >"$work/gateway.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  node -e 'fetch(process.argv[1]).then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))' \
    "http://127.0.0.1:$port/healthz" && break
  sleep 0.1
done

only=()
[ $# -gt 0 ] && only=(--only "$1")
status=0
GATEWAY_ORIGIN="http://127.0.0.1:$port" SMTP_SINK_PORT="$smtp_port" GATEWAY_DOMAIN=ex.org ROOT_ACCOUNT=rootacc ROOT_KEY="$key" \
  node "$work/suite/run.mjs" "${only[@]}" || status=$?
if [ $status -ne 0 ]; then echo "--- gateway log (tail)"; tail -50 "$work/gateway.log"; fi
exit $status
