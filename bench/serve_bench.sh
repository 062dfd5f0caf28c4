#!/usr/bin/env bash
# guard serve throughput and latency against the raw forward pass of the same model at the same batch
# sizes, in one run (DESIGN §8). Preliminary on a shared machine; re-run on an idle one.
# Usage: bench/serve_bench.sh [ARCH] [SECONDS] [CLIENTS]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
# No bin/native-memory.sh: guard serve runs with glibc's malloc defaults, and so does its raw baseline.
arch="${1:-cnn-small}"; seconds="${2:-10}"; clients="${3:-8}"
[ -f "$here/server/target/guard-server.jar" ] || (cd "$here" && mvn -q -B -DskipTests package)
cp="$here/server/target/guard-server.jar:$here/server/target/lib/*"
# The raw forward pass runs with the threads guard serve picks by default (intra-op = cores / 2 workers,
# inter-op 1), so both sides use the same PyTorch settings.
threads=$(( $(nproc) / 2 )); [ "$threads" -ge 1 ] || threads=1
run() { java --add-modules jdk.incubator.vector -Dai.djl.offline=true -Dai.djl.pytorch.num_threads="$threads" -Dai.djl.pytorch.num_interop_threads=1 -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Dorg.slf4j.simpleLogger.log.ai.djl=error -cp "$cp" "$here/bench/ServeBench.java" "$@"; }
work="$(mktemp -d)"; trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
run bundle "$work/repo/bench/1" "$arch"
for b in 1 8 32; do run raw "$work/repo/bench/1" "$b" "$seconds"; done
"$here/bin/guard" serve --model-repository "$work/repo" --port 0 --metrics-port -1 > "$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 120); do grep -q "gRPC on port" "$work/serve.log" && break; sleep 0.5; done
port="$(grep -o 'gRPC on port [0-9]*' "$work/serve.log" | grep -o '[0-9]*$')"
run grpc "$port" bench 1 1 "$seconds"          # one client, one image: latency floor
run grpc "$port" bench "$clients" 1 "$seconds" # many clients, one image each: dynamic batching
run grpc "$port" bench 1 32 "$seconds"         # one client, batches of 32: compare with raw batch 32
