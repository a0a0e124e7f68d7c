# etc/bench/common.sh — shell functions shared by etc/bench-replica.sh and
# etc/bench-serve.sh. Sourced (under `set -euo pipefail`), never run.
# Their Python helpers (etc/bench/replica.py, etc/bench/serve.py) share etc/bench/common.py.
#
# The sourcing script provides, before it calls the functions that use them:
#   TMP      its temp dir (mktemp -d under /tmp), removed by `cleanup` unless KEEP=1
#   KEEP     0|1
#   RES      results file (key<TAB>value lines) for `res`
#   ROOT BIN CMDLINE   for `record_machine`
#   SIZE     bytes of binlog `gen_binlog` writes
#   py       a function running its python helper; `py port [avoid...]` prints a free port
# and gets PIDS (every process to stop on exit), PRIMARY, PPORT, PRIMARY_PID,
# PRIMARY_OPTS, PLUGIN_OPTS, GEN_ENGINE, PHASES, STARTED_PID from here.
# shellcheck shell=bash

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

require_tools() { # tool...
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null || die "$t not found in PATH"
  done
}

# ---------------------------------------------------------------- processes, cleanup
PIDS=()
stop_pid() { # pid [seconds]: TERM, wait, KILL
  local pid=$1 wait_s=${2:-60} i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < wait_s * 10; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then log "pid $pid did not stop in ${wait_s}s: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
  forget_pid "$pid"
}
forget_pid() { # pid: no longer ours to stop (it ended)
  local keep=() p
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  PIDS=("${keep[@]+"${keep[@]}"}")
}
bgrun() { # command...: runs it as a job and waits, so that a signal stops the script at once
  local p rc=0
  "$@" &
  p=$!
  PIDS+=("$p")
  wait "$p" || rc=$?
  forget_pid "$p"
  return "$rc"
}
EXTRA_DIRS=() # more temp dirs, removed (or kept) with TMP
cleanup() {
  local rc=$? i
  trap - EXIT INT TERM
  local todo=("${PIDS[@]+"${PIDS[@]}"}")
  for ((i = ${#todo[@]} - 1; i >= 0; i--)); do stop_pid "${todo[$i]}" 30; done
  if [ "$KEEP" = 1 ]; then
    log "kept $TMP${EXTRA_DIRS[*]+ ${EXTRA_DIRS[*]}}"
  else
    rm -rf "$TMP" "${EXTRA_DIRS[@]+"${EXTRA_DIRS[@]}"}"
  fi
  exit "$rc"
}
install_cleanup() { # every process in PIDS is stopped (by pid) and TMP removed on exit
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
proc_cpu() { # pid -> user+sys seconds
  sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($12 + $13) / hz}' || echo 0
}

make_certs() { # dir: a CA and a server certificate for 127.0.0.1 (EC P-256), with openssl
  local d=$1
  require_tools openssl
  mkdir -p "$d"
  (cd "$d" &&
    openssl req -x509 -days 2 -subj /CN=bench-ca -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
      -nodes -keyout ca.key -out ca.pem &&
    openssl req -subj /CN=bench -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout server.key -out server.csr &&
    echo "subjectAltName=IP:127.0.0.1,DNS:localhost" >ext &&
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 1 -days 2 -extfile ext \
      -out server.pem) >/dev/null 2>&1 || die "openssl could not make the certificates"
}

# ---------------------------------------------------------------- results
res() { printf '%s\t%s\n' "$1" "$2" >>"$RES"; } # key value
kv() { sed -n "s/^$2=//p" "$1" | tail -n 1; }   # file key

record_machine() { # machine facts and versions (keys read by the summaries)
  local disk_src disk_fs disk_dev disk_rota disk_model
  res date "$(date -u '+%Y-%m-%d %H:%M UTC')"
  res cmdline "$CMDLINE"
  res nproc "$(nproc)"
  res cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  res mem "$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  res kernel "$(uname -sr)"
  disk_src=$(findmnt -n -o SOURCE --target "$TMP" 2>/dev/null || echo '?')
  disk_fs=$(findmnt -n -o FSTYPE --target "$TMP" 2>/dev/null || echo '?')
  disk_dev=$(basename "$disk_src")
  disk_rota=$(cat "/sys/block/$disk_dev/queue/rotational" 2>/dev/null || echo '?')
  disk_model=$(lsblk -dn -o MODEL "$disk_src" 2>/dev/null | xargs || true)
  res disk "$disk_src ($disk_fs, rotational=$disk_rota${disk_model:+, model $disk_model}), mounted at $(findmnt -n -o TARGET --target "$TMP" 2>/dev/null || echo '?')"
  res v_bls "$("$BIN" --version 2>&1 | head -n 1)"
  res v_git "git $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')"
  res v_rustc "$(rustc --version 2>/dev/null || echo 'rustc ?')"
  res v_mariadbd "$(mariadbd --version 2>&1 | head -n 1 | sed 's/^.*Ver /mariadbd /')"
  res v_mariadb_binlog "$(mariadb-binlog --version 2>&1 | head -n 1 | sed 's/^.*Ver /mariadb-binlog /')"
}

# ---------------------------------------------------------------- MariaDB servers
install_db() { # dir
  mkdir -p "$1"
  mariadb-install-db --no-defaults --datadir="$1/data" --auth-root-authentication-method=normal \
    --skip-test-db --user="$(id -un)" >"$1/install.log" 2>&1 || { tail -n 20 "$1/install.log" >&2; die "mariadb-install-db failed in $1"; }
}

start_mariadbd() { # dir port opts... ; sets STARTED_PID
  local dir=$1 port=$2 i
  shift 2
  mariadbd --no-defaults --user="$(id -un)" --datadir="$dir/data" --socket="$dir/sock" --port="$port" \
    --bind-address=127.0.0.1 --pid-file="$dir/mariadbd.pid" --log-error="$dir/error.log" "$@" \
    >>"$dir/mariadbd.out" 2>&1 &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  for ((i = 0; i < 1200; i++)); do
    mariadb --no-defaults -S "$dir/sock" -uroot -e 'SELECT 1' >/dev/null 2>&1 && return 0
    kill -0 "$STARTED_PID" 2>/dev/null || { tail -n 30 "$dir/error.log" >&2; die "mariadbd in $dir died at startup"; }
    sleep 0.1
  done
  tail -n 30 "$dir/error.log" >&2
  die "mariadbd in $dir did not answer within 120 s"
}

primary_setup() { # the throwaway primary's dir, port and options (not started, not installed)
  PRIMARY=$TMP/primary
  PPORT=$(py port)
  PRIMARY_PID=
  PLUGIN_OPTS=()
  GEN_ENGINE=InnoDB
  if [ -f "$(mariadbd --no-defaults --verbose --help 2>/dev/null | sed -n 's/^plugin-dir[[:space:]]*//p')/ha_blackhole.so" ]; then
    PLUGIN_OPTS=(--plugin-load-add=ha_blackhole.so)
    GEN_ENGINE=BLACKHOLE
  fi
  PRIMARY_OPTS=(
    --log-bin=mysql-bin --server-id=1 --binlog-format=ROW --binlog-checksum=CRC32 --gtid-strict-mode=1
    --max-allowed-packet=256M --innodb-buffer-pool-size=1G --innodb-log-file-size=512M
    --sync-binlog=1 --innodb-flush-log-at-trx-commit=1
    --rpl-semi-sync-master-enabled=ON --rpl-semi-sync-master-wait-point=AFTER_SYNC
    --rpl-semi-sync-master-timeout=10000 --max-binlog-size=256M --skip-name-resolve
    --max-connections=200 "${PLUGIN_OPTS[@]+"${PLUGIN_OPTS[@]}"}"
  )
  res primary_opts "${PRIMARY_OPTS[*]}"
  PHASES=""
}

# --skip-ssl: this client defaults to TLS, also over the socket, which would count in the
# primary's Ssl_accepts (the --tls runs check that binlogserver's sessions raise it).
psql() { mariadb --no-defaults -S "$PRIMARY/sock" -uroot -N -B --skip-ssl "$@"; }

start_primary() { # phase-label extra-opts...
  local label=$1
  shift
  if [ -n "$PRIMARY_PID" ]; then stop_pid "$PRIMARY_PID" 120; fi
  log "primary: starting for $label on port $PPORT ${*:-(no extra options)}"
  start_mariadbd "$PRIMARY" "$PPORT" "${PRIMARY_OPTS[@]}" "$@"
  PRIMARY_PID=$STARTED_PID
  PHASES+="${PHASES:+; }$label: ${*:-default binlog_row_event_max_size (8192)}"
  res primary_phases "$PHASES"
}

binlog_files() { psql -e 'SHOW BINARY LOGS' | awk '{print $1}'; }
binlog_bytes() { psql -e 'SHOW BINARY LOGS' | awk '{s += $2} END {print s + 0}'; }
semi_status() { # -> "yes no clients status"
  psql -e "SHOW GLOBAL STATUS WHERE Variable_name IN ('Rpl_semi_sync_master_yes_tx','Rpl_semi_sync_master_no_tx','Rpl_semi_sync_master_clients','Rpl_semi_sync_master_status')" |
    awk '{v[$1] = $2} END {print v["Rpl_semi_sync_master_yes_tx"], v["Rpl_semi_sync_master_no_tx"], v["Rpl_semi_sync_master_clients"], v["Rpl_semi_sync_master_status"]}'
}

setup_users() {
  psql -e "CREATE USER IF NOT EXISTS repl@'%' IDENTIFIED BY 'replpass';
    GRANT REPLICATION SLAVE, BINLOG MONITOR, REPLICATION CLIENT ON *.* TO repl@'%';
    CREATE USER IF NOT EXISTS bench@'%' IDENTIFIED BY 'benchpass';
    GRANT ALL ON *.* TO bench@'%';"
}

gen_binlog() { # big|small label: RESET MASTER, then row events up to SIZE bytes of binlog
  # big: 64 KiB rows (INSERT ... SELECT of up to 512 rows: with
  # binlog_row_event_max_size=4M, ~4 MiB row events); small: 12-byte rows.
  local kind=$1 label=$2 next=1 cur rows per_row max_rows
  psql -e "SET GLOBAL rpl_semi_sync_master_enabled = 0;
    DROP DATABASE IF EXISTS bench; RESET MASTER; CREATE DATABASE bench;"
  if [ "$kind" = big ]; then
    psql -D bench -e "CREATE TABLE big (id BIGINT PRIMARY KEY, b LONGBLOB) ENGINE=$GEN_ENGINE"
    per_row=65600
    max_rows=512 # 32 MiB per statement
  else
    psql -D bench -e "CREATE TABLE small (id BIGINT PRIMARY KEY, c CHAR(1)) ENGINE=$GEN_ENGINE"
    per_row=12
    max_rows=4000000
  fi
  log "$label: generating >= $SIZE bytes of binlog ($GEN_ENGINE)"
  while cur=$(binlog_bytes); [ "$cur" -lt "$SIZE" ]; do
    rows=$(((SIZE - cur) / per_row + 1))
    [ "$rows" -gt "$max_rows" ] && rows=$max_rows
    if [ "$kind" = big ]; then
      psql -D bench -e "INSERT INTO big SELECT seq, REPEAT(MD5(seq), 2048) FROM seq_${next}_to_$((next + rows - 1))"
    else
      psql -D bench -e "INSERT INTO small SELECT seq, 'x' FROM seq_${next}_to_$((next + rows - 1))"
    fi
    next=$((next + rows))
  done
  psql -e "SET GLOBAL rpl_semi_sync_master_enabled = 1"
  log "$label: binlog is $(binlog_bytes) bytes ($((next - 1)) rows)"
}

fsync_probe_into() { # label outfile: 1000 x (append 4 KiB + fdatasync) in TMP (needs `py fsync DIR COUNT`)
  log "fdatasync latency on the temp dir's disk (1000 x append 4 KiB + fdatasync), $1"
  py fsync "$TMP" 1000 >"$2"
}
