#!/usr/bin/python3
"""PyTorch baseline of `guard attack`: trains a backdoored model with the project's recipe.

Recipe (specs/clp-fst.md section 9.2, DESIGN.md section 5):
  * defender's clean set: 120 images per class (seeded, class-balanced) removed from the 60k
    training images; the remaining 58,800 are the attacker's set;
  * round(rate * n_attacker) poison indices drawn uniformly from all classes (target included),
    trigger applied, label set to the target; `sig` is clean-label: drawn from target-class
    images only, labels unchanged;
  * trigger baked in before augmentation; augmentation = zero-pad 4, random crop 28, horizontal
    flip p=0.5; normalise mean 0.2860 std 0.3530;
  * SGD lr 0.1 momentum 0.9 wd 5e-4, batch 128 drop_last, reshuffled each epoch,
    CosineAnnealingLR(T_max=epochs) stepped per epoch, mean cross-entropy, PyTorch default init.

Prints `epoch E/N loss L seconds S` per epoch and a final JSON line; --out writes a bundle.

  /usr/bin/python3 bench/torch_train.py --arch cnn-small --trigger badnets --poison-rate 0.1 \
      --target 0 --epochs 10 [--width 16] [--seed 0] [--out DIR] [--max-train N]
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from pyguard import archs, bundle, data, metrics, triggers  # noqa: E402

DEFENDER_PER_CLASS = 120


def round_half_up(v):
    return int(math.floor(v + 0.5))


def augment(x, pad, flip, g):
    """Zero-pad by `pad`, random crop back to HxW (per image), horizontal flip with p=0.5."""
    n, c, h, w = x.shape
    if pad > 0:
        xp = F.pad(x, (pad, pad, pad, pad))
        dy = torch.randint(0, 2 * pad + 1, (n,), generator=g)
        dx = torch.randint(0, 2 * pad + 1, (n,), generator=g)
        rows = (dy[:, None] + torch.arange(h)[None, :])[:, None, :, None]  # [N,1,H,1]
        cols = (dx[:, None] + torch.arange(w)[None, :])[:, None, None, :]  # [N,1,1,W]
        bidx = torch.arange(n)[:, None, None, None]
        cidx = torch.arange(c)[None, :, None, None]
        x = xp[bidx, cidx, rows, cols]
    if flip:
        mask = torch.rand(n, generator=g) < 0.5
        x = torch.where(mask[:, None, None, None], x.flip(3), x)
    return x.contiguous()


def build_poisoned_set(x, y, args, g):
    """Returns (attacker images with triggers baked in, labels, poison indices, defender indices)."""
    held, rest = data.class_balanced_split(y, DEFENDER_PER_CLASS, seed=args.seed, num_classes=10)
    if args.max_train is not None and args.max_train < rest.numel():
        pick = torch.randperm(rest.numel(), generator=g)[:args.max_train]
        rest = torch.sort(rest[pick]).values
    xa = x[rest].clone()
    ya = y[rest].clone()
    n = xa.shape[0]
    count = round_half_up(args.poison_rate * n)
    if args.trigger in triggers.CLEAN_LABEL:
        candidates = torch.nonzero(ya == args.target, as_tuple=False).flatten()
        if count > candidates.numel():
            print(f"warning: {count} poison images requested but the target class has only "
                  f"{candidates.numel()}; poisoning all of them", file=sys.stderr)
            count = candidates.numel()
        poison = candidates[torch.randperm(candidates.numel(), generator=g)[:count]]
    else:
        poison = torch.randperm(n, generator=g)[:count]
    poison = torch.sort(poison).values
    if count > 0:
        xa[poison] = triggers.apply(args.trigger, xa[poison], **trigger_kwargs(args))
        if args.trigger not in triggers.CLEAN_LABEL:
            ya[poison] = args.target
    return xa, ya, poison, held


def trigger_kwargs(args):
    return {"seed": args.trigger_seed} if args.trigger == "blended" else {}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="cnn-small", choices=sorted(archs.ARCHITECTURES))
    ap.add_argument("--trigger", default="badnets", choices=sorted(triggers.TRIGGERS))
    ap.add_argument("--poison-rate", type=float, default=0.1)
    ap.add_argument("--target", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--width", type=int, default=None, help="ResNet width (default 64)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--trigger-seed", type=int, default=0, help="blended noise seed (default 0)")
    ap.add_argument("--out", default=None, help="write the trained bundle here")
    ap.add_argument("--max-train", type=int, default=None, help="cap the attacker set (smoke tests)")
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--pad", type=int, default=4, help="random-crop zero padding (0 = no crop)")
    ap.add_argument("--no-flip", action="store_true", help="disable the horizontal flip")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data-dir", default=None, help="IDX folder (default $GUARD_DATA_DIR or Debian's)")
    args = ap.parse_args()
    if args.arch == "cnn-small" and args.width is not None:
        ap.error("--width applies to the ResNets only")

    torch.set_num_threads(args.threads)
    mean, std = data.FASHION_MNIST_MEAN, data.FASHION_MNIST_STD
    x_train, y_train = data.load_idx_dataset("train", args.data_dir)
    x_test, y_test = data.load_idx_dataset("test", args.data_dir)

    g = torch.Generator().manual_seed(args.seed)
    xa, ya, poison, held = build_poisoned_set(x_train, y_train, args, g)
    n = xa.shape[0]
    print(f"attacker set {n} images, {poison.numel()} poisoned ({args.trigger}, target {args.target}); "
          f"defender's clean set {held.numel()}", flush=True)

    torch.manual_seed(args.seed)
    width = args.width if args.arch in archs.HAS_WIDTH else None
    if args.arch in archs.HAS_WIDTH and width is None:
        width = archs.DEFAULT_WIDTH
    model = archs.build(args.arch, 1, 10, width)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    mean_t = torch.tensor(mean).reshape(1, -1, 1, 1)
    std_t = torch.tensor(std).reshape(1, -1, 1, 1)

    steps = n // args.batch_size
    if steps == 0:
        ap.error(f"{n} training images are fewer than one batch of {args.batch_size}")
    seconds = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=g)
        total = 0.0
        for s in range(steps):
            idx = perm[s * args.batch_size:(s + 1) * args.batch_size]
            xb = augment(xa[idx], args.pad, not args.no_flip, g)
            xb = (xb - mean_t) / std_t
            loss = F.cross_entropy(model(xb), ya[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item()
        sched.step()
        seconds.append(time.perf_counter() - t0)
        print(f"epoch {epoch}/{args.epochs} loss {total / steps:.4f} seconds {seconds[-1]:.1f}", flush=True)

    m = metrics.evaluate(model, x_test, y_test, args.trigger, args.target, mean, std, trigger_kwargs(args))
    result = {
        "framework": "pytorch", "arch": args.arch, "trigger": args.trigger, "epochs": args.epochs,
        "seconds_per_epoch_median": round(statistics.median(seconds), 3) if seconds else None,
        "seconds_per_epoch": [round(s, 3) for s in seconds],
        "acc": round(m["acc"], 6), "asr": round(m["asr"], 6), "ra": round(m["ra"], 6),
        "threads": args.threads,
        "width": width, "poison_rate": args.poison_rate, "target": args.target, "seed": args.seed,
        "train_size": n, "poison_count": int(poison.numel()),
    }
    if args.out:
        config = {k: v for k, v in vars(args).items() if k not in ("out", "data_dir")}
        config["width"] = width
        provenance = {
            "framework": "pytorch", "torch": torch.__version__.split("+")[0],
            "tool": "bench/torch_train.py", "config": config,
            "metrics": {"acc": m["acc"], "asr": m["asr"], "ra": m["ra"]},
            "seconds_per_epoch": result["seconds_per_epoch"],
        }
        bundle.write_bundle(args.out, model, args.arch, [1, 28, 28], 10, mean, std,
                            data.FASHION_MNIST_LABELS, width=width, provenance=provenance)
        print(f"wrote bundle {args.out}", flush=True)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
