#!/usr/bin/env bash
# etc/failover-torture.sh — the long primary-crash loop (issue 10, item 7).
#
# Runs tests/it/failover_crash.rs's kill loop with many more cycles than CI
# (6): a throwaway MariaDB 10.11 primary on loopback with AFTER_SYNC
# semi-sync and a one-hour rpl_semi_sync_master_timeout, binlogserver
# following it, a MariaDB replica reading from binlogserver by GTID, and 4
# clients recording every commit that returned. Each cycle kills the
# primary with SIGKILL at a random moment (plain load, around FLUSH BINARY
# LOGS, during a 6 MiB row event) and, while it is dead, checks that every
# returned commit is in binlogserver's files and in the replica, that
# binlogserver's files are a byte prefix of the dead primary's, and that
# binlogserver keeps serving; then it restarts the old primary as it was.
#
# Usage: etc/failover-torture.sh [--cycles N] [--seed SEED] [--keep]
#   --cycles N   kills to run (default 20)
#   --seed SEED  replay a run (the seed is printed at the start)
#   --keep       keep the test directories (BLS_KEEP_TEST_DIRS=1)
# Prints one line per cycle (commits returned, found in binlogserver and in
# the replica, the primary's unacknowledged tail) and the test's
# `failover summary:` line, which it also writes to
# target/bench/failover-torture-summary.txt. Exits non-zero on any loss.
# Needs: cargo, mariadbd, mariadb-install-db, mariadb (see .ci/run).
set -euo pipefail

cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

CYCLES=20
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --cycles) CYCLES=${2:?--cycles needs N}; shift 2 ;;
    --cycles=*) CYCLES=${1#*=}; shift ;;
    --seed) export BLS_FAILOVER_SEED=${2:?--seed needs SEED}; shift 2 ;;
    --seed=*) export BLS_FAILOVER_SEED=${1#*=}; shift ;;
    --keep) export BLS_KEEP_TEST_DIRS=1; shift ;;
    -\?|--help) usage; exit 0 ;;
    *) echo "failover-torture: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
case "$CYCLES" in
  ''|*[!0-9]*) echo "failover-torture: --cycles must be a number" >&2; exit 2 ;;
esac

mkdir -p target/bench
out=target/bench/failover-torture.log
echo "failover torture: $CYCLES cycles; full output in $out" >&2
rc=0
BLS_FAILOVER_CYCLES=$CYCLES cargo test --release --test it -- \
  failover_crash::every_returned_commit_survives_kill_9_of_the_primary --exact --nocapture \
  >"$out" 2>&1 || rc=$?
grep -E '^(failover torture:|failover cycle [0-9]+:)' "$out" >&2 || true
if [ "$rc" != 0 ]; then
  echo "failover-torture: FAILED (exit $rc); last lines of $out:" >&2
  tail -n 60 "$out" >&2
  exit "$rc"
fi
if ! grep -q '^failover summary:' "$out"; then
  echo "failover-torture: the test did not run (no summary line); see $out" >&2
  exit 1
fi
grep '^failover summary:' "$out" | tee target/bench/failover-torture-summary.txt
