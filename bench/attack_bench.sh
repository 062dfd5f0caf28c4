#!/usr/bin/env bash
# Attack-training benchmark (issue: foundation): for each configuration, train with `guard attack`
# (DJL) and with bench/torch_train.py (Debian's PyTorch) one after the other on this machine, then
# cross-evaluate the PyTorch-written bundle with `guard evaluate` and bench/torch_evaluate.py.
# Usage: bench/attack_bench.sh [OUT_DIR] [EPOCHS]      Results: OUT_DIR/*.json, summary on stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$here/runs/bench-attack}"
epochs="${2:-10}"
mkdir -p "$out"
guard="$here/bin/guard"
py=/usr/bin/python3

run() { # name arch trigger [width]
  local name=$1 arch=$2 trigger=$3 width=${4:-}
  local wopt=() ; [ -n "$width" ] && wopt=(--width "$width")
  echo "== $name: DJL" >&2
  "$guard" attack --arch "$arch" "${wopt[@]}" --trigger "$trigger" --poison-rate 0.1 --target 0 \
    --epochs "$epochs" --out "$out/$name-djl" --force --json > "$out/$name-djl.json"
  echo "== $name: PyTorch" >&2
  "$py" "$here/bench/torch_train.py" --arch "$arch" "${wopt[@]}" --trigger "$trigger" --poison-rate 0.1 \
    --target 0 --epochs "$epochs" --out "$out/$name-torch" | tee "$out/$name-torch.log" | tail -n 1 > "$out/$name-torch.json"
  echo "== $name: cross-evaluation of the PyTorch bundle" >&2
  "$guard" evaluate --model "$out/$name-torch" --trigger "$trigger" --target 0 --json > "$out/$name-torch-evaluated-by-djl.json"
  "$py" "$here/bench/torch_evaluate.py" --model "$out/$name-torch" --trigger "$trigger" --target 0 --json \
    > "$out/$name-torch-evaluated-by-torch.json"
}

run cnn-small-badnets cnn-small badnets
run cnn-small-blended cnn-small blended
run preact16-badnets preact-resnet18 badnets 16
"$py" "$here/bench/summarize_attack.py" "$out"
