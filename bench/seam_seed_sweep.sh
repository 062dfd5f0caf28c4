#!/usr/bin/env bash
# SEAM with the Java tool and the PyTorch reference (bench/torch_seam.py) over several seeds, then
# per-seed ACC/ASR after for both tools, their means and sample standard deviations, and the
# difference of the means. SEAM's remaining ASR swings with the random stream (the labels re-drawn
# every batch, the shuffling, the sets), and the two tools draw from different generators, so one
# run per tool cannot compare them where the backdoor is only partly removed; the means over seeds can.
# A run whose JSON already exists in OUT_DIR is reused (whatever the options), so an interrupted sweep
# can be resumed; use a new OUT_DIR for other options.
# Usage (after mvn package): [SEEDS="0 1 2 3 4"] [THREADS=1] \
#     bench/seam_seed_sweep.sh MODEL_DIR TRIGGER OUT_DIR [options both tools accept, e.g. --forget-fraction F
#     --forget-lr LR --max-epochs N...]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
if [ $# -lt 3 ]; then
  sed -n '2,11p' "$0" >&2
  exit 2
fi
model="$1"; trigger="$2"; out="$3"; shift 3
seeds="${SEEDS:-0 1 2 3 4}"; threads="${THREADS:-1}"
mkdir -p "$out"
failed() { echo "seam_seed_sweep: a run failed; the end of $1:" >&2; tail -n 5 "$1" >&2; exit 1; }
for seed in $seeds; do
  if [ ! -s "$out/s$seed-djl.json" ]; then
    GUARD_JAVA_OPTS="-Dai.djl.pytorch.num_threads=$threads -Dai.djl.pytorch.num_interop_threads=1" \
      "$here/bin/guard" purify seam --model "$model" --seed "$seed" --out "$out/s$seed-djl" --force \
      --eval-trigger "$trigger" --json "$@" 2> "$out/s$seed-djl.log" > "$out/s$seed-djl.json.part" \
      || failed "$out/s$seed-djl.log"
    mv "$out/s$seed-djl.json.part" "$out/s$seed-djl.json"
  fi
  if [ ! -s "$out/s$seed-torch.json" ]; then
    /usr/bin/python3 "$here/bench/torch_seam.py" --model "$model" --seed "$seed" --eval-trigger "$trigger" \
      --threads "$threads" --json "$@" 2> "$out/s$seed-torch.log" | tail -n 1 > "$out/s$seed-torch.json.part" \
      || failed "$out/s$seed-torch.log"
    mv "$out/s$seed-torch.json.part" "$out/s$seed-torch.json"
  fi
  echo "$(date -u +%H:%M:%S) seed $seed done" >&2
done
/usr/bin/python3 - "$out" "$seeds" <<'PY'
import json, statistics, sys
out, seeds = sys.argv[1], sys.argv[2].split()
def after(seed, tool):
    r = json.load(open(f"{out}/s{seed}-{tool}.json"))
    if tool == "djl":
        a, d = r["evaluation"]["after"], r["details"]
    else:
        a, d = r["after"], r
    return 100 * a["acc"], 100 * a["asr"], d["forget"]["epochs"], d["recover"]["epochs"], r["purify_seconds"]
def spread(xs):
    return f"{statistics.mean(xs):.2f} ± {statistics.stdev(xs):.2f}" if len(xs) > 1 else f"{xs[0]:.2f}"
print("| tool | ASR after per seed (" + ", ".join(seeds) + ") | ASR mean ± sd | ACC after per seed | ACC mean ± sd"
      " | forget / recover epochs per seed | purify s median |")
print("|---|---|---|---|---|---|---|")
means = {}
for tool, label in [("djl", "guard (DJL)"), ("torch", "PyTorch ref")]:
    runs = [after(s, tool) for s in seeds]
    acc, asr = [r[0] for r in runs], [r[1] for r in runs]
    means[tool] = (statistics.mean(acc), statistics.mean(asr))
    epochs = ", ".join(f"{r[2]}/{r[3]}" for r in runs)
    print(f"| {label} | {', '.join(f'{x:.2f}' for x in asr)} | {spread(asr)} | {', '.join(f'{x:.2f}' for x in acc)}"
          f" | {spread(acc)} | {epochs} | {statistics.median(r[4] for r in runs):.1f} |")
print(f"| difference of the means (DJL − PyTorch) | | {means['djl'][1] - means['torch'][1]:+.2f} | |"
      f" {means['djl'][0] - means['torch'][0]:+.2f} | | |")
PY
