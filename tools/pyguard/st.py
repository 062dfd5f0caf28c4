"""Minimal safetensors reader/writer for torch tensors.

File layout (https://github.com/huggingface/safetensors, "Format"):

  8 bytes      N, little-endian u64: length of the JSON header in bytes
  N bytes      JSON header, UTF-8, padded with spaces to a multiple of 8:
               {"__metadata__": {str: str}?,
                name: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
               offsets are relative to the start of the data section
  rest         tensor bytes, row-major (C order), little-endian, contiguous, no gaps

Tensors are written in alphabetical key order (header and data), the header is compact JSON.
Writing the same tensors twice gives byte-identical files.
"""

import json
import os
import struct

import numpy as np
import torch

# safetensors dtype name -> (torch dtype, numpy little-endian dtype used for the bytes)
_DTYPES = {
    "F64": (torch.float64, "<f8"),
    "F32": (torch.float32, "<f4"),
    "F16": (torch.float16, "<f2"),
    "BF16": (torch.bfloat16, "<i2"),  # numpy has no bfloat16: move the raw 16-bit words
    "I64": (torch.int64, "<i8"),
    "I32": (torch.int32, "<i4"),
    "I16": (torch.int16, "<i2"),
    "I8": (torch.int8, "i1"),
    "U8": (torch.uint8, "u1"),
    "BOOL": (torch.bool, "?"),
}
_TORCH_TO_ST = {v[0]: k for k, v in _DTYPES.items()}


def _tensor_bytes(name, t):
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
    if t.dtype not in _TORCH_TO_ST:
        raise TypeError(f"{name}: unsupported dtype {t.dtype}")
    st_dtype = _TORCH_TO_ST[t.dtype]
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:
        arr = t.view(torch.int16).numpy()
    else:
        arr = t.numpy()
    arr = np.ascontiguousarray(arr, dtype=np.dtype(_DTYPES[st_dtype][1]))
    return st_dtype, list(t.shape), arr.tobytes(order="C")


def serialize(tensors, metadata=None):
    """Returns the bytes of a safetensors file holding `tensors` (dict name -> Tensor)."""
    header = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("__metadata__ must map str to str")
        header["__metadata__"] = dict(sorted(metadata.items()))
    chunks = []
    offset = 0
    for name in sorted(tensors):
        if name == "__metadata__":
            raise ValueError("'__metadata__' is reserved")
        st_dtype, shape, data = _tensor_bytes(name, tensors[name])
        header[name] = {"dtype": st_dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    hjson = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hjson += b" " * ((-len(hjson)) % 8)
    return struct.pack("<Q", len(hjson)) + hjson + b"".join(chunks)


def save_file(tensors, path, metadata=None):
    """Writes `tensors` to `path` (atomically: temp file + rename)."""
    blob = serialize(tensors, metadata)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(blob)
    os.replace(tmp, path)


def _parse(blob, where):
    if len(blob) < 8:
        raise ValueError(f"{where}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        raise ValueError(f"{where}: header length {n} exceeds the file size {len(blob)}")
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError(f"{where}: header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    data = memoryview(blob)[8 + n:]
    out = {}
    spans = []
    for name, info in header.items():
        dtype = info.get("dtype")
        if dtype not in _DTYPES:
            raise ValueError(f"{where}: {name}: unsupported dtype {dtype!r}")
        shape = [int(s) for s in info["shape"]]
        begin, end = (int(v) for v in info["data_offsets"])
        torch_dtype, np_dtype = _DTYPES[dtype]
        count = int(np.prod(shape)) if shape else 1
        itemsize = np.dtype(np_dtype).itemsize
        if end - begin != count * itemsize or begin < 0 or end > len(data):
            raise ValueError(f"{where}: {name}: data_offsets {[begin, end]} do not fit shape {shape} of {dtype}")
        spans.append((begin, end, name))
        arr = np.frombuffer(data, dtype=np.dtype(np_dtype), count=count, offset=begin).copy()
        t = torch.from_numpy(arr)
        if dtype == "BF16":
            t = t.view(torch.bfloat16)
        out[name] = t.reshape(shape)
    # the format requires the data section to be covered exactly, without holes or overlaps
    pos = 0
    for begin, end, name in sorted(spans):
        if begin != pos:
            raise ValueError(f"{where}: {name}: data is not contiguous (starts at {begin}, expected {pos})")
        pos = end
    if pos != len(data):
        raise ValueError(f"{where}: {len(data) - pos} trailing bytes after the last tensor")
    return out, metadata


def load_file(path):
    """Reads a safetensors file into a dict name -> Tensor (in header order)."""
    with open(path, "rb") as f:
        blob = f.read()
    return _parse(blob, path)[0]


def load_metadata(path):
    """Returns the `__metadata__` string map of a safetensors file ({} if absent)."""
    with open(path, "rb") as f:
        blob = f.read()
    return _parse(blob, path)[1]
