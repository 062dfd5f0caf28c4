#!/usr/bin/env python3
"""Summarises a bench/serve_matrix.sh run: server vs raw forward pass, guard on vs off, soak RSS."""
import json
import os
import re
import sys

out = sys.argv[1]
raw = {}
raw_cores = {}
for line in open(os.path.join(out, "raw.txt")):
    m = re.match(r"raw forward(\+guard)? batch (\d+): (\d+) images/s(?:, ([\d.]+) cores)?", line)
    if m:
        raw[(int(m.group(2)), bool(m.group(1)))] = float(m.group(3))
        if m.group(4):
            raw_cores[(int(m.group(2)), bool(m.group(1)))] = float(m.group(4))


def nearest_raw(batch, guarded):
    sizes = sorted({b for b, _ in raw})
    # the raw baseline at the batch size the server actually executed (nearest measured size, rounding up)
    best = next((b for b in sizes if b >= batch), sizes[-1])
    return best, raw[(best, guarded)]


# The ratio is given against both raw figures at that batch: on a noisy VM the plain pass has measured
# slower than the guarded one (which does strictly more work), so the plain figure alone can flatter the server.
print("\n| concurrency | guard | items/s | p50 ms | p99 ms | errors | mean batch | raw forward at that batch (plain / guarded) | ratio (to plain / to guarded) | flag rate clean / triggered |")
print("|---|---|---|---|---|---|---|---|---|---|")
rows = {}
# the concurrencies this run measured (serve_matrix.sh's CONCURRENCIES)
levels = sorted({int(m.group(1)) for m in (re.match(r"bench-c(\d+)-(off|flag)\.json$", f) for f in os.listdir(out)) if m})
for c in levels:
    for mode in ("off", "flag"):
        f = os.path.join(out, f"bench-c{c}-{mode}.json")
        if not os.path.exists(f):
            continue
        d = json.load(open(f))
        rows[(c, mode)] = d
        b, base = nearest_raw(d["mean_batch"], False)
        _, base_guarded = nearest_raw(d["mean_batch"], True)
        errors = d["errors"] if isinstance(d["errors"], int) else sum(d["errors"].values())
        g = d["guard"]
        print(f"| {c} | {mode} | {d['items_per_second']:.0f} | {d['latency_ms']['p50']:.2f} | {d['latency_ms']['p99']:.2f} "
              f"| {errors} | {d['mean_batch']:.1f} | {base:.0f} / {base_guarded:.0f} (batch {b}) "
              f"| {d['items_per_second'] / base:.2f} / {d['items_per_second'] / base_guarded:.2f} "
              f"| {g['clean_flag_rate']:.3f} / {g['triggered_flag_rate']:.3f} |")
print("\n| concurrency | guard on / guard off throughput |")
print("|---|---|")
for c in levels:
    if (c, "off") in rows and (c, "flag") in rows:
        print(f"| {c} | {rows[(c, 'flag')]['items_per_second'] / rows[(c, 'off')]['items_per_second']:.3f} |")
# Per core: the load generator runs on the same cores, so the server gets only part of them. Items per
# second per core the server used, against the raw pass's images per second per core it used.
eff = [(c, m, d) for (c, m), d in rows.items() if "server_cores" in d]
if eff and raw_cores:
    print("\n| concurrency | guard | server cores | load generator cores (whole run, upper bound) | items/s per server core "
          "| raw images/s per core at that batch (plain / guarded) | ratio (to plain / to guarded) |")
    print("|---|---|---|---|---|---|---|")
    for c, mode, d in sorted(eff, key=lambda r: (r[0], r[1] != "off")):
        b, _ = nearest_raw(d["mean_batch"], False)
        per_core = d["items_per_second"] / d["server_cores"]
        plain = raw[(b, False)] / raw_cores[(b, False)]
        guarded = raw[(b, True)] / raw_cores[(b, True)]
        print(f"| {c} | {mode} | {d['server_cores']:.2f} | {d['client_cores']:.2f} | {per_core:.0f} "
              f"| {plain:.0f} / {guarded:.0f} (batch {b}) | {per_core / plain:.2f} / {per_core / guarded:.2f} |")
print("\n| raw batch | guard off images/s | guard on images/s | on / off |")
print("|---|---|---|---|")
for b in sorted({b for b, _ in raw}):
    print(f"| {b} | {raw[(b, False)]:.0f} | {raw[(b, True)]:.0f} | {raw[(b, True)] / raw[(b, False)]:.3f} |")
soak = os.path.join(out, "soak-rss.txt")
if os.path.exists(soak):
    pts = [tuple(map(int, l.split())) for l in open(soak).read().split("\n")[1:] if l.strip()]
    d = json.load(open(os.path.join(out, "soak.json")))
    errors = d["errors"] if isinstance(d["errors"], int) else sum(d["errors"].values())
    warm = [r for t, r in pts if t >= 60]
    print(f"\nsoak: {d['seconds']:.0f} s at concurrency {d['concurrency']}, {d['items_per_second']:.0f} items/s, {errors} errors; "
          f"RSS after 60 s warm-up: first {warm[0] / 1024:.0f} MiB, max {max(warm) / 1024:.0f} MiB, "
          f"last {warm[-1] / 1024:.0f} MiB ({len(pts)} samples)" if warm else "\nsoak: too short to sample")
