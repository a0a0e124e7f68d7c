#!/usr/bin/env bash
# etc/bench-replica.sh — binlogserver vs the figures of the replica-performance issue.
#
# In ONE run, against ONE throwaway MariaDB primary (one data dir under /tmp,
# restarted between phases because binlog_row_event_max_size is a startup
# option), it measures:
#   1a catch-up of >= SIZE bytes of large row events (~4 MiB, 64 KiB rows):
#      MB/s of binlogserver / MB/s of `mariadb-binlog --read-from-remote-server
#      --raw --to-last-log`                                      target >= 1.0
#   1b catch-up of >= SIZE bytes of small row events (~280 B): events/s ratio
#                                                                target >= 1.2
#   1c binlogserver's peak RSS (VmHWM) during catch-up           target < 32 MiB
#   2a sysbench TPS (THREADS threads) with binlogserver as the semi-sync replica
#      (AFTER_SYNC, sync_binlog=1) / TPS with no replica and semi-sync off
#                                                                target >= 0.85
#   2b 1 thread: p50 commit latency with binlogserver - p50 without
#                              target <= p50(write 4 KiB + fdatasync) + 100 us
#   2c the same TPS ratio with a real MariaDB semi-sync replica (reference)
#   2f with --tls: the primary gets certificates made with openssl, and every round
#      runs binlogserver once in plain TCP (--ssl-mode DISABLED) and once over TLS
#      (--ssl-mode VERIFY_CA: events in and ACKs out on one TLS session): TPS and
#      1-thread p50 commit latency with TLS vs without, in the same run
# and prints a markdown summary, also written to target/bench/replica-summary.md.
#
# Usage: etc/bench-replica.sh [--size BYTES] [--duration SECONDS] [--only catchup|semisync]
#                             [--keep] [--threads N] [--repeat N] [--no-drop-caches]
#                             [--sysbench-test oltp_insert|oltp_write_only] [--skip-build]
#                             [--tls]
# Development: etc/bench-replica.sh --size 50000000 --duration 5
#
# Method, in short:
# - catch-up: each tool starts on a fresh output dir; mariadb-binlog's time is its
#   wall time, binlogserver's the time from its start until its files have the
#   primary's sizes (polled every 50 ms; the time of its "caught up with the primary"
#   line is reported too). The page cache is dropped before every run when
#   /proc/sys/vm/drop_caches is writable (else the primary's files are read once
#   before both runs); the summary says which. --repeat N takes medians. The copies
#   are compared byte for byte with the primary's files.
# - semi-sync: a discarded warm-up, then no-replica runs before AND after the
#   binlogserver runs (--repeat N: N interleaved rounds; medians), Rpl_semi_sync_master_yes_tx /
#   no_tx deltas around every semi-sync run (no_tx > 0 makes the run INVALID), and
#   fdatasync latency measured before and after on the disk of the data dirs.
#
# Needs: mariadbd, mariadb-install-db, mariadb, mariadb-binlog (MariaDB 10.11), python3,
# cargo; sysbench for the semi-sync part (installed with apt-get if missing).
# Everything lives in a temp dir under /tmp that is removed on exit (--keep keeps it);
# every process the script starts is stopped on exit, by its pid.
set -euo pipefail

SIZE=1073741824
DURATION=30
ONLY=all
KEEP=0
THREADS=8
REPEAT=1
DROP_CACHES=1
SB_TEST=oltp_insert
BUILD=1
TLS=0

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }

