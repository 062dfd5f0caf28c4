#!/usr/bin/env bash
# guard bench against a local guard serve: closed loop (batch 1 and 16), open loop at a sustainable rate, and
# an overloaded open loop (to show dropped/late accounting). Preliminary on a shared machine; re-run idle.
# Usage: bench/client_bench.sh [MODEL_REPOSITORY] [MODEL] [SECONDS]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
repo="${1:-$here/demo/models}"; model="${2:-fashion-mnist}"; seconds="${3:-10}"
guard="$here/bin/guard"
work="$(mktemp -d)"; trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
"$guard" serve --model-repository "$repo" --port 0 --metrics-port -1 > "$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 240); do grep -q "gRPC on port" "$work/serve.log" && break; sleep 0.5; done
port="$(grep -o 'gRPC on port [0-9]*' "$work/serve.log" | grep -o '[0-9]*$')"
# guard bench exits 1 when any request failed; the overloaded open loop below may see errors, and its report
# (printed either way) is the point, so a failed run does not stop the script.
bench() { "$guard" bench --target "127.0.0.1:$port" --model "$model" --duration "${seconds}s" --warmup 2s "$@" 2>/dev/null || true; echo; }
bench --concurrency 8                                  # closed loop, one image per request
bench --concurrency 4 --batch 16                       # closed loop, batches of 16
bench --rate 200                                       # open loop below saturation: latency without queueing
bench --rate 2000 --max-in-flight 64                   # open loop above saturation: dropped/late counted
