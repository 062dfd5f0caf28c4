#!/usr/bin/env bash
# Full disk and read-only output, for real (docs/RELIABILITY.md): needs root, because it mounts tiny
# tmpfs file systems. Each case runs a command that must fail, and checks that it printed exactly one
# error line naming the path and the reason (ENOSPC / EROFS), exited 2, printed no stack trace, left
# nothing partial on the mount and did not change its input.
#   full disk:  guard attack, purify clp and purify dhbe (its checkpoints) into a 64 KiB tmpfs; calibrate
#               of a bundle on a tmpfs with room for the bundle but not for its rewritten copy
#   read-only:  the same commands into (or, for calibrate, on) a tmpfs remounted read-only
# Usage: sudo bench/full_disk_check.sh      env: GUARD_JAVA_OPTS (default: one PyTorch thread)
set -uo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
guard="$here/bin/guard"
export GUARD_JAVA_OPTS="${GUARD_JAVA_OPTS:--Dai.djl.pytorch.num_threads=1}"
[ "$(id -u)" -eq 0 ] || { echo "full_disk_check: needs root (it mounts tmpfs file systems)" >&2; exit 2; }
"$guard" --version > /dev/null   # build once, before any case is timed or mounted

work="$(mktemp -d)"; mnt="$work/mnt"; mkdir -p "$mnt"
cleanup() { umount "$mnt" 2> /dev/null; rm -rf "$work"; }
trap cleanup EXIT
model="$work/model"                      # a plain bundle (no detector) of the demo model, off the mount
mkdir -p "$model"
cp "$here/demo/models/fashion-mnist/1/model.json" "$here/demo/models/fashion-mnist/1/weights.safetensors" "$model/"

failures=0
fresh_mount() { umount "$mnt" 2> /dev/null; mount -t tmpfs -o "size=$1" tmpfs "$mnt"; }
digest() { (cd "$1" && find . -type f | sort | xargs sha256sum) | sha256sum | cut -c1-16; }

# check NAME REASON PATH EXPECTED_LISTING -- command...: runs the command, then judges it.
check() {
  local name="$1" reason="$2" path="$3" listing="$4"; shift 5
  local input_before; input_before="$(digest "$model")"
  local start=$SECONDS
  "$guard" "$@" > "$work/out.txt" 2> "$work/err.txt"
  local rc=$? seconds=$((SECONDS - start))
  local errors; errors="$(grep -c ': error: ' "$work/err.txt")"
  local line; line="$(grep ': error: ' "$work/err.txt" | head -1)"
  local now; now="$(cd "$mnt" && ls -A | tr '\n' ' ')"
  local verdict=PASS why=""
  [ "$rc" -eq 2 ] || why+=" exit $rc;"
  [ "$errors" -eq 1 ] || why+=" $errors error lines;"
  grep -q "$reason" <<< "$line" || why+=" reason '$reason' not named;"
  grep -qF "$path" <<< "$line" || why+=" path not named;"
  ! grep -qE 'Exception|^\s+at ' "$work/err.txt" || why+=" stack trace;"
  [ "$now" = "$listing" ] || why+=" mount holds '$now', expected '$listing';"
  [ "$(digest "$model")" = "$input_before" ] || why+=" input changed;"
  [ -z "$why" ] || { verdict=FAIL; failures=$((failures + 1)); }
  printf '%s  %-34s exit %s, %2d s: %s%s\n' "$verdict" "$name" "$rc" "$seconds" "${line:-<no error line>}" \
    "${why:+   <-$why}"
}

echo "== full disk (tmpfs, No space left on device)"
fresh_mount 64k
check "attack -> full disk" "No space left on device" "$mnt/attacked" "" -- \
  attack --trigger badnets --epochs 1 --max-train 2000 --out "$mnt/attacked"
check "purify clp -> full disk" "No space left on device" "$mnt/clp" "" -- \
  purify clp --model "$model" --out "$mnt/clp"
check "purify dhbe checkpoints -> full disk" "No space left on device" "$mnt/dhbe.dhbe-checkpoint" "" -- \
  purify dhbe --model "$model" --out "$mnt/dhbe" --iterations 3 --batch-size 8 --ngf 4 --nz 16 --checkpoint-every 1
size=$(( $(du -sk "$model" | cut -f1) + 48 ))      # the bundle fits, its rewritten copy does not
fresh_mount "${size}k"
cp -r "$model" "$mnt/m"; before="$(digest "$mnt/m")"
check "calibrate in place -> full disk" "No space left on device" "$mnt/m" "m " -- \
  calibrate --model "$mnt/m" --clean-fraction 0.01
[ "$(digest "$mnt/m")" = "$before" ] && echo "      the bundle on the full disk is unchanged" \
  || { echo "FAIL  the bundle on the full disk changed"; failures=$((failures + 1)); }

echo "== read-only mount (mount -o remount,ro)"
fresh_mount 4m
cp -r "$model" "$mnt/m"; before="$(digest "$mnt/m")"
mount -o remount,ro "$mnt"
check "attack -> read-only" "Read-only file system" "$mnt/attacked" "m " -- \
  attack --trigger badnets --epochs 1 --max-train 2000 --out "$mnt/attacked"
check "purify clp -> read-only" "Read-only file system" "$mnt/clp" "m " -- \
  purify clp --model "$model" --out "$mnt/clp"
check "purify clp --force onto ro bundle" "Read-only file system" "$mnt/m" "m " -- \
  purify clp --model "$model" --out "$mnt/m" --force
check "calibrate in place -> read-only" "Read-only file system" "$mnt/m" "m " -- \
  calibrate --model "$mnt/m" --clean-fraction 0.01
[ "$(digest "$mnt/m")" = "$before" ] && echo "      the bundle on the read-only mount is unchanged" \
  || { echo "FAIL  the bundle on the read-only mount changed"; failures=$((failures + 1)); }

echo "full_disk_check: $failures failure(s)"
[ "$failures" -eq 0 ]
