#!/usr/bin/python3
"""PyTorch reference of `guard purify clp`: Channel Lipschitzness-based Pruning (specs/clp-fst.md section 3).

For every conv->BN pair the architecture declares (model.CLP_PAIRS; never inferred from module order)
and every output channel k:

  UCLC_k = torch.svd(conv.weight[k].reshape(C_in, -1))[1].max() * |gamma_k / sqrt(running_var_k)|

(float32, no eps). Per layer: mu = mean, s = unbiased std (torch.std); every channel with
UCLC_k > mu + u * s (strict) gets bn.weight[k] = bn.bias[k] = 0. All layers are scored on the original
weights in one pass; nothing else changes (conv weights, running stats, head), no data is used.

purify_seconds times the scoring and zeroing only (no loading, no evaluation). ACC / ASR / RA are
measured before and after in eval mode with pyguard.metrics (ASR and RA on the triggered non-target
test images, as `guard evaluate`). Prints a per-layer table and a final JSON line (--json: the JSON
line only); --out writes the pruned bundle (same model.json fields, provenance kept and extended).

  /usr/bin/python3 bench/torch_clp.py --model DIR [--u 3] [--out DIR] \\
      [--eval-trigger badnets --eval-target 0] [--json] [--threads 2]
"""

import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from pyguard import bundle, data, metrics, triggers  # noqa: E402


def declared_pairs(model):
    """The (conv name, conv, bn name, bn) pairs of model.CLP_PAIRS, checked for type and channel count."""
    pairs = []
    for conv_name, bn_name in model.CLP_PAIRS:
        conv = model.get_submodule(conv_name)
        bn = model.get_submodule(bn_name)
        if not isinstance(conv, nn.Conv2d) or not isinstance(bn, nn.BatchNorm2d):
            raise ValueError(f"declared CLP pair ({conv_name}, {bn_name}) is not Conv2d -> BatchNorm2d")
        if conv.out_channels != bn.num_features:
            raise ValueError(f"declared CLP pair ({conv_name}, {bn_name}): {conv.out_channels} conv channels "
                             f"but {bn.num_features} BN features")
        pairs.append((conv_name, conv, bn_name, bn))
    return pairs


def uclc(conv, bn):
    """UCLC of every output channel as a float32 tensor, exactly the reference formula (no eps)."""
    w = conv.weight.detach()
    scale = (bn.weight.detach() / bn.running_var.detach().sqrt()).abs()
    return torch.stack([torch.svd(w[k].reshape(w.shape[1], -1))[1].max() * scale[k] for k in range(w.shape[0])])


@torch.no_grad()
def clp(model, u):
    """Prunes `model` in place; returns one record per declared pair (in declaration order)."""
    pairs = declared_pairs(model)
    scores = [uclc(conv, bn) for _, conv, _, bn in pairs]  # single pass on the original weights
    layers = []
    for (conv_name, _, bn_name, bn), lips in zip(pairs, scores):
        mu, s = lips.mean(), lips.std()
        pruned = torch.where(lips > mu + u * s)[0]
        bn.weight[pruned] = 0
        bn.bias[pruned] = 0
        layers.append({"conv": conv_name, "bn": bn_name, "channels": int(lips.numel()), "mean": finite(mu),
                       "std": finite(s), "max_z": finite((lips.max() - mu) / s),
                       "finite": bool(torch.isfinite(lips).all()), "pruned": int(pruned.numel()),
                       "pruned_indices": [int(k) for k in pruned]})
    return layers


def finite(v):
    """float(v), or None when it is inf / NaN (keeps the JSON output valid)."""
    v = float(v)
    return v if math.isfinite(v) else None