ORIG_ARGS=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --size) SIZE=${2:?--size needs BYTES}; shift 2 ;;
    --size=*) SIZE=${1#*=}; shift ;;
    --duration) DURATION=${2:?--duration needs SECONDS}; shift 2 ;;
    --duration=*) DURATION=${1#*=}; shift ;;
    --only) ONLY=${2:?--only needs catchup or semisync}; shift 2 ;;
    --only=*) ONLY=${1#*=}; shift ;;
    --threads) THREADS=${2:?}; shift 2 ;;
    --threads=*) THREADS=${1#*=}; shift ;;
    --repeat) REPEAT=${2:?}; shift 2 ;;
    --repeat=*) REPEAT=${1#*=}; shift ;;
    --sysbench-test) SB_TEST=${2:?}; shift 2 ;;
    --sysbench-test=*) SB_TEST=${1#*=}; shift ;;
    --keep) KEEP=1; shift ;;
    --no-drop-caches) DROP_CACHES=0; shift ;;
    --skip-build) BUILD=0; shift ;;
    --tls) TLS=1; shift ;;
    -\?|--help) usage; exit 0 ;;
    *) echo "bench-replica: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
case "$ONLY" in all|catchup|semisync) ;; *) echo "bench-replica: --only must be catchup or semisync" >&2; exit 2 ;; esac
for v in SIZE DURATION THREADS REPEAT; do
  [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -gt 0 ] || { echo "bench-replica: --${v,,} must be a positive integer" >&2; exit 2; }
