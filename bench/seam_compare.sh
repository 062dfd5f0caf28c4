#!/usr/bin/env bash
# SEAM with the Java tool and with the PyTorch reference (bench/torch_seam.py) on the same backdoored
# bundle with the same settings, one after the other, then a side-by-side table.
# Usage: bench/seam_compare.sh MODEL_DIR TRIGGER [OUT_DIR] [extra options for both tools...]
#   e.g. bench/seam_compare.sh runs/q/cnn-badnets badnets runs/bench-seam
# THREADS (default 2) sets the engine threads of both sides.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
model="$1"; trigger="$2"; out="${3:-$here/runs/bench-seam}"; shift $(( $# < 3 ? $# : 3 ))
threads="${THREADS:-2}"
mkdir -p "$out"
name="$(basename "$model")"
GUARD_JAVA_OPTS="-Dai.djl.pytorch.num_threads=$threads -Dai.djl.pytorch.num_interop_threads=1" \
  "$here/bin/guard" purify seam --model "$model" --out "$out/$name-seam-djl" --force \
  --eval-trigger "$trigger" --json "$@" 2> "$out/$name-seam-djl.log" > "$out/$name-seam-djl.json"
/usr/bin/python3 "$here/bench/torch_seam.py" --model "$model" --eval-trigger "$trigger" --threads "$threads" \
  --json "$@" 2> "$out/$name-seam-torch.log" | tail -n 1 > "$out/$name-seam-torch.json"
/usr/bin/python3 - "$out" "$name" <<'PY'
import json, sys
out, name = sys.argv[1], sys.argv[2]
print("| tool | ACC before | ASR before | ACC after | ASR after | RA after | Fidelity | forget lr | forget epochs"
      " (all attempts) | recover epochs | forget s | recover s | purify s |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for tool in ("djl", "torch"):
    r = json.load(open(f"{out}/{name}-seam-{tool}.json"))
    if tool == "djl":
        b, a, d = r["evaluation"]["before"], r["evaluation"]["after"], r["details"]
        fid, secs = r["evaluation"]["fidelity"], r["purify_seconds"]
        every = d["forget"]["epochs_all_attempts"]
    else:
        b, a, d, fid, secs = r["before"], r["after"], r, r["fidelity"], r["purify_seconds"]
        every = sum(x["epochs"] for x in d["forget"]["attempts"])
    f, rc = d["forget"], d["recover"]
    print(f"| {'guard (DJL)' if tool == 'djl' else 'PyTorch ref'} | {100*b['acc']:.2f}% | {100*b['asr']:.2f}% "
          f"| {100*a['acc']:.2f}% | {100*a['asr']:.2f}% | {100*a['ra']:.2f}% | {fid:.3f} | {f['lr']:g} "
          f"| {f['epochs']} ({every}) | {rc['epochs']} | {f['seconds']:.1f} | {rc['seconds']:.1f} | {secs:.1f} |")
PY
