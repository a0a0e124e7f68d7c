#!/usr/bin/env bash
# etc/bench-archive.sh — the archive tier (--archive-url) against the figures of its issue.
#
# In ONE run, against ONE throwaway MariaDB primary (--max-binlog-size FILE) and ONE
# single-node Garage (the real S3 server the tests use), it measures:
#   1  upload: the primary writes >= SIZE bytes of ~4 MiB row events at full speed
#      (write MB/s = bytes / time of the inserts); then binlogserver A follows it with
#      --archive-url and --archive-keep-local 1; archive MB/s = bytes archived / the
#      time the archive thread spent on them (upload + HEAD + read back + SHA-256, from
#      its "archived binlog ... ms=" lines), and how long after A's start every closed
#      file was archived (catch-up included).   target: archive MB/s / write MB/s >= 1
#   2  read-back: `mariadb-binlog --read-from-remote-server --raw --to-last-log` of the
#      whole binlog from A (every closed file only in the archive: ranged GETs) / from
#      binlogserver B, which follows the same primary without an archive (local files):
#      MB/s of each, --repeat N alternating, medians; copies compared with the primary's
#   3  commit latency: sysbench oltp_insert, 1 thread, DURATION s, A the only semi-sync
#      replica, restarted alternately with and without --archive-url on the same data
#      directory (--repeat N rounds, medians of p50); in both, a 4 MiB row and a
#      rotation every second, so that with the archive on files are uploaded during
#      the run.                                          target: no added latency
# and prints a markdown summary, also written to target/bench/archive-summary.md.
#
# Usage: etc/bench-archive.sh [--size BYTES] [--file-size BYTES] [--duration SECONDS]
#                             [--repeat N] [--engine blackhole|innodb] [--keep] [--skip-build]
# --engine: the table engine of phase 1's rows: BLACKHOLE (the default when the plugin
# exists: the binlog's own maximum write rate) or InnoDB (a primary writing real tables,
# sync_binlog=1 and innodb_flush_log_at_trx_commit=1).
# Development: etc/bench-archive.sh --size 200000000 --duration 5 --repeat 1
#
# Needs: mariadbd, mariadb-install-db, mariadb, mariadb-binlog (MariaDB 10.11), sysbench,
# python3, cargo, and garage 2.5.0 ($BINLOGSERVER_GARAGE, else
# ~/.cache/binlogserver/garage/bin/garage: `. etc/install-deps.sh && need_garage`).
# Everything lives in a temp dir under /tmp, removed on exit unless --keep.
set -euo pipefail

SIZE=1073741824
FILE_SIZE=67108864
DURATION=20
REPEAT=3
KEEP=0
BUILD=1
ENGINE=

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }

ORIG_ARGS=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --size) SIZE=${2:?--size needs BYTES}; shift 2 ;;
    --file-size) FILE_SIZE=${2:?--file-size needs BYTES}; shift 2 ;;
    --duration) DURATION=${2:?}; shift 2 ;;
    --repeat) REPEAT=${2:?}; shift 2 ;;
    --engine) ENGINE=${2:?--engine needs blackhole or innodb}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --skip-build) BUILD=0; shift ;;
    -\?|--help) usage; exit 0 ;;
    *) echo "bench-archive: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
for v in SIZE FILE_SIZE DURATION REPEAT; do
  [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -gt 0 ] || { echo "bench-archive: --${v,,} must be a positive integer" >&2; exit 2; }
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=etc/bench/common.sh
. "$ROOT/etc/bench/common.sh"
CMDLINE="etc/bench-archive.sh"
for a in "${ORIG_ARGS[@]+"${ORIG_ARGS[@]}"}"; do CMDLINE+=" $(printf '%q' "$a")"; done

GARAGE=${BINLOGSERVER_GARAGE:-$HOME/.cache/binlogserver/garage/bin/garage}
[ -x "$GARAGE" ] || die "garage not found at $GARAGE: run '. etc/install-deps.sh && need_garage'"
require_tools mariadbd mariadb-install-db mariadb mariadb-binlog sysbench python3 cargo
if [ "$BUILD" = 1 ]; then
  log "cargo build --release"
  cargo build --release >&2 || die "cargo build --release failed"
fi
BIN=$ROOT/target/release/binlogserver
[ -x "$BIN" ] || die "$BIN missing (build it, or drop --skip-build)"

TMP=$(mktemp -d /tmp/bench-archive.XXXXXX)
install_cleanup
OUT=$TMP/out
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  OUT=$(mktemp -d /dev/shm/bench-archive.XXXXXX)
  EXTRA_DIRS+=("$OUT")
fi
RES=$TMP/results.tsv
: >"$RES"
py() { python3 "$ROOT/etc/bench/archive.py" "$@"; }
record_machine
res size "$SIZE"
res file_size "$FILE_SIZE"

