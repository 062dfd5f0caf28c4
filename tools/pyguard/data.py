"""IDX data (MNIST / Fashion-MNIST, gzip or raw) as float tensors in [0, 1] and int64 labels."""

import gzip
import os

import numpy as np
import torch

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
FASHION_MNIST_MEAN = [0.2860]
FASHION_MNIST_STD = [0.3530]

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def data_dir(explicit=None):
    return explicit or os.environ.get("GUARD_DATA_DIR") or DEFAULT_DIR


def read_idx(path):
    """Reads one IDX file (gzip detected by its magic bytes) into a numpy array."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path}: not an IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    start = 4 + 4 * ndim
    count = int(np.prod(dims)) if dims else 1
    if len(raw) - start < count * dtype.itemsize:
        raise ValueError(f"{path}: truncated ({dims})")
    return np.frombuffer(raw, dtype=dtype, count=count, offset=start).reshape(dims)


def _find(directory, stem):
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        p = os.path.join(directory, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f"{stem}[.gz] not found in {directory} (set GUARD_DATA_DIR)")


def load_idx_dataset(split="train", directory=None):
    """Returns (images float32 [N,1,H,W] in [0,1], labels int64 [N]) of the 'train' or 'test' split."""
    directory = data_dir(directory)
    img_stem, lbl_stem = _FILES[split]
    images = read_idx(_find(directory, img_stem))
    labels = read_idx(_find(directory, lbl_stem))
    if images.ndim == 3:
        images = images[:, None, :, :]
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{directory}: {images.shape[0]} images but {labels.shape[0]} labels")
    x = torch.from_numpy(images.astype(np.float32)) / 255.0
    y = torch.from_numpy(labels.astype(np.int64))
    return x.contiguous(), y


def class_balanced_split(labels, per_class, seed=0, num_classes=None):
    """Seeded class-balanced hold-out: returns (held-out indices, remaining indices), both sorted."""
    g = torch.Generator().manual_seed(int(seed))
    num_classes = int(labels.max()) + 1 if num_classes is None else num_classes
    held = []
    for c in range(num_classes):
        idx = torch.nonzero(labels == c, as_tuple=False).flatten()
        if idx.numel() < per_class:
            raise ValueError(f"class {c} has only {idx.numel()} images, {per_class} requested")
        held.append(idx[torch.randperm(idx.numel(), generator=g)[:per_class]])
    held = torch.sort(torch.cat(held)).values
    mask = torch.ones(labels.numel(), dtype=torch.bool)
    mask[held] = False
    rest = torch.nonzero(mask, as_tuple=False).flatten()
    return held, rest
