#!/usr/bin/env bash
# DHBE with the Java tool and with the PyTorch reference (bench/torch_dhbe.py) on the same bundle and
# settings, one after the other, ONE thread each (a fair per-iteration comparison on a shared machine).
# Prints ms per iteration (median over the run, first iterations excluded) for both, their ratio, and
# ACC / ASR / RA before and after of both runs.
# Usage: bench/dhbe_compare.sh MODEL_DIR TRIGGER [OUT_DIR] [-- extra size options for both, e.g.
#        --iterations 40 --batch-size 64 --ngf 16 --nz 128 --lr-student 0.1]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
model="$1"; trigger="$2"; shift 2
out="$here/runs/bench-dhbe"
if [ $# -gt 0 ] && [ "$1" != "--" ]; then out="$1"; shift; fi
[ $# -gt 0 ] && [ "$1" = "--" ] && shift
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(--iterations 40 --batch-size 64 --ngf 16 --nz 128 --lr-student 0.1)
mkdir -p "$out"
name="$(basename "$model")"
export OMP_NUM_THREADS=1
GUARD_JAVA_OPTS="${GUARD_JAVA_OPTS:-} -Dai.djl.pytorch.num_threads=1 -Dai.djl.pytorch.num_interop_threads=1" \
  "$here/bin/guard" purify dhbe --model "$model" --out "$out/$name-dhbe-djl" --force "${sizes[@]}" \
  --eval-trigger "$trigger" --eval-target 0 --json 2> "$out/$name-dhbe-djl.err" > "$out/$name-dhbe-djl.json"
/usr/bin/python3 "$here/bench/torch_dhbe.py" --model "$model" "${sizes[@]}" --eval-trigger "$trigger" \
  --eval-target 0 --threads 1 --json 2> "$out/$name-dhbe-torch.err" | tail -n 1 > "$out/$name-dhbe-torch.json"
/usr/bin/python3 - "$out" "$name" <<'PY'
import json, sys
out, name = sys.argv[1], sys.argv[2]
djl = json.load(open(f"{out}/{name}-dhbe-djl.json"))
torch = json.load(open(f"{out}/{name}-dhbe-torch.json"))
c = djl["config"]
print(f"{name}: {c['iterations']} iterations, batch {c['batch_size']}, ngf {c['ngf']}, nz {c['nz']}, "
      f"student lr {c['lr_student']}, one thread each")
print("| tool | ms / iteration (median) | ACC before | ASR before | RA before | ACC after | ASR after | RA after | purify s |")
print("|---|---|---|---|---|---|---|---|---|")
for tool, r in (("guard (DJL)", djl), ("PyTorch ref", torch)):
    ms = r["details"]["ms_per_iteration_median"] if tool.startswith("guard") else r["ms_per_iteration_median"]
    b = r["evaluation"]["before"] if tool.startswith("guard") else r["before"]
    a = r["evaluation"]["after"] if tool.startswith("guard") else r["after"]
    print(f"| {tool} | {ms:.1f} | {100*b['acc']:.2f}% | {100*b['asr']:.2f}% | {100*b['ra']:.2f}% | {100*a['acc']:.2f}% "
          f"| {100*a['asr']:.2f}% | {100*a['ra']:.2f}% | {r['purify_seconds']:.1f} |")
print(f"DJL / PyTorch time per iteration: "
      f"{djl['details']['ms_per_iteration_median'] / torch['ms_per_iteration_median']:.2f}x")
PY
