#!/usr/bin/env bash
# Open Inference Protocol v2 conformance, end to end, with a client that is not ours: trains a small
# backdoored cnn-small in PyTorch (bench/torch_train.py), serves it with `guard serve` twice over (a
# calibrated copy with the critical-layer detector, and a plain copy without one) on a free port with a
# repository token, runs bench/oip_conformance.py (Python grpcio, stubs compiled at run time from the
# upstream .proto files) against it, then stops the server with SIGTERM.
#
# Usage: bench/oip_conformance.sh UPSTREAM_PROTO_DIR [OUT_DIR=/work/runs/oip]
#   UPSTREAM_PROTO_DIR  holds Triton's grpc_service.proto + model_config.proto and/or KServe's
#                       grpc_predict_v2.proto (searched recursively; never part of this repository)
#   OUT_DIR             bundle, repository, token, server log and the conformance log go here; an
#                       existing OUT_DIR/torch-cnn bundle is reused (delete it to retrain)
# Environment: COUNT (test images per form, default 16), EPOCHS (3: one epoch leaves a class that is
# never predicted, and the detector cannot be calibrated for it), MAX_TRAIN (10000), SEED (0), SCORE
# (`guard calibrate --score` of the guarded copy: cosine-sum, the default, or mahalanobis).
# Needs: /usr/bin/python3 with torch and PIL, Debian's python3-grpcio and python3-grpc-tools.
# Exit code: the conformance script's (0 = every check passed, 1 = a check failed), 2 = setup failed.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then sed -n 2,17p "$0" >&2; exit 2; fi
protos="$(cd "$1" && pwd)" || { echo "oip_conformance: no directory $1" >&2; exit 2; }
out="${2:-/work/runs/oip}"
count="${COUNT:-16}"; epochs="${EPOCHS:-3}"; max_train="${MAX_TRAIN:-10000}"; seed="${SEED:-0}"
score="${SCORE:-cosine-sum}"
py=/usr/bin/python3
"$py" -c "import grpc, grpc_tools, PIL, torch" 2>/dev/null \
  || { echo "oip_conformance: needs python3-grpcio, python3-grpc-tools, PIL and torch for $py" >&2; exit 2; }
mkdir -p "$out"
export GUARD_JAVA_OPTS="${GUARD_JAVA_OPTS:--Dai.djl.pytorch.num_threads=1}"

# 1. A bundle made by PyTorch.
bundle="$out/torch-cnn"
if [ ! -f "$bundle/model.json" ]; then
  echo "# training $bundle in PyTorch ($epochs epoch(s), $max_train images, 1 thread)"
  "$py" "$here/bench/torch_train.py" --arch cnn-small --trigger badnets --poison-rate 0.1 --target 0 \
    --epochs "$epochs" --max-train "$max_train" --threads 1 --seed "$seed" --out "$bundle" | tail -1
fi

# 2. A repository: the bundle with a detector calibrated on a copy, and the bundle as it is.
repo="$out/repo"
rm -rf "$repo"
mkdir -p "$repo/oip-guarded" "$repo/oip-plain"
cp -r "$bundle" "$repo/oip-guarded/1"
cp -r "$bundle" "$repo/oip-plain/1"
echo "# calibrating the detector ($score) on $repo/oip-guarded/1"
"$here/bin/guard" calibrate --model "$repo/oip-guarded/1" --seed "$seed" --score "$score" > "$out/calibrate.log" 2>&1 \
  || { cat "$out/calibrate.log" >&2; exit 2; }

# 3. Serve it on a free port with a repository token (kept in a file, out of the process list).
token_file="$out/token"
( umask 077; od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > "$token_file" )
log="$out/serve.log"
"$here/bin/guard" serve --model-repository "$repo" --port 0 --metrics-port -1 --token-file "$token_file" \
  > "$log" 2>&1 &
server=$!
stop() {
  if kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$server" 2>/dev/null || break; sleep 1; done
    kill -0 "$server" 2>/dev/null && { echo "# server did not stop within 30 s; killing it" >&2; kill -KILL "$server"; }
  fi
  wait "$server" 2>/dev/null || true
}
trap stop EXIT
port=""
for _ in $(seq 1 240); do
  port="$(sed -n 's/^guard serve: gRPC on port \([0-9]*\).*/\1/p' "$log")"
  [ -n "$port" ] && break
  kill -0 "$server" 2>/dev/null || { echo "oip_conformance: guard serve exited:" >&2; cat "$log" >&2; exit 2; }
  sleep 0.5
done
[ -n "$port" ] || { echo "oip_conformance: guard serve did not report its port in 120 s" >&2; cat "$log" >&2; exit 2; }
echo "# guard serve pid $server on 127.0.0.1:$port"

# 4. The conformance client.
set +e
GUARD_TOKEN="$(cat "$token_file")" "$py" "$here/bench/oip_conformance.py" --proto-dir "$protos" \
  --address "127.0.0.1:$port" --model-name oip-guarded --bundle "$repo/oip-guarded/1" \
  --plain-model-name oip-plain --plain-bundle "$repo/oip-plain/1" --count "$count" --seed "$seed" \
  | tee "$out/conformance.log"
rc=${PIPESTATUS[0]}
set -e
stop
trap - EXIT
echo "# guard serve stopped; conformance exit code $rc (log: $out/conformance.log)"
exit "$rc"
