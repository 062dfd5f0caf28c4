#!/usr/bin/env bash
# Reload under load, long-running (docs/RELIABILITY.md): guard serve watches a repository while guard
# bench drives it at concurrency 16; every INTERVAL seconds a new version appears (the bundle copied
# under a hidden name, then renamed into place, as `guard serve --help` asks), versions older than the
# two newest are deleted, and every CORRUPT_EVERY-th new version is corrupt (truncated weights, broken
# model.json, or weights missing, in turn). At the end: requests and errors (must be 0), the server's
# guard_model_reloads_total by result (success must be 1 + the good versions, failure the corrupt
# ones) and the versions the log says went live.
# Usage: bench/reload_fault.sh [SECONDS] [BUNDLE]
#   env: INTERVAL (default 3 s), CORRUPT_EVERY (default 5), CONCURRENCY (default 16),
#        WATCH_MS (default 500), OUT (directory for the logs; default a temporary one),
#        GUARD_JAVA_OPTS (default: one PyTorch thread)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-180}"; bundle="${2:-$here/demo/models/fashion-mnist/1}"
interval="${INTERVAL:-3}"; corrupt_every="${CORRUPT_EVERY:-5}"; concurrency="${CONCURRENCY:-16}"
watch_ms="${WATCH_MS:-500}"
export GUARD_JAVA_OPTS="${GUARD_JAVA_OPTS:--Dai.djl.pytorch.num_threads=1}"
guard="$here/bin/guard"
out="${OUT:-$(mktemp -d)}"; mkdir -p "$out"
work="$(mktemp -d)"; repo="$work/repo"; model=fm; mkdir -p "$repo/$model"
cp -r "$bundle" "$repo/$model/1"
"$guard" --version > /dev/null   # build (if needed) before anything is timed
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
metrics_port="$(free_port)"
: > "$out/serve.log"                 # exists before the wait below greps it
"$guard" serve --model-repository "$repo" --port 0 --metrics-port "$metrics_port" --watch-interval-ms "$watch_ms" \
  > "$out/serve.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2> /dev/null || true; wait "$pid" 2> /dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 240); do grep -q "gRPC on port" "$out/serve.log" && break; sleep 0.5; done
port="$(grep -o 'gRPC on port [0-9]*' "$out/serve.log" | grep -o '[0-9]*$')"
[ -n "$port" ] || { echo "reload_fault: the server did not start:" >&2; cat "$out/serve.log" >&2; exit 1; }

"$guard" bench --target "127.0.0.1:$port" --model "$model" --concurrency "$concurrency" --duration "${seconds}s" \
  --triggered 0.1 --json > "$out/bench.json" 2> "$out/bench.err" &
bench=$!
version=1; good=0; corrupt=0; kinds=(truncated-weights broken-model-json missing-weights)
while kill -0 "$bench" 2> /dev/null; do
  sleep "$interval"
  kill -0 "$bench" 2> /dev/null || break
  version=$((version + 1))
  staging="$repo/$model/.incoming-$version"
  cp -r "$bundle" "$staging"
  if [ $((version % corrupt_every)) -eq 0 ]; then
    kind="${kinds[$((corrupt % 3))]}"; corrupt=$((corrupt + 1))
    case "$kind" in
      truncated-weights) truncate -s 1000 "$staging/weights.safetensors" ;;
      broken-model-json) printf '{"architecture": "cnn-small", "input_shape": [1, 28' > "$staging/model.json" ;;
      missing-weights) rm "$staging/weights.safetensors" ;;
    esac
    echo "$(date +%T) version $version: corrupt ($kind)" >> "$out/versions.log"
  else
    good=$((good + 1))
    echo "$(date +%T) version $version: good" >> "$out/versions.log"
  fi
  mv -T "$staging" "$repo/$model/$version"            # rename(2): the version appears whole
  for old in $(ls "$repo/$model" | grep -E '^[0-9]+$' | sort -n | head -n -2); do
    rm -rf "${repo:?}/$model/$old"                     # the server keeps serving what it loaded
  done
done
wait "$bench" || true
sleep $(( watch_ms / 1000 + 2 ))                       # the watch's last pass
metrics="$(curl -s "http://127.0.0.1:$metrics_port/metrics")"
success="$(awk '/^guard_model_reloads_total/ && /result="success"/ {s += $2} END {print s + 0}' <<< "$metrics")"
failure="$(awk '/^guard_model_reloads_total/ && /result="failure"/ {s += $2} END {print s + 0}' <<< "$metrics")"
kill "$pid" 2> /dev/null || true; wait "$pid" 2> /dev/null || true

python3 - "$out/bench.json" "$good" "$corrupt" "$success" "$failure" "$out/serve.log" "$seconds" "$interval" \
  "$concurrency" <<'PY' | tee "$out/summary.txt"
import json, re, sys
bench, good, corrupt, success, failure, log, seconds, interval, concurrency = sys.argv[1:]
b = json.load(open(bench))
text = open(log).read()
ready = re.findall(r"model fm version (\d+) is ready", text)
failed = re.findall(r"model fm version (\d+): load of version", text)
errors = sum(b["errors"].values())
print(f"reload under load: {seconds} s at concurrency {concurrency}, a new version every {interval} s")
print(f"  requests {b['sent']}  ok {b['ok']}  errors {errors} {b['errors'] or ''}  ({b['requests_per_second']:.1f}/s,"
      f" p50 {b['latency_ms']['p50']:.2f} ms, p99 {b['latency_ms']['p99']:.2f} ms, max {b['latency_ms']['max']:.1f} ms)")
print(f"  versions made: {good} good, {corrupt} corrupt (plus version 1 at start)")
print(f"  guard_model_reloads_total: success {success}, failure {failure}")
print(f"  log: {len(ready)} versions went live (last {ready[-1] if ready else '-'}), {len(failed)} loads failed")
ok = errors == 0 and float(success) == int(good) + 1 and float(failure) == int(corrupt)
print("  verdict:", "PASS" if ok else "FAIL (errors, or reloads that do not match the versions made)")
sys.exit(0 if ok else 1)
PY
