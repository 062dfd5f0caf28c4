#!/usr/bin/env python3
"""One training step of the PyTorch reference split into phases (forward+loss, backward, update), batch 128,
medians of 40 steps: the baseline for bench/TrainStepPhases.java. Usage: /usr/bin/python3 bench/torch_step_phases.py ARCH [WIDTH]
THREADS=N sets torch's threads (default 2); CHANNELS_LAST=1 runs model and input channels-last (what guard's
training does from the stem convolution on), to compare PyTorch with the same layout; the default is PyTorch's
own default layout, as in bench/torch_train.py."""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'tools'))
from pyguard import archs
torch.set_num_threads(int(os.environ.get("THREADS", "2")))
arch = sys.argv[1]; width = int(sys.argv[2]) if len(sys.argv) > 2 else 64
torch.manual_seed(0)
m = (archs.build(arch, 1, 10) if arch == "cnn-small" else archs.build(arch, 1, 10, width)); m.train()
opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
x = torch.rand(128, 1, 28, 28); y = torch.randint(0, 10, (128,))
layout = "default"
if os.environ.get("CHANNELS_LAST") == "1":
    m = m.to(memory_format=torch.channels_last); x = x.contiguous(memory_format=torch.channels_last)
    layout = "channels-last"
mean, std = 0.286, 0.353
T = [[], [], []]
for it in range(50):
    t0 = time.perf_counter()
    out = m((x - mean) / std); loss = torch.nn.functional.cross_entropy(out, y); loss.item()
    t1 = time.perf_counter(); opt.zero_grad(); loss.backward(); t2 = time.perf_counter(); opt.step(); t3 = time.perf_counter()
    if it >= 10:
        T[0].append(t1 - t0); T[1].append(t2 - t1); T[2].append(t3 - t2)
med = lambda v: sorted(v)[len(v) // 2] * 1e3
print(f"PyTorch {arch} ({layout} layout): forward+loss {med(T[0]):.2f} ms, backward {med(T[1]):.2f} ms, update {med(T[2]):.2f} ms")