# ---------------------------------------------------------------- garage
G=$TMP/garage
mkdir -p "$G"
GPORT=$(py port)
GRPC=$(py port "$GPORT")
export AWS_ACCESS_KEY_ID=GK0123456789abcdef01234567
export AWS_SECRET_ACCESS_KEY
AWS_SECRET_ACCESS_KEY=$(printf '5e%.0s' $(seq 32))
cat >"$G/garage.toml" <<EOF
metadata_dir = "$G/meta"
data_dir = "$G/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$GRPC"
rpc_public_addr = "127.0.0.1:$GRPC"
rpc_secret = "$(printf '5f%.0s' $(seq 32))"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$GPORT"
root_domain = ".s3.garage.localhost"
EOF
# Garage compresses blocks with zstd by default; a store's own compression is not
# what is measured here (AWS S3 does none), so it is off. The tests keep the default.
sed -i '1i compression_level = "none"' "$G/garage.toml"
GARAGE_DEFAULT_ACCESS_KEY=$AWS_ACCESS_KEY_ID GARAGE_DEFAULT_SECRET_KEY=$AWS_SECRET_ACCESS_KEY \
  GARAGE_DEFAULT_BUCKET=bench RUST_LOG=garage=warn \
  "$GARAGE" -c "$G/garage.toml" server --single-node --default-bucket >"$G/garage.log" 2>&1 &
GARAGE_PID=$!
PIDS+=("$GARAGE_PID")
for ((i = 0; i < 600; i++)); do
  curl -s -o /dev/null "http://127.0.0.1:$GPORT/" && break
  sleep 0.1
done
res garage "$("$GARAGE" --version 2>&1 | head -n 1)"
ARCHIVE_ARGS=(--archive-url s3://bench/a --archive-endpoint "http://127.0.0.1:$GPORT" --archive-region garage)

# ---------------------------------------------------------------- primary, binlogservers
primary_setup
install_db "$PRIMARY"
start_primary bench --binlog-row-event-max-size=4M --max-binlog-size="$FILE_SIZE"
case "$ENGINE" in
  '') ;;
  innodb) GEN_ENGINE=InnoDB ;;
  blackhole) [ "$GEN_ENGINE" = BLACKHOLE ] || die "--engine blackhole: the BLACKHOLE plugin is missing" ;;
  *) die "--engine must be blackhole or innodb" ;;
esac
res engine "$GEN_ENGINE"
setup_users
A_DIR=$TMP/a
B_DIR=$TMP/b
mkdir -p "$A_DIR" "$B_DIR"
A_PORT=$(py port "$PPORT" "$GPORT" "$GRPC")
B_PORT=$(py port "$PPORT" "$GPORT" "$GRPC" "$A_PORT")
A_PID=
start_a() { # label args...: binlogserver A (the semi-sync replica) on A_DIR
  local label=$1
  shift
  [ -z "$A_PID" ] || stop_pid "$A_PID"
  RUST_LOG=binlogserver=info "$BIN" -h 127.0.0.1 -P "$PPORT" -u repl -p replpass -d "$A_DIR" \
    --server-id 901 --semi-sync on --listen "127.0.0.1:$A_PORT" --replica-user repl \
    --replica-password replpass "$@" >>"$TMP/a-$label.log" 2>&1 &
  A_PID=$!
  PIDS+=("$A_PID")
  A_LOG=$TMP/a-$label.log
  wait_semi_client
}
wait_semi_client() {
  local i c
  for ((i = 0; i < 600; i++)); do
    read -r _ _ c _ < <(semi_status)
    [ "${c:-0}" -ge 1 ] && return 0
    sleep 0.1
  done
  die "binlogserver A did not become the semi-sync client"
}
closed_files() { binlog_files | sed '$d'; }
archived_count() { grep -cv '^#\|^store=\|^delete ' "$A_DIR/binlogserver.archive" 2>/dev/null || echo 0; }

# ---------------------------------------------------------------- 1 upload
# gen_binlog begins with RESET MASTER: binlogserver starts after it, catches up and
# archives what the primary wrote as fast as it could.
t0=$(date +%s.%N)
gen_binlog big upload
psql -e "FLUSH BINARY LOGS"
t1=$(date +%s.%N)
BYTES=$(binlog_bytes)
g0=$(proc_cpu "$GARAGE_PID")
start_a upload "${ARCHIVE_ARGS[@]}" --archive-keep-local 1
t1=$(date +%s.%N)
want=$(closed_files | wc -l)
log "1: waiting for $want closed files in the archive"
while [ "$(archived_count)" -lt "$want" ]; do
  kill -0 "$A_PID" 2>/dev/null || die "binlogserver A died: $(tail -n 5 "$A_LOG")"
  sleep 0.2
done
t2=$(date +%s.%N)
res cpu_upload "binlogserver $(proc_cpu "$A_PID") s, garage $(py sub "$(proc_cpu "$GARAGE_PID")" "$g0") s of CPU"
read -r ARCH_BYTES ARCH_MS < <(sed -n 's/.*archived binlog .*bytes=\([0-9]*\) ms=\([0-9]*\).*/\1 \2/p' "$A_LOG" |
  awk '{b += $1; m += $2} END {print b + 0, m + 0}')
