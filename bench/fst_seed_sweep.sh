#!/usr/bin/env bash
# FST and its baseline modes with the Java tool and the PyTorch reference (bench/torch_fst.py) over
# several seeds, both tools started from the same random draw of each seed (the Java tool's clean
# indices and re-initialised head, written by bench/FstDraw.java), so that what differs between the two
# is only each tool's shuffling and augmentation stream. Prints, per mode, every seed's ACC/ASR after
# for both tools, their means and sample standard deviations, and the difference of the means: a
# single seed cannot compare the tools where ASR lands half-way (ft, ft-init, fe-tuning), because
# there the run-to-run spread of one tool is larger than the difference under test.
# Usage (after mvn package): [SEEDS="0 1 2 3 4"] [MODES="ft ft-init fe-tuning"] [THREADS=1] \
#     [ALPHA=0.2] [EPOCHS=10] [FRACTION=0.02] bench/fst_seed_sweep.sh MODEL_DIR TRIGGER OUT_DIR
#   ALPHA, EPOCHS and FRACTION (--alpha, --epochs, --clean-fraction) go to both tools; FRACTION also to the draw.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
if [ $# -ne 3 ]; then
  sed -n '2,11p' "$0" >&2
  exit 2
fi
model="$1"; trigger="$2"; out="$3"
seeds="${SEEDS:-0 1 2 3 4}"; modes="${MODES:-ft ft-init fe-tuning}"; threads="${THREADS:-1}"
settings=(--alpha "${ALPHA:-0.2}" --epochs "${EPOCHS:-10}" --clean-fraction "${FRACTION:-0.02}")
mkdir -p "$out"
failed() { echo "fst_seed_sweep: a run failed; the end of $1:" >&2; tail -n 5 "$1" >&2; exit 1; }
export GUARD_JAVA_OPTS="-Dai.djl.pytorch.num_threads=$threads -Dai.djl.pytorch.num_interop_threads=1"
for seed in $seeds; do
  draw="$out/draw$seed"
  java -Dai.djl.offline=true -cp "$here/offline/target/guard-offline.jar:$here/offline/target/lib/*" \
    "$here/bench/FstDraw.java" "$seed" "$model" "$draw" "${FRACTION:-0.02}" >&2
  for mode in $modes; do
    head=()  # the head is re-drawn only by these modes; torch_fst.py refuses --head-init otherwise
    case "$mode" in fst|ft-init|fe-tuning) head=(--head-init "$draw/head-init.txt") ;; esac
    "$here/bin/guard" purify fst --mode "$mode" "${settings[@]}" --seed "$seed" --model "$model" --out "$out/$mode-s$seed-djl" \
      --force --eval-trigger "$trigger" --json 2> "$out/$mode-s$seed-djl.log" > "$out/$mode-s$seed-djl.json" \
      || failed "$out/$mode-s$seed-djl.log"
    /usr/bin/python3 "$here/bench/torch_fst.py" --mode "$mode" "${settings[@]}" --seed "$seed" --model "$model" \
      --clean-indices "$draw/clean-indices.txt" "${head[@]}" --eval-trigger "$trigger" --threads "$threads" \
      --json 2> "$out/$mode-s$seed-torch.log" | tail -n 1 > "$out/$mode-s$seed-torch.json" \
      || failed "$out/$mode-s$seed-torch.log"
    echo "$(date -u +%H:%M:%S) seed $seed $mode done" >&2
  done
done
/usr/bin/python3 - "$out" "$seeds" "$modes" <<'PY'
import json, statistics, sys
out, seeds, modes = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
def after(mode, seed, tool):
    r = json.load(open(f"{out}/{mode}-s{seed}-{tool}.json"))
    a = r["evaluation"]["after"] if tool == "djl" else r["after"]
    return 100 * a["acc"], 100 * a["asr"]
def spread(xs):
    return f"{statistics.mean(xs):.2f} ± {statistics.stdev(xs):.2f}" if len(xs) > 1 else f"{xs[0]:.2f}"
print("| mode | tool | ASR after per seed (" + ", ".join(seeds) + ") | ASR mean ± sd | ACC after per seed | ACC mean ± sd |")
print("|---|---|---|---|---|---|")
for m in modes:
    means = {}
    for tool, label in [("djl", "guard (DJL)"), ("torch", "PyTorch ref")]:
        runs = [after(m, s, tool) for s in seeds]
        acc, asr = [a for a, _ in runs], [b for _, b in runs]
        means[tool] = (statistics.mean(acc), statistics.mean(asr))
        print(f"| {m} | {label} | {', '.join(f'{x:.2f}' for x in asr)} | {spread(asr)} | "
              f"{', '.join(f'{x:.2f}' for x in acc)} | {spread(acc)} |")
    d_acc = means["djl"][0] - means["torch"][0]
    d_asr = means["djl"][1] - means["torch"][1]
    print(f"| {m} | difference of the means (DJL − PyTorch) | | {d_asr:+.2f} | | {d_acc:+.2f} |")
PY
