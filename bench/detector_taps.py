#!/usr/bin/python3
"""Per-tap separability of triggered inputs, a diagnostic for the critical-layer detector.

For every tap of the architecture: the cosine similarity of each image's (flattened) activation to
the target class's centroid of that tap, the centroid taken over the clean reference images the model
assigns to the target class; then the AUROC of "triggered test images classified as the target"
(positives, expected to score lower) against "clean test images classified as the target". A tap
with AUROC near 1 separates the two; compare with the critical layers `guard calibrate` picked (its
report's classes[target].lstar and the taps after it).

--rules also scores whole-score candidates, each built from the clean reference images alone (the
images of the target class by true label; z-scores use their per-tap cosine mean and population
std): `spec` (the sum of the cosines at l*-2, l*-1, l* with the spec's localisation), `all` (sum over
every tap), `all-z` (sum of per-tap z-scores), `min-z` (the lowest per-tap z-score) and `deep-z` (sum
of z-scores over the deeper half). For each: AUROC and TPR / FPR at mean - 2.5 std of the reference
scores, the spec's threshold rule.

  /usr/bin/python3 bench/detector_taps.py --model DIR --trigger blended [--target 0] \\
      [--clean-indices FILE] [--seed 0] [--threads 2]

--clean-indices: the reference images as training-split indices, one per line (e.g. the
clean-indices.txt of bench/FstDraw.java, which is the set `guard attack --seed S` held out and
`guard calibrate --seed S` uses); default: a seeded class-balanced draw of 120 per class.
"""

import argparse
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from pyguard import bundle, data, triggers  # noqa: E402


def activations(model, x, mean, std, batch=500):
    """{tap: [N, d]} for every tap, plus 'logits'."""
    out = {}
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            logits, taps = model.forward_taps((x[i:i + batch] - mean) / std)
            taps = dict(taps)
            taps["logits"] = logits
            for name, v in taps.items():
                out.setdefault(name, []).append(v.flatten(1))
    return {name: torch.cat(v) for name, v in out.items()}


def load_indices(ap, path, n):
    """The training-split indices of --clean-indices (one per line), each in 0..n-1, or an argparse error."""
    try:
        idx = torch.tensor([int(line) for line in open(path) if line.strip()])
    except (OSError, ValueError) as e:
        ap.error(f"--clean-indices {path}: {e}")
    if idx.numel() == 0 or int(idx.min()) < 0 or int(idx.max()) >= n:
        ap.error(f"--clean-indices {path}: indices must lie in 0..{n - 1}")
    return idx


