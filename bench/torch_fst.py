#!/usr/bin/python3
"""PyTorch reference of `guard purify fst`: Feature Shift Tuning and its tuning baselines
(specs/clp-fst.md sections 2.2-2.3, the official fine_tune/ft.py as it runs).

  W0 = copy of the declared head's weight (model.HEAD + ".weight"), C = ||W0||_F, before anything changes;
  fst, ft-init, fe-tuning: head weight and bias re-drawn from U(-1/sqrt(d), 1/sqrt(d)), d = head input dim;
  trainable: lp = head only, fe-tuning = backbone only (head frozen), fst / ft / ft-init = everything;
  SGD(lr, momentum 0.9, dampening 0, weight_decay 0), CosineAnnealingLR(T_max=epochs) stepped per epoch;
  every epoch net.train() (BN statistics adapt, also in lp), shuffled batches, drop_last=False,
  augmentation = zero-pad + random crop + horizontal flip p=0.5 (bench/torch_train.py's augment),
  then the bundle's normalisation;
  loss = mean CE + alpha * sum(W * W0) in fst mode only (plain CE in the other modes);
  after every optimizer step, in every mode: W <- W * C / ||W||_F in place under torch.no_grad().

Clean data: a class-balanced draw of round(fraction * N_train / K) images per class (120 per class,
1,200 images for the default 0.02 on Fashion-MNIST) from the training split, seeded by --seed via
pyguard.data.class_balanced_split. For a bundle made by bench/torch_train.py with the same --seed and
fraction 0.02 this is exactly the defender set torch_train held out. The indices can NOT match the Java
tool's draw (different generator), so compare the two tools statistically, not image for image, or
start both from the same point: bench/FstDraw.java writes the Java tool's clean indices and
re-initialised head for a seed, and --clean-indices / --head-init read them (the shuffling and the
augmentation then still differ, they are each tool's own random streams).

purify_seconds times the head snapshot, re-init and all epochs (no data loading, no evaluation).
ACC / ASR / RA are measured before and after in eval mode with pyguard.metrics. Prints
`epoch E/N loss L seconds S` per epoch (L = mean over the epoch's batches of the full loss, penalty
included) and a final JSON line; with --json the epoch lines go to stderr and stdout holds only the
JSON line. --out writes the tuned bundle (same model.json fields, provenance kept and extended).

  /usr/bin/python3 bench/torch_fst.py --model DIR [--mode fst|ft|lp|ft-init|fe-tuning] [--alpha 0.2] \\
      [--epochs 10] [--lr 0.01] [--batch-size 128] [--clean-fraction 0.02] [--seed 0] [--pad 4] \\
      [--no-flip] [--eval-trigger badnets --eval-target 0] [--clean-indices FILE] [--head-init FILE] \\
      [--out DIR] [--json] [--threads 2]
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyguard import bundle, data, metrics, triggers  # noqa: E402
from torch_train import augment, round_half_up  # noqa: E402

MODES = ("fst", "ft", "lp", "ft-init", "fe-tuning")
REINIT_MODES = ("fst", "ft-init", "fe-tuning")


def declared_head(model):
    """The architecture's declared head (model.HEAD), which must be an nn.Linear with a bias."""
    head = model.get_submodule(model.HEAD)
    if not isinstance(head, nn.Linear) or head.bias is None:
        raise ValueError(f"declared head {model.HEAD} is not a Linear layer with a bias")
    return head


def set_trainable(model, head, mode):
    """requires_grad per mode (lp: head only; fe-tuning: backbone only; else all); returns the trainable list."""
    head_ids = {id(p) for p in head.parameters()}
    for p in model.parameters():
        in_head = id(p) in head_ids
        p.requires_grad_(in_head if mode == "lp" else (not in_head) if mode == "fe-tuning" else True)
    return [p for p in model.parameters() if p.requires_grad]


