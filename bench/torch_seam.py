#!/usr/bin/python3
"""PyTorch reference of `guard purify seam`: SEAM, forget then recover (specs/dhbe-seam.md part B),
with the same defaults, sets and stop rules as the Java tool:

  clean data = class-balanced round(clean_fraction * N / K) per class of the training split (seeded);
  held-out = round(holdout_fraction * per_class) per class of it, never trained on; recovery = the rest;
  forget = round(forget_fraction * N / K) per class drawn from the recovery set;
  forget: Adam(lr 3e-5, betas (0.9, 0.999), wd 5e-5), batch 32, shuffled, last batch kept, pad-2 random crop,
    model.train(); every batch draws fresh random labels excluding the true one (r ~ U{0..K-2}, r + (r >= y));
    after each epoch held-out accuracy (eval mode); stop when < 2/K; at the epoch cap (300) restart from the
    suspect weights with the next rate of the ladder (3e-4, then 1e-3);
  recover: a fresh Adam(lr 5e-4, betas (0.5, 0.9), wd 5e-5) on the recovery set, same batching; after each epoch
    (index e from 0) held-out accuracy acc, best = max(best, acc); patience (10) -= 1 if acc > target
    (0.98 x pre-SEAM held-out accuracy) or, when e > 50, acc < best - 1e-3; stop at patience 0 or 300 epochs;
  the last model is kept.

--recipe orthoglinear (an experiment, not in the Java tool) runs instead the SEAM of the independent study whose
CIFAR-10 numbers give the issue's target (KaiyuanZh/OrthogLinearBackdoor seam.py; specs/dhbe-seam.md §B.4 and §B.7):
  forget: SGD(lr 1e-2, momentum 0.9, wd 5e-4), batch 128, labels uniform over all K classes (the true one included),
    until the accuracy of the epoch's own training predictions (before each step, against the true labels) is < 0.2;
  recover: the SAME optimiser (momentum kept), 10 epochs, lr divided by 10 every 2 epochs, batch 128; no stop rule,
    no held-out set (the sets are still this script's: forget inside recovery, held-out left unused).
--batch-size is ignored by this recipe. With the default 0.1% forget set (60 images) a forget epoch is one SGD step.
--max-epochs caps its forget phase; if the bound is not reached the run still recovers and reports converged: false.

The draws use torch's generator, so the image sets and batches are not the Java tool's: compare
statistically. purify_seconds covers both phases including the per-epoch held-out evaluations (as the
Java tool's does). Prints progress (stderr with --json) and a final JSON line.

  /usr/bin/python3 bench/torch_seam.py --model DIR [--clean-fraction 0.1] [--seed 0] \\
      [--eval-trigger badnets --eval-target 0] [--threads 2] [--json] [--out DIR]
"""

import argparse
import copy
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyguard import bundle, data, metrics, triggers  # noqa: E402
from torch_train import augment, round_half_up  # noqa: E402


def holdout_accuracy(model, x, y, mean_t, std_t):
    model.eval()
    with torch.no_grad():
        correct = 0
        for s in range(0, x.shape[0], 256):
            correct += int((model((x[s:s + 256] - mean_t) / std_t).argmax(1) == y[s:s + 256]).sum())
    return correct / x.shape[0]


def run_epoch(model, opt, x, y, args, mean_t, std_t, g, relabel_k=None, batch_size=None):
    """One shuffled pass (last batch kept), train mode; relabel_k: draw random wrong labels for K classes;
    batch_size: default args.batch_size."""
    model.train()
    n = x.shape[0]
    batch = batch_size or args.batch_size
    perm = torch.randperm(n, generator=g)
    total = 0.0
    steps = math.ceil(n / batch)
    for s in range(steps):
        idx = perm[s * batch:(s + 1) * batch]
        xb = (augment(x[idx], args.pad, False, g) - mean_t) / std_t
        yb = y[idx]
        if relabel_k is not None:
            r = torch.randint(0, relabel_k - 1, yb.shape, generator=g)
            yb = r + (r >= yb).long()
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.item()
    return total / steps


