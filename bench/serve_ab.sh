#!/usr/bin/env bash
# Paired rounds: the raw forward pass at the server's batch size, then guard serve under full-batch requests,
# one server kept running the whole time, so that each server figure has a baseline measured right before it
# (the raw pass alone drifts by 10-25% over tens of minutes on a shared VM, more than the gap being measured).
#   round i: raw batch RAW_BATCH (plain and guarded, ServeBench, the server's 2 workers x cores/2 threads, ~2*RAW_SECONDS
#            + 4 s), then guard bench --concurrency CONCURRENCY --batch ITEMS --mode flag for SECONDS (the first
#            round after a WARMUP-long warm-up, later ones after 2 s); the server's CPU is sampled from /proc.
# Prints one line per round and the medians of the ratios (server items/s per server core over raw images/s per core).
# Usage: bench/serve_ab.sh [REPO] [MODEL] [ROUNDS] [SECONDS]
#   env: ITEMS (images per request, default 32), RAW_BATCH (the raw pass's batch, default ITEMS; with one image per
#        request use the batch the server executes, e.g. 32), CONCURRENCY (default 16), RAW_SECONDS (default 10),
#        WARMUP (default 30s), OUT (dir)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
# No bin/native-memory.sh: guard serve runs with glibc's malloc defaults, and so does its raw baseline.
repo="${1:-$here/demo/models}"; model="${2:-fashion-mnist}"; rounds="${3:-6}"; seconds="${4:-20}"
items="${ITEMS:-32}"; raw_batch="${RAW_BATCH:-$items}"; conc="${CONCURRENCY:-16}"; out="${OUT:-$(mktemp -d)}"; mkdir -p "$out"
guard="$here/bin/guard"
[ -f "$here/server/target/guard-server.jar" ] || (cd "$here" && mvn -q -B -DskipTests package)
cp="$here/server/target/guard-server.jar:$here/server/target/lib/*"
bundle="$(ls -d "$repo/$model"/*/ | sort -V | tail -1)"
threads=$(( $(nproc) / 2 )); [ "$threads" -ge 1 ] || threads=1
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(date -u +%FT%TZ); $items images per request," \
  "concurrency $conc, $seconds s per server run, raw batch $raw_batch" | tee "$out/summary.txt"
"$guard" serve --model-repository "$repo" --port 0 --metrics-port 0 > "$out/serve.log" 2>&1 &
pid=$!; sampler=""
trap 'kill "$pid" $sampler 2>/dev/null || true' EXIT
for _ in $(seq 1 240); do
  grep -q "gRPC on port" "$out/serve.log" && break
  kill -0 "$pid" 2>/dev/null || { echo "guard serve exited; its log:" >&2; tail -5 "$out/serve.log" >&2; exit 1; }
  sleep 0.5
done
port="$(grep -o 'gRPC on port [0-9]*' "$out/serve.log" | grep -o '[0-9]*$')"
metrics="$(grep -o 'http://[^ ]*/metrics' "$out/serve.log" | head -1)"
# The mean executed batch size (guard_batch_size sum and count), to check that the raw batch is the one compared.
batches() { curl -s "$metrics" | awk '/^guard_batch_size_sum/ {s += $2} /^guard_batch_size_count/ {c += $2}
  END {printf "%s %s\n", s + 0, c + 0}'; }
while kill -0 "$pid" 2>/dev/null; do
  echo "$(date +%s.%N) $(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$pid/stat" 2>/dev/null)"
  sleep 0.5
done > "$out/server-cpu.txt" &
sampler=$!
warmup="${WARMUP:-30s}"
for r in $(seq 1 "$rounds"); do
  java --add-modules jdk.incubator.vector -Dai.djl.offline=true -Dai.djl.pytorch.num_threads="$threads" -Dai.djl.pytorch.num_interop_threads=1 \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Dorg.slf4j.simpleLogger.log.ai.djl=error \
    -cp "$cp" "$here/bench/ServeBench.java" raw "$bundle" "$raw_batch" "$(( 2 * ${RAW_SECONDS:-10} ))" 2 \
    2> "$out/raw-$r.err" > "$out/raw-$r.txt" || echo "round $r: the raw pass failed (exit $?, $out/raw-$r.err)" >&2
  batches > "$out/batches-$r-before.txt"
  # guard bench exits 1 when any request failed; the round is still reported (its errors column says so).
  "$guard" bench --target "127.0.0.1:$port" --model "$model" --concurrency "$conc" --batch "$items" --mode flag \
    --duration "${seconds}s" --warmup "$warmup" --triggered 0.1 --json 2> "$out/bench-$r.err" > "$out/bench-$r.json" \
    || echo "round $r: guard bench exited $? ($out/bench-$r.err)" >&2
  date +%s.%N > "$out/end-$r.txt"; batches > "$out/batches-$r-after.txt"; warmup=2s; sleep 1
done
python3 - "$out" "$rounds" "$seconds" <<'PY' | tee -a "$out/summary.txt"
import json, re, statistics, sys
out, rounds, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
pts = [tuple(map(float, l.split())) for l in open(f"{out}/server-cpu.txt") if len(l.split()) == 2]
print("| round | raw plain / guarded images/s (cores) | server items/s | mean executed batch | server cores | per-core ratio to plain / guarded | wall-clock ratio to plain | errors |")
print("|---|---|---|---|---|---|---|---|")
per_core, per_core_g, wall = [], [], []
for r in range(1, rounds + 1):
    try:
        raw = {}
        for line in open(f"{out}/raw-{r}.txt"):
            m = re.match(r"raw forward(\+guard)? batch \d+: (\d+) images/s, ([\d.]+) cores", line)
            if m:
                raw[bool(m.group(1))] = (float(m.group(2)), float(m.group(3)))
        d = json.load(open(f"{out}/bench-{r}.json"))
        t1 = float(open(f"{out}/end-{r}.txt").read())
        s0, c0 = map(float, open(f"{out}/batches-{r}-before.txt").read().split())
        s1, c1 = map(float, open(f"{out}/batches-{r}-after.txt").read().split())
        # the measured window ends when guard bench has printed its report (a second or less before t1)
        inside = [p for p in pts if t1 - d["seconds"] - 0.5 <= p[0] <= t1 - 1.0]
        cores = (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])
        s = d["items_per_second"]
        pc = (s / cores) / (raw[False][0] / raw[False][1]); pcg = (s / cores) / (raw[True][0] / raw[True][1])
    except (OSError, ValueError, KeyError, IndexError, ZeroDivisionError) as e:
        print(f"| {r} | round incomplete ({type(e).__name__}: {e}) | | | | | | |")
        continue
    per_core.append(pc); per_core_g.append(pcg); wall.append(s / raw[False][0])
    errors = sum(d["errors"].values())
    mean_batch = (s1 - s0) / max(c1 - c0, 1)
    print(f"| {r} | {raw[False][0]:.0f} / {raw[True][0]:.0f} ({raw[False][1]:.2f}) | {s:.0f} | {mean_batch:.1f} | "
          f"{cores:.2f} | {pc:.2f} / {pcg:.2f} | {s / raw[False][0]:.2f} | {errors} |")
if not per_core:
    sys.exit("no complete round")
print(f"\nmedian per-core ratio to the plain raw pass {statistics.median(per_core):.3f} "
      f"(to the guarded {statistics.median(per_core_g):.3f}); median wall-clock ratio {statistics.median(wall):.3f}")
PY
