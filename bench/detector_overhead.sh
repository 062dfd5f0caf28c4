#!/usr/bin/env bash
# Detector serving overhead: median time of the plain forward pass vs forward-with-taps +
# scoring, same calibrated bundle, same batch of real Fashion-MNIST test images (target: <= 5% extra).
# Usage: bench/detector_overhead.sh BUNDLE [BATCH=64] [ITERATIONS=50]      Prints one JSON line.
# The bundle must have been calibrated (guard calibrate --model BUNDLE).
# The JVM gets jdk.incubator.vector, as guard serve does (the detector's SIMD kernel); DETECTOR_KERNEL=plain
# leaves it out, which measures the plain-Java kernel that the offline commands use.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
. "$here/bin/native-memory.sh"   # the offline malloc settings: every §4 overhead figure was measured with them
[ $# -ge 1 ] || { sed -n 2,5p "$0" >&2; exit 2; }
if [ ! -d "$here/offline/target/test-classes/dev/backdoorguard/offline/bench" ] || [ ! -f "$here/offline/target/guard-offline.jar" ]; then
  (cd "$here" && mvn -q -B -DskipTests -pl offline -am package) >&2
fi
kernel_opts=(--add-modules jdk.incubator.vector)
[ "${DETECTOR_KERNEL:-simd}" = plain ] && kernel_opts=()
exec java ${kernel_opts[@]+"${kernel_opts[@]}"} -Dai.djl.offline=true -Djava.awt.headless=true \
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Dorg.slf4j.simpleLogger.log.ai.djl=error \
  -cp "$here/offline/target/test-classes:$here/offline/target/guard-offline.jar:$here/offline/target/lib/*" \
  dev.backdoorguard.offline.bench.DetectorOverheadBench "$@"
