#!/usr/bin/env bash
# The serving benchmark of docs/BENCHMARKS.md §6, in one run on one machine:
#   1. the raw forward pass of the served model (ModelGuard.predict in a loop from the server's two
#      worker threads with its PyTorch thread settings, no server), guard off and on, at batch 1, 8
#      and 32 (the server's max batch);
#   2. guard serve on the same bundle, driven by guard bench (closed loop, ITEMS Fashion-MNIST images per
#      request, 10% badnets-triggered) at CONCURRENCIES (default 1, 8 and 64), guard mode off and flag; the mean
#      executed batch size of each run comes from the server's own /metrics (guard_batch_size);
#      the CPU the server used in each measured window (sampled from /proc) and the load generator used,
#      so that throughput can also be compared per core with the raw pass;
#   3. optionally (SOAK_SECONDS > 0) a soak at SOAK_CONCURRENCY (default 64), one image per request, with
#      the server's resident memory sampled.
# Usage: bench/serve_matrix.sh [REPO] [MODEL] [SECONDS]
#   env: SOAK_SECONDS (default 0), SOAK_CONCURRENCY (default 64; 8 keeps every batch at most 8 images,
#        the detector's heap path), OUT (dir), CONNECTIONS (guard bench --connections, default 1),
#        ITEMS (guard bench --batch: images per request, default 1), CONCURRENCIES (default "1 8 64"),
#        RAW_BATCHES (the raw pass's batch sizes, default "1 8 32"), WARMUP (guard bench --warmup before
#        each measured run, default 3s; the server's JIT compiler is still busy for tens of seconds after start);
#        e.g. ITEMS=8 CONCURRENCIES=8 keeps 64 images in flight, as concurrency 64 does with one per
#        request, with an eighth of the requests: what the per-request cost is, at the same load.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
# No bin/native-memory.sh: guard serve runs with glibc's malloc defaults, and so does its raw baseline.
repo="${1:-$here/demo/models}"; model="${2:-fashion-mnist}"; seconds="${3:-20}"
soak="${SOAK_SECONDS:-0}"; out="${OUT:-$(mktemp -d)}"; mkdir -p "$out"
guard="$here/bin/guard"
[ -f "$here/server/target/guard-server.jar" ] || (cd "$here" && mvn -q -B -DskipTests package)
cp="$here/server/target/guard-server.jar:$here/server/target/lib/*"
bundle="$(ls -d "$repo/$model"/*/ | sort -V | tail -1)"
workers=2                                                          # guard serve's default GUARD_WORKERS
threads=$(( $(nproc) / workers )); [ "$threads" -ge 1 ] || threads=1   # what guard serve picks: cores / workers
raw() { java --add-modules jdk.incubator.vector -Dai.djl.offline=true -Dai.djl.pytorch.num_threads="$threads" -Dai.djl.pytorch.num_interop_threads=1 \
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Dorg.slf4j.simpleLogger.log.ai.djl=error \
  -cp "$cp" "$here/bench/ServeBench.java" raw "$bundle" "$@"; }
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(date -u +%F)" | tee "$out/summary.txt"
for b in ${RAW_BATCHES:-1 8 32}; do   # the baseline: the server's workers and threads, no gRPC, no queue
  raw "$b" "$(( 2 * seconds ))" "$workers" | tee -a "$out/raw.txt"
done
metrics_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$guard" serve --model-repository "$repo" --port 0 --metrics-port "$metrics_port" > "$out/serve.log" 2>&1 &
pid=$!; trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 240); do grep -q "gRPC on port" "$out/serve.log" && break; sleep 0.5; done
port="$(grep -o 'gRPC on port [0-9]*' "$out/serve.log" | grep -o '[0-9]*$')"
batch_stats() { curl -s "http://127.0.0.1:$metrics_port/metrics" | awk -v m="$model" '
  /^guard_batch_size_sum/ && index($0, "model=\"" m "\"") {s=$2} /^guard_batch_size_count/ && index($0, "model=\"" m "\"") {c=$2}
  END {printf "%s %s\n", s+0, c+0}'; }
# CPU seconds (user + system) the server process has used so far: with the load generator on the same
# machine, the server's share of the cores is what its throughput must be compared with.
# Sampled twice a second, so that only the measured window counts (not the load generator's JVM start
# and warm-up).
server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f\n", ($14 + $15) / hz}' "/proc/$pid/stat"; }
while kill -0 "$pid" 2>/dev/null; do echo "$(date +%s.%N) $(server_cpu 2>/dev/null)"; sleep 0.5; done \
  > "$out/server-cpu.txt" &
TIMEFORMAT='%R %U %S'   # bash's `time`: wall, user and system seconds of the load generator
for c in ${CONCURRENCIES:-1 8 64}; do
  for mode in off flag; do
    read -r s0 c0 < <(batch_stats)
    { time "$guard" bench --target "127.0.0.1:$port" --model "$model" --concurrency "$c" --mode "$mode" \
      --connections "${CONNECTIONS:-1}" --batch "${ITEMS:-1}" \
      --duration "${seconds}s" --warmup "${WARMUP:-3s}" --triggered 0.1 --json 2>/dev/null > "$out/bench-c$c-$mode.json"; } \
      2> "$out/client-time-c$c-$mode.txt"
    t1="$(date +%s.%N)"; sleep 1   # one more CPU sample after the run
    read -r s1 c1 < <(batch_stats)
    python3 - "$out/bench-c$c-$mode.json" "$s0" "$c0" "$s1" "$c1" "$t1" "$seconds" \
      "$out/client-time-c$c-$mode.txt" "$out/server-cpu.txt" <<'PY'
import json, sys
f, (s0, c0, s1, c1, t1, seconds), client, samples = sys.argv[1], map(float, sys.argv[2:8]), sys.argv[8], sys.argv[9]
d = json.load(open(f)); d["mean_batch"] = (s1 - s0) / max(c1 - c0, 1)
# Server cores over the measured window (the last `seconds` before the load generator exited, less a
# margin for its shutdown), from the samples inside it.
pts = [tuple(map(float, l.split())) for l in open(samples) if len(l.split()) == 2]
inside = [p for p in pts if t1 - seconds + 0.5 <= p[0] <= t1 - 0.5]
if len(inside) >= 2:
    d["server_cores"] = (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])
# The load generator's cores over its whole run (JVM start and warm-up included, so an upper bound).
wall, user, system = map(float, open(client).read().split()[-3:])
d["client_cores"] = (user + system) / wall
json.dump(d, open(f, "w"), indent=1)
PY
  done
done
if [ "$soak" -gt 0 ]; then
  echo "t_seconds rss_kib" > "$out/soak-rss.txt"
  "$guard" bench --target "127.0.0.1:$port" --model "$model" --concurrency "${SOAK_CONCURRENCY:-64}" --mode flag \
    --duration "${soak}s" --triggered 0.1 --json 2>/dev/null > "$out/soak.json" &
  bpid=$!; t=0
  while kill -0 "$bpid" 2>/dev/null; do
    echo "$t $(awk '/VmRSS/ {print $2}' /proc/$pid/status)" >> "$out/soak-rss.txt"; sleep 30; t=$((t + 30))
  done
  wait "$bpid"
fi
python3 "$here/bench/summarize_serve.py" "$out" | tee -a "$out/summary.txt"
