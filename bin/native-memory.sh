# Sourced by bin/guard and by the bench scripts that start java themselves, so that every JVM that
# runs libtorch gets the same glibc malloc settings (a user's own values win).
#
# Why: libtorch runs on Java threads, whose allocations come from glibc's non-main malloc arenas.
# There, glibc returns the freed memory of a step's large tensors to the kernel and the next step
# page-faults it back in; a Python process computing on its main thread keeps it. Measured on a
# preact-resnet18 w16 training step (batch 128, one engine thread, bench/TrainStepPhases.java):
# backward 149-173 ms -> 112-117 ms, forward 78-80 -> 72-74 ms, SGD update 3.0-3.4 -> 1.5 ms, with
# both thresholds at 256 MiB; PyTorch 1.13 took 109 / 69 / 1.2 ms in the same minutes. Allocations
# below the threshold now come from the arenas, and up to this much free memory stays in each arena
# for reuse instead of being returned (resident memory sits at the working set's peak).
export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-268435456}"
export MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-268435456}"
