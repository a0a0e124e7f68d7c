#!/usr/bin/env bash
# A failover with binlogserver in the middle, on loopback, in a temporary
# directory that is removed on exit (about half a minute once built):
#
#   db1 (primary) --(semi-sync, AFTER_SYNC)--> binlogserver --> db2 (GTID, the candidate)
#                                                          \--> db3 (file/position)
#
# Clients commit on db1 and record every id whose INSERT returned; db1 is
# killed with SIGKILL under load. db2 catches up from binlogserver and is
# promoted, its binlog numbering is pushed past binlogserver's last file,
# and binlogserver is pointed at it over SQL (STOP SLAVE; CHANGE MASTER TO
# ... MASTER_LOG_FILE=<db2's file>, MASTER_LOG_POS=4; START SLAVE). db3 is
# never touched: it reads on from db1's last file into db2's. After more
# load on db2 the demo checks that every returned id is on db2 and db3,
# that their tables are equal, that binlogserver's files are db1's up to
# the crash and db2's from the switch on, and that `binlogserver verify` is
# clean. It exits 0 with "failover-demo: OK", and non-zero with
# "failover-demo: FAILED: ..." otherwise. The README's "Failing over" is
# the runbook it follows.
#
# FAILOVER_DEMO_PORT (default 24306): db1's port; binlogserver listens on
# the next one, db2 and db3 on the two after. On a fresh Debian/Ubuntu
# machine it first installs MariaDB and the Rust toolchain
# (etc/install-deps.sh).
set -Eeuo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=etc/install-deps.sh
. etc/install-deps.sh
DEPS_QUIET=1 need_mariadb
DEPS_QUIET=1 need_rust
cargo build --release --quiet
BIN="$PWD/target/release/binlogserver"