done
case "$SB_TEST" in oltp_insert|oltp_write_only) ;; *) echo "bench-replica: --sysbench-test must be oltp_insert or oltp_write_only" >&2; exit 2 ;; esac
want() { [ "$ONLY" = all ] || [ "$ONLY" = "$1" ]; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
CMDLINE="etc/bench-replica.sh"
for a in "${ORIG_ARGS[@]+"${ORIG_ARGS[@]}"}"; do CMDLINE+=" $(printf '%q' "$a")"; done

# shellcheck source=etc/bench/common.sh
. "$ROOT/etc/bench/common.sh"

# ---------------------------------------------------------------- tools
require_tools mariadbd mariadb-install-db mariadb mariadb-binlog python3 cargo
if want semisync && ! command -v sysbench >/dev/null; then
  log "WARNING: sysbench is missing; installing it with apt-get (Debian package 'sysbench')"
  if ! apt-get install -y sysbench >&2; then
    apt-get update >&2 && apt-get install -y sysbench >&2 || die "could not install sysbench"
  fi
fi

if [ "$BUILD" = 1 ]; then
  log "cargo build --release"
  cargo build --release >&2 || die "cargo build --release failed"
fi
BIN=$ROOT/target/release/binlogserver
[ -x "$BIN" ] || die "$BIN missing (build it, or drop --skip-build)"

# ---------------------------------------------------------------- temp dir, cleanup
TMP=$(mktemp -d /tmp/bench-replica.XXXXXX)
install_cleanup

RES=$TMP/results.tsv
: >"$RES"

# ---------------------------------------------------------------- python helpers
PY=$ROOT/etc/bench/replica.py
py() { python3 "$PY" "$@"; }

# ---------------------------------------------------------------- machine facts
record_machine
res v_sysbench "$(sysbench --version 2>/dev/null || echo 'sysbench: not used')"
res threads "$THREADS"
res duration "$DURATION"
res sb_test "$SB_TEST"

# ---------------------------------------------------------------- MariaDB servers
primary_setup
RPORT=$(py port "$PPORT")

install_db "$PRIMARY"

# ---------------------------------------------------------------- part 1: catch-up
CACHE_MODE=
prepare_cache() { # files...: before one tool's run
  if [ "$CACHE_MODE" = drop ]; then
    sync
    echo 3 >/proc/sys/vm/drop_caches
  fi
}

measure_catchup() { # part (a|b)
  local part=$1 files=() f sizes=() expect="" i mb_times=() bls_times=() line_times=() hwm=0 out t0 t1 mbdir blsdir tmo
  mapfile -t files < <(binlog_files)
  [ "${#files[@]}" -gt 0 ] || die "primary has no binlog files"
  for f in "${files[@]}"; do
    sizes+=("$(stat -c %s "$PRIMARY/data/$f")")
    expect+="${expect:+,}$f:${sizes[-1]}"
  done
  py stats "${files[@]/#/$PRIMARY/data/}" >"$TMP/stats-$part"
  res "${part}_files" "${#files[@]}"
  res "${part}_bytes" "$(kv "$TMP/stats-$part" bytes)"
  res "${part}_events" "$(kv "$TMP/stats-$part" events)"
  res "${part}_avg_event" "$(kv "$TMP/stats-$part" avg_event)"
  log "1$part: primary has ${#files[@]} file(s), $(kv "$TMP/stats-$part" bytes) bytes, $(kv "$TMP/stats-$part" events) events (avg $(kv "$TMP/stats-$part" avg_event) B, types $(kv "$TMP/stats-$part" types))"
  if [ -z "$CACHE_MODE" ]; then
    if [ "$DROP_CACHES" = 1 ] && sync && (echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then
      CACHE_MODE=drop
      res cache_mode "dropped (sync; echo 3 > /proc/sys/vm/drop_caches) before every run of either tool: both read the primary's files from disk"
    else
      CACHE_MODE=warm
      res cache_mode "not dropped ($([ "$DROP_CACHES" = 1 ] && echo 'drop_caches not writable' || echo '--no-drop-caches')): the primary's files were read once before the runs, so both tools read them from the page cache"
    fi
  fi
  [ "$CACHE_MODE" = warm ] && cat "${files[@]/#/$PRIMARY/data/}" >/dev/null
  for ((i = 1; i <= REPEAT; i++)); do
    mbdir=$TMP/mb-$part-$i
    blsdir=$TMP/bls-$part-$i
    mkdir -p "$mbdir" "$blsdir"
    prepare_cache
    log "1$part run $i/$REPEAT: mariadb-binlog --read-from-remote-server --raw --to-last-log ${files[0]}"
    t0=$(date +%s.%N)
    bgrun mariadb-binlog --no-defaults --read-from-remote-server --raw --to-last-log --result-file="$mbdir/" \
      -h 127.0.0.1 -P "$PPORT" -u repl -preplpass "${files[0]}" 2>"$TMP/mb-$part-$i.err" ||
      { cat "$TMP/mb-$part-$i.err" >&2; die "mariadb-binlog failed"; }
    t1=$(date +%s.%N)
    mb_times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')")
    log "1$part run $i: mariadb-binlog took ${mb_times[-1]} s"
    sync
    prepare_cache
    tmo=$(awk -v t="${mb_times[-1]}" 'BEGIN {t = t * 20 + 60; print (t < 120 ? 120 : t)}')
    log "1$part run $i: binlogserver (timeout ${tmo%.*} s)"
    bgrun python3 "$PY" monitor "$blsdir" "$TMP/bls-$part-$i.log" "$expect" "$tmo" "$TMP/bls.pid" \
      "$BIN" -h 127.0.0.1 -P "$PPORT" -u repl -p replpass -d "$blsdir" --server-id "$((100 + i))" \
      --semi-sync auto --heartbeat 1 >"$TMP/mon-$part-$i" || die "binlogserver monitor failed (log: $TMP/bls-$part-$i.log)"
    out=$TMP/mon-$part-$i
    log "1$part run $i: binlogserver: $(tr '\n' ' ' <"$out")"
    if [ "$(kv "$out" reason)" != done ]; then
      log "1$part run $i: binlogserver did not finish: $(kv "$out" reason); last log lines:"
      tail -n 20 "$TMP/bls-$part-$i.log" >&2
      res "note_${part}_fail_$i" "1$part run $i: binlogserver did not finish: $(kv "$out" reason) — see its log lines in the report"
    fi
    if [ -n "$(kv "$out" t_equal)" ]; then
      bls_times+=("$(kv "$out" t_equal)")
      [ "$(kv "$out" hwm_kb)" -gt "$hwm" ] && hwm=$(kv "$out" hwm_kb)
    fi
    if [ -n "$(kv "$out" t_line)" ]; then line_times+=("$(kv "$out" t_line)"); fi
    if [ "$i" = 1 ]; then
      py compare "$PRIMARY/data" "$blsdir" "${files[@]}" >"$TMP/cmp-$part"
      py compare "$PRIMARY/data" "$mbdir" "${files[@]}" >"$TMP/cmp-mb-$part"
      res "${part}_identical" "$(kv "$TMP/cmp-$part" identical)"
      res "${part}_mb_identical" "$(kv "$TMP/cmp-mb-$part" identical)"
      log "1$part: binlogserver copy: $(kv "$TMP/cmp-$part" detail)"
      log "1$part: mariadb-binlog copy: $(kv "$TMP/cmp-mb-$part" detail)"
      [ "$(kv "$TMP/cmp-$part" identical)" = yes ] ||
        res "note_${part}_cmp" "1$part binlogserver copy vs primary: $(kv "$TMP/cmp-$part" detail)"
      [ "$(kv "$TMP/cmp-mb-$part" identical)" = yes ] ||
        res "note_${part}_cmp_mb" "1$part mariadb-binlog copy vs primary: $(kv "$TMP/cmp-mb-$part" detail)"
    fi
    { grep -E ' (WARN|ERROR) ' "$TMP/bls-$part-$i.log" || true; } | head -n 5 | while IFS= read -r l; do
      log "1$part run $i binlogserver: $l"
    done
    if grep -qE ' (WARN|ERROR) ' "$TMP/bls-$part-$i.log"; then
      res "note_${part}_warn_$i" "1$part run $i binlogserver logged warnings/errors, first: $(grep -E ' (WARN|ERROR) ' "$TMP/bls-$part-$i.log" | head -n 1 | cut -c1-300)"
    fi
    [ "$KEEP" = 1 ] || rm -rf "$mbdir" "$blsdir"
  done
  res "${part}_mb_s" "$(py median "${mb_times[@]}")"
  [ "${#bls_times[@]}" -gt 0 ] && res "${part}_bls_s" "$(py median "${bls_times[@]}")"
  [ "${#line_times[@]}" -gt 0 ] && res "${part}_bls_line_s" "$(py median "${line_times[@]}")"
  res "${part}_hwm_kb" "$hwm"
  res "note_${part}_times" "1$part times (s), mariadb-binlog: ${mb_times[*]}; binlogserver files complete: ${bls_times[*]:-none}; its 'caught up' line: ${line_times[*]:-none}"
}

generate() { # part: fill the binlog (after RESET MASTER) up to SIZE bytes
  gen_binlog "$([ "$1" = a ] && echo big || echo small)" "1$1"
}

if want catchup; then
  res gen_engine "$GEN_ENGINE"
  start_primary "1a" --binlog-row-event-max-size=4194304
  setup_users
  generate a
  measure_catchup a
  start_primary "1b" --binlog-row-event-max-size=256
  generate b
  measure_catchup b
  psql -e "DROP DATABASE IF EXISTS bench"
fi

# ---------------------------------------------------------------- part 2: semi-sync
SB_COMMON=()
sb() { # label threads [seconds] -> runs sysbench, leaves $TMP/sb-label.out
  local label=$1 threads=$2 secs=${3:-$DURATION}
  log "2: sysbench $SB_TEST $label: $threads thread(s), $secs s"
  bgrun timeout "$((secs + 300))" sysbench "$SB_TEST" "${SB_COMMON[@]}" --threads="$threads" --time="$secs" \
    --percentile=50 --report-interval=0 run >"$TMP/sb-$label.out" 2>&1 ||
    { tail -n 30 "$TMP/sb-$label.out" >&2; die "sysbench $label failed"; }
  SB_TPS=$(sed -n 's/^ *transactions: .*(\([0-9.]*\) per sec.*/\1/p' "$TMP/sb-$label.out")
  SB_P50=$(sed -n 's/^ *50th percentile: *\([0-9.]*\).*/\1/p' "$TMP/sb-$label.out")
  SB_ERR=$(sed -n 's/^ *ignored errors: *\([0-9]*\).*/\1/p' "$TMP/sb-$label.out")
  [ -n "$SB_TPS" ] && [ -n "$SB_P50" ] || { cat "$TMP/sb-$label.out" >&2; die "cannot parse sysbench output"; }
  log "2: $label: $SB_TPS TPS, p50 $SB_P50 ms, ignored errors ${SB_ERR:-?}"
  res "sb_${label}" "$SB_TPS TPS, p50 $SB_P50 ms, ignored errors ${SB_ERR:-?}"
}

sb_prepare() {
  psql -e "DROP DATABASE IF EXISTS sbtest; CREATE DATABASE sbtest"
  bgrun sysbench "$SB_TEST" "${SB_COMMON[@]}" --threads=2 prepare >"$TMP/sb-prepare.out" 2>&1 ||
    { tail -n 30 "$TMP/sb-prepare.out" >&2; die "sysbench prepare failed"; }
}

semi_run() { # label threads: sysbench with the semi-sync counters around it; sets SR_YES SR_NO SR_VALID
  local label=$1 threads=$2 y0 n0 c0 s0 y1 n1 c1 s1
  read -r y0 n0 c0 s0 < <(semi_status)
  sb "$label" "$threads"
  read -r y1 n1 c1 s1 < <(semi_status)
  SR_YES=$((y1 - y0))
  SR_NO=$((n1 - n0))
  SR_VALID=yes
  if [ "$SR_NO" -ne 0 ] || [ "$SR_YES" -le 0 ]; then
    SR_VALID=no
    log "2: $label INVALID: Rpl_semi_sync_master_no_tx +$SR_NO, yes_tx +$SR_YES (status $s0 -> $s1, clients $c0 -> $c1)"
    res "note_invalid_$label" "$label is INVALID: no_tx +$SR_NO, yes_tx +$SR_YES, semi-sync status $s0 -> $s1, clients $c0 -> $c1"
  else
    log "2: $label: yes_tx +$SR_YES, no_tx +0, status $s1, clients $c1"
  fi
}

wait_semisync_client() { # what: waits for a semi-sync client and one acknowledged commit
  local i c y0 y1 n1
  for ((i = 0; i < 600; i++)); do
    read -r _ _ c _ < <(semi_status)
    [ "${c:-0}" -ge 1 ] && break
    sleep 0.1
  done
  [ "${c:-0}" -ge 1 ] || die "$1 did not register as a semi-sync client within 60 s"
  # The primary turns semi-sync status ON once a reply reaches its commit position:
  # commit probes until one is acknowledged.
  psql -e "CREATE TABLE IF NOT EXISTS sbtest.probe (id INT AUTO_INCREMENT PRIMARY KEY) ENGINE=InnoDB"
  for ((i = 1; i <= 50; i++)); do
    read -r y0 _ _ _ < <(semi_status)
    psql -e "INSERT INTO sbtest.probe VALUES (NULL)"
    read -r y1 n1 _ _ < <(semi_status)
    [ "$y1" -gt "$y0" ] && return 0
    sleep 0.2
  done
  log "WARNING: none of 50 probe commits was acknowledged by $1 (no_tx now $n1)"
}

no_replica() { # semi-sync off, and no semi-sync client left on the primary
  local i c
  psql -e "SET GLOBAL rpl_semi_sync_master_enabled = 0"
  for ((i = 0; i < 100; i++)); do
    read -r _ _ c _ < <(semi_status)
    [ "${c:-0}" = 0 ] && return 0
    sleep 0.1
  done
  log "WARNING: the primary still counts $c semi-sync client(s) 10 s after the replica stopped"
}

start_bls() { # label server-id args...: binlogserver as the semi-sync replica, caught up
  local label=$1 id=$2
  shift 2
  BLS_LOG=$TMP/bls-$label.log
  mkdir -p "$TMP/bls-$label"
  "$BIN" -h 127.0.0.1 -P "$PPORT" -u repl -p replpass -d "$TMP/bls-$label" --server-id "$id" \
    --semi-sync on --heartbeat 1 "$@" 2>"$BLS_LOG" &
  BLS_PID=$!
  PIDS+=("$BLS_PID")
  for ((i = 0; i < 600; i++)); do
    grep -qs 'caught up with the primary' "$BLS_LOG" && break
    kill -0 "$BLS_PID" 2>/dev/null || { cat "$BLS_LOG" >&2; die "binlogserver exited"; }
    sleep 0.1
  done
  grep -q 'caught up with the primary' "$BLS_LOG" || log "WARNING: binlogserver logged no 'caught up' line within 60 s"
  wait_semisync_client binlogserver
}

fsync_probe() { # label
  log "2: fdatasync latency on the data dir's disk (1000 x append 4 KiB + fdatasync), $1"
  py fsync "$TMP" 1000 >"$TMP/fsync-$1.out"
  FS_P50+=("$(kv "$TMP/fsync-$1.out" p50_us)")
  FS_P90+=("$(kv "$TMP/fsync-$1.out" p90_us)")
  log "2: fdatasync $1: p50 ${FS_P50[-1]} us, p90 ${FS_P90[-1]} us"
}

baseline_pair() { # label: no replica, semi-sync off
  no_replica
  sb "base-$1" "$THREADS"
  B8T+=("$SB_TPS")
  B8P+=("$SB_P50")
  sb "base1-$1" 1
  B1T+=("$SB_TPS")
  B1P+=("$SB_P50")
}

if want semisync; then
  SB_COMMON=(--db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$PPORT" --mysql-user=bench
    --mysql-password=benchpass --mysql-db=sbtest --tables=4 --table-size=10000)
  TLS_ARGS=()
  if [ "$TLS" = 1 ]; then
    make_certs "$TMP/certs"
    start_primary "2" --ssl-cert="$TMP/certs/server.pem" --ssl-key="$TMP/certs/server.key" \
      --ssl-ca="$TMP/certs/ca.pem"
    TLS_ARGS=(--ssl-mode VERIFY_CA --ssl-ca "$TMP/certs/ca.pem")
  else
    start_primary "2" # default binlog_row_event_max_size
  fi
  want catchup || setup_users
  psql -e "SET GLOBAL rpl_semi_sync_master_enabled = 0; DROP DATABASE IF EXISTS bench; RESET MASTER"
  sb_prepare

  # warm-up (discarded): InnoDB's flushing after prepare would otherwise land on the baseline
  warm=$((DURATION / 2))
  [ "$warm" -gt 10 ] && warm=10
  [ "$warm" -lt 3 ] && warm=3
  sb warmup "$THREADS" "$warm"

  # REPEAT rounds of [no replica; binlogserver as the semi-sync replica], then a last
  # no-replica pair: medians over the runs.
  B8T=() B8P=() B1T=() B1P=() S8T=() S8P=() S1T=() S1P=() FS_P50=() FS_P90=()
  S8Y=0 S8N=0 S1Y=0 S1N=0 S8V=yes S1V=yes SS_HWM=0 SS_CPU=0
  T8T=() T1T=() T1P=() T8Y=0 T8N=0 T1Y=0 T1N=0 T8V=yes T1V=yes
  for ((r = 1; r <= REPEAT; r++)); do
    baseline_pair "r$r"
    fsync_probe "r$r"
    psql -e "SET GLOBAL rpl_semi_sync_master_enabled = 1"
    acc0=$(psql -e "SHOW GLOBAL STATUS LIKE 'Ssl_accepts'" | awk '{print $2}')
    start_bls "semisync-r$r" "$((200 + r))" --ssl-mode DISABLED
    acc1=$(psql -e "SHOW GLOBAL STATUS LIKE 'Ssl_accepts'" | awk '{print $2}')
    [ "$TLS" = 0 ] || [ "$acc1" = "$acc0" ] || die "the plain binlogserver made TLS sessions (Ssl_accepts $acc0 -> $acc1)"
    cpu0=$(proc_cpu "$BLS_PID")
    semi_run "bls-r$r" "$THREADS"
    S8T+=("$SB_TPS")
    S8P+=("$SB_P50")
    S8Y=$((S8Y + SR_YES))
    S8N=$((S8N + SR_NO))
    [ "$SR_VALID" = yes ] || S8V=no
    semi_run "bls1-r$r" 1
    S1T+=("$SB_TPS")
    S1P+=("$SB_P50")
    S1Y=$((S1Y + SR_YES))
    S1N=$((S1N + SR_NO))
    [ "$SR_VALID" = yes ] || S1V=no
    cpu1=$(proc_cpu "$BLS_PID")
    SS_CPU=$(awk -v a="$SS_CPU" -v b="${cpu0:-0}" -v c="${cpu1:-0}" 'BEGIN {printf "%.2f", a + c - b}')
    hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$BLS_PID/status" 2>/dev/null || echo 0)
    [ "${hwm:-0}" -gt "$SS_HWM" ] && SS_HWM=$hwm
    kill -0 "$BLS_PID" 2>/dev/null || res "note_bls_died_r$r" "binlogserver exited during the semi-sync runs of round $r"
    stop_pid "$BLS_PID" 30
    { grep -E ' (WARN|ERROR) ' "$BLS_LOG" || true; } | head -n 5 | while IFS= read -r l; do log "2 binlogserver: $l"; done
    if grep -qE ' (WARN|ERROR) ' "$BLS_LOG"; then
      res "note_ss_warn_r$r" "2 binlogserver (round $r) logged warnings/errors, first: $(grep -E ' (WARN|ERROR) ' "$BLS_LOG" | head -n 1 | cut -c1-300)"
    fi
    if [ "$TLS" = 1 ]; then
      acc0=$(psql -e "SHOW GLOBAL STATUS LIKE 'Ssl_accepts'" | awk '{print $2}')
      start_bls "tls-r$r" "$((300 + r))" "${TLS_ARGS[@]}"
      acc1=$(psql -e "SHOW GLOBAL STATUS LIKE 'Ssl_accepts'" | awk '{print $2}')
      [ "${acc1:-0}" -gt "${acc0:-0}" ] || die "binlogserver did not connect over TLS (Ssl_accepts $acc0 -> $acc1)"
      semi_run "tls-r$r" "$THREADS"
      T8T+=("$SB_TPS")
      T8Y=$((T8Y + SR_YES))
      T8N=$((T8N + SR_NO))
      [ "$SR_VALID" = yes ] || T8V=no
      semi_run "tls1-r$r" 1
      T1T+=("$SB_TPS")
      T1P+=("$SB_P50")
      T1Y=$((T1Y + SR_YES))
      T1N=$((T1N + SR_NO))
      [ "$SR_VALID" = yes ] || T1V=no
      stop_pid "$BLS_PID" 30
    fi
  done
  fsync_probe last
  baseline_pair last

  res base_tps "$(py median "${B8T[@]}")"
  res base_p50 "$(py median "${B8P[@]}")"
  res base1_tps "$(py median "${B1T[@]}")"
  res base1_p50 "$(py median "${B1P[@]}")"
  res bls_tps "$(py median "${S8T[@]}")"
  res bls_p50 "$(py median "${S8P[@]}")"
  res bls1_tps "$(py median "${S1T[@]}")"
  res bls1_p50 "$(py median "${S1P[@]}")"
  res bls_yes "$S8Y"
  res bls_no "$S8N"
  res bls_valid "$S8V"
  res bls1_yes "$S1Y"
  res bls1_no "$S1N"
  res bls1_valid "$S1V"
  res ss_hwm_kb "$SS_HWM"
  res ss_cpu_s "$SS_CPU"
  res fsync_p50_us "$(py median "${FS_P50[@]}")"
  res runs_base_tps "${B8T[*]}"
  res runs_base1_tps "${B1T[*]}"
  res runs_base1_p50 "${B1P[*]}"
  res runs_bls_tps "${S8T[*]}"
  res runs_bls1_tps "${S1T[*]}"
  res runs_bls1_p50 "${S1P[*]}"
  res runs_fsync "p50 ${FS_P50[*]} µs; p90 ${FS_P90[*]} µs"
  res rounds "$REPEAT"
  if [ "$TLS" = 1 ]; then
    res tls_tps "$(py median "${T8T[@]}")"
    res tls1_tps "$(py median "${T1T[@]}")"
    res tls1_p50 "$(py median "${T1P[@]}")"
    res tls_yes "$((T8Y + T1Y))"
    res tls_no "$((T8N + T1N))"
    res tls_valid "$([ "$T8V$T1V" = yesyes ] && echo yes || echo no)"
    res runs_tls1_p50 "${T1P[*]}"
  fi

  # reference: a MariaDB replica as the semi-sync replica, from a fresh binlog
  log "2: reference run with a MariaDB semi-sync replica"
  psql -e "SET GLOBAL rpl_semi_sync_master_enabled = 0; DROP DATABASE IF EXISTS sbtest; RESET MASTER"
  sb_prepare
  REPLICA=$TMP/replica
  install_db "$REPLICA"
  start_mariadbd "$REPLICA" "$RPORT" --server-id=3 --rpl-semi-sync-slave-enabled=ON --skip-name-resolve \
    --innodb-buffer-pool-size=256M --innodb-log-file-size=128M --max-allowed-packet=256M
  REPLICA_PID=$STARTED_PID
  rsql() { mariadb --no-defaults -S "$REPLICA/sock" -uroot -N -B "$@"; }
  rsql -e "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$PPORT, MASTER_USER='repl',
    MASTER_PASSWORD='replpass', MASTER_USE_GTID=slave_pos; START SLAVE"
  target_pos=$(psql -e 'SELECT @@gtid_binlog_pos')
  for ((i = 0; i < 3000; i++)); do
    [ "$(rsql -e 'SELECT @@gtid_slave_pos')" = "$target_pos" ] && break
    sleep 0.1
  done
  [ "$(rsql -e 'SELECT @@gtid_slave_pos')" = "$target_pos" ] ||
    { rsql -e 'SHOW SLAVE STATUS\G' >&2 || true; die "MariaDB replica did not catch up to $target_pos in 300 s"; }
  psql -e "SET GLOBAL rpl_semi_sync_master_enabled = 1"
  wait_semisync_client "the MariaDB replica"
  cpu0=$(proc_cpu "$REPLICA_PID")
  semi_run mdb "$THREADS"
  res mdb_tps "$SB_TPS"
  res mdb_p50 "$SB_P50"
  res mdb_yes "$SR_YES"
  res mdb_no "$SR_NO"
  res mdb_valid "$SR_VALID"
  semi_run mdb1 1
  res mdb1_tps "$SB_TPS"
  res mdb1_p50 "$SB_P50"
  res mdb1_yes "$SR_YES"
  res mdb1_no "$SR_NO"
  res mdb1_valid "$SR_VALID"
  res mdb_cpu_s "$(awk -v a="$cpu0" -v b="$(proc_cpu "$REPLICA_PID")" 'BEGIN {printf "%.2f", b - a}')"
  res note_mdb "the MariaDB replica runs with its defaults (sync_relay_log=10000: it acknowledges after writing the relay log, without fsync); binlogserver acknowledges after fsync"
  stop_pid "$REPLICA_PID" 120
fi

[ -n "$PRIMARY_PID" ] && stop_pid "$PRIMARY_PID" 120

# ---------------------------------------------------------------- summary
mkdir -p "$ROOT/target/bench"
py render "$RES" >"$ROOT/target/bench/replica-summary.md"
echo
cat "$ROOT/target/bench/replica-summary.md"
log "summary written to target/bench/replica-summary.md"