res write_mbs "$(py div "$BYTES" "$(py sub "$t1" "$t0")" 1e6)"
res archive_mbs "$(py div "$ARCH_BYTES" "$ARCH_MS" 1e3)"
res archive_files "$want"
res drain_after_s "$(py sub "$t2" "$t1")"

# ---------------------------------------------------------------- 2 read-back
RUST_LOG=binlogserver=info "$BIN" -h 127.0.0.1 -P "$PPORT" -u repl -p replpass -d "$B_DIR" \
  --server-id 902 --semi-sync off --listen "127.0.0.1:$B_PORT" --replica-user repl \
  --replica-password replpass >"$TMP/b.log" 2>&1 &
PIDS+=("$!")
log "2: waiting for B to copy the binlog"
until [ "$(du -sb "$B_DIR" | cut -f1)" -ge "$BYTES" ]; do sleep 0.2; done
sleep 1
FIRST=$(binlog_files | head -n 1)
read_once() { # port -> MB/s
  rm -rf "$OUT/r" && mkdir -p "$OUT/r"
  local s e
  s=$(date +%s.%N)
  mariadb-binlog --no-defaults --read-from-remote-server --raw --to-last-log -h127.0.0.1 -P"$1" \
    -urepl -preplpass --result-file="$OUT/r/" "$FIRST" || die "mariadb-binlog from port $1 failed"
  e=$(date +%s.%N)
  py div "$(du -sb "$OUT/r" | cut -f1)" "$(py sub "$e" "$s")" 1e6
}
ARCH_READ=()
LOCAL_READ=()
for ((r = 1; r <= REPEAT; r++)); do
  ARCH_READ+=("$(read_once "$A_PORT")")
  for f in $(closed_files); do cmp -s "$OUT/r/$f" "$PRIMARY/data/$f" || die "2: $f read back from the archive differs"; done
  LOCAL_READ+=("$(read_once "$B_PORT")")
  log "2: round $r: archived ${ARCH_READ[-1]} MB/s, local ${LOCAL_READ[-1]} MB/s"
done
res read_archived_mbs "$(py median "${ARCH_READ[@]}")"
res read_local_mbs "$(py median "${LOCAL_READ[@]}")"
res runs_read "archived ${ARCH_READ[*]}; local ${LOCAL_READ[*]}"

# ---------------------------------------------------------------- 3 commit latency
SB=(oltp_insert --db-driver=mysql --mysql-socket="$PRIMARY/sock" --mysql-user=root --mysql-db=sbtest
  --tables=1 --table-size=10000 --threads=1 --time="$DURATION" --percentile=50 --report-interval=0)
psql -e "DROP DATABASE IF EXISTS sbtest; CREATE DATABASE sbtest"
sysbench "${SB[@]}" prepare >"$TMP/sb-prepare.out" 2>&1 || die "sysbench prepare failed"
P_ON=()
P_OFF=()
rotator() { # a 4 MiB row and a rotation every second until $TMP/rotate goes: files to upload
  local n=1000000
  while [ -e "$TMP/rotate" ]; do
    psql -D bench -e "INSERT INTO big SELECT seq, REPEAT(MD5(seq), 2048) FROM seq_${n}_to_$((n + 63))" || true
    psql -e "FLUSH BINARY LOGS" || true
    n=$((n + 64))
    sleep 1
  done
}
sb_p50() { # label -> p50 ms
  local y0 n0 y1 n1 rot
  read -r y0 n0 _ _ < <(semi_status)
  touch "$TMP/rotate"
  rotator &
  rot=$!
  sysbench "${SB[@]}" run >"$TMP/sb-$1.out" 2>&1 || die "sysbench $1 failed"
  rm -f "$TMP/rotate"
  wait "$rot" || true
  read -r y1 n1 _ _ < <(semi_status)
  [ "$n1" = "$n0" ] && [ "$y1" -gt "$y0" ] || die "3: $1: commits not acknowledged (no_tx $n0 -> $n1)"
  sed -n 's/^ *50th percentile: *\([0-9.]*\).*/\1/p' "$TMP/sb-$1.out"
}
for ((r = 1; r <= REPEAT; r++)); do
  start_a "off$r"
  P_OFF+=("$(sb_p50 "off$r")")
  start_a "on$r" "${ARCHIVE_ARGS[@]}" --archive-keep-local 1
  P_ON+=("$(sb_p50 "on$r")")
  log "3: round $r: p50 archive on ${P_ON[-1]} ms, off ${P_OFF[-1]} ms"
done
res p50_on "$(py median "${P_ON[@]}")"
res p50_off "$(py median "${P_OFF[@]}")"
res runs_p50 "on ${P_ON[*]}; off ${P_OFF[*]}"
res uploads_during_latency "$(cat "$TMP"/a-on*.log | grep -c 'archived binlog ' || true)"

# ---------------------------------------------------------------- summary
mkdir -p target/bench
py archive_summary "$RES" | tee target/bench/archive-summary.md
