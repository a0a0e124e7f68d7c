#!/usr/bin/env bash
# etc/bench-serve.sh — binlogserver serving binlogs (--listen) vs the MariaDB primary itself.
#
# In ONE run, against ONE throwaway MariaDB primary (one data dir under /tmp, the same
# options as etc/bench-replica.sh, started once with binlog_row_event_max_size=4M) and
# binlogserver following it (--semi-sync auto), it measures:
#   1  aggregate read throughput of N concurrent `mariadb-binlog --read-from-remote-server
#      --raw --to-last-log` readers (N from --readers), each reading the whole binlog
#      (>= SIZE bytes of ~4 MiB row events), from binlogserver / from the primary:
#      N x SIZE / wall time of the slowest reader                 target >= 1.5
#   2  binlogserver's memory per idle connection: (VmRSS with IDLE `--stop-never`
#      readers at the live end - VmRSS with none) / IDLE           target < 1 MiB
#      (also its thread count, and the primary's figures for reference)
#   3  replica latency: single-row commits on the primary, time from the commit's OK
#      until a MariaDB replica attached through binlogserver / one attached directly
#      has applied it; p50 and p90 of both     target: binlogserver - direct
#      <= p50 (p90) of (write 4 KiB + fdatasync) on the same disk + 1 ms; measured with
#      the primary's semi-sync off (the target), then on with binlogserver
#      acknowledging (reference)
#   4  with --tls (or --only tls): TLS against plain TCP, alternating in the same run
#      4a catch-up: a fresh binlogserver following the TLS-enabled primary from an empty
#         dir, `--ssl-mode VERIFY_CA --ssl-ca CA` / `--ssl-mode DISABLED`: MB/s ratio
#                                                                target >= 0.8
#      4b serving: N readers as in 1 from binlogserver (--listen-ssl-cert/--listen-ssl-key),
#         `--ssl --ssl-ca CA --ssl-verify-server-cert` / `--skip-ssl`: aggregate MB/s
#         ratio                                                   target >= 0.8
#         (and the same readers from the primary: what TLS costs them there, reference)
# and prints a markdown summary, also written to target/bench/serve-summary.md.
#
# Usage: etc/bench-serve.sh [--size BYTES] [--readers "1 10 50"] [--only read|memory|latency]
#                           [--keep] [--repeat N] [--idle N] [--commits N] [--skip-build]
#                           [--tls] [--only tls]
# Development: etc/bench-serve.sh --size 50000000 --readers "1 4" --idle 10 --commits 50
#              etc/bench-serve.sh --only tls --size 50000000 --readers "1 4" --repeat 1
#
# Method, in short:
# - read: readers write with --result-file=DIR/ where DIR holds, for every binlog file
#   name, a symlink to /dev/null, so nothing is stored (checked after each run: every
#   entry must still be a symlink). All N start at once; the slowest one's wall time
#   counts. Before every run both servers' files are read with cat, so both serve from
#   the page cache (24 GiB RAM hold both copies). --repeat N (default 3) alternates
#   which server goes first and takes medians. One reader's output from each server is then stored
#   (on /dev/shm when it has room) and compared byte for byte.
# - memory (run first, before the read test): binlogserver is restarted (a fresh process:
#   no allocations left from the catch-up), then VmRSS is sampled (median of 5 over 1 s)
#   before and 2 s after IDLE readers (distinct --stop-never-slave-server-id) started at
#   the primary's SHOW MASTER STATUS position have created their output files; the
#   same on the primary for reference. The read and latency tests use that process.
# - latency: two MariaDB replicas with identical options (semi-sync off,
#   innodb_flush_log_at_trx_commit=2 so that their own fsync does not blur the
#   difference), started at the primary's current GTID, MASTER_USE_GTID=slave_pos: one
#   to binlogserver's --listen port, one to the primary. For each commit (autocommit
#   INSERT of one row), both replicas get `SELECT MASTER_GTID_WAIT('<its GTID>', 30)`
#   5 ms ahead from their own client thread; latency = time from the INSERT's OK to the
#   wait's return (one process, one monotonic clock; no polling load). Then the row is
#   looked up on both (not timed). 20 warm-up commits, 20 ms between commits.
# - tls (etc/bench/serve-tls.sh): a CA and a certificate for 127.0.0.1 made with openssl
#   in the temp dir; the primary gets --ssl-cert/--ssl-key/--ssl-ca and binlogserver
#   --listen-ssl-cert/--listen-ssl-key for the whole run. Parts 1-3 stay plain TCP (readers
#   --skip-ssl, binlogserver --ssl-mode DISABLED, replicas MASTER_SSL=0). --repeat N rounds,
#   alternating which mode goes first; medians; page cache warm (cat) before every run.
#   4a: each run a new binlogserver (no --listen) into an empty dir, timed as in
#   etc/bench-replica.sh (start until its files have the primary's sizes, polled every
#   50 ms); the first copy of each mode is compared with the primary's files. 4b: the
#   process of parts 1-3. The script stops when a TLS run did not use TLS (the primary's
#   Ssl_accepts; binlogserver's debug line per TLS session) or a plain run did; one TLS
#   reader's output is compared byte for byte with a plain reader's.
#
# Needs: mariadbd, mariadb-install-db, mariadb, mariadb-binlog (MariaDB 10.11), python3
# (standard library only), cargo; openssl for --tls. Everything lives in a temp dir under
# /tmp (reader outputs under /dev/shm when present) that is removed on exit (--keep keeps
# it); every process the script starts is stopped on exit, by its pid.
set -euo pipefail

