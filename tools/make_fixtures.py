#!/usr/bin/python3
"""Writes the PyTorch parity fixtures for the Java tests into core/src/test/resources/parity/.

  parity/<arch>/model.json, weights.safetensors   bundle (1x28x28, 10 classes, ResNets at width 4)
  parity/<arch>/inputs.safetensors                 input: F32 [4,1,28,28] pixel space, torch.rand
  parity/<arch>/expected.safetensors               logits and tap:<name> in eval mode
  parity/training/sgd.safetensors                  PyTorch-rule SGD on a Linear(5,3), 3 steps
  parity/training/adam.safetensors                 torch.optim.Adam on a Linear(5,3), 3 steps, two settings
  parity/training/bn_train.safetensors             one train-mode forward of the cnn-small bundle
  parity/training/uclc.safetensors                 CLP's UCLC per channel for cnn-small's conv->BN pairs
  parity/triggers/triggers.safetensors             badnets / blended / sig outputs, SplitMix64 draws

Deterministic: running it twice gives byte-identical files.
Usage: /usr/bin/python3 tools/make_fixtures.py [--out DIR]
"""

import argparse
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyguard import archs, bundle, data, st, triggers  # noqa: E402
from pyguard.data import FASHION_MNIST_LABELS, FASHION_MNIST_MEAN, FASHION_MNIST_STD  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "core", "src", "test", "resources", "parity")

MODEL_SEED = 7
INPUT_SEED = 1234
BATCH = 2  # keeps the cnn-small folder under 1 MB (its two 28x28x32 taps dominate)
INPUT_SHAPE = (1, 28, 28)
NUM_CLASSES = 10
PARITY_WIDTH = 4
NUM_BATCHES_TRACKED = 100
ARCHS = (("cnn-small", None), ("preact-resnet18", PARITY_WIDTH), ("resnet18", PARITY_WIDTH))


