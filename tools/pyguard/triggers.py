"""The project's triggers (DESIGN.md section 5), pixel space, on float images in [0, 1].

Every function takes [C,H,W] or [N,C,H,W] float tensors, returns a new tensor clipped to [0, 1]
and does no uint8 quantisation.
"""

import math

import torch

_MASK64 = (1 << 64) - 1


def splitmix64_doubles(seed, n):
    """n doubles in [0, 1) from SplitMix64 seeded with `seed`: (next() >>> 11) * 2^-53."""
    state = int(seed) & _MASK64
    out = []
    for _ in range(int(n)):
        state = (state + 0x9E3779B97F4A7C15) & _MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        z ^= z >> 31
        out.append((z >> 11) * 2.0 ** -53)
    return out


def _chw(x):
    if x.dim() not in (3, 4):
        raise ValueError(f"expected [C,H,W] or [N,C,H,W], got {list(x.shape)}")
    return x.shape[-3], x.shape[-2], x.shape[-1]


def badnets(x):
    """3x3 white square, one-pixel margin: rows and columns H-4..H-2 (inclusive) set to 1.0."""
    _, h, w = _chw(x)
    out = x.clone()
    out[..., h - 4:h - 1, w - 4:w - 1] = 1.0
    return out.clamp_(0.0, 1.0)


def blend_pattern(shape_chw, seed=0, dtype=torch.float32):
    """The [C,H,W] noise image: SplitMix64 doubles in row-major (c, h, w) order, cast to float32."""
    c, h, w = (int(v) for v in shape_chw)
    vals = splitmix64_doubles(seed, c * h * w)
    return torch.tensor(vals, dtype=torch.float64).to(dtype).reshape(c, h, w)


def blended(x, seed=0, alpha=0.2, pattern=None):
    """(1 - alpha) * x + alpha * t over the whole image, t = blend_pattern(seed) unless given."""
    c, h, w = _chw(x)
    t = blend_pattern((c, h, w), seed, x.dtype) if pattern is None else pattern.to(x.dtype)
    return ((1.0 - alpha) * x + alpha * t).clamp_(0.0, 1.0)


def sig_pattern(width, amplitude=40.0 / 255.0, frequency=6, dtype=torch.float32):
    """amplitude * sin(2*pi*j*frequency/W) per column j, computed in float64, returned as [W]."""
    vals = [amplitude * math.sin(2.0 * math.pi * j * frequency / width) for j in range(width)]
    return torch.tensor(vals, dtype=torch.float64).to(dtype)


def sig(x, amplitude=40.0 / 255.0, frequency=6):
    """x + amplitude * sin(2*pi*j*frequency/W) for column j, every row and channel."""
    _, _, w = _chw(x)
    return (x + sig_pattern(w, amplitude, frequency, x.dtype)).clamp_(0.0, 1.0)


TRIGGERS = {"badnets": badnets, "blended": blended, "sig": sig}
CLEAN_LABEL = {"sig"}


def apply(name, x, **kwargs):
    if name not in TRIGGERS:
        raise ValueError(f"unknown trigger {name!r}; known: {', '.join(sorted(TRIGGERS))}")
    return TRIGGERS[name](x, **kwargs)