def auroc_lower(pos, neg):
    """P(a positive scores below a negative), ties counted half (Mann-Whitney)."""
    scores = torch.cat([pos, neg]).double()
    # Average rank of each distinct value (1-based): ties share the mean of the ranks they span.
    _, inverse, counts = torch.unique(scores, sorted=True, return_inverse=True, return_counts=True)
    last = counts.cumsum(0).double()
    ranks = (last - (counts.double() - 1) / 2)[inverse]
    n1, n0 = pos.numel(), neg.numel()
    u = ranks[:n1].sum() - n1 * (n1 + 1) / 2  # positives ranked above negatives
    return 1.0 - float(u) / (n1 * n0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, metavar="DIR")
    ap.add_argument("--trigger", required=True, choices=sorted(triggers.TRIGGERS))
    ap.add_argument("--target", type=int, default=0)
    ap.add_argument("--clean-indices", default=None, metavar="FILE")
    ap.add_argument("--seed", type=int, default=0, help="seed of the default reference draw (default 0)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--rules", action="store_true", help="also score the whole-score candidates above")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, meta = bundle.load_bundle_or_exit(ap, args.model)
    model.eval()
    if not 0 <= args.target < int(meta["num_classes"]):
        ap.error(f"--target {args.target} is not a class of this model")
    mean = torch.tensor(meta["normalize"]["mean"]).view(1, -1, 1, 1)
    std = torch.tensor(meta["normalize"]["std"]).view(1, -1, 1, 1)
    x_train, y_train = data.load_idx_dataset("train", args.data_dir)
    x_test, y_test = data.load_idx_dataset("test", args.data_dir)
    if args.clean_indices:
        idx = load_indices(ap, args.clean_indices, y_train.numel())
    else:
        idx, _ = data.class_balanced_split(y_train, 120, seed=args.seed, num_classes=int(meta["num_classes"]))
    ref = activations(model, x_train[idx], mean, std)
    clean = activations(model, x_test, mean, std)
    non_target = y_test != args.target
    trig = activations(model, triggers.TRIGGERS[args.trigger](x_test[non_target]), mean, std)
    ref_in = ref["logits"].argmax(1) == args.target
    clean_in = clean["logits"].argmax(1) == args.target
    trig_in = trig["logits"].argmax(1) == args.target
    print(f"{args.model}: {int(ref_in.sum())} reference, {int(clean_in.sum())} clean and {int(trig_in.sum())} "
          f"triggered images classified as {args.target}")
    print(f"{'tap':<14} {'d':>7} {'AUROC':>7} {'cos triggered':>14} {'cos clean':>10}")
    for name, feats in ref.items():
        centroid = feats[ref_in].mean(0, keepdim=True)
        pos = F.cosine_similarity(trig[name][trig_in], centroid, dim=1)
        neg = F.cosine_similarity(clean[name][clean_in], centroid, dim=1)
        print(f"{name:<14} {feats.shape[1]:>7} {auroc_lower(pos, neg):>7.4f} {float(pos.mean()):>14.3f} "
              f"{float(neg.mean()):>10.3f}")
    if args.rules:
        score_rules(ref, clean, trig, y_train[idx], args.target, clean_in, trig_in)


def score_rules(ref, clean, trig, ref_labels, target, clean_in, trig_in):
    """AUROC and TPR / FPR (mean - 2.5 std) of whole-score candidates calibrated on clean images only."""
    names = list(ref)
    # Localisation as the spec: group the reference images by predicted label, mean cosine to the group
    # centroid per tap, l* = the tap after the largest increase in the deeper half.
    loc = ref["logits"].argmax(1) == target
    if int(loc.sum()) < 2:
        sys.exit(f"--rules: {int(loc.sum())} reference images are classified as {target}; the localisation needs 2")
    a = [float(F.cosine_similarity(ref[n][loc], ref[n][loc].mean(0, keepdim=True), dim=1).mean()) for n in names]
    h = len(names) // 2
    delta = [a[j + 1] - a[j] for j in range(len(names) - 1)]
    lstar = h + max(range(len(delta) - h), key=lambda j: (delta[h + j], -j)) + 1
    true_in = ref_labels == target
    centroids = {n: ref[n][true_in].mean(0, keepdim=True) for n in names}

    def cosines(feats, rows):
        return torch.stack([F.cosine_similarity(feats[n][rows], centroids[n], dim=1) for n in names], 1).double()

    r, c, t = cosines(ref, true_in), cosines(clean, clean_in), cosines(trig, trig_in)
    m, sd = r.mean(0), r.std(0, unbiased=False).clamp_min(1e-12)
    rules = {
        "spec": lambda x: x[:, lstar - 2:lstar + 1].sum(1),
        "all": lambda x: x.sum(1),
        "all-z": lambda x: ((x - m) / sd).sum(1),
        "min-z": lambda x: ((x - m) / sd).min(1).values,
        "deep-z": lambda x: ((x[:, h:] - m[h:]) / sd[h:]).sum(1),
    }
    print(f"l* = {lstar} ({names[lstar]}); {int(true_in.sum())} reference images of class {target}")
    print(f"{'rule':<8} {'AUROC':>7} {'TPR':>7} {'FPR':>7}")
    for rule, f in rules.items():
        sr, sc, st = f(r), f(c), f(t)
        threshold = float(sr.mean() - 2.5 * sr.std(unbiased=False))
        print(f"{rule:<8} {auroc_lower(st, sc):>7.4f} {float((st < threshold).double().mean()):>7.4f} "
              f"{float((sc < threshold).double().mean()):>7.4f}")


if __name__ == "__main__":
    main()
