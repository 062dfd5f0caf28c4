#!/usr/bin/python3
"""Whole-score rules for the runtime detector, scored over every class as `guard calibrate` does.

The exploration behind `guard calibrate --score mahalanobis` (docs/BENCHMARKS.md §4). For each rule,
per class c: the rule's score of the cosines v (one per tap) of an image to class c's benign centroids,
the centroids, means and covariances taken from the clean reference images of true label c; every
image is scored against its predicted class, thresholded at mean - TAU std of its class's reference
scores (the spec's rule); then TPR over the successfully triggered test images, FPR over all clean test
images, AUROC of the normalised margins, and the TPR at the threshold that would give 2% FPR on the test
set (an oracle figure, showing how separable the score is, not a calibration). Rules ("higher = more
benign"; z = per-tap z-score of v against the class's reference cosines):

  spec            sum of v over S_c = {l*-2, l*-1, l*} (the specified cosine sum, unweighted)
  spec-nologits   the same with l* searched without the logits
  spec-z          sum of z over S_c
  all-z, mid-z    sum of z over every tap / over taps 1 .. L-2
  min-z           the lowest z
  maha            -(v - m)' P (v - m) over every tap, P the inverse of the covariance with its
                  off-diagonal shrunk by 0.2 (maha-lo: only the dimensions below the mean count)
  maha-A..B       the same over taps A .. B (h = L // 2); maha-h-1..L-2 is `guard calibrate --score mahalanobis`
  mahaz-nl-S      Mahalanobis of z over taps 0 .. L-2, shrunk towards the identity by S
  min(...), ...+  combinations of two margins

  /usr/bin/python3 bench/detector_rules.py --model DIR --trigger T --clean-indices FILE [--target 0] [--tau 2.5]

--clean-indices: the reference images as training-split indices, one per line (bench/FstDraw.java's
clean-indices.txt for seed S is the set `guard attack --seed S` held out and `guard calibrate --seed S` uses).
"""

import argparse
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyguard import bundle, data, triggers  # noqa: E402
from detector_taps import activations, auroc_lower, load_indices  # noqa: E402

