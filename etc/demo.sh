#!/usr/bin/env bash
# binlogserver in one minute, on loopback, in a temporary directory that is
# removed on exit:
#
#   MariaDB primary --(semi-sync, AFTER_SYNC)--> binlogserver --> MariaDB replica
#
# binlogserver runs from a --config file with two replica accounts; the
# replica replicates from binlogserver by GTID. After some transactions the
# demo shows the primary's semi-sync counters, SHOW BINARY LOGS through
# binlogserver, the stored files compared byte for byte with the primary's,
# and the replica's row counts next to the primary's. It exits 0 when every
# check holds, and non-zero with "demo: FAILED: ..." otherwise.
#
# DEMO_PORT (default 23306): the primary's port; binlogserver listens on the
# next one, the replica on the one after. On a fresh Debian/Ubuntu machine
# it first installs MariaDB and the Rust toolchain (etc/install-deps.sh).
set -Eeuo pipefail

cd "$(dirname "$0")/.."
# On a fresh machine: MariaDB (apt-get) and the Rust toolchain (rustup),
# the same steps as .ci/run's; nothing when they are there.
# shellcheck source=etc/install-deps.sh
. etc/install-deps.sh
DEPS_QUIET=1 need_mariadb
DEPS_QUIET=1 need_rust
cargo build --release --quiet
BIN="$PWD/target/release/binlogserver"