PORT=${FAILOVER_DEMO_PORT:-24306}
DB1_PORT=$PORT
BLS_PORT=$((PORT + 1))
DB2_PORT=$((PORT + 2))
DB3_PORT=$((PORT + 3))
CLIENTS=4
LOAD_SECONDS=6
HOUR_MS=3600000
WORK=$(mktemp -d /tmp/binlogserver-failover-demo.XXXXXX)
PIDS=()
cleanup() {
  touch "$WORK/stop" 2>/dev/null || true
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
fail() {
  trap - ERR
  # In a subshell (a command substitution): its caller fails and says so.
  [ "$BASHPID" = "$$" ] || exit 1
  echo "failover-demo: FAILED: $*" >&2
  for f in binlogserver.log db1.err db2.err db3.err; do
    [ -s "$WORK/$f" ] && { echo "--- last lines of $f" >&2; tail -n 15 "$WORK/$f" >&2; }
  done
  exit 1
}
trap cleanup EXIT
trap 'fail "line $LINENO: $BASH_COMMAND"' ERR

# sql PORT STATEMENTS: as root on a MariaDB server, tab-separated, no headers.
sql() { mariadb --no-defaults -uroot -h127.0.0.1 -P"$1" --protocol=tcp -N -B -e "$2"; }
status() { sql "$1" "SHOW GLOBAL STATUS LIKE '$2'" | cut -f2; }
# bls USER PASSWORD STATEMENTS [CLIENT OPTIONS]: on binlogserver's SQL port.
bls() {
  local user=$1 password=$2 stmt=$3
  shift 3
  mariadb --no-defaults -u"$user" -p"$password" -h127.0.0.1 -P"$BLS_PORT" --protocol=tcp \
    "$@" -e "$stmt"
}
bls_value() { bls replica replicapass "$1" -N -B; }
# slave_field PORT FIELD: one field of SHOW SLAVE STATUS on a MariaDB server.
slave_field() {
  mariadb --no-defaults -uroot -h127.0.0.1 -P"$1" --protocol=tcp -e "SHOW SLAVE STATUS\G" |
    sed -n "s/^ *$2: //p"
}
# wait_for WHAT SECONDS COMMAND...: polls COMMAND every 0.1 s.
wait_for() {
  local what=$1 tenths=$(($2 * 10)) i
  shift 2
  for ((i = 0; i < tenths; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  fail "timed out waiting for $what"
}
now_ms() { local t=${EPOCHREALTIME//[!0-9]/}; echo $((t / 1000)); }
file_number() { echo $((10#${1##*.})); }
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$DB1_PORT" "$BLS_PORT" "$DB2_PORT" "$DB3_PORT"; do
  port_free "$p" || fail "port $p is in use (set FAILOVER_DEMO_PORT to another base port)"
done

mariadbd_start() { # NAME PORT SERVER_ID EXTRA...
  local name=$1 port=$2 id=$3
  shift 3
  mariadbd --no-defaults --user=root --datadir="$WORK/$name" --socket="$WORK/$name.sock" \
    --port="$port" --bind-address=127.0.0.1 --server-id="$id" --gtid-strict-mode=1 \
    --innodb-buffer-pool-size=64M --log-error="$WORK/$name.err" "$@" >"$WORK/$name.out" 2>&1 &
  PIDS+=($!)
  wait_for "$name mariadbd on port $port" 60 sql "$port" "SELECT 1"
}
# The replication account, on each server that binlogserver follows. Not
# written to the binlog: before binlogserver is db1's semi-sync client a
# binlogged statement would wait out the semi-sync timeout, and on db2 it
# would be a transaction binlogserver does not hold.
create_repl() {
  sql "$1" "SET SESSION sql_log_bin = 0;
    CREATE USER repl@'%' IDENTIFIED BY 'replpass';
    GRANT REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR, SLAVE MONITOR ON *.* TO repl@'%'"
}

# client N FIRST PORT: autocommit INSERTs of ids FIRST, FIRST+1, ... on PORT
# until $WORK/stop exists or the server goes away. Each INSERT is followed by
# SELECT of its id in the same session, and the client stops at the first
# error, so an id in returned.N is one whose INSERT returned OK.
client() {
  local n=$1 id=$2 port=$3 i
  {
    while [ ! -e "$WORK/stop" ]; do
      for ((i = 0; i < 20; i++)); do
        echo "INSERT INTO demo.t (id, client) VALUES ($id, $n); SELECT $id;" || exit 0
        id=$((id + 1))
      done
    done
  } | mariadb --no-defaults -uroot -h127.0.0.1 -P"$port" --protocol=tcp -N -B --unbuffered \
    --skip-reconnect >>"$WORK/returned.$n" 2>>"$WORK/client.$n.err" || true
}
LOAD_PIDS=()
load_start() { # PORT FIRST_ID
  local n
  rm -f "$WORK/stop"
  LOAD_PIDS=()
  for ((n = 1; n <= CLIENTS; n++)); do
    client "$n" $(($2 + n * 10000000)) "$1" &
    LOAD_PIDS+=($!)
  done
}
load_wait() { local p; for p in "${LOAD_PIDS[@]}"; do wait "$p" || true; done; }
returned() { cat "$WORK"/returned.* 2>/dev/null | wc -l; }

echo "== db1: a MariaDB primary on 127.0.0.1:$DB1_PORT (semi-sync AFTER_SYNC), in $WORK"
mariadb-install-db --no-defaults --datadir="$WORK/db1" --auth-root-authentication-method=normal \
  --skip-test-db >"$WORK/install.log" 2>&1 || fail "mariadb-install-db (see $WORK/install.log)"
cp -a "$WORK/db1" "$WORK/db2"
cp -a "$WORK/db1" "$WORK/db3"
BINLOG_ARGS=(--log-bin=mysql-bin --log-slave-updates=ON --binlog-format=ROW --sync-binlog=1)
mariadbd_start db1 "$DB1_PORT" 1 "${BINLOG_ARGS[@]}" \
  --rpl-semi-sync-master-enabled=ON --rpl-semi-sync-master-wait-point=AFTER_SYNC \
  --rpl-semi-sync-master-timeout=2000
DB1_PID=${PIDS[-1]}
create_repl "$DB1_PORT"

echo "== binlogserver following db1 as its semi-sync replica; SQL port 127.0.0.1:$BLS_PORT"
mkdir "$WORK/binlogs"
"$BIN" -h 127.0.0.1 -P "$DB1_PORT" -u repl -p replpass -d "$WORK/binlogs" --server-id 100 \
  --semi-sync on --listen "127.0.0.1:$BLS_PORT" --replica-account replica:replicapass \
  --admin-account ops:opspass 2>"$WORK/binlogserver.log" &
BLS_PID=$!
PIDS+=("$BLS_PID")
semi_sync_client() { [ "$(status "$1" Rpl_semi_sync_master_clients)" = 1 ]; }
wait_for "binlogserver to be db1's semi-sync client" 30 semi_sync_client "$DB1_PORT"
# Only now the one-hour timeout: a commit never returns without binlogserver's ACK.
sql "$DB1_PORT" "SET GLOBAL rpl_semi_sync_master_timeout = $HOUR_MS"
echo "    db1's semi-sync client: binlogserver; rpl_semi_sync_master_timeout raised to 1 hour"
sql "$DB1_PORT" "CREATE DATABASE demo;
  CREATE TABLE demo.t (id BIGINT PRIMARY KEY, client INT NOT NULL);
  FLUSH BINARY LOGS"

echo "== db2 (127.0.0.1:$DB2_PORT): replica of binlogserver by GTID, binlog on (the candidate)"
mariadbd_start db2 "$DB2_PORT" 2 "${BINLOG_ARGS[@]}" --read-only=ON --skip-slave-start \
  --relay-log=relay-bin
create_repl "$DB2_PORT"
sql "$DB2_PORT" "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$BLS_PORT,
  MASTER_USER='replica', MASTER_PASSWORD='replicapass', MASTER_USE_GTID=slave_pos,
  MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=1; START SLAVE"
echo "== db3 (127.0.0.1:$DB3_PORT): replica of binlogserver by file/position from mysql-bin.000001"
mariadbd_start db3 "$DB3_PORT" 3 --read-only=ON --skip-slave-start --relay-log=relay-bin
sql "$DB3_PORT" "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$BLS_PORT,
  MASTER_USER='replica', MASTER_PASSWORD='replicapass', MASTER_USE_GTID=no,
  MASTER_LOG_FILE='mysql-bin.000001', MASTER_LOG_POS=4,
  MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=1; START SLAVE"

echo "== $CLIENTS clients commit on db1 (autocommit INSERTs) for $LOAD_SECONDS s"
load_start "$DB1_PORT" 0
sleep "$LOAD_SECONDS"
YES=$(status "$DB1_PORT" Rpl_semi_sync_master_yes_tx)
NO=$(status "$DB1_PORT" Rpl_semi_sync_master_no_tx)
echo "    db1 so far: Rpl_semi_sync_master_yes_tx=$YES (acknowledged by binlogserver after fsync)," \
  "Rpl_semi_sync_master_no_tx=$NO"
[ "$NO" = 0 ] || fail "db1 committed $NO transactions without binlogserver's ACK"

echo "== kill -9 db1 under load"
kill -9 "$DB1_PID"
KILLED=$(now_ms)
wait "$DB1_PID" 2>/dev/null || true
load_wait
BEFORE_KILL=$(returned)
echo "    clients saw $BEFORE_KILL commits return before the kill"
[ "$BEFORE_KILL" -gt 0 ] || fail "no commit returned on db1"

echo "== what binlogserver holds (through its SQL port, and binlogserver verify)"
bls replica replicapass "SHOW BINARY LOGS" -t | sed 's/^/    /'
BLS_GTID=$(bls_value "SELECT @@gtid_binlog_pos")
echo "    @@gtid_binlog_pos: $BLS_GTID"
"$BIN" verify "$WORK/binlogs" | grep '^summary:' | sed 's/^/    verify /'
BLS_LAST=$(bls_value "SHOW MASTER STATUS" | cut -f1)
DB1_SIZE=$(stat -c %s "$WORK/db1/$BLS_LAST")
BLS_SIZE=$(stat -c %s "$WORK/binlogs/$BLS_LAST")
if [ "$DB1_SIZE" -gt "$BLS_SIZE" ]; then
  echo "    db1's $BLS_LAST has $((DB1_SIZE - BLS_SIZE)) bytes more: written, never acknowledged" \
    "(their clients got an error)"
else
  echo "    db1's $BLS_LAST has the same $DB1_SIZE bytes: it wrote nothing unacknowledged"
fi

echo "== db2 levels with binlogserver, and is promoted"
db2_has_all() { [ "$(sql "$DB2_PORT" "SELECT @@gtid_slave_pos")" = "$BLS_GTID" ]; }
wait_for "db2's gtid_slave_pos to reach binlogserver's $BLS_GTID" 120 db2_has_all
echo "    db2's @@gtid_slave_pos = binlogserver's @@gtid_binlog_pos = $BLS_GTID" \
  "($(($(now_ms) - KILLED)) ms after the kill)"
# db2's timeout stays short until binlogserver is its semi-sync client.
sql "$DB2_PORT" "STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0;
  SET GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC;
  SET GLOBAL rpl_semi_sync_master_timeout = 2000;
  SET GLOBAL rpl_semi_sync_master_enabled = ON"
until [ "$(file_number "$(sql "$DB2_PORT" "SHOW MASTER STATUS" | cut -f1)")" -gt \
  "$(file_number "$BLS_LAST")" ]; do
  sql "$DB2_PORT" "FLUSH BINARY LOGS"
done
SWITCH=$(sql "$DB2_PORT" "SHOW MASTER STATUS" | cut -f1)
echo "    db2 is a primary; FLUSH BINARY LOGS until its file is above $BLS_LAST: $SWITCH"

echo "== binlogserver follows db2 (as ops, an admin account):"
cat <<EOF | tee "$WORK/change.sql" | sed 's/^/    /'
STOP SLAVE;
CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$DB2_PORT, MASTER_USER='repl',
  MASTER_PASSWORD='replpass', MASTER_LOG_FILE='$SWITCH', MASTER_LOG_POS=4;
EOF
echo "    START SLAVE;"
bls ops opspass "source $WORK/change.sql"
START=$(now_ms)
bls ops opspass "START SLAVE"
db2_semi_sync_on() {
  semi_sync_client "$DB2_PORT" && [ "$(status "$DB2_PORT" Rpl_semi_sync_master_status)" = ON ]
}
wait_for "binlogserver to be db2's semi-sync client" 30 db2_semi_sync_on
NOW=$(now_ms)
echo "    db2's Rpl_semi_sync_master_status ON with 1 client (binlogserver): $((NOW - START)) ms" \
  "after START SLAVE, $((NOW - KILLED)) ms after the kill"
sql "$DB2_PORT" "SET GLOBAL rpl_semi_sync_master_timeout = $HOUR_MS"
# Caught up: at db2's end, and Seconds_Behind_Master says so (right after
# the switch it is the age of the new file's first events until the dump
# reaches the end binlogserver saw when it connected).
bls_caught_up() {
  bls replica replicapass "SHOW SLAVE STATUS\G" >"$WORK/bls-slave-status.txt"
  local at behind
  at=$(sed -n 's/^ *Master_Log_File: //p; s/^ *Read_Master_Log_Pos: //p' \
    "$WORK/bls-slave-status.txt" | paste -s)
  behind=$(sed -n 's/^ *Seconds_Behind_Master: //p' "$WORK/bls-slave-status.txt")
  [ "$at" = "$(sql "$DB2_PORT" "SHOW MASTER STATUS" | cut -f1,2)" ] && [ "$behind" = 0 ]
}
wait_for "binlogserver to catch up with db2's $SWITCH" 30 bls_caught_up
SHOWN="Master_(Host|Port)|Slave_(IO|SQL)_Running|Master_Log_File|Read_Master_Log_Pos"
SHOWN="$SHOWN|Seconds_Behind_Master|Gtid_IO_Pos|Semi_Sync"
echo "    SHOW SLAVE STATUS on binlogserver:"
grep -E "^ *($SHOWN):" "$WORK/bls-slave-status.txt" | sed 's/^ */      /'

echo "== $CLIENTS clients commit on db2 for $LOAD_SECONDS s"
Y0=$(status "$DB2_PORT" Rpl_semi_sync_master_yes_tx)
load_start "$DB2_PORT" 100000000
sleep "$LOAD_SECONDS"
touch "$WORK/stop"
load_wait
AFTER=$(($(returned) - BEFORE_KILL))
YES=$(($(status "$DB2_PORT" Rpl_semi_sync_master_yes_tx) - Y0))
NO=$(status "$DB2_PORT" Rpl_semi_sync_master_no_tx)
echo "    $AFTER commits returned on db2; Rpl_semi_sync_master_yes_tx +$YES, no_tx=$NO"
[ "$NO" = 0 ] || fail "db2 committed $NO transactions without binlogserver's ACK"

echo "== checks"
read -r LIVE LIVE_POS < <(sql "$DB2_PORT" "SHOW MASTER STATUS" | cut -f1,2)
DB2_GTID=$(sql "$DB2_PORT" "SELECT @@gtid_binlog_pos")
db3_has_all() { [ "$(sql "$DB3_PORT" "SELECT @@gtid_slave_pos")" = "$DB2_GTID" ]; }
wait_for "db3 to apply everything (gtid $DB2_GTID)" 120 db3_has_all
stored() { [ "$(stat -c %s "$WORK/binlogs/$LIVE" 2>/dev/null)" -ge "$LIVE_POS" ]; }
wait_for "binlogserver to store $LIVE up to $LIVE_POS" 30 stored
cat "$WORK"/returned.* | sort >"$WORK/returned.sorted"
for db in db2:"$DB2_PORT" db3:"$DB3_PORT"; do
  sql "${db#*:}" "SELECT id FROM demo.t" | sort >"$WORK/${db%:*}.ids"
  missing=$(comm -23 "$WORK/returned.sorted" "$WORK/${db%:*}.ids" | wc -l)
  [ "$missing" = 0 ] || fail "$missing returned ids are not on ${db%:*}"
done
echo "    every returned id ($(wc -l <"$WORK/returned.sorted")) is on db2 and on db3"
FROM_DB1=$(sql "$DB2_PORT" "SELECT COUNT(*) FROM demo.t WHERE id < 100000000")
echo "    rows from db1: $FROM_DB1 (the $BEFORE_KILL returned, and $((FROM_DB1 - BEFORE_KILL))" \
  "that binlogserver stored but whose OK the kill cut off)"
C2=$(sql "$DB2_PORT" "CHECKSUM TABLE demo.t" | cut -f2)
C3=$(sql "$DB3_PORT" "CHECKSUM TABLE demo.t" | cut -f2)
N2=$(wc -l <"$WORK/db2.ids") N3=$(wc -l <"$WORK/db3.ids")
if [ "$C2" != "$C3" ] || [ "$N2" != "$N3" ]; then
  fail "demo.t differs: db2 $N2 rows (checksum $C2), db3 $N3 rows (checksum $C3)"
fi
echo "    demo.t: db2 $N2 rows, db3 $N3 rows, CHECKSUM TABLE $C2 on both"
DB3_FILE=$(slave_field "$DB3_PORT" Master_Log_File)
[ "$DB3_FILE" = "$LIVE" ] || fail "db3 reads $DB3_FILE, db2 writes $LIVE"
echo "    db3, never reconfigured, reads $DB3_FILE: it crossed from db1's $BLS_LAST into db2's files"
"$BIN" verify "$WORK/binlogs" >"$WORK/verify.txt" || fail "binlogserver verify: $(tail -n 5 "$WORK/verify.txt")"
echo "    binlogserver verify: $(grep '^summary:' "$WORK/verify.txt")"

# compare FROM NAME LIVE: binlogserver's NAME against the file of that name
# of FROM (db1 or db2). A closed file must be identical. The last file of
# each server (LIVE: db1's crashed file, db2's live one) may be longer on
# the server, and byte 22, the in-use flag of its format description, may
# differ: the server sets it in the file it writes, the stream clears it.
# Sets VERDICT.
compare() {
  local from=$1 name=$2 live=$3 theirs ours n diffs
  theirs="$WORK/$from/$name" ours="$WORK/binlogs/$name"
  n=$(stat -c %s "$ours")
  if [ "$live" = live ]; then
    diffs=$(cmp -l -n "$n" "$theirs" "$ours" 2>&1 | awk 'END { print NR, $1 }' || true)
  else
    diffs=$(cmp -l "$theirs" "$ours" 2>&1 | awk 'END { print NR, $1 }' || true)
  fi
  if [ "$n" = "$(stat -c %s "$theirs")" ]; then VERDICT="identical to $from's"
  else VERDICT="the first $n bytes of $from's"; fi
  case "$live $diffs" in
    "closed 0 " | "live 0 ") ;;
    "live 1 22") VERDICT="$VERDICT, the in-use flag (byte 22) aside" ;;
    *) fail "binlogserver's $name differs from $from's (differing bytes, last: $diffs)" ;;
  esac
}
echo "    binlogserver's files against db1's and db2's, byte for byte:"
while read -r name; do
  name=${name#./}
  if [ "$(file_number "$name")" -lt "$(file_number "$SWITCH")" ]; then
    from=db1 live=closed
    [ "$name" = "$BLS_LAST" ] && live=live
  else
    from=db2 live=closed
    [ "$name" = "$LIVE" ] && live=live
  fi
  compare "$from" "$name" "$live"
  printf '      %-18s %9s bytes  %s\n' "$name" "$(stat -c %s "$WORK/binlogs/$name")" "$VERDICT"
done <"$WORK/binlogs/mysql-bin.index"

echo "== binlogserver's log of the switch"
{
  grep -m1 "switch checked" "$WORK/binlogserver.log"
  grep -m1 "the switch is done" "$WORK/binlogserver.log"
} | sed 's/^\[[^]]*\] /    /' || true
echo "failover-demo: OK ($SECONDS s)"