def tune(model, xc, yc, args, mean, std, g, log, head_init=None):
    """Runs the selected mode in place; returns (C, per-epoch records, seconds for the whole defense)."""
    mean_t = torch.tensor(mean, dtype=torch.float32).reshape(1, -1, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).reshape(1, -1, 1, 1)
    n = xc.shape[0]
    steps = math.ceil(n / args.batch_size)  # drop_last=False

    t_start = time.perf_counter()
    head = declared_head(model)
    w = head.weight
    w0 = w.detach().clone()  # the compromised head, snapshotted before anything changes
    c = w0.norm()  # Frobenius norm
    if args.mode in REINIT_MODES:
        bound = 1.0 / math.sqrt(w.size(-1))
        with torch.no_grad():
            if head_init is not None:  # the Java tool's draw (bench/FstDraw.java), g left untouched
                head.weight.copy_(head_init[:w.numel()].reshape(w.shape))
                head.bias.copy_(head_init[w.numel():])
            else:
                head.weight.uniform_(-bound, bound, generator=g)
                head.bias.uniform_(-bound, bound, generator=g)
    params = set_trainable(model, head, args.mode)
    opt = torch.optim.SGD(params, lr=args.lr, momentum=0.9, dampening=0, weight_decay=0, nesterov=False)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    penalty_on = args.mode == "fst"

    epochs = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        lr = opt.param_groups[0]["lr"]
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=g)
        total = total_ce = 0.0
        for s in range(steps):
            idx = perm[s * args.batch_size:(s + 1) * args.batch_size]
            xb = (augment(xc[idx], args.pad, not args.no_flip, g) - mean_t) / std_t
            ce = F.cross_entropy(model(xb), yc[idx])
            loss = (ce + args.alpha * (w * w0).sum()) if penalty_on else ce
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                w.mul_(c / w.norm())
            total += loss.item()
            total_ce += ce.item()
        sched.step()
        seconds = time.perf_counter() - t0
        epochs.append({"epoch": epoch, "lr": lr, "loss": total / steps, "ce": total_ce / steps,
                       "head_norm": float(w.detach().norm()), "seconds": seconds})
        log(f"epoch {epoch}/{args.epochs} loss {total / steps:.4f} seconds {seconds:.1f}")
    purify_seconds = time.perf_counter() - t_start
    for p in model.parameters():
        p.requires_grad_(True)
    model.eval()
    return float(c), epochs, purify_seconds


def clean_subset(x_train, y_train, fraction, seed, num_classes, indices_file=None):
    """Seeded class-balanced draw of round(fraction * N / K) images per class from the training split,
    or the training-split indices listed in indices_file (one per line); returns (x, y, per-class count)."""
    if indices_file is not None:
        held = torch.tensor(read_numbers(indices_file, int), dtype=torch.long)
        if held.numel() == 0 or int(held.min()) < 0 or int(held.max()) >= y_train.numel():
            raise ValueError(f"--clean-indices {indices_file}: indices must lie in 0..{y_train.numel() - 1}")
        counts = torch.bincount(y_train[held], minlength=num_classes)
        return x_train[held], y_train[held], int(counts.min())
    per_class = round_half_up(fraction * y_train.numel() / num_classes)
    if per_class < 1:
        raise ValueError(f"--clean-fraction {fraction} gives fewer than one image per class")
    held, _ = data.class_balanced_split(y_train, per_class, seed=seed, num_classes=num_classes)
    return x_train[held], y_train[held], per_class


def read_numbers(path, kind):
    """One number per line (blank lines ignored); raises ValueError naming the file and line."""
    values = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    values.append(kind(line))
                except ValueError:
                    raise ValueError(f"{path}:{n}: not a number: {line.strip()!r}") from None
    return values








