# Sourced by bin/guard for the offline commands (training, purification, evaluation, calibration), by the
# bench scripts that time those, and by bench/detector_overhead.sh (its section 4 figures were all measured
# with these settings), so that every such JVM gets the same glibc malloc settings (a user's own values win). `guard serve` and the client commands keep glibc's own defaults: see the end.
#
# Why: libtorch runs on Java threads, whose allocations come from glibc's non-main malloc arenas.
# There, glibc returns the freed memory of a step's large tensors to the kernel and the next step
# page-faults it back in; a Python process computing on its main thread keeps it. Measured on a
# preact-resnet18 w16 training step (batch 128, one engine thread, bench/TrainStepPhases.java):
# backward 149-173 ms -> 112-117 ms, forward 78-80 -> 72-74 ms, SGD update 3.0-3.4 -> 1.5 ms, with
# both thresholds at 256 MiB; PyTorch 1.13 took 109 / 69 / 1.2 ms in the same minutes. Allocations
# below the threshold now come from the arenas, and up to this much free memory stays in each arena
# for reuse instead of being returned (resident memory sits at the working set's peak).
#
# Not for the server: under a steady load these settings made its resident memory creep up (about 100
# KiB a minute with the heap pre-touched: freed memory kept in the arenas, whose peak slowly rises),
# while with glibc's defaults it stayed flat. The raw forward pass ran 3-23% slower with the defaults; a
# long-running process must not grow, a training run ends (docs/BENCHMARKS.md §5, "Where the soak's
# slow growth went"). An operator who prefers the throughput exports both variables for guard serve.
export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-268435456}"
export MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-268435456}"