def build_parity_model(arch, width):
    """PyTorch default init under seed 7, then non-trivial BN parameters and statistics."""
    torch.manual_seed(MODEL_SEED)
    model = archs.build(arch, INPUT_SHAPE[0], NUM_CLASSES, width)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.1)
                m.running_mean.normal_(0.0, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(NUM_BATCHES_TRACKED)
    return model.eval()


def parity_inputs():
    g = torch.Generator().manual_seed(INPUT_SEED)
    return torch.rand((BATCH,) + INPUT_SHAPE, generator=g, dtype=torch.float32)


def normalized(x):
    return archs.normalize(x, FASHION_MNIST_MEAN, FASHION_MNIST_STD)


def provenance(arch, width):
    return {
        "generator": "tools/make_fixtures.py",
        "purpose": "parity fixture: PyTorch default init, torch.manual_seed(7), randomised BN",
        "seed": MODEL_SEED,
        "input_seed": INPUT_SEED,
        "torch": torch.__version__.split("+")[0],
    }


def write_arch(out, arch, width, written):
    d = os.path.join(out, arch)
    os.makedirs(d, exist_ok=True)
    model = build_parity_model(arch, width)
    bundle.write_bundle(d, model, arch, INPUT_SHAPE, NUM_CLASSES, FASHION_MNIST_MEAN, FASHION_MNIST_STD,
                        FASHION_MNIST_LABELS, width=width, provenance=provenance(arch, width))
    x = parity_inputs()
    st.save_file({"input": x}, os.path.join(d, "inputs.safetensors"),
                 metadata={"space": "pixel [0,1], normalise with model.json before the network",
                           "seed": str(INPUT_SEED)})
    with torch.no_grad():
        logits, taps = model.forward_taps(normalized(x))
    expected = {"logits": logits}
    for name, t in taps.items():
        expected["tap:" + name] = t
    st.save_file(expected, os.path.join(d, "expected.safetensors"),
                 metadata={"mode": "eval", "taps": ",".join(taps)})
    # self-check: the bundle reloads strictly and reproduces the logits
    reloaded, _ = bundle.read_bundle(d)
    with torch.no_grad():
        again = reloaded(normalized(x))
    assert torch.equal(again, logits), f"{arch}: reloaded bundle gives different logits"
    written.append((arch, d, {k: list(v.shape) for k, v in taps.items()}))
    return model


def write_adam(d):
    """Two settings: default betas without decay, SEAM's recover betas (0.5, 0.9) with a visible decay."""
    torch.manual_seed(MODEL_SEED)
    lin = nn.Linear(5, 3)
    g = torch.Generator().manual_seed(12)
    x = torch.randn(8, 5, generator=g)
    y = torch.randint(0, 3, (8,), generator=g, dtype=torch.int64)
    w0, b0 = lin.weight.detach().clone(), lin.bias.detach().clone()
    lrs = [0.05, 0.05, 0.005]
    out = {"x": x, "y": y, "lrs": torch.tensor(lrs, dtype=torch.float64), "w0": w0, "b0": b0}
    for name, betas, wd in (("plain", (0.9, 0.999), 0.0), ("decay", (0.5, 0.9), 0.1)):
        with torch.no_grad():
            lin.weight.copy_(w0)
            lin.bias.copy_(b0)
        opt = torch.optim.Adam(lin.parameters(), lr=lrs[0], betas=betas, eps=1e-8, weight_decay=wd)
        for step, lr in enumerate(lrs, start=1):
            for group in opt.param_groups:
                group["lr"] = lr
            opt.zero_grad()
            F.cross_entropy(lin(x), y).backward()
            opt.step()
            out[f"{name}_w{step}"] = lin.weight.detach().clone()
            out[f"{name}_b{step}"] = lin.bias.detach().clone()
    st.save_file(out, os.path.join(d, "adam.safetensors"), metadata={
        "rule": "torch.optim.Adam (coupled L2, eps 1e-8); lr changed before every step",
        "plain": "betas (0.9, 0.999), weight_decay 0", "decay": "betas (0.5, 0.9), weight_decay 0.1",
        "loss": "mean cross-entropy"})


def write_sgd(d):
    torch.manual_seed(MODEL_SEED)
    lin = nn.Linear(5, 3)
    g = torch.Generator().manual_seed(11)
    x = torch.randn(8, 5, generator=g)
    y = torch.randint(0, 3, (8,), generator=g, dtype=torch.int64)
    lrs = [0.1, 0.05, 0.01]
    opt = torch.optim.SGD(lin.parameters(), lr=lrs[0], momentum=0.9, weight_decay=5e-4)
    out = {"x": x, "y": y, "lrs": torch.tensor(lrs, dtype=torch.float64),
           "w0": lin.weight.detach().clone(), "b0": lin.bias.detach().clone()}
    losses = []
    for step, lr in enumerate(lrs, start=1):
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad()
        loss = F.cross_entropy(lin(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        out[f"w{step}"] = lin.weight.detach().clone()
        out[f"b{step}"] = lin.bias.detach().clone()
    out["losses"] = torch.tensor(losses, dtype=torch.float32)
    st.save_file(out, os.path.join(d, "sgd.safetensors"), metadata={
        "rule": "torch.optim.SGD: v = mu*v + (g + wd*w) (v = g + wd*w on step 1); w = w - lr*v",
        "momentum": "0.9", "weight_decay": "5e-4", "loss": "mean cross-entropy",
        "losses": "loss before step k (forward with w{k-1})"})


def write_bn_train(d, cnn_dir):
    model, _ = bundle.read_bundle(cnn_dir)
    x = st.load_file(os.path.join(cnn_dir, "inputs.safetensors"))["input"]
    model.train()
    with torch.no_grad():
        logits = model(normalized(x))
    out = {"logits_train": logits}
    for i in (1, 4, 8, 11):
        bn = model.features[i]
        out[f"features.{i}.running_mean"] = bn.running_mean.clone()
        out[f"features.{i}.running_var"] = bn.running_var.clone()
    st.save_file(out, os.path.join(d, "bn_train.safetensors"), metadata={
        "model": "parity/cnn-small", "input": "parity/cnn-small/inputs.safetensors, normalised",
        "mode": "train, BN momentum 0.1, running_var updated with the unbiased batch variance"})


def write_uclc(d, models):
    """CLP's upper-bound channel Lipschitz constants (the reference formula, float64 SVD) for every
    declared conv->BN pair of cnn-small and resnet18 (whose 1x1 shortcuts exercise the C_in x 1 case),
    and the reference pruning decisions (unbiased std, strict >) for u = 1 and u = 3."""
    out = {}
    for arch in ("cnn-small", "resnet18"):
        model = models[arch]
        for conv_name, bn_name in model.CLP_PAIRS:
            conv = model.get_submodule(conv_name)
            bn = model.get_submodule(bn_name)
            with torch.no_grad():
                w = conv.weight.double() * (bn.weight.double() / bn.running_var.double().sqrt()).reshape(-1, 1, 1, 1)
                vals = torch.stack([torch.svd(w[k].reshape(w.shape[1], -1))[1].max() for k in range(w.shape[0])])
            key = f"{arch}/{conv_name}"
            out["uclc:" + key] = vals.to(torch.float32)
            out["uclc64:" + key] = vals
            for u in (1, 3):
                pruned = torch.nonzero(vals > vals.mean() + u * vals.std()).flatten().to(torch.int64)
                out[f"pruned_u{u}:{key}"] = pruned
    st.save_file(out, os.path.join(d, "uclc.safetensors"), metadata={
        "models": "parity/cnn-small, parity/resnet18",
        "formula": "w = conv.weight * (bn.weight / bn.running_var.sqrt()).reshape(-1,1,1,1) (no eps); "
                   "uclc[k] = torch.svd(w[k].reshape(in_ch, -1))[1].max(), in float64; "
                   "pruned = uclc > uclc.mean() + u * uclc.std() (unbiased)"})


def write_triggers(d):
    x = parity_inputs()[:2]
    rgb = torch.rand((1, 3, 8, 8), generator=torch.Generator().manual_seed(INPUT_SEED + 1))
    out = {
        "input": x,
        "badnets": triggers.badnets(x),
        "blended": triggers.blended(x, seed=0, alpha=0.2),
        "sig": triggers.sig(x, amplitude=40.0 / 255.0, frequency=6),
        "blend_pattern": triggers.blend_pattern((1, 28, 28), seed=0),
        "input_rgb": rgb,
        "blended_rgb_seed5": triggers.blended(rgb, seed=5, alpha=0.2),
        "blend_pattern_rgb_seed5": triggers.blend_pattern((3, 8, 8), seed=5),
        "splitmix64_seed0": torch.tensor(triggers.splitmix64_doubles(0, 16), dtype=torch.float64),
        "splitmix64_seed42": torch.tensor(triggers.splitmix64_doubles(42, 16), dtype=torch.float64),
    }
    st.save_file(out, os.path.join(d, "triggers.safetensors"), metadata={
        "input": "parity/cnn-small inputs[:2], pixel space",
        "badnets": "rows/cols H-4..H-2 set to 1.0", "blended": "seed 0, alpha 0.2: 0.8f*x + 0.2f*t in float32",
        "sig": "amplitude 40/255, frequency 6; pattern in float64, cast to float32, added in float32",
        "clip": "all outputs clipped to [0,1]"})


def write_grads(d, cnn_dir):
    """One train-mode cross-entropy backward pass of the cnn-small parity bundle: every gradient."""
    model, meta = bundle.read_bundle(cnn_dir)
    x = st.load_file(os.path.join(cnn_dir, "inputs.safetensors"))["input"]
    model.train()
    y = torch.arange(x.shape[0], dtype=torch.int64) % NUM_CLASSES
    loss = F.cross_entropy(model(normalized(x)), y)
    loss.backward()
    out = {"grad:" + k: p.grad.detach().clone() for k, p in model.named_parameters()}
    out["loss"] = loss.detach().reshape(1)
    out["labels"] = y
    st.save_file(out, os.path.join(d, "grads.safetensors"))


def write_steps(d, cnn_dir):
    """Twenty SGD steps (lr 0.1, momentum 0.9, wd 5e-4, batch 32) on the first 640 real Fashion-MNIST
    training images, from the cnn-small parity bundle: the per-step losses."""
    model, meta = bundle.read_bundle(cnn_dir)
    x, y = data.load_idx_dataset("train")
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    model.train()
    losses = []
    for s in range(20):
        xb, yb = x[s * 32:(s + 1) * 32], y[s * 32:(s + 1) * 32]
        opt.zero_grad()
        loss = F.cross_entropy(model(normalized(xb)), yb)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    st.save_file({"losses": torch.tensor(losses, dtype=torch.float32)}, os.path.join(d, "steps.safetensors"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)

    written = []
    models = {}
    for arch, width in ARCHS:
        models[arch] = write_arch(args.out, arch, width, written)
    tdir = os.path.join(args.out, "training")
    os.makedirs(tdir, exist_ok=True)
    write_sgd(tdir)
    write_adam(tdir)
    write_bn_train(tdir, os.path.join(args.out, "cnn-small"))
    write_uclc(tdir, models)
    write_grads(tdir, os.path.join(args.out, "cnn-small"))
    write_steps(tdir, os.path.join(args.out, "cnn-small"))
    gdir = os.path.join(args.out, "triggers")
    os.makedirs(gdir, exist_ok=True)
    write_triggers(gdir)

    for arch, d, shapes in written:
        total = sum(os.path.getsize(os.path.join(d, f)) for f in sorted(os.listdir(d)))
        print(f"{os.path.relpath(d, REPO)}  ({total} bytes)")
        for f in sorted(os.listdir(d)):
            print(f"  {f:24s} {os.path.getsize(os.path.join(d, f)):8d} bytes")
        for name, shape in shapes.items():
            print(f"  tap:{name:16s} {shape}")
    for sub in (tdir, gdir):
        print(os.path.relpath(sub, REPO))
        for f in sorted(os.listdir(sub)):
            p = os.path.join(sub, f)
            keys = ", ".join(f"{k}{list(v.shape)}" for k, v in st.load_file(p).items())
            print(f"  {f:24s} {os.path.getsize(p):8d} bytes  {keys}")


if __name__ == "__main__":
    main()
