#!/usr/bin/python3
"""PyTorch reference of `guard purify dhbe`: data-free holistic backdoor erasing
(specs/dhbe-seam.md part A; written from the spec, the loop of A.6 with the networks of A.2).

  T = the bundle's model, eval mode, frozen (requires_grad False; input gradients still flow);
  S = the same bundle loaded again, train mode in all three step types;
  G  = Linear(nz, 2ngf*s*s) -> BN -> [up x2, conv3x3, BN, LeakyReLU .2] x2 (2ngf, then ngf channels)
       -> conv3x3(ngf, C) -> tanh -> BN(affine=False), s = H/4  (output: normalised-space images)
  Gp = Linear(nz2, ngf*P*P) -> BN -> conv3x3(ngf, C) -> BN(affine=False) -> tanh  (a P x P patch)
  per iteration: 5 x { zero S grads; x = sg(G(z)); p = sg(pad(Gp(z2))); xp = x + p/std;
                       L_S = l1(S(x), sg(T(x))) + w_p * l1(S(xp), sg(S(x))); SGD step }
                 zero G grads; x = G(z); L_G = -l1(S(x), T(x)) + tv2 * TV2(x); Adam step on G
                 zero Gp grads; x = sg(G(z)); xp = x + pad(Gp(z2))/std; L_Gp = -l1(S(x), S(xp)); Adam step on Gp
  S: SGD(lr_S, momentum .9, wd 5e-4); G, Gp: Adam(lr, betas .9/.999); all three x0.1 at int(.6 N), int(.8 N).

The noise comes from torch.Generator seeded once with --seed and the patch location from a seeded
random.Random: the figures are statistically, not bitwise, comparable to the Java tool (which draws
its noise per iteration on the Java side).

Prints `it I/N loss_s L_S loss_g L_G loss_gp L_Gp` every --log-every iterations and, with
--eval-every, ACC/ASR on --eval-images test images; then one JSON line with ms per iteration
(median of the iterations after the first --warmup, as the Java tool reports it) and before/after metrics.

  OMP_NUM_THREADS=1 /usr/bin/python3 bench/torch_dhbe.py --model DIR --iterations 400 --batch-size 64 \\
      --ngf 16 --nz 128 --lr-student 0.1 --eval-trigger badnets --eval-target 0 [--threads 1] [--out DIR]
"""

import argparse
import json
import math
import os
import random
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from pyguard import bundle, data, metrics, triggers  # noqa: E402


class Generator(nn.Module):
    def __init__(self, nz, ngf, nc, img):
        super().__init__()
        self.s = img // 4
        self.ngf = ngf
        self.l1 = nn.Linear(nz, 2 * ngf * self.s * self.s)
        self.bn0 = nn.BatchNorm2d(2 * ngf)
        self.c1 = nn.Conv2d(2 * ngf, 2 * ngf, 3, 1, 1)
        self.bn1 = nn.BatchNorm2d(2 * ngf)
        self.c2 = nn.Conv2d(2 * ngf, ngf, 3, 1, 1)
        self.bn2 = nn.BatchNorm2d(ngf)
        self.out = nn.Conv2d(ngf, nc, 3, 1, 1)
        self.bn_out = nn.BatchNorm2d(nc, affine=False)

    def forward(self, z):
        x = self.bn0(self.l1(z).view(z.shape[0], 2 * self.ngf, self.s, self.s))
        x = F.leaky_relu(self.bn1(self.c1(F.interpolate(x, scale_factor=2))), 0.2)
        x = F.leaky_relu(self.bn2(self.c2(F.interpolate(x, scale_factor=2))), 0.2)
        return self.bn_out(torch.tanh(self.out(x)))


class PatchGenerator(nn.Module):
    def __init__(self, nz, ngf, nc, patch):
        super().__init__()
        self.p = patch
        self.ngf = ngf
        self.l1 = nn.Linear(nz, ngf * patch * patch)
        self.bn0 = nn.BatchNorm2d(ngf)
        self.out = nn.Conv2d(ngf, nc, 3, 1, 1)
        self.bn_out = nn.BatchNorm2d(nc, affine=False)

    def forward(self, z):
        x = self.bn0(self.l1(z).view(z.shape[0], self.ngf, self.p, self.p))
        return torch.tanh(self.bn_out(self.out(x)))


def random_pad(patch, size, rng):
    p = patch.shape[-1]
    left, top = rng.randint(0, size - p), rng.randint(0, size - p)
    return F.pad(patch, (left, size - p - left, top, size - p - top))


def l1(a, b):
    return (a - b).abs().mean()