SIZE=1073741824
READERS="1 10 50"
ONLY=all
KEEP=0
REPEAT=3
IDLE=50
COMMITS=200
WARMUP=20
BUILD=1
TLS=0

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }

ORIG_ARGS=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --size) SIZE=${2:?--size needs BYTES}; shift 2 ;;
    --size=*) SIZE=${1#*=}; shift ;;
    --readers) READERS=${2:?--readers needs a list like \"1 10 50\"}; shift 2 ;;
    --readers=*) READERS=${1#*=}; shift ;;
    --only) ONLY=${2:?--only needs read, memory, latency or tls}; shift 2 ;;
    --only=*) ONLY=${1#*=}; shift ;;
    --repeat) REPEAT=${2:?}; shift 2 ;;
    --repeat=*) REPEAT=${1#*=}; shift ;;
    --idle) IDLE=${2:?}; shift 2 ;;
    --idle=*) IDLE=${1#*=}; shift ;;
    --commits) COMMITS=${2:?}; shift 2 ;;
    --commits=*) COMMITS=${1#*=}; shift ;;
    --keep) KEEP=1; shift ;;
    --skip-build) BUILD=0; shift ;;
    --tls) TLS=1; shift ;;
    -\?|--help) usage; exit 0 ;;
    *) echo "bench-serve: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
case "$ONLY" in all|read|memory|latency) ;; tls) TLS=1 ;; *) echo "bench-serve: --only must be read, memory, latency or tls" >&2; exit 2 ;; esac
for v in SIZE REPEAT IDLE COMMITS; do
  [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -gt 0 ] || { echo "bench-serve: --${v,,} must be a positive integer" >&2; exit 2; }
done
read -r -a READER_COUNTS <<<"$READERS"
[ "${#READER_COUNTS[@]}" -gt 0 ] || { echo "bench-serve: --readers needs at least one count" >&2; exit 2; }
for n in "${READER_COUNTS[@]}"; do
  [[ $n =~ ^[0-9]+$ ]] && [ "$n" -gt 0 ] && [ "$n" -le 150 ] || { echo "bench-serve: --readers: '$n' is not a count in 1..150" >&2; exit 2; }
