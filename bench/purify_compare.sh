#!/usr/bin/env bash
# CLP and FST with the Java tool and with the PyTorch references (bench/torch_clp.py,
# bench/torch_fst.py) on the same backdoored bundle, one after the other.
# Usage: [MODES="fst lp"] [THREADS=1] bench/purify_compare.sh MODEL_DIR TRIGGER [OUT_DIR]
#   MODES: the FST modes to run after CLP (default: all five); THREADS (default 2) sets the engine
#   threads of both sides (DJL intra-op threads and torch.set_num_threads), so a comparison on a shared
#   machine can pin both tools to one core.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
model="$1"; trigger="$2"; out="${3:-$here/runs/bench-purify}"
mkdir -p "$out"
name="$(basename "$model")"
threads="${THREADS:-2}"
export GUARD_JAVA_OPTS="-Dai.djl.pytorch.num_threads=$threads -Dai.djl.pytorch.num_interop_threads=1"
"$here/bin/guard" purify clp --model "$model" --u 3 --out "$out/$name-clp-djl" --force \
  --eval-trigger "$trigger" --json > "$out/$name-clp-djl.json"
/usr/bin/python3 "$here/bench/torch_clp.py" --model "$model" --u 3 --eval-trigger "$trigger" --threads "$threads" --json \
  | tail -n 1 > "$out/$name-clp-torch.json"
for mode in ${MODES:-fst ft lp ft-init fe-tuning}; do
  "$here/bin/guard" purify fst --mode "$mode" --model "$model" --out "$out/$name-$mode-djl" --force \
    --eval-trigger "$trigger" --json 2>/dev/null > "$out/$name-$mode-djl.json"
  /usr/bin/python3 "$here/bench/torch_fst.py" --mode "$mode" --model "$model" --eval-trigger "$trigger" --threads "$threads" --json \
    2>/dev/null | tail -n 1 > "$out/$name-$mode-torch.json"
done
/usr/bin/python3 - "$out" "$name" <<'PY'
import json, sys
import os
out, name = sys.argv[1], sys.argv[2]
print("| method | tool | ACC before | ASR before | ACC after | ASR after | RA after | purify s |")
print("|---|---|---|---|---|---|---|---|")
for m in ["clp"] + os.environ.get("MODES", "fst ft lp ft-init fe-tuning").split():
    for tool in ["djl", "torch"]:
        r = json.load(open(f"{out}/{name}-{m}-{tool}.json"))
        b = r["evaluation"]["before"] if tool == "djl" else r["before"]
        a = r["evaluation"]["after"] if tool == "djl" else r["after"]
        print(f"| {m} | {'guard (DJL)' if tool == 'djl' else 'PyTorch ref'} | {100*b['acc']:.2f}% | {100*b['asr']:.2f}% "
              f"| {100*a['acc']:.2f}% | {100*a['asr']:.2f}% | {100*a['ra']:.2f}% | {r['purify_seconds']:.2f} |")
PY