def seam_orthoglinear(model, sets, args, mean_t, std_t, g, log, k):
    """The independent study's SEAM (module docstring); returns the same report shape as seam()."""
    _, _, xr, yr, xf, yf = sets
    batch, lr = 128, 1e-2
    t_start = time.perf_counter()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    curve, forgotten = [], False
    for epoch in range(1, args.max_epochs + 1):
        model.train()
        perm, correct, total = torch.randperm(xf.shape[0], generator=g), 0, 0.0
        for s in range(0, xf.shape[0], batch):
            idx = perm[s:s + batch]
            xb = (augment(xf[idx], args.pad, False, g) - mean_t) / std_t
            out = model(xb)
            loss = F.cross_entropy(out, torch.randint(0, k, idx.shape, generator=g))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            correct += int((out.argmax(1) == yf[idx]).sum())
            total += loss.item()
        acc = correct / xf.shape[0]
        curve.append({"epoch": epoch, "lr": lr, "loss": total / math.ceil(xf.shape[0] / batch), "train_accuracy": acc})
        log(f"forget epoch {epoch}: training-prediction accuracy {100 * acc:.2f}%")
        if acc < 0.2:
            forgotten = True
            break
    t_forget = time.perf_counter() - t_start
    rcurve, t_rec = [], time.perf_counter()
    for e in range(10):
        if e > 0 and e % 2 == 0:
            lr /= 10
            for group in opt.param_groups:
                group["lr"] = lr
        total = run_epoch(model, opt, xr, yr, args, mean_t, std_t, g, batch_size=batch)
        rcurve.append({"epoch": e + 1, "lr": lr, "loss": total})
        log(f"recover epoch {e + 1} (lr {lr:g}): loss {total:.4f}")
    model.eval()
    return {"recipe": "orthoglinear",
            "forget": {"attempts": [{"lr": 1e-2, "epochs": len(curve), "reached": forgotten}], "converged": forgotten,
                       "epochs": len(curve), "lr": 1e-2, "seconds": round(t_forget, 3),
                       "curve": curve},
            "recover": {"epochs": len(rcurve), "seconds": round(time.perf_counter() - t_rec, 3), "curve": rcurve},
            "purify_seconds": round(time.perf_counter() - t_start, 3)}


