#!/usr/bin/env python3
"""Summarise bench/attack_bench.sh results as a Markdown table (medians and ratios)."""
import json, pathlib, sys

out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "runs/bench-attack")

def load(p):
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return None

print("| run | DJL s/epoch (median) | PyTorch s/epoch (median) | DJL / PyTorch | DJL ACC | DJL ASR | DJL RA | PyTorch ACC | PyTorch ASR |")
print("|---|---|---|---|---|---|---|---|---|")
names = sorted({p.name.rsplit("-djl.json", 1)[0] for p in out.glob("*-djl.json") if "evaluated-by" not in p.name})
for name in names:
    d, t = load(out / f"{name}-djl.json"), load(out / f"{name}-torch.json")
    if not d:
        continue
    dm = d["metrics"]
    ds = d["seconds_per_epoch_median"]
    ts = t["seconds_per_epoch_median"] if t else float("nan")
    row = [name, f"{ds:.1f}", f"{ts:.1f}", f"{ds / ts:.2f}x" if t else "-",
           f"{100*dm['acc']:.2f}%", f"{100*dm['asr']:.2f}%", f"{100*dm['ra']:.2f}%",
           f"{100*t['acc']:.2f}%" if t else "-", f"{100*t['asr']:.2f}%" if t else "-"]
    print("| " + " | ".join(row) + " |")

print()
print("Cross-evaluation of the PyTorch-written bundles (guard evaluate vs bench/torch_evaluate.py):")
print()
print("| bundle | guard ACC | PyTorch ACC | guard ASR | PyTorch ASR | |dACC| pp | |dASR| pp |")
print("|---|---|---|---|---|---|---|")
for name in names:
    g, p = load(out / f"{name}-torch-evaluated-by-djl.json"), load(out / f"{name}-torch-evaluated-by-torch.json")
    if not g or not p:
        continue
    gm = g["metrics"]
    print(f"| {name}-torch | {100*gm['acc']:.2f}% | {100*p['acc']:.2f}% | {100*gm['asr']:.2f}% | {100*p['asr']:.2f}% "
          f"| {100*abs(gm['acc']-p['acc']):.2f} | {100*abs(gm['asr']-p['asr']):.2f} |")
