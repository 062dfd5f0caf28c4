#!/usr/bin/env bash
# Training speed, DJL (`guard attack`) against PyTorch (bench/torch_train.py), same recipe and data
# size, alternated A B A B so that drift in machine speed hits both. Run it on a quiet machine.
# Usage: [THREADS=N] bench/attack_speed.sh [OUT_DIR] [ARCH] [WIDTH] [MAX_TRAIN] [EPOCHS] [ROUNDS]
#   THREADS (default 2) sets the engine threads of both sides (DJL intra-op threads, torch.set_num_threads);
#   it overrides a thread count given in GUARD_JAVA_OPTS.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$here/runs/bench-speed}"; arch="${2:-cnn-small}"; width="${3:-}"
max_train="${4:-20000}"; epochs="${5:-2}"; rounds="${6:-2}"
mkdir -p "$out"
threads="${THREADS:-2}"
export GUARD_JAVA_OPTS="${GUARD_JAVA_OPTS:-} -Dai.djl.pytorch.num_threads=$threads -Dai.djl.pytorch.num_interop_threads=1"
wopt=(); [ -n "$width" ] && wopt=(--width "$width")
for r in $(seq 1 "$rounds"); do
  echo "== round $r: DJL" >&2
  "$here/bin/guard" attack --arch "$arch" "${wopt[@]}" --epochs "$epochs" --max-train "$max_train" \
    --out "$out/djl-$r" --force --json > "$out/djl-$r.json"
  echo "== round $r: PyTorch" >&2
  /usr/bin/python3 "$here/bench/torch_train.py" --arch "$arch" "${wopt[@]}" --epochs "$epochs" \
    --max-train "$max_train" --threads "$threads" | tail -n 1 > "$out/torch-$r.json"
done
/usr/bin/python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
djl = [s["seconds"] for r in range(1, rounds + 1) for s in json.load(open(f"{out}/djl-{r}.json"))["epochs"]]
tor = [s for r in range(1, rounds + 1) for s in json.load(open(f"{out}/torch-{r}.json"))["seconds_per_epoch"]]
md, mt = statistics.median(djl), statistics.median(tor)
print(f"DJL seconds per epoch:     {[round(x, 1) for x in djl]} median {md:.1f}")
print(f"PyTorch seconds per epoch: {[round(x, 1) for x in tor]} median {mt:.1f}")
print(f"DJL / PyTorch = {md / mt:.2f}x")
PY
