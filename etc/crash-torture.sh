#!/usr/bin/env bash
# etc/crash-torture.sh — the long crash torture (issue 4, part 2).
#
# Runs tests/it/crash_torture.rs with many more cycles than CI (10): a throwaway
# MariaDB 10.11 primary on loopback with AFTER_SYNC semi-sync and a one-hour
# rpl_semi_sync_master_timeout, 4 clients committing small transactions, and
# binlogserver killed with SIGKILL at random moments (plain load, around
# FLUSH BINARY LOGS, during a 6 MiB row event, during catch-up right after a
# restart). After every kill, before the restart, the data directory must
# hold every commit a client saw return; after every restart the files must
# equal the primary's and domain 0's GTIDs must run without gap or duplicate.
#
# Usage: etc/crash-torture.sh [--cycles N] [--seed SEED] [--keep]
#   --cycles N   cycles to run (default 50)
#   --seed SEED  replay a run (the seed is printed at the start)
#   --keep       keep the test directories (BLS_KEEP_TEST_DIRS=1)
# Prints the test's `torture summary:` line (cycles, kills, commits
# acknowledged, bytes, max recovery time) and writes it to
# target/bench/crash-torture-summary.txt.
# Needs: cargo, mariadbd, mariadb-install-db, mariadb (see .ci/run).
set -euo pipefail

cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

CYCLES=50
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --cycles) CYCLES=${2:?--cycles needs N}; shift 2 ;;
    --cycles=*) CYCLES=${1#*=}; shift ;;
    --seed) export BLS_TORTURE_SEED=${2:?--seed needs SEED}; shift 2 ;;
    --seed=*) export BLS_TORTURE_SEED=${1#*=}; shift ;;
    --keep) export BLS_KEEP_TEST_DIRS=1; shift ;;
    -\?|--help) usage; exit 0 ;;
    *) echo "crash-torture: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
case "$CYCLES" in ''|*[!0-9]*) echo "crash-torture: --cycles must be a number" >&2; exit 2 ;; esac

mkdir -p target/bench
out=target/bench/crash-torture.log
echo "crash torture: $CYCLES cycles; full output in $out" >&2
rc=0
BLS_TORTURE_CYCLES=$CYCLES cargo test --release --test it -- crash_torture:: --nocapture >"$out" 2>&1 || rc=$?
grep -E '^(crash torture:|cycle [0-9]+ done)' "$out" | tail -n 3 >&2 || true
if [ "$rc" != 0 ]; then
  echo "crash-torture: FAILED (exit $rc); last lines of $out:" >&2
  tail -n 60 "$out" >&2
  exit "$rc"
fi
grep '^torture summary:' "$out" | tee target/bench/crash-torture-summary.txt