def tv2(x):
    return ((x[:, :, :, :-1] - x[:, :, :, 1:]).norm() + (x[:, :, :-1, :] - x[:, :, 1:, :]).norm()
            + (x[:, :, 1:, :-1] - x[:, :, :-1, 1:]).norm() + (x[:, :, :-1, :-1] - x[:, :, 1:, 1:]).norm())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--iterations", type=int, default=400)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--ngf", type=int, default=16)
    ap.add_argument("--nz", type=int, default=128)
    ap.add_argument("--nz2", type=int, default=None)
    ap.add_argument("--patch-size", type=int, default=5)
    ap.add_argument("--lr-student", type=float, default=0.1)
    ap.add_argument("--lr-generator", type=float, default=1e-3)
    ap.add_argument("--lr-patch", type=float, default=1e-3)
    ap.add_argument("--loss-weight-patch", type=float, default=0.1)
    ap.add_argument("--tv2", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-trigger", default="badnets", choices=sorted(triggers.TRIGGERS))
    ap.add_argument("--eval-target", type=int, default=0)
    ap.add_argument("--eval-every", type=int, default=0)
    ap.add_argument("--eval-images", type=int, default=2000)
    ap.add_argument("--log-every", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--generator-warmup", type=int, default=0, metavar="STEPS",
                    help="deviation (0 = off), as `guard purify dhbe --generator-warmup`: STEPS Adam steps of G alone "
                         "on R_bn - H(batch-mean teacher softmax) before the first iteration")
    ap.add_argument("--bn-prior", type=float, default=0.0, metavar="W",
                    help="deviation (0 = off), as `guard purify dhbe --bn-prior`: + W * R_bn in every generator step, "
                         "R_bn = sum over the teacher's BN layers of |batch mean - running_mean| + "
                         "|batch var (population) - running_var| (L2 norms) of the layer's input")
    args = ap.parse_args()
    if args.generator_warmup < 0 or not (args.bn_prior >= 0) or math.isinf(args.bn_prior):
        ap.error("--generator-warmup must be >= 0 and --bn-prior finite and >= 0")
    nz2 = args.nz2 or args.nz

    def log(line):
        print(line, file=sys.stderr if args.json else sys.stdout, flush=True)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    teacher, meta = bundle.load_bundle_or_exit(ap, args.model)
    student, _ = bundle.read_bundle(args.model)
    c, h, w = meta["input_shape"]
    if h != w or h % 4:
        ap.error(f"the generator needs square images whose side is divisible by 4, got {h}x{w}")
    mean, std = meta["normalize"]["mean"], meta["normalize"]["std"]
    std_t = torch.tensor(std, dtype=torch.float32).reshape(1, -1, 1, 1)
    x_test, y_test = data.load_idx_dataset("test", args.data_dir)
    kwargs = {}
    sub = torch.randperm(x_test.shape[0], generator=torch.Generator().manual_seed(args.seed))[:args.eval_images]

    def evaluate(xs, ys):
        return metrics.evaluate(student, xs, ys, args.eval_trigger, args.eval_target, mean, std, kwargs)

    before = evaluate(x_test, y_test)
    log(f"before ACC {100 * before['acc']:.2f} ASR {100 * before['asr']:.2f} RA {100 * before['ra']:.2f}")
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    gen = Generator(args.nz, args.ngf, c, h)
    pgen = PatchGenerator(nz2, args.ngf, c, args.patch_size)
    opt_s = torch.optim.SGD(student.parameters(), lr=args.lr_student, momentum=0.9, weight_decay=5e-4)
    opt_g = torch.optim.Adam(gen.parameters(), lr=args.lr_generator)
    opt_p = torch.optim.Adam(pgen.parameters(), lr=args.lr_patch)
    # R_bn of the teacher's last forward pass, from hooks on its BN layers (used only by the deviations)
    bn_terms = []
    collecting = [False]  # only the passes of teacher_with_prior pay for the statistics

    def bn_hook(module, inputs, _output):
        if not collecting[0]:
            return
        x_in = inputs[0]
        axes = [0] + list(range(2, x_in.dim()))
        mu, var = x_in.mean(dim=axes), x_in.var(dim=axes, unbiased=False)
        bn_terms.append((mu - module.running_mean).norm() + (var - module.running_var).norm())

    if args.generator_warmup or args.bn_prior:
        for module in teacher.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.register_forward_hook(bn_hook)

    def teacher_with_prior(x):
        bn_terms.clear()
        collecting[0] = True
        out = teacher(x)
        collecting[0] = False
        r_bn = sum(bn_terms)
        bn_terms.clear()
        return out, r_bn

    if args.generator_warmup:
        t_warm = time.perf_counter()
        opt_w = torch.optim.Adam(gen.parameters(), lr=args.lr_generator)
        gen.train()
        for step in range(args.generator_warmup):
            opt_w.zero_grad()
            logits, r_bn = teacher_with_prior(gen(torch.randn(args.batch_size, args.nz)))
            p = F.softmax(logits, 1).mean(0)
            entropy = -(p * p.clamp(1e-8, 1).log()).sum()
            (r_bn - entropy).backward()
            opt_w.step()
            if (step + 1) % max(1, args.generator_warmup // 10) == 0:
                log(f"warm-up {step + 1}/{args.generator_warmup} R_bn {r_bn.item():.4f} entropy {entropy.item():.3f}")
        log(f"warm-up {time.perf_counter() - t_warm:.1f} s")
    milestones = (int(0.6 * args.iterations), int(0.8 * args.iterations))
    rng = random.Random(args.seed)
    b = args.batch_size
    curve = []
    stamps = []
    t0 = time.perf_counter()
    student.train(), gen.train(), pgen.train()
    for it in range(args.iterations):
        if it in milestones:
            for opt in (opt_s, opt_g, opt_p):
                for group in opt.param_groups:
                    group["lr"] *= 0.1
        for _ in range(5):
            opt_s.zero_grad()
            with torch.no_grad():
                x = gen(torch.randn(b, args.nz))
                xp = x + random_pad(pgen(torch.randn(b, nz2)), h, rng) / std_t
                t = teacher(x)
            s = student(x)
            loss_s = l1(s, t) + args.loss_weight_patch * l1(student(xp), s.detach())
            loss_s.backward()
            opt_s.step()
        opt_g.zero_grad()
        x = gen(torch.randn(b, args.nz))
        if args.bn_prior:
            t, r_bn = teacher_with_prior(x)
            loss_g = -l1(student(x), t) + args.tv2 * tv2(x) + args.bn_prior * r_bn
        else:
            loss_g = -l1(student(x), teacher(x)) + args.tv2 * tv2(x)
        loss_g.backward()
        opt_g.step()
        opt_p.zero_grad()
        with torch.no_grad():
            x = gen(torch.randn(b, args.nz))
        xp = x + random_pad(pgen(torch.randn(b, nz2)), h, rng) / std_t
        loss_p = -l1(student(x), student(xp))
        loss_p.backward()
        opt_p.step()
        stamps.append(time.perf_counter())
        if (it + 1) % args.log_every == 0 or it + 1 == args.iterations:
            log(f"it {it + 1}/{args.iterations} loss_s {loss_s.item():.4f} loss_g {loss_g.item():.4f} "
                f"loss_gp {loss_p.item():.4f} {stamps[-1] - t0:.1f} s")
        if args.eval_every and ((it + 1) % args.eval_every == 0):
            m = evaluate(x_test[sub], y_test[sub])
            student.train()
            curve.append({"iteration": it + 1, **metrics.rounded(m)})
            log(f"eval it {it + 1}: ACC {100 * m['acc']:.2f} ASR {100 * m['asr']:.2f} RA {100 * m['ra']:.2f}")
    purify_seconds = time.perf_counter() - t0
    after = evaluate(x_test, y_test)
    log(f"after  ACC {100 * after['acc']:.2f} ASR {100 * after['asr']:.2f} RA {100 * after['ra']:.2f}")
    marks = [t0] + stamps
    # per-iteration times without the first --warmup iterations, as the Java tool's ms_per_iteration_median
    windows = [(marks[i + 1] - marks[i]) * 1000 for i in range(min(args.warmup, len(stamps) - 1), len(stamps))]
    if args.out:
        provenance = dict(meta.get("provenance") or {})
        provenance["purified_by"] = f"bench/torch_dhbe.py (pytorch {torch.__version__.split('+')[0]}) dhbe"
        bundle.write_bundle(args.out, student, meta["architecture"], meta["input_shape"], int(meta["num_classes"]),
                            mean, std, meta["labels"], width=meta.get("width"), provenance=provenance)
    print(json.dumps({
        "framework": "pytorch", "method": "dhbe", "model": args.model, "iterations": args.iterations,
        "batch_size": b, "ngf": args.ngf, "nz": args.nz, "nz2": nz2, "patch_size": args.patch_size,
        "lr_student": args.lr_student, "lr_generator": args.lr_generator, "lr_patch": args.lr_patch,
        "generator_warmup": args.generator_warmup, "bn_prior": args.bn_prior,
        "threads": args.threads, "ms_per_iteration_median": round(statistics.median(windows), 2),
        "purify_seconds": round(purify_seconds, 2), "before": metrics.rounded(before),
        "after": metrics.rounded(after), "curve": curve}), flush=True)


if __name__ == "__main__":
    main()
