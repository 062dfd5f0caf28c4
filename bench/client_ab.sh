#!/usr/bin/env bash
# Two load-generator builds (or two concurrencies) alternated against one `guard serve`: throughput,
# and the CPU the client and the server used over the same window inside each run (from /proc), so
# that a cheaper client can be told from a faster server. Closed loop, guard mode flag, 10% triggered.
# Usage: bench/client_ab.sh REPO MODEL SECONDS OUT CHECKOUT_A[:CONCURRENCY] CHECKOUT_B[:CONCURRENCY] [ROUNDS=3]
#   CHECKOUT_*: a built checkout of this project (its bin/guard runs the client; the server runs from
#   CHECKOUT_A); CONCURRENCY defaults to 64. SECONDS >= 8 (the CPU window is SECONDS - 3 s after 5 s).
# Prints one line per run; the guard bench JSON of each run is kept in OUT.
set -euo pipefail
[ $# -ge 6 ] || { sed -n 2,8p "$0" >&2; exit 2; }
repo=$1; model=$2; secs=$3; out=$4; a=$5; b=$6; rounds=${7:-3}
[ "$secs" -ge 8 ] || { echo "SECONDS must be at least 8" >&2; exit 2; }
mkdir -p "$out"
"${a%%:*}/bin/guard" serve --model-repository "$repo" --port 0 --metrics-port 0 > "$out/serve.log" 2>&1 &
pid=$!; bp=""; trap 'kill "$pid" $bp 2>/dev/null || true' EXIT
for _ in $(seq 1 240); do grep -q "gRPC on port" "$out/serve.log" && break; sleep 0.5; done
port="$(grep -o 'gRPC on port [0-9]*' "$out/serve.log" | grep -o '[0-9]*$')" || { cat "$out/serve.log" >&2; exit 1; }
cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
for round in $(seq 1 "$rounds"); do
  for side in "$a" "$b"; do
    checkout=${side%%:*}; c=64; [ "$side" = "$checkout" ] || c=${side##*:}
    name="$(basename "$checkout")-c$c-$round"
    "$checkout/bin/guard" bench --target "127.0.0.1:$port" --model "$model" --concurrency "$c" --mode flag \
      --duration "${secs}s" --warmup 3s --triggered 0.1 --json 2>/dev/null > "$out/$name.json" &
    bp=$!; client=$bp; sleep 5   # bin/guard execs java: this is the client JVM
    k0=$(cpu "$client"); s0=$(cpu "$pid"); t0=$(date +%s.%N)
    sleep $((secs - 3))
    k1=$(cpu "$client"); s1=$(cpu "$pid"); t1=$(date +%s.%N)
    wait "$bp"
    python3 - "$out/$name.json" "$name" "$k0" "$k1" "$s0" "$s1" "$t0" "$t1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); k0, k1, s0, s1, t0, t1 = map(float, sys.argv[3:9])
print(f"{sys.argv[2]}: {d['items_per_second']:.0f} items/s, p50 {d['latency_ms']['p50']:.2f} ms, "
      f"client cores {(k1 - k0) / (t1 - t0):.2f}, server cores {(s1 - s0) / (t1 - t0):.2f}, errors {d['errors']}")
PY
  done
done
