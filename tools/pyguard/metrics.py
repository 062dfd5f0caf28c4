"""ACC / ASR / RA exactly as DESIGN.md section 5 defines them."""

import torch

from . import archs, triggers


@torch.no_grad()
def predict(model, x, mean, std, batch_size=1000):
    """Argmax predictions of `model` (switched to eval mode) on pixel tensors x [N,C,H,W]."""
    model.eval()
    out = []
    for i in range(0, x.shape[0], batch_size):
        out.append(model(archs.normalize(x[i:i + batch_size], mean, std)).argmax(1))
    return torch.cat(out) if out else torch.empty(0, dtype=torch.int64)


def evaluate(model, x_test, y_test, trigger, target, mean, std, trigger_kwargs=None, batch_size=1000):
    """Returns dict(acc, asr, ra, n_clean, n_triggered).

    acc: clean test accuracy; asr: share of triggered test images whose true label is not the
    target that are predicted as the target; ra: share of those predicted as their true label.
    """
    pred = predict(model, x_test, mean, std, batch_size)
    acc = (pred == y_test).double().mean().item()
    keep = y_test != target
    xt = triggers.apply(trigger, x_test[keep], **(trigger_kwargs or {}))
    yt = y_test[keep]
    pt = predict(model, xt, mean, std, batch_size)
    asr = (pt == target).double().mean().item()
    ra = (pt == yt).double().mean().item()
    return {"acc": acc, "asr": asr, "ra": ra, "n_clean": int(y_test.numel()), "n_triggered": int(yt.numel())}


def rounded(m):
    """ACC, ASR and RA rounded to 6 digits, for JSON output."""
    return {k: round(m[k], 6) for k in ("acc", "asr", "ra")}
