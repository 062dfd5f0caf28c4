"""Model bundle I/O (DESIGN.md section 3): a directory with model.json and weights.safetensors."""

import hashlib
import json
import os
import sys

import torch

from . import archs, st

FORMAT = 1


def model_json(arch, input_shape, num_classes, mean, std, labels, width=None, provenance=None):
    """The model.json object, keys in DESIGN order; `width` is written for the ResNets only."""
    meta = {
        "format": FORMAT,
        "architecture": arch,
        "input_shape": [int(v) for v in input_shape],
        "num_classes": int(num_classes),
        "normalize": {"mean": [float(v) for v in mean], "std": [float(v) for v in std]},
        "labels": [str(v) for v in labels],
    }
    if arch in archs.HAS_WIDTH:
        meta["width"] = int(archs.DEFAULT_WIDTH if width is None else width)
    if provenance is not None:
        meta["provenance"] = provenance
    return meta


def dumps_model_json(meta):
    """model.json text: one top-level key per line, values as compact one-line JSON."""
    lines = [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in meta.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def state_tensors(model):
    """state_dict as safetensors-ready tensors: floats as F32, num_batches_tracked as I64."""
    out = {}
    for name, t in model.state_dict().items():
        t = t.detach().cpu()
        if t.is_floating_point():
            t = t.to(torch.float32)
        elif name.endswith("num_batches_tracked"):
            t = t.to(torch.int64)
        out[name] = t.contiguous()
    return out


def write_bundle(dir, model, arch, input_shape, num_classes, mean, std, labels, width=None, provenance=None):
    """Writes model.json and weights.safetensors into `dir` (created if needed)."""
    if len(mean) != input_shape[0] or len(std) != input_shape[0]:
        raise ValueError("normalize mean/std need one value per input channel")
    if len(labels) != num_classes:
        raise ValueError(f"{len(labels)} labels for {num_classes} classes")
    os.makedirs(dir, exist_ok=True)
    meta = model_json(arch, input_shape, num_classes, mean, std, labels, width, provenance)
    st.save_file(state_tensors(model), os.path.join(dir, "weights.safetensors"))
    tmp = os.path.join(dir, f"model.json.tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(dumps_model_json(meta))
    os.replace(tmp, os.path.join(dir, "model.json"))
    return meta


def read_bundle(dir):
    """Loads a bundle: returns (model in eval mode, model.json dict).

    Weights go through load_state_dict(strict=True), so a missing, extra or mis-shaped key fails
    with every offending key named. F16/BF16/F64 weights are converted to F32. DESIGN section 3
    lets a writer omit `*.num_batches_tracked`; absent ones keep the module's value (0).
    """
    with open(os.path.join(dir, "model.json"), encoding="utf-8") as f:
        meta = json.load(f)
    if meta.get("format") != FORMAT:
        raise ValueError(f"{dir}/model.json: unsupported format {meta.get('format')!r}")
    arch = meta["architecture"]
    in_ch = int(meta["input_shape"][0])
    width = meta.get("width") if arch in archs.HAS_WIDTH else None
    model = archs.build(arch, in_ch, int(meta["num_classes"]), width)
    weights = st.load_file(os.path.join(dir, "weights.safetensors"))
    own = model.state_dict()
    state = {}
    for name, t in weights.items():
        if t.is_floating_point():
            t = t.to(torch.float32)
        state[name] = t
    for name, t in own.items():
        if name.endswith("num_batches_tracked") and name not in state:
            state[name] = t.clone()
    model.load_state_dict(state, strict=True)
    model.eval()
    return model, meta


def sha256(path):
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_bundle_or_exit(ap, path):
    """read_bundle for command-line tools: a missing or unreadable bundle is one clear error line."""
    if not os.path.isdir(path):
        ap.error(f"--model {path}: no such bundle directory")
    for name in ("model.json", "weights.safetensors"):
        if not os.path.isfile(os.path.join(path, name)):
            ap.error(f"--model {path}: not a model bundle ({name} missing)")
    try:
        return read_bundle(path)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        print(f"{ap.prog}: error: cannot load bundle {path}: {e}", file=sys.stderr)
        sys.exit(1)
