#!/usr/bin/env bash
# etc/bench-recovery.sh — startup recovery time for a large last binlog file.
#
# Builds a valid MariaDB binlog of SIZE bytes (default 1 GiB) with the codec
# (tests/it/recovery_bench.rs: a real transaction from the fixture set, GTID,
# ANNOTATE_ROWS, TABLE_MAP, WRITE_ROWS, XID, repeated with log_pos and
# CRC-32 rewritten) in two shapes, `small` (74-byte events on average, the
# worst case) and `large` (1 MiB ANNOTATE_ROWS events), and times
# storage::recovery::recover on it: RUNS warm runs (page cache warm), then
# one cold run after `sync; echo 3 > /proc/sys/vm/drop_caches` when that is
# writable (as root). Recovery checks every CRC, the position chain and the
# transaction boundaries of the whole file; nothing is skipped.
#
# Usage: etc/bench-recovery.sh [--size BYTES] [--runs N] [--shape small|large|small,large] [--dir DIR]
#   --dir DIR   where the files go (default the temp dir; needs SIZE bytes free)
# Prints one `recovery bench:` line per shape and writes them to
# target/bench/recovery-summary.txt. Needs: cargo.
set -euo pipefail

cd "$(dirname "$0")/.."

SIZE=1073741824
RUNS=3
SHAPE=small,large
DIR=
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --size) SIZE=${2:?--size needs BYTES}; shift 2 ;;
    --size=*) SIZE=${1#*=}; shift ;;
    --runs) RUNS=${2:?--runs needs N}; shift 2 ;;
    --runs=*) RUNS=${1#*=}; shift ;;
    --shape) SHAPE=${2:?--shape needs small, large or small,large}; shift 2 ;;
    --shape=*) SHAPE=${1#*=}; shift ;;
    --dir) DIR=${2:?--dir needs DIR}; shift 2 ;;
    --dir=*) DIR=${1#*=}; shift ;;
    -\?|--help) usage; exit 0 ;;
    *) echo "bench-recovery: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

export BLS_BENCH_RECOVERY_BYTES=$SIZE BLS_BENCH_RECOVERY_RUNS=$RUNS BLS_BENCH_RECOVERY_SHAPE=$SHAPE
if [ -n "$DIR" ]; then export BLS_BENCH_RECOVERY_DIR=$DIR; fi
mkdir -p target/bench
out=target/bench/recovery.log
echo "bench-recovery: $SIZE bytes, shapes $SHAPE, $RUNS warm runs; output in $out" >&2
rc=0
cargo test --release --test it -- recovery_bench:: --ignored --nocapture >"$out" 2>&1 || rc=$?
if [ "$rc" != 0 ]; then
  echo "bench-recovery: FAILED (exit $rc):" >&2
  tail -n 40 "$out" >&2
  exit "$rc"
fi
{
  echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cpus, $(uname -r)"
  grep '^recovery bench:' "$out"
} | tee target/bench/recovery-summary.txt
