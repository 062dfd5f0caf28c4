#!/usr/bin/env bash
# Detector quality matrix for one bundle and trigger: TPR / FPR / AUROC under the gaussian rule
# (tau = 2.5) and the quantile rule (1% target FPR) unless RULES says otherwise, for each weight mode, each from one
# `guard calibrate --eval-trigger` run on a scratch copy of the bundle (the input is not modified).
# Usage: [SEED=0] [SCORE=cosine-sum] [RULES="tau=2.5 fpr=0.01"] bench/detector_quality.sh BUNDLE TRIGGER [TARGET=0]
#        [MODES="unweighted per-class code-faithful"]
# (SEED picks the clean-data draw: the one `guard attack --seed SEED` held out; SCORE is `guard
# calibrate --score`, and mahalanobis takes MODES=unweighted only; RULES lists the threshold rules as
# option=value, e.g. RULES=fpr=0.02 for the 2% quantile alone.)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -ge 2 ] || { sed -n 2,9p "$0" >&2; exit 2; }
bundle=$1 trigger=$2 target=${3:-0} modes=${4:-"unweighted per-class code-faithful"} seed=${SEED:-0} score=${SCORE:-cosine-sum}
rules=${RULES:-"tau=2.5 fpr=0.01"}
for r in $rules; do
  case $r in tau=?*|fpr=?*) ;; *) echo "detector_quality: RULES entry '$r' is not tau=T or fpr=Q" >&2; exit 2 ;; esac
done
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
printf '%-14s %-16s %8s %8s %8s %6s\n' mode rule TPR FPR AUROC l*
for mode in $modes; do
  for r in $rules; do
    rule="--${r%%=*} ${r#*=}"
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