def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, metavar="DIR", help="input bundle (model.json + weights.safetensors)")
    ap.add_argument("--mode", default="fst", choices=MODES, help="fst (default) or a baseline of the same script")
    ap.add_argument("--alpha", type=float, default=0.2,
                    help="weight of the sum(W * W0) penalty, fst mode only (default 0.2; the README runs 0.1)")
    ap.add_argument("--epochs", type=int, default=10, help="tuning epochs = cosine T_max (default 10)")
    ap.add_argument("--lr", type=float, default=0.01, help="initial SGD learning rate (default 0.01)")
    ap.add_argument("--batch-size", type=int, default=128, help="batch size, last batch kept (default 128)")
    ap.add_argument("--clean-fraction", type=float, default=0.02,
                    help="share of the training split used as clean data, class-balanced, in (0, 1] "
                         "(default 0.02 = 120 per class); not the Java tool's indices")
    ap.add_argument("--seed", type=int, default=0,
                    help="seeds the clean draw, the head re-init, the shuffling and the augmentation (default 0)")
    ap.add_argument("--pad", type=int, default=4, help="random-crop zero padding, 0 = no crop (default 4)")
    ap.add_argument("--no-flip", action="store_true", help="disable the horizontal flip")
    ap.add_argument("--eval-trigger", default="badnets", choices=sorted(triggers.TRIGGERS),
                    help="trigger for ASR / RA (default badnets)")
    ap.add_argument("--eval-target", type=int, default=0, help="attack target class for ASR (default 0)")
    ap.add_argument("--trigger-seed", type=int, default=0, help="blended noise seed (default 0)")
    ap.add_argument("--out", default=None, metavar="DIR", help="write the tuned bundle here (not the input dir)")
    ap.add_argument("--clean-indices", default=None, metavar="FILE",
                    help="use these training-split indices (one per line) instead of the seeded draw, e.g. the "
                         "Java tool's draw written by bench/FstDraw.java")
    ap.add_argument("--head-init", default=None, metavar="FILE",
                    help="start the re-initialised head from these values (weight row-major, then bias, one per "
                         "line; bench/FstDraw.java) instead of drawing it")
    ap.add_argument("--json", action="store_true", help="stdout holds only the final JSON line (epochs on stderr)")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    ap.add_argument("--data-dir", default=None, help="IDX folder (default $GUARD_DATA_DIR or Debian's)")
    args = ap.parse_args()
    if not math.isfinite(args.alpha) or args.alpha < 0:
        ap.error(f"--alpha must be a finite number >= 0, got {args.alpha}")
    if args.epochs < 1:
        ap.error(f"--epochs must be >= 1, got {args.epochs}")
    if not (math.isfinite(args.lr) and args.lr > 0):
        ap.error(f"--lr must be a finite number > 0, got {args.lr}")
    if args.batch_size < 1:
        ap.error(f"--batch-size must be >= 1, got {args.batch_size}")
    if not (0 < args.clean_fraction <= 1):
        ap.error(f"--clean-fraction must be in (0, 1], got {args.clean_fraction}")
    if args.pad < 0:
        ap.error(f"--pad must be >= 0, got {args.pad}")
    if args.threads < 1:
        ap.error("--threads must be >= 1")
    if args.head_init and args.mode not in REINIT_MODES:
        ap.error(f"--head-init needs a mode that re-initialises the head ({', '.join(REINIT_MODES)})")
    if args.out and os.path.abspath(args.out) == os.path.abspath(args.model):
        ap.error("--out must differ from --model")

    def log(line):
        print(line, file=sys.stderr if args.json else sys.stdout, flush=True)

    torch.set_num_threads(args.threads)
    model, meta = bundle.load_bundle_or_exit(ap, args.model)
    num_classes = int(meta["num_classes"])
    if not 0 <= args.eval_target < num_classes:
        ap.error(f"--eval-target {args.eval_target} is not a class of this model (0..{num_classes - 1})")
    mean, std = meta["normalize"]["mean"], meta["normalize"]["std"]
    x_train, y_train = data.load_idx_dataset("train", args.data_dir)
    x_test, y_test = data.load_idx_dataset("test", args.data_dir)
    if list(x_test.shape[1:]) != list(meta["input_shape"]):
        ap.error(f"images {list(x_test.shape[1:])} do not match input_shape {meta['input_shape']}")
    if int(y_train.max()) + 1 != num_classes:
        ap.error(f"the data has {int(y_train.max()) + 1} classes, the model {num_classes}")
    try:
        xc, yc, per_class = clean_subset(x_train, y_train, args.clean_fraction, args.seed, num_classes,
                                         args.clean_indices)
        head_init = None
        if args.head_init is not None:
            w = declared_head(model).weight
            head_init = torch.tensor(read_numbers(args.head_init, float), dtype=torch.float32)
            if head_init.numel() != w.numel() + w.shape[0]:
                raise ValueError(f"--head-init {args.head_init} has {head_init.numel()} values, the head needs "
                                 f"{w.numel() + w.shape[0]} ({list(w.shape)} weight + {w.shape[0]} bias)")
    except (ValueError, OSError) as e:
        ap.error(str(e))
    del x_train, y_train
    kwargs = {"seed": args.trigger_seed} if args.eval_trigger == "blended" else {}

    def evaluate():
        return metrics.evaluate(model, x_test, y_test, args.eval_trigger, args.eval_target, mean, std, kwargs)

    before = evaluate()
    log(f"model {args.model} ({meta['architecture']}), mode {args.mode}, alpha {args.alpha}, "
        f"{xc.shape[0]} clean images ({per_class} per class), {math.ceil(xc.shape[0] / args.batch_size)} "
        f"steps per epoch")
    g = torch.Generator().manual_seed(args.seed)
    c, epochs, purify_seconds = tune(model, xc, yc, args, mean, std, g, log, head_init)
    after = evaluate()
    head_norm_final = float(declared_head(model).weight.detach().norm())
    if not args.json:
        for name, m in (("before", before), ("after", after)):
            print(f"{name:<6} ACC {100 * m['acc']:6.2f} %  ASR {100 * m['asr']:6.2f} %  RA {100 * m['ra']:6.2f} %")

    config = {"mode": args.mode, "alpha": args.alpha, "epochs": args.epochs, "lr": args.lr,
              "batch_size": args.batch_size, "clean_fraction": args.clean_fraction, "per_class": per_class,
              "clean_size": int(xc.shape[0]), "clean_indices": args.clean_indices, "head_init": args.head_init,
              "seed": args.seed, "pad": args.pad, "flip": not args.no_flip}
    if args.out:
        provenance = dict(meta.get("provenance") or {})
        provenance["purified_by"] = f"bench/torch_fst.py (pytorch {torch.__version__.split('+')[0]}) fst"
        provenance["purified_from_weights_sha256"] = bundle.sha256(os.path.join(args.model, "weights.safetensors"))
        provenance["purification"] = {"method": "fst", **config, "head_norm_c": c}
        bundle.write_bundle(args.out, model, meta["architecture"], meta["input_shape"], num_classes,
                            mean, std, meta["labels"], width=meta.get("width"), provenance=provenance)
        log(f"wrote bundle {args.out}")

    seconds = [e["seconds"] for e in epochs]
    result = {
        "framework": "pytorch", "method": "fst", "mode": args.mode, "alpha": args.alpha, "epochs": args.epochs,
        "seconds_per_epoch_median": round(statistics.median(seconds), 3),
        "purify_seconds": round(purify_seconds, 3), "head_norm_c": c, "head_norm_final": head_norm_final,
        "before": metrics.rounded(before), "after": metrics.rounded(after),
        "model": args.model, "architecture": meta["architecture"], "head": model.HEAD,
        "eval_trigger": args.eval_trigger, "eval_target": args.eval_target, "threads": args.threads,
        **{k: v for k, v in config.items() if k not in ("mode", "alpha", "epochs")},
        "epoch_log": [{**e, "seconds": round(e["seconds"], 3)} for e in epochs],
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