done
[ "$IDLE" -le 150 ] || { echo "bench-serve: --idle must be <= 150 (max_connections 200 on both servers)" >&2; exit 2; }
want() { { [ "$1" != tls ] || [ "$TLS" = 1 ]; } && { [ "$ONLY" = all ] || [ "$ONLY" = "$1" ]; }; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=etc/bench/common.sh
. "$ROOT/etc/bench/common.sh"
# shellcheck source=etc/bench/serve-tls.sh
. "$ROOT/etc/bench/serve-tls.sh"
CMDLINE="etc/bench-serve.sh"
for a in "${ORIG_ARGS[@]+"${ORIG_ARGS[@]}"}"; do CMDLINE+=" $(printf '%q' "$a")"; done

require_tools mariadbd mariadb-install-db mariadb mariadb-binlog python3 cargo
if [ "$BUILD" = 1 ]; then
  log "cargo build --release"
  cargo build --release >&2 || die "cargo build --release failed"
fi
BIN=$ROOT/target/release/binlogserver
[ -x "$BIN" ] || die "$BIN missing (build it, or drop --skip-build)"

# ---------------------------------------------------------------- temp dirs, cleanup
TMP=$(mktemp -d /tmp/bench-serve.XXXXXX)
OUT=$TMP/out
install_cleanup
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  OUT=$(mktemp -d /dev/shm/bench-serve.XXXXXX)
  EXTRA_DIRS+=("$OUT")
fi
mkdir -p "$OUT"

RES=$TMP/results.tsv
: >"$RES"
PY=$ROOT/etc/bench/serve.py
py() { python3 "$PY" "$@"; }

record_machine
res readers "${READER_COUNTS[*]}"

# ---------------------------------------------------------------- servers
primary_setup
LPORT=$(py port "$PPORT")
install_db "$PRIMARY"
BLSDIR=$TMP/bls
mkdir -p "$BLSDIR"
BLS_PID=
BLS_N=0
BLS_LOGS=()
BLS_ARGS=(-h 127.0.0.1 -P "$PPORT" -u repl -p replpass -d "$BLSDIR" --server-id 100
  --listen "127.0.0.1:$LPORT" --semi-sync auto --heartbeat 1 --ssl-mode DISABLED
  --max-handshakes 150:150) # up to 150 readers from 127.0.0.1 log in at once
BLS_ENV=()
PRIMARY_TLS=()
if [ "$TLS" = 1 ]; then
  CERTS=$TMP/certs
  make_certs "$CERTS"
  PRIMARY_TLS=(--ssl-cert="$CERTS/server.pem" --ssl-key="$CERTS/server.key" --ssl-ca="$CERTS/ca.pem")
  BLS_ARGS+=(--listen-ssl-cert "$CERTS/server.pem" --listen-ssl-key "$CERTS/server.key")
  BLS_ENV=("RUST_LOG=info,binlogserver::server::session=debug") # one `tls id=` line per TLS session
fi
res bls_cmd "\`${BLS_ENV[*]+${BLS_ENV[*]} }binlogserver ${BLS_ARGS[*]}\` (logs to stderr, kept in the temp dir)"

start_bls() { # label: starts binlogserver following the primary and serving on LPORT
  BLS_N=$((BLS_N + 1))
  BLS_LOG=$TMP/bls-$BLS_N-$1.log
  BLS_LOGS+=("$BLS_LOG")
  log "binlogserver: starting ($1), serving on 127.0.0.1:$LPORT, log $BLS_LOG"
  env "${BLS_ENV[@]+"${BLS_ENV[@]}"}" "$BIN" "${BLS_ARGS[@]}" 2>"$BLS_LOG" &
  BLS_PID=$!
  PIDS+=("$BLS_PID")
}

bls_synced() { # true when binlogserver's files have the primary's names and sizes
  local name size
  while read -r name size; do
    [ "$(stat -c %s "$BLSDIR/$name" 2>/dev/null || echo -1)" = "$size" ] || return 1
  done < <(psql -e 'SHOW BINARY LOGS' | awk '{print $1, $2}')
}

wait_bls() { # until binlogserver logged "caught up" and holds the primary's bytes
  local i
  for ((i = 0; i < 6000; i++)); do
    kill -0 "$BLS_PID" 2>/dev/null || { tail -n 20 "$BLS_LOG" >&2; die "binlogserver exited"; }
    if grep -q 'caught up with the primary' "$BLS_LOG" && bls_synced; then
      log "binlogserver: caught up after $((i / 10)).$((i % 10)) s"
      return 0
    fi
    sleep 0.1
  done
  tail -n 20 "$BLS_LOG" >&2
  die "binlogserver did not catch up within 600 s"
}

start_primary "the whole run" --binlog-row-event-max-size=4194304 "${PRIMARY_TLS[@]+"${PRIMARY_TLS[@]}"}"
setup_users
res gen_engine "$GEN_ENGINE"
if want read || want tls; then
  gen_binlog big "1"
fi
start_bls "initial"
wait_bls

# ---------------------------------------------------------------- part 1: read throughput
median_of() { py median "$@"; }

read_phase() {
  local files=() f names bytes n r who order i port pid c0 c1 out runs
  mapfile -t files < <(binlog_files)
  names=$(IFS=,; echo "${files[*]}")
  py stats "${files[@]/#/$PRIMARY/data/}" >"$TMP/stats"
  bytes=$(kv "$TMP/stats" bytes)
  res read_files "${#files[@]}"
  res read_bytes "$bytes"
  res read_events "$(kv "$TMP/stats" events)"
  res read_avg_event "$(kv "$TMP/stats" avg_event)"
  res read_repeat "$REPEAT"
  res read_order "$([ "$REPEAT" = 1 ] && echo 'primary first, then binlogserver, for each N' || echo 'alternating (odd runs primary first, even runs binlogserver first)')"
  res out_sink "--result-file=DIR/ with DIR/<binlog name> -> /dev/null symlinks (one DIR per reader): nothing stored; checked after every run that no regular file appeared"
  res cache_mode "warm for both: before every run, the primary's and binlogserver's copies of the files were read with cat (so both servers read from the page cache; drop_caches not used)"
  log "1: ${#files[@]} file(s), $bytes bytes, $(kv "$TMP/stats" events) events; readers: ${READER_COUNTS[*]}"
  for n in "${READER_COUNTS[@]}"; do
    declare -A walls=() spreads=() srv=() cli=() failed=()
    for ((r = 1; r <= REPEAT; r++)); do
      if ((r % 2 == 1)); then order="pri bls"; else order="bls pri"; fi
      for who in $order; do
        if [ "$who" = pri ]; then port=$PPORT pid=$PRIMARY_PID; else port=$LPORT pid=$BLS_PID; fi
        cat "${files[@]/#/$PRIMARY/data/}" "${files[@]/#/$BLSDIR/}" >/dev/null
        out=$TMP/read-$who-$n-$r
        mkdir -p "$OUT/read"
        c0=$(proc_cpu "$pid")
        bgrun py readers "$n" "$port" "${files[0]}" "$OUT/read" "$names" "$who-$n-$r" --skip-ssl >"$out" ||
          die "reader helper failed ($who, N=$n)"
        c1=$(proc_cpu "$pid")
        rm -rf "$OUT/read"
        log "1: N=$n run $r $([ "$who" = pri ] && echo primary || echo binlogserver): $(tr '\n' ' ' <"$out")server_cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN {printf "%.2f", b - a}')"
        walls[$who]+="$(kv "$out" wall_s) "
        spreads[$who]="$(kv "$out" first_s)/$(kv "$out" median_s)"
        srv[$who]+="$(awk -v a="$c0" -v b="$c1" 'BEGIN {printf "%.2f", b - a}') "
        cli[$who]+="$(kv "$out" client_cpu_s) "
        failed[$who]=$(( ${failed[$who]:-0} + $(kv "$out" failed) ))
        if [ "$(kv "$out" failed)" != 0 ]; then
          res "note_rd_${who}_${n}_${r}_fail" "N=$n run $r, $([ "$who" = pri ] && echo primary || echo binlogserver): $(kv "$out" failed) reader(s) failed; first: $(kv "$out" fail_detail)"
        fi
        if [ "$(kv "$out" stray)" != 0 ]; then
          res "note_rd_${who}_${n}_${r}_stray" "N=$n run $r: reader output not discarded: $(kv "$out" stray_detail)"
        fi
      done
    done
    for who in pri bls; do
      # shellcheck disable=SC2086
      res "rd_${who}_${n}_wall" "$(median_of ${walls[$who]})"
      res "rd_${who}_${n}_runs" "$(echo ${walls[$who]} | sed 's/ /, /g')"
      res "rd_${who}_${n}_spread" "${spreads[$who]}"
      # shellcheck disable=SC2086
      res "rd_${who}_${n}_srv_cpu" "$(median_of ${srv[$who]})"
      # shellcheck disable=SC2086
      res "rd_${who}_${n}_cli_cpu" "$(median_of ${cli[$who]})"
      res "rd_${who}_${n}_failed" "${failed[$who]}"
    done
    unset walls spreads srv cli failed
  done
  verify_read "${files[@]}"
}

verify_read() { # files...: one stored reader output from each server, compared byte for byte
  local avail need who port d f same=yes detail=""
  avail=$(df --output=avail -B1 "$OUT" | tail -n 1)
  need=$(($(kv "$TMP/stats" bytes) * 2 + 268435456))
  if [ "$avail" -lt "$need" ]; then
    res note_verify "no byte comparison of the readers' outputs: $OUT has $avail bytes free, $need needed"
    return 0
  fi
  for who in pri bls; do
    if [ "$who" = pri ]; then port=$PPORT; else port=$LPORT; fi
    d=$OUT/verify-$who
    mkdir -p "$d"
    bgrun mariadb-binlog --no-defaults --read-from-remote-server --raw --to-last-log --result-file="$d/" \
      -h 127.0.0.1 -P "$port" -u repl -preplpass --skip-ssl "$1" 2>"$TMP/verify-$who.err" ||
      { cat "$TMP/verify-$who.err" >&2; die "mariadb-binlog (verification, $who) failed"; }
  done
  for f in "$@"; do
    if cmp -s "$OUT/verify-pri/$f" "$OUT/verify-bls/$f"; then
      detail+="${detail:+, }$f identical"
    else
      same=no
      detail+="${detail:+, }$f DIFFERS ($(cmp "$OUT/verify-pri/$f" "$OUT/verify-bls/$f" 2>&1 | head -n 1))"
    fi
  done
  for f in "$OUT"/verify-bls/*; do
    [ -e "$OUT/verify-pri/$(basename "$f")" ] || { same=no; detail+=", extra file $(basename "$f") from binlogserver"; }
  done
  res verify "$same"
  res verify_detail "$detail"
  log "1: outputs from binlogserver vs the primary: $detail"
  rm -rf "$OUT/verify-pri" "$OUT/verify-bls"
}


# ---------------------------------------------------------------- part 2: memory per connection
IDLE_PIDS=()
start_idle() { # who port: IDLE --stop-never readers from the primary's current end
  local who=$1 port=$2 file pos i
  read -r file pos < <(psql -e 'SHOW MASTER STATUS' | awk '{print $1, $2}')
  IDLE_PIDS=()
  for ((i = 1; i <= IDLE; i++)); do
    mkdir -p "$OUT/idle-$who-$i"
    mariadb-binlog --no-defaults --read-from-remote-server --raw --stop-never \
      --stop-never-slave-server-id=$((1000 + i)) --result-file="$OUT/idle-$who-$i/" \
      -h 127.0.0.1 -P "$port" -u repl -preplpass --skip-ssl --start-position="$pos" "$file" \
      >/dev/null 2>"$OUT/idle-$who-$i.err" &
    IDLE_PIDS+=("$!")
    PIDS+=("$!")
  done
  for ((i = 0; i < 600; i++)); do
    local ready=0 j
    for ((j = 1; j <= IDLE; j++)); do [ -e "$OUT/idle-$who-$j/$file" ] && ready=$((ready + 1)); done
    for j in "${IDLE_PIDS[@]}"; do
      kill -0 "$j" 2>/dev/null || { cat "$OUT"/idle-"$who"-*.err >&2; die "an idle reader ($who) exited"; }
    done
    [ "$ready" = "$IDLE" ] && return 0
    sleep 0.1
  done
  die "only $ready of $IDLE idle readers ($who) started within 60 s"
}

stop_idle() {
  local p
  for p in "${IDLE_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${IDLE_PIDS[@]}"; do stop_pid "$p" 10; done
  IDLE_PIDS=()
}

memory_phase() {
  local who pid
  log "2: restarting binlogserver: a fresh process for the memory figures"
  stop_pid "$BLS_PID" 30
  start_bls "memory"
  wait_bls
  res bls_restarts "binlogserver was restarted (same data dir and port) before the memory test, so that its baseline holds no allocations from the catch-up; the read and latency tests use that process"
  res mem_idle "$IDLE"
  for who in bls pri; do
    if [ "$who" = bls ]; then pid=$BLS_PID port=$LPORT; else pid=$PRIMARY_PID port=$PPORT; fi
    sleep 2
    py rss "$pid" >"$TMP/mem-$who-base"
    start_idle "$who" "$port"
    sleep 2
    py rss "$pid" >"$TMP/mem-$who-with"
    stop_idle
    sleep 1
    py rss "$pid" >"$TMP/mem-$who-after"
    rm -rf "$OUT"/idle-"$who"-*
    res "mem_${who}_base_kb" "$(kv "$TMP/mem-$who-base" rss_kb)"
    res "mem_${who}_with_kb" "$(kv "$TMP/mem-$who-with" rss_kb)"
    res "mem_${who}_after_kb" "$(kv "$TMP/mem-$who-after" rss_kb)"
    res "mem_${who}_thr_base" "$(kv "$TMP/mem-$who-base" threads)"
    res "mem_${who}_thr_with" "$(kv "$TMP/mem-$who-with" threads)"
    res "mem_${who}_thr_after" "$(kv "$TMP/mem-$who-after" threads)"
    log "2: $([ "$who" = bls ] && echo binlogserver || echo primary): VmRSS $(kv "$TMP/mem-$who-base" rss_kb) kB -> $(kv "$TMP/mem-$who-with" rss_kb) kB with $IDLE idle readers -> $(kv "$TMP/mem-$who-after" rss_kb) kB after; threads $(kv "$TMP/mem-$who-base" threads) -> $(kv "$TMP/mem-$who-with" threads) -> $(kv "$TMP/mem-$who-after" threads) 1 s after the readers were stopped"
  done
  # Killed readers that asked for no heartbeat are noticed by a server only when it
  # next writes to them: one event on the primary, then the thread counts again.
  psql -e "CREATE DATABASE IF NOT EXISTS bench_nudge; DROP DATABASE bench_nudge"
  wait_bls
  sleep 1
  for who in bls pri; do
    if [ "$who" = bls ]; then pid=$BLS_PID; else pid=$PRIMARY_PID; fi
    res "mem_${who}_thr_nudged" "$(awk '/^Threads:/ {print $2}' "/proc/$pid/status")"
  done
  log "2: threads 1 s after the next write on the primary: binlogserver $(awk '/^Threads:/ {print $2}' "/proc/$BLS_PID/status"), primary $(awk '/^Threads:/ {print $2}' "/proc/$PRIMARY_PID/status")"
}

if want memory; then
  memory_phase
fi

if want read; then
  read_phase
fi

# ---------------------------------------------------------------- part 4: TLS vs plain (etc/bench/serve-tls.sh)
if want tls; then
  tls_phase
fi

# ---------------------------------------------------------------- part 3: replica latency
FS_P50=() FS_P90=()
fsync_probe() { # label
  fsync_probe_into "$1" "$TMP/fsync-$1.out"
  FS_P50+=("$(kv "$TMP/fsync-$1.out" p50_us)")
  FS_P90+=("$(kv "$TMP/fsync-$1.out" p90_us)")
  log "3: fdatasync $1: p50 ${FS_P50[-1]} us, p90 ${FS_P90[-1]} us"
}

rsql() { # replica-dir args...
  local d=$1
  shift
  mariadb --no-defaults -S "$d/sock" -uroot -N -B "$@"
}

wait_replicas() { # until both replicas' gtid_slave_pos equals the primary's gtid_binlog_pos
  local target i d ok
  target=$(psql -e 'SELECT @@gtid_binlog_pos')
  for ((i = 0; i < 600; i++)); do
    ok=1
    for d in "$RDIRECT" "$RBLS"; do
      [ "$(rsql "$d" -e 'SELECT @@gtid_slave_pos')" = "$target" ] || ok=0
    done
    [ "$ok" = 1 ] && return 0
    sleep 0.1
  done
  for d in "$RDIRECT" "$RBLS"; do rsql "$d" -e 'SHOW SLAVE STATUS\G' >&2 || true; done
  die "the replicas did not reach $target within 60 s"
}

latency_run() { # off|on first-id
  local v=$1 out=$TMP/lat-$1.out
  log "3: $COMMITS commits (+$WARMUP warm-up), primary semi-sync $v"
  bgrun py latency "$PPORT" "$DPORT" "$BPORT" "$COMMITS" "$WARMUP" "$2" 20 >"$out" ||
    { cat "$out" >&2; die "latency helper failed"; }
  log "3: semi-sync $v: $(tr '\n' ' ' <"$out")"
  while IFS='=' read -r k val; do res "lat_${v}_$k" "$val"; done <"$out"
  [ "$(kv "$out" failures)" = 0 ] || res "note_lat_${v}_fail" "semi-sync $v: MASTER_GTID_WAIT did not return 0: $(kv "$out" failure_detail)"
  [ "$(kv "$out" gtid_mismatch)" = 0 ] || res "note_lat_${v}_gtid" "semi-sync $v: $(kv "$out" gtid_mismatch) commit(s) got another GTID than predicted (not counted)"
}

latency_phase() {
  local d y0 n0 y1 n1 c s i
  RDIRECT=$TMP/replica-direct
  RBLS=$TMP/replica-bls
  DPORT=$(py port "$PPORT" "$LPORT")
  BPORT=$(py port "$PPORT" "$LPORT" "$DPORT")
  local ropts=(--skip-name-resolve --skip-slave-start --rpl-semi-sync-slave-enabled=OFF
    --innodb-buffer-pool-size=256M --innodb-log-file-size=128M --innodb-flush-log-at-trx-commit=2
    --max-allowed-packet=256M)
  res replica_opts "${ropts[*]} (and --server-id 2 / 3; no binlog)"
  install_db "$RDIRECT"
  install_db "$RBLS"
  log "3: starting two MariaDB replicas (direct on $DPORT, through binlogserver on $BPORT)"
  start_mariadbd "$RDIRECT" "$DPORT" --server-id=2 "${ropts[@]}"
  RDIRECT_PID=$STARTED_PID
  start_mariadbd "$RBLS" "$BPORT" --server-id=3 "${ropts[@]}"
  RBLS_PID=$STARTED_PID
  local gpos
  gpos=$(psql -e 'SELECT @@gtid_binlog_pos')
  for d in "$RDIRECT" "$RBLS"; do
    local mport=$PPORT
    [ "$d" = "$RBLS" ] && mport=$LPORT
    rsql "$d" -e "CREATE USER bench@'%' IDENTIFIED BY 'benchpass'; GRANT ALL ON *.* TO bench@'%';
      SET GLOBAL gtid_slave_pos = '$gpos';
      CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$mport, MASTER_USER='repl',
        MASTER_PASSWORD='replpass', MASTER_USE_GTID=slave_pos, MASTER_SSL=0;
      START SLAVE"
  done
  psql -e "SET GLOBAL rpl_semi_sync_master_enabled = 0;
    DROP DATABASE IF EXISTS lat; CREATE DATABASE lat;
    CREATE TABLE lat.t (id INT PRIMARY KEY, ts DATETIME(6)) ENGINE=InnoDB;
    CREATE TABLE lat.probe (id INT AUTO_INCREMENT PRIMARY KEY) ENGINE=InnoDB"
  wait_replicas
  log "3: both replicas are at $(psql -e 'SELECT @@gtid_binlog_pos')"
  fsync_probe before
  latency_run off 1
  fsync_probe after

  # reference: the primary's semi-sync on, binlogserver (--semi-sync auto) acknowledging
  psql -e "SET GLOBAL rpl_semi_sync_master_enabled = 1"
  for ((i = 0; i < 50; i++)); do
    read -r y0 _ _ _ < <(semi_status)
    psql -e "INSERT INTO lat.probe VALUES (NULL)"
    read -r y1 _ c s < <(semi_status)
    [ "$y1" -gt "$y0" ] && break
    sleep 0.2
  done
  if [ "$y1" -gt "$y0" ]; then
    read -r y0 n0 _ _ < <(semi_status)
    latency_run on 100001
    read -r y1 n1 c s < <(semi_status)
    res lat_on_yes "$((y1 - y0))"
    res lat_on_no "$((n1 - n0))"
    [ "$((n1 - n0))" = 0 ] || res note_lat_on_notx "semi-sync on: Rpl_semi_sync_master_no_tx +$((n1 - n0)) during the run (some commits did not wait for binlogserver)"
  else
    res note_lat_on "semi-sync on: no probe commit was acknowledged by binlogserver (clients $c, status $s); run skipped"
  fi
  psql -e "SET GLOBAL rpl_semi_sync_master_enabled = 0"
  wait_replicas
  for d in "$RDIRECT" "$RBLS"; do
    mariadb --no-defaults -S "$d/sock" -uroot -e 'SHOW SLAVE STATUS\G' >"$d/slave-status.txt"
    if ! grep -q 'Slave_IO_Running: Yes' "$d/slave-status.txt" || ! grep -q 'Slave_SQL_Running: Yes' "$d/slave-status.txt"; then
      res "note_replica_$(basename "$d")" "$(basename "$d") is not running at the end: $(grep -E 'Running:|Last_.*Error:' "$d/slave-status.txt" | xargs)"
    fi
  done
  res fsync_p50_us "$(py median "${FS_P50[@]}")"
  res fsync_p90_us "$(py median "${FS_P90[@]}")"
  res fsync_runs "p50 ${FS_P50[*]} µs; p90 ${FS_P90[*]} µs"
  stop_pid "$RBLS_PID" 120
  stop_pid "$RDIRECT_PID" 120
}

if want latency; then
  latency_phase
fi

# ---------------------------------------------------------------- wrap-up
kill -0 "$BLS_PID" 2>/dev/null || res note_bls_died "binlogserver was not running at the end: see its log"
stop_pid "$BLS_PID" 30
stop_pid "$PRIMARY_PID" 120
for f in "${BLS_LOGS[@]}"; do
  if grep -qE ' (WARN|ERROR) ' "$f"; then
    grep -E ' (WARN|ERROR) ' "$f" | head -n 5 | while IFS= read -r l; do log "binlogserver ($(basename "$f")): $l"; done
    res "note_warn_$(basename "$f" .log)" "binlogserver ($(basename "$f")) logged $(grep -cE ' (WARN|ERROR) ' "$f") warning/error line(s), first: $(grep -E ' (WARN|ERROR) ' "$f" | head -n 1 | cut -c1-300)"
  fi
done

mkdir -p "$ROOT/target/bench"
py render "$RES" >"$ROOT/target/bench/serve-summary.md"
echo
cat "$ROOT/target/bench/serve-summary.md"
log "summary written to target/bench/serve-summary.md"
