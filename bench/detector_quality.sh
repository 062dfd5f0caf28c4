#!/usr/bin/env bash
# Detector quality matrix for one bundle and trigger: TPR / FPR / AUROC under the gaussian rule
# (tau = 2.5) and the quantile rule (1% target FPR), for each weight mode, each from one
# `guard calibrate --eval-trigger` run on a scratch copy of the bundle (the input is not modified).
# Usage: [SEED=0] [SCORE=cosine-sum] bench/detector_quality.sh BUNDLE TRIGGER [TARGET=0] [MODES="unweighted per-class code-faithful"]
# (SEED picks the clean-data draw: the one `guard attack --seed SEED` held out; SCORE is `guard
# calibrate --score`, and mahalanobis takes MODES=unweighted only.)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -ge 2 ] || { sed -n 2,7p "$0" >&2; exit 2; }
bundle=$1 trigger=$2 target=${3:-0} modes=${4:-"unweighted per-class code-faithful"} seed=${SEED:-0} score=${SCORE:-cosine-sum}
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
printf '%-14s %-16s %8s %8s %8s %6s\n' mode rule TPR FPR AUROC l*
for mode in $modes; do
  for rule in "--tau 2.5" "--fpr 0.01"; do
    rm -rf "$scratch/m" && cp -r "$bundle" "$scratch/m"
    # shellcheck disable=SC2086
    if out="$("$here/bin/guard" calibrate --model "$scratch/m" --weight-mode "$mode" --score "$score" --seed "$seed" $rule \
        --eval-trigger "$trigger" --eval-target "$target" --json 2>"$scratch/err")"; then
      echo "$out" | jq -r --arg mode "$mode" --arg rule "$rule" '[$mode, $rule, .evaluation.tpr, .evaluation.fpr,
        .evaluation.auroc, ([.calibration.classes[].lstar] | unique | map(tostring) | join(","))]
        | "\(.[0]) \(.[1]) \(.[2]) \(.[3]) \(.[4]) \(.[5])"' \
        | awk '{printf "%-14s %-16s %8.4f %8.4f %8.4f %6s\n", $1, $2" "$3, $4, $5, $6, $7}'
    else
      printf '%-14s %-16s  failed: %s\n' "$mode" "$rule" "$(tail -n 1 "$scratch/err")"
    fi
  done
done