PORT=${DEMO_PORT:-23306}
BLS_PORT=$((PORT + 1))
REPLICA_PORT=$((PORT + 2))
WORK=$(mktemp -d /tmp/binlogserver-demo.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
fail() {
  trap - ERR
  echo "demo: FAILED: $*" >&2
  for f in binlogserver.log primary.err replica.err; do
    [ -s "$WORK/$f" ] && { echo "--- last lines of $f" >&2; tail -n 15 "$WORK/$f" >&2; }
  done
  exit 1
}
trap cleanup EXIT
trap 'fail "line $LINENO: $BASH_COMMAND"' ERR

# sql PORT STATEMENTS: as root on a MariaDB server, tab-separated, no headers.
sql() { mariadb --no-defaults -uroot -h127.0.0.1 -P"$1" --protocol=tcp -N -B -e "$2"; }
status() { sql "$PORT" "SHOW GLOBAL STATUS LIKE '$1'" | cut -f2; }
# wait_for WHAT SECONDS COMMAND...: polls COMMAND every 0.1 s.
wait_for() {
  local what=$1 tenths=$(($2 * 10)) i
  shift 2
  for ((i = 0; i < tenths; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  fail "timed out waiting for $what"
}
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$PORT" "$BLS_PORT" "$REPLICA_PORT"; do
  port_free "$p" || fail "port $p is in use (set DEMO_PORT to another base port)"
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

echo "== a MariaDB primary on 127.0.0.1:$PORT (semi-sync AFTER_SYNC), in $WORK"
mariadb-install-db --no-defaults --datadir="$WORK/primary" --auth-root-authentication-method=normal \
  --skip-test-db >"$WORK/install.log" 2>&1 || fail "mariadb-install-db (see $WORK/install.log)"
cp -a "$WORK/primary" "$WORK/replica"
mariadbd_start primary "$PORT" 1 --log-bin=mysql-bin --binlog-format=ROW --sync-binlog=1 \
  --rpl-semi-sync-master-enabled=ON --rpl-semi-sync-master-wait-point=AFTER_SYNC \
  --rpl-semi-sync-master-timeout=2000
sql "$PORT" "CREATE USER repl@'%' IDENTIFIED BY 'replpass';
     GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO repl@'%';
     CREATE DATABASE demo;
     CREATE TABLE demo.accounts (id INT PRIMARY KEY, balance INT NOT NULL);
     CREATE TABLE demo.transfers (id INT PRIMARY KEY AUTO_INCREMENT, src INT, dst INT, amount INT);
     FLUSH BINARY LOGS;"

echo "== binlogserver following it, from $WORK/binlogserver.conf:"
mkdir "$WORK/binlogs"
cat >"$WORK/binlogserver.conf" <<EOF
[binlogserver]
host = 127.0.0.1
port = $PORT
user = repl
password = replpass
data-dir = $WORK/binlogs
server-id = 100
semi-sync = on
listen = 127.0.0.1:$BLS_PORT
# two accounts for downstream clients (instead of the upstream repl)
replica-account = replica:replicapass
replica-account = ops:opspass
EOF
chmod 600 "$WORK/binlogserver.conf"
sed 's/^/    /' "$WORK/binlogserver.conf"
"$BIN" --config "$WORK/binlogserver.conf" 2>"$WORK/binlogserver.log" &
PIDS+=($!)
semi_sync_client() { [ "$(status Rpl_semi_sync_master_clients)" = 1 ]; }
wait_for "binlogserver to register as the primary's semi-sync replica" 30 semi_sync_client

echo "== a MariaDB replica on 127.0.0.1:$REPLICA_PORT replicating from binlogserver (GTID)"
mariadbd_start replica "$REPLICA_PORT" 3 --skip-slave-start --relay-log=relay-bin
sql "$REPLICA_PORT" "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$BLS_PORT,
       MASTER_USER='replica', MASTER_PASSWORD='replicapass', MASTER_USE_GTID=slave_pos,
       MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=1;
     START SLAVE;"

echo "== 300 transactions on the primary (inserts, updates, a rotation, deletes)"
YES0=$(status Rpl_semi_sync_master_yes_tx)
NO0=$(status Rpl_semi_sync_master_no_tx)
client() { mariadb --no-defaults -uroot -h127.0.0.1 -P"$PORT" --protocol=tcp demo; }
for i in $(seq 100); do echo "INSERT INTO accounts VALUES ($i, 1000);"; done | client
sql "$PORT" "FLUSH BINARY LOGS"
for i in $(seq 150); do
  echo "START TRANSACTION; UPDATE accounts SET balance = balance - $i WHERE id = $(( (i % 100) + 1 ));
        UPDATE accounts SET balance = balance + $i WHERE id = $(( ((i + 37) % 100) + 1 ));
        INSERT INTO transfers (src, dst, amount) VALUES ($(( (i % 100) + 1 )), $(( ((i + 37) % 100) + 1 )), $i); COMMIT;"
done | client
for i in $(seq 50); do echo "DELETE FROM transfers WHERE id = $((i * 3));"; done | client

echo "== the primary's semi-sync counters"
sql "$PORT" "SHOW GLOBAL STATUS WHERE Variable_name IN ('Rpl_semi_sync_master_status',
  'Rpl_semi_sync_master_clients', 'Rpl_semi_sync_master_yes_tx', 'Rpl_semi_sync_master_no_tx')" |
  sed 's/^/    /'
YES=$(( $(status Rpl_semi_sync_master_yes_tx) - YES0 ))
NO=$(( $(status Rpl_semi_sync_master_no_tx) - NO0 ))
echo "    during the demo: $YES transactions acknowledged by binlogserver after fsync, $NO without an ACK"
[ "$YES" -ge 300 ] && [ "$NO" = 0 ] || fail "expected 300 acknowledged transactions and none without an ACK"

echo "== SHOW BINARY LOGS through binlogserver (127.0.0.1:$BLS_PORT, as ops)"
mariadb --no-defaults -uops -popspass -h127.0.0.1 -P"$BLS_PORT" --protocol=tcp -t -e "SHOW BINARY LOGS" |
  sed 's/^/    /'

echo "== binlogs: primary vs binlogserver, byte for byte"
read -r LAST_FILE LAST_SIZE < <(sql "$PORT" "SHOW MASTER STATUS" | cut -f1,2)
stored_size() { [ "$(stat -c %s "$WORK/binlogs/$LAST_FILE" 2>/dev/null)" = "$LAST_SIZE" ]; }
wait_for "binlogserver to store $LAST_FILE up to $LAST_SIZE" 30 stored_size
while read -r name size; do
  # `cmp -l` lists every differing byte (1-based offset); the live file may
  # differ in exactly one: offset 22, the in-use flag of its format description.
  diffs=$(cmp -l "$WORK/primary/$name" "$WORK/binlogs/$name" 2>&1 | awk 'END { print NR, $1 }' || true)
  if [ "$diffs" = "0 " ]; then verdict="identical"
  elif [ "$name" = "$LAST_FILE" ] && [ "$diffs" = "1 22" ]; then
    verdict="identical but for the in-use flag of the live file (byte 22)"
  else fail "$name differs ($diffs)"; fi
  printf '    %-20s %8s bytes  %s\n' "$name" "$size" "$verdict"
done < <(sql "$PORT" "SHOW BINARY LOGS")

echo "== the replica behind binlogserver"
caught_up() { [ "$(sql "$REPLICA_PORT" "SELECT @@gtid_slave_pos")" = "$(sql "$PORT" "SELECT @@gtid_binlog_pos")" ]; }
wait_for "the replica to apply everything (gtid $(sql "$PORT" "SELECT @@gtid_binlog_pos"))" 60 caught_up
printf '    %-20s %10s %10s  %s\n' table primary replica checksum
for t in accounts transfers; do
  p=$(sql "$PORT" "SELECT COUNT(*) FROM demo.$t") r=$(sql "$REPLICA_PORT" "SELECT COUNT(*) FROM demo.$t")
  pc=$(sql "$PORT" "CHECKSUM TABLE demo.$t" | cut -f2) rc=$(sql "$REPLICA_PORT" "CHECKSUM TABLE demo.$t" | cut -f2)
  [ "$p" = "$r" ] && [ "$pc" = "$rc" ] || fail "demo.$t differs: $p rows (checksum $pc) vs $r rows (checksum $rc)"
  printf '    %-20s %10s %10s  %s\n' "demo.$t" "$p" "$r" "equal"
done
mariadb --no-defaults -uroot -h127.0.0.1 -P"$REPLICA_PORT" --protocol=tcp -e "SHOW SLAVE STATUS\G" |
  grep -E " (Master_(Host|Port|User)|Slave_(IO|SQL)_Running|Gtid_IO_Pos):" | sed 's/^ */    /'

echo "== binlogserver log"
sed 's/^/    /' "$WORK/binlogserver.log"
echo "demo: OK"