SHRINKAGE = 0.2


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, metavar="DIR")
    ap.add_argument("--trigger", required=True, choices=sorted(triggers.TRIGGERS))
    ap.add_argument("--target", type=int, default=0)
    ap.add_argument("--clean-indices", required=True, metavar="FILE")
    ap.add_argument("--tau", type=float, default=2.5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data-dir", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model, meta = bundle.load_bundle_or_exit(ap, a.model)
    model.eval()
    k = int(meta["num_classes"])
    if not 0 <= a.target < k:
        ap.error(f"--target {a.target} is not a class of this model")
    mean = torch.tensor(meta["normalize"]["mean"]).view(1, -1, 1, 1)
    std = torch.tensor(meta["normalize"]["std"]).view(1, -1, 1, 1)
    x_train, y_train = data.load_idx_dataset("train", a.data_dir)
    x_test, y_test = data.load_idx_dataset("test", a.data_dir)
    idx = load_indices(ap, a.clean_indices, y_train.numel())

    ref = activations(model, x_train[idx], mean, std)
    y_ref = y_train[idx]
    names = list(ref)
    layers = len(names)
    h = layers // 2
    for c in range(k):
        if int((y_ref == c).sum()) < 2:
            sys.exit(f"class {c} has {int((y_ref == c).sum())} reference images, at least 2 are needed")
    centroids = {n: torch.stack([ref[n][y_ref == c].mean(0) for c in range(k)]) for n in names}
    p_ref = ref["logits"].argmax(1)
    # The spec's localisation: reference images grouped by predicted label, intra-class cosine to the
    # group mean, l* = the tap after the largest increase in the deeper half (with and without the logits).
    lstar, lstar_nologits = [], []
    for c in range(k):
        g = p_ref == c
        if int(g.sum()) < 2:
            sys.exit(f"{int(g.sum())} reference images are classified as {c}; the localisation needs 2")
        sim = [float(F.cosine_similarity(ref[n][g], ref[n][g].mean(0, keepdim=True), dim=1).mean()) for n in names]
        d = [sim[j + 1] - sim[j] for j in range(layers - 1)]
        lstar.append(h + max(range(len(d) - h), key=lambda j: (d[h + j], -j)) + 1)
        lstar_nologits.append(h + max(range(len(d) - h - 1), key=lambda j: (d[h + j], -j)) + 1)
    print(f"l*: {[names[l] for l in lstar]}")

    def cosines_to_predicted(feats, predicted):
        """[N, L]: each image's cosine to its predicted class's centroid at every tap."""
        return torch.stack([F.cosine_similarity(feats[n], centroids[n][predicted], dim=1) for n in names], 1).double()

    v_ref = cosines_to_predicted(ref, y_ref)  # reference images against their true class
    del ref
    clean = activations(model, x_test, mean, std)
    p_clean = clean["logits"].argmax(1)
    v_clean = cosines_to_predicted(clean, p_clean)
    del clean
    trig = activations(model, triggers.TRIGGERS[a.trigger](x_test[y_test != a.target]), mean, std)
    p_trig = trig["logits"].argmax(1)
    hit = p_trig == a.target
    v_trig = cosines_to_predicted(trig, p_trig)[hit]
    p_trig = p_trig[hit]
    del trig
    print(f"{a.model} ({a.trigger}): clean ACC {float((p_clean == y_test).double().mean()):.4f}, "
          f"ASR {float(hit.double().mean()):.4f}, {int(hit.sum())} successful triggered images")

    m = torch.stack([v_ref[y_ref == c].mean(0) for c in range(k)])
    sd = torch.stack([v_ref[y_ref == c].std(0, unbiased=False) for c in range(k)]).clamp_min(1e-12)

    def z(v, p):
        return (v - m[p]) / sd[p]

    def mahalanobis(taps, standardise=False, shrink=SHRINKAGE):
        keep = torch.tensor(taps)
        precisions = []
        for c in range(k):
            x = v_ref[y_ref == c]
            x = ((x - m[c]) / sd[c] if standardise else x)[:, keep]
            cov = torch.cov(x.T, correction=0)
            target = torch.eye(len(taps), dtype=cov.dtype) if standardise else torch.diag(torch.diag(cov))
            precisions.append(torch.linalg.inv((1 - shrink) * cov + shrink * target))
        precisions = torch.stack(precisions)

        def score(v, p, lower_only=False):
            d = (z(v, p) if standardise else v - m[p])[:, keep]
            if lower_only:
                d = d.clamp_max(0)
            return -torch.einsum("ni,nij,nj->n", d, precisions[p], d)
        return score

    def subset_mask(sets):
        mask = torch.zeros(k, layers, dtype=torch.double)
        for c in range(k):
            mask[c, sets[c] - 2:sets[c] + 1] = 1
        return mask

    spec_mask, spec_nl_mask = subset_mask(lstar), subset_mask(lstar_nologits)
    middle = torch.zeros(layers, dtype=torch.double)
    middle[1:layers - 1] = 1
    maha_all = mahalanobis(list(range(layers)))
    rules = {
        "spec": lambda v, p: (v * spec_mask[p]).sum(1),
        "spec-nologits": lambda v, p: (v * spec_nl_mask[p]).sum(1),
        "spec-z": lambda v, p: (z(v, p) * spec_mask[p]).sum(1),
        "all-z": lambda v, p: z(v, p).sum(1),
        "mid-z": lambda v, p: (z(v, p) * middle).sum(1),
        "min-z": lambda v, p: z(v, p).min(1).values,
        "maha": maha_all,
        "maha-lo": lambda v, p: maha_all(v, p, lower_only=True),
        f"maha-2..{layers - 1}": mahalanobis(list(range(2, layers))),
        f"maha-{h}..{layers - 1}": mahalanobis(list(range(h, layers))),
        f"maha-0..{layers - 2}": mahalanobis(list(range(layers - 1))),
        f"maha-2..{layers - 2}": mahalanobis(list(range(2, layers - 1))),
        f"maha-h-1..L-2 ({h - 1}..{layers - 2})": mahalanobis(list(range(h - 1, layers - 1))),
        "mahaz-nl-0.5": mahalanobis(list(range(layers - 1)), standardise=True, shrink=0.5),
        "mahaz-nl-0.9": mahalanobis(list(range(layers - 1)), standardise=True, shrink=0.9),
        "mahaz-nl-0.0": mahalanobis(list(range(layers - 1)), standardise=True, shrink=0.0),
    }

    def margin(rule):
        """The rule's normalised margin (mean - s) / std per class: larger = more suspicious."""
        s_ref = rule(v_ref, y_ref)
        mc = torch.stack([s_ref[y_ref == c].mean() for c in range(k)])
        sc = torch.stack([s_ref[y_ref == c].std(unbiased=False) for c in range(k)]).clamp_min(1e-12)
        return lambda v, p: (mc[p] - rule(v, p)) / sc[p]

    nl, maha_nl = margin(rules["spec-nologits"]), margin(rules[f"maha-0..{layers - 2}"])
    rules["min(spec-nologits, maha-0..L-2)"] = lambda v, p: -torch.maximum(nl(v, p), maha_nl(v, p))
    rules["spec-nologits + maha-0..L-2"] = lambda v, p: -(nl(v, p) + maha_nl(v, p))
    print(f"{'rule':<34} {'AUROC':>7} {'TPR':>7} {'FPR':>7} {'TPR at 2% FPR (oracle)':>23}")
    for name, rule in rules.items():
        mg = margin(rule)
        clean_margin, trig_margin = mg(v_clean, p_clean), mg(v_trig, p_trig)
        oracle = torch.quantile(clean_margin, 0.98)
        print(f"{name:<34} {auroc_lower(-trig_margin, -clean_margin):>7.4f} "
              f"{float((trig_margin > a.tau).double().mean()):>7.4f} {float((clean_margin > a.tau).double().mean()):>7.4f} "
              f"{float((trig_margin > oracle).double().mean()):>23.4f}")


if __name__ == "__main__":
    main()