def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, metavar="DIR", help="input bundle (model.json + weights.safetensors)")
    ap.add_argument("--u", type=float, default=3.0,
                    help="prune UCLC > mean + u*std per layer; any finite u >= 0 (default 3)")
    ap.add_argument("--out", default=None, metavar="DIR", help="write the pruned bundle here (not the input dir)")
    ap.add_argument("--eval-trigger", default="badnets", choices=sorted(triggers.TRIGGERS),
                    help="trigger for ASR / RA (default badnets)")
    ap.add_argument("--eval-target", type=int, default=0, help="attack target class for ASR (default 0)")
    ap.add_argument("--trigger-seed", type=int, default=0, help="blended noise seed (default 0)")
    ap.add_argument("--json", action="store_true", help="print only the final JSON line")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    ap.add_argument("--data-dir", default=None, help="IDX folder (default $GUARD_DATA_DIR or Debian's)")
    args = ap.parse_args()
    if not (math.isfinite(args.u) and args.u >= 0):
        ap.error(f"--u must be a finite number >= 0, got {args.u}")
    if args.threads < 1:
        ap.error("--threads must be >= 1")
    if args.out and os.path.abspath(args.out) == os.path.abspath(args.model):
        ap.error("--out must differ from --model")

    torch.set_num_threads(args.threads)
    model, meta = bundle.load_bundle_or_exit(ap, args.model)
    if not 0 <= args.eval_target < int(meta["num_classes"]):
        ap.error(f"--eval-target {args.eval_target} is not a class of this model (0..{meta['num_classes'] - 1})")
    mean, std = meta["normalize"]["mean"], meta["normalize"]["std"]
    x_test, y_test = data.load_idx_dataset("test", args.data_dir)
    if list(x_test.shape[1:]) != list(meta["input_shape"]):
        ap.error(f"test images {list(x_test.shape[1:])} do not match input_shape {meta['input_shape']}")
    kwargs = {"seed": args.trigger_seed} if args.eval_trigger == "blended" else {}

    def evaluate():
        return metrics.evaluate(model, x_test, y_test, args.eval_trigger, args.eval_target, mean, std, kwargs)

    before = evaluate()
    t0 = time.perf_counter()
    layers = clp(model, args.u)
    purify_seconds = time.perf_counter() - t0
    after = evaluate()
    pruned = sum(layer["pruned"] for layer in layers)

    for layer in layers:
        if not layer["finite"]:
            print(f"warning: {layer['bn']}: non-finite UCLC (running_var == 0?); the threshold is not finite, "
                  f"so no channel of this layer is pruned (as in the reference)", file=sys.stderr)
    if not args.json:
        print(f"model {args.model} ({meta['architecture']}), u = {args.u}")
        print(f"{'conv':<22} {'bn':<22} {'ch':>4} {'mean':>10} {'std':>10} {'max z':>7} {'pruned':>6}")
        for l in layers:
            cells = [f"{l[k]:{w}.{p}f}" if l[k] is not None else f"{'n/a':>{w}}"
                     for k, w, p in (("mean", 10, 4), ("std", 10, 4), ("max_z", 7, 3))]
            print(f"{l['conv']:<22} {l['bn']:<22} {l['channels']:>4} {' '.join(cells)} {l['pruned']:>6}  "
                  f"{l['pruned_indices']}")
        print(f"pruned {pruned} channels in {purify_seconds * 1000:.2f} ms")
        for name, m in (("before", before), ("after", after)):
            print(f"{name:<6} ACC {100 * m['acc']:6.2f} %  ASR {100 * m['asr']:6.2f} %  RA {100 * m['ra']:6.2f} %")

    if args.out:
        provenance = dict(meta.get("provenance") or {})
        provenance["purified_by"] = f"bench/torch_clp.py (pytorch {torch.__version__.split('+')[0]}) clp"
        provenance["purified_from_weights_sha256"] = bundle.sha256(os.path.join(args.model, "weights.safetensors"))
        provenance["purification"] = {"method": "clp", "u": args.u, "pruned_channels": pruned,
                                      "layers": [{k: l[k] for k in ("bn", "channels", "pruned_indices")}
                                                 for l in layers]}
        bundle.write_bundle(args.out, model, meta["architecture"], meta["input_shape"], meta["num_classes"],
                            mean, std, meta["labels"], width=meta.get("width"), provenance=provenance)
        if not args.json:
            print(f"wrote bundle {args.out}")

    result = {
        "framework": "pytorch", "method": "clp", "u": args.u, "pruned_channels": pruned,
        "purify_seconds": round(purify_seconds, 6), "before": metrics.rounded(before), "after": metrics.rounded(after),
        "model": args.model, "architecture": meta["architecture"], "eval_trigger": args.eval_trigger,
        "eval_target": args.eval_target, "n_clean": after["n_clean"], "n_triggered": after["n_triggered"],
        "threads": args.threads,
        "layers": [{k: l[k] for k in ("conv", "bn", "channels", "mean", "std", "max_z", "pruned", "pruned_indices")}
                   for l in layers],
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