def seam(model, sets, args, mean_t, std_t, g, log, k):
    xh, yh, xr, yr, xf, yf = sets
    t_start = time.perf_counter()
    before = holdout_accuracy(model, xh, yh, mean_t, std_t)
    suspect = copy.deepcopy(model.state_dict())
    threshold = 2.0 / k
    attempts, curve, forgotten = [], [], False
    for rung, lr in enumerate([args.forget_lr] + args.ladder):
        if rung > 0:
            model.load_state_dict(suspect)
            log(f"forget: escalating to lr {lr:.1e}")
        opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999), weight_decay=args.forget_wd)
        curve = []
        for epoch in range(1, args.max_epochs + 1):
            loss = run_epoch(model, opt, xf, yf, args, mean_t, std_t, g, relabel_k=k)
            acc = holdout_accuracy(model, xh, yh, mean_t, std_t)
            curve.append({"epoch": epoch, "lr": lr, "loss": loss, "holdout_accuracy": acc})
            if acc < threshold or epoch % 10 == 0:
                log(f"forget (lr {lr:.1e}) epoch {epoch}: loss {loss:.4f} held-out {100 * acc:.2f}%")
            if acc < threshold:
                forgotten = True
                break
        attempts.append({"lr": lr, "epochs": len(curve), "reached": forgotten})
        if forgotten:
            break
    t_forget = time.perf_counter() - t_start
    target = args.recover_target_ratio * before
    opt = torch.optim.Adam(model.parameters(), lr=args.recover_lr, betas=(0.5, 0.9), weight_decay=args.recover_wd)
    patience, best, rcurve = args.patience, 0.0, []
    t_rec = time.perf_counter()
    for e in range(args.max_epochs):
        loss = run_epoch(model, opt, xr, yr, args, mean_t, std_t, g)
        acc = holdout_accuracy(model, xh, yh, mean_t, std_t)
        rcurve.append({"epoch": e + 1, "loss": loss, "holdout_accuracy": acc})
        best = max(best, acc)
        if acc > target:
            patience -= 1
        elif e > args.plateau_after and acc < best - 1e-3:
            patience -= 1
        log(f"recover epoch {e + 1}: loss {loss:.4f} held-out {100 * acc:.2f}% (target {100 * target:.2f}%, "
            f"patience {patience})")
        if patience <= 0:
            break
    t_recover = time.perf_counter() - t_rec
    model.eval()
    return {"pre_seam_holdout_accuracy": before,
            "forget": {"attempts": attempts, "converged": forgotten, "epochs": len(curve),
                       "lr": attempts[-1]["lr"], "seconds": round(t_forget, 3), "curve": curve},
            "recover": {"epochs": len(rcurve), "target": target, "stopped_by_patience": patience <= 0,
                        "seconds": round(t_recover, 3), "curve": rcurve},
            "purify_seconds": round(time.perf_counter() - t_start, 3)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, metavar="DIR", help="input bundle")
    ap.add_argument("--clean-fraction", type=float, default=0.1, help="defender's share of the training split (0.1)")
    ap.add_argument("--holdout-fraction", type=float, default=0.15, help="held-out share of the clean data (0.15)")
    ap.add_argument("--forget-fraction", type=float, default=0.001, help="forget set, share of the training split")
    ap.add_argument("--forget-lr", type=float, default=3e-5, help="forget Adam lr (3e-5)")
    ap.add_argument("--forget-lr-ladder", default="3e-4,1e-3", help="escalation rates, or 'none' (3e-4,1e-3)")
    ap.add_argument("--forget-wd", type=float, default=5e-5, help="forget Adam weight decay (5e-5)")
    ap.add_argument("--recover-lr", type=float, default=5e-4, help="recover Adam lr (5e-4)")
    ap.add_argument("--recover-wd", type=float, default=5e-5, help="recover Adam weight decay (5e-5)")
    ap.add_argument("--recover-target-ratio", type=float, default=0.98, help="target share of pre-SEAM accuracy")
    ap.add_argument("--patience", type=int, default=10, help="recover patience (10)")
    ap.add_argument("--plateau-after", type=int, default=50, help="plateau rule after this epoch index (50)")
    ap.add_argument("--max-epochs", type=int, default=300, help="cap per forget attempt and for recovery (300)")
    ap.add_argument("--batch-size", type=int, default=32, help="batch size, last batch kept (32)")
    ap.add_argument("--pad", type=int, default=2, help="random-crop padding (2), no flip")
    ap.add_argument("--seed", type=int, default=0, help="seeds the draws, shuffling, labels and augmentation (0)")
    ap.add_argument("--eval-trigger", default="badnets", choices=sorted(triggers.TRIGGERS), help="trigger for ASR")
    ap.add_argument("--eval-target", type=int, default=0, help="attack target class (0)")
    ap.add_argument("--trigger-seed", type=int, default=0, help="blended noise seed (0)")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (2)")
    ap.add_argument("--data-dir", default=None, help="IDX folder (default $GUARD_DATA_DIR or Debian's)")
    ap.add_argument("--out", default=None, metavar="DIR", help="write the purified bundle here")
    ap.add_argument("--recipe", choices=("official", "orthoglinear"), default="official",
                    help="official: the authors' CIFAR settings (default); orthoglinear: the independent study's SEAM")
    ap.add_argument("--json", action="store_true", help="stdout holds only the final JSON line")
    args = ap.parse_args()
    args.ladder = [] if args.forget_lr_ladder == "none" else [float(v) for v in args.forget_lr_ladder.split(",")]
    if args.out and os.path.abspath(args.out) == os.path.abspath(args.model):
        ap.error("--out must differ from --model")

    def log(line):
        print(line, file=sys.stderr if args.json else sys.stdout, flush=True)

    torch.set_num_threads(args.threads)
    model, meta = bundle.load_bundle_or_exit(ap, args.model)
    k = int(meta["num_classes"])
    mean, std = meta["normalize"]["mean"], meta["normalize"]["std"]
    mean_t = torch.tensor(mean, dtype=torch.float32).reshape(1, -1, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).reshape(1, -1, 1, 1)
    x_train, y_train = data.load_idx_dataset("train", args.data_dir)
    x_test, y_test = data.load_idx_dataset("test", args.data_dir)
    n = y_train.numel()
    per_class = round_half_up(args.clean_fraction * n / k)
    clean, _ = data.class_balanced_split(y_train, per_class, seed=args.seed, num_classes=k)
    xc, yc = x_train[clean], y_train[clean]
    hold_pc = round_half_up(args.holdout_fraction * per_class)
    forget_pc = round_half_up(args.forget_fraction * n / k)
    if hold_pc < 1 or hold_pc >= per_class or forget_pc < 1 or forget_pc > per_class - hold_pc:
        ap.error(f"bad sizes: {per_class} clean, {hold_pc} held-out, {forget_pc} forget images per class")
    held, rest = data.class_balanced_split(yc, hold_pc, seed=args.seed + 1, num_classes=k)
    xr, yr = xc[rest], yc[rest]
    fsel, _ = data.class_balanced_split(yr, forget_pc, seed=args.seed + 2, num_classes=k)
    sets = (xc[held], yc[held], xr, yr, xr[fsel], yr[fsel])
    del x_train, y_train
    kwargs = {"seed": args.trigger_seed} if args.eval_trigger == "blended" else {}

    def evaluate():
        return metrics.evaluate(model, x_test, y_test, args.eval_trigger, args.eval_target, mean, std, kwargs)

    before = evaluate()
    log(f"model {args.model}: held-out {sets[0].shape[0]}, recovery {xr.shape[0]}, forget {sets[4].shape[0]} images")
    g = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)
    run = seam_orthoglinear if args.recipe == "orthoglinear" else seam
    result = run(model, sets, args, mean_t, std_t, g, log, k)
    after = evaluate()
    fidelity = (after["acc"] - after["asr"]) / before["acc"]
    if args.out:
        provenance = dict(meta.get("provenance") or {})
        provenance["purified_by"] = f"bench/torch_seam.py (pytorch {torch.__version__.split('+')[0]}) seam"
        bundle.write_bundle(args.out, model, meta["architecture"], meta["input_shape"], k, mean, std,
                            meta["labels"], width=meta.get("width"), provenance=provenance)
    if not args.json:
        for name, m in (("before", before), ("after", after)):
            print(f"{name:<6} ACC {100 * m['acc']:6.2f} %  ASR {100 * m['asr']:6.2f} %  RA {100 * m['ra']:6.2f} %")
        print(f"fidelity {fidelity:.4f}")
    print(json.dumps({"framework": "pytorch", "method": "seam", "model": args.model, "threads": args.threads,
                      "before": metrics.rounded(before), "after": metrics.rounded(after), "fidelity": fidelity,
                      **result}), flush=True)


if __name__ == "__main__":
    main()
