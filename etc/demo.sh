#!/usr/bin/env bash
# A throwaway MariaDB primary on loopback, binlogserver following it as a
# lossless semi-sync replica, some transactions, and what came of them:
# the primary's semi-sync counters and a byte comparison of the binlogs.
# Everything lives in a temporary directory removed on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
if ! command -v mariadbd >/dev/null && [ ! -x /usr/sbin/mariadbd ]; then
  echo "demo: installing mariadb-server (apt-get)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server mariadb-client >/dev/null
fi
export PATH="$PATH:/usr/sbin"
cargo build --release --quiet
BIN="$PWD/target/release/binlogserver"

WORK=$(mktemp -d /tmp/binlogserver-demo.XXXXXX)
PORT=${DEMO_PORT:-23306}
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

sql() { mariadb --no-defaults -uroot -h127.0.0.1 -P"$PORT" --protocol=tcp -N -B -e "$1"; }

echo "== starting a MariaDB primary on 127.0.0.1:$PORT ($WORK)"
mariadb-install-db --no-defaults --datadir="$WORK/primary" --auth-root-authentication-method=normal \
  --skip-test-db >"$WORK/install.log" 2>&1
mariadbd --no-defaults --user=root --datadir="$WORK/primary" --socket="$WORK/primary.sock" \
  --port="$PORT" --bind-address=127.0.0.1 --server-id=1 --log-bin=mysql-bin --binlog-format=ROW \
  --gtid-strict-mode=1 --sync-binlog=1 --rpl-semi-sync-master-enabled=ON \
  --rpl-semi-sync-master-wait-point=AFTER_SYNC --rpl-semi-sync-master-timeout=2000 \
  --log-error="$WORK/primary.err" &
PIDS+=($!)
for _ in $(seq 100); do sql "SELECT 1" >/dev/null 2>&1 && break; sleep 0.1; done
sql "CREATE USER repl@'%' IDENTIFIED BY 'replpass';
     GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO repl@'%';
     CREATE DATABASE demo; CREATE TABLE demo.t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(100));
     FLUSH BINARY LOGS;"

echo "== starting binlogserver (semi-sync, data dir $WORK/binlogs)"
mkdir "$WORK/binlogs"
"$BIN" -h 127.0.0.1 -P "$PORT" -u repl -p replpass -d "$WORK/binlogs" --server-id 100 \
  --listen "127.0.0.1:$((PORT + 1))" 2>"$WORK/binlogserver.log" &
PIDS+=($!)
for _ in $(seq 100); do
  [ "$(sql "SHOW STATUS LIKE 'Rpl_semi_sync_master_clients'" | cut -f2)" = 1 ] && break; sleep 0.1
done

echo "== writing 100 transactions and rotating once"
for i in $(seq 50); do echo "INSERT INTO demo.t (v) VALUES ('row $i');"; done | mariadb --no-defaults -uroot -h127.0.0.1 -P"$PORT" --protocol=tcp
sql "FLUSH BINARY LOGS"
for i in $(seq 50); do echo "INSERT INTO demo.t (v) VALUES ('row $i');"; done | mariadb --no-defaults -uroot -h127.0.0.1 -P"$PORT" --protocol=tcp

echo "== the primary's semi-sync counters"
sql "SHOW GLOBAL STATUS WHERE Variable_name IN ('Rpl_semi_sync_master_status','Rpl_semi_sync_master_clients','Rpl_semi_sync_master_yes_tx','Rpl_semi_sync_master_no_tx')"

echo "== binlogs: primary vs binlogserver"
read -r LAST_FILE LAST_SIZE < <(sql "SHOW MASTER STATUS" | cut -f1,2)
for _ in $(seq 100); do
  [ "$(stat -c %s "$WORK/binlogs/$LAST_FILE" 2>/dev/null || echo 0)" = "$LAST_SIZE" ] && break; sleep 0.05
done
sql "SHOW BINARY LOGS" | while read -r name size; do
  # `cmp -l` lists every differing byte (1-based offset); the live file may
  # differ in exactly one: offset 22, the in-use flag of its FD.
  diffs=$(cmp -l "$WORK/primary/$name" "$WORK/binlogs/$name" 2>&1 | awk 'END { print NR, $1 }' || true)
  if [ "$diffs" = "0 " ]; then verdict="identical"
  elif [ "$name" = "$LAST_FILE" ] && [ "$diffs" = "1 22" ]; then
    verdict="identical except the in-use flag of the live file (byte 22)"
  else verdict="DIFFERENT ($diffs)"; fi
  printf '%-20s %10s bytes  %s\n' "$name" "$size" "$verdict"
done
echo "== index file"
cat "$WORK/binlogs/mysql-bin.index"
echo "== binlogserver's own SQL port (127.0.0.1:$((PORT + 1))), as replicas and operators see it"
mariadb --no-defaults -urepl -preplpass -h127.0.0.1 -P"$((PORT + 1))" --protocol=tcp -t \
  -e "SHOW BINARY LOGS; SHOW MASTER STATUS; SELECT @@gtid_binlog_pos;"
echo "== mariadb-binlog reading from binlogserver (first events)"
mariadb-binlog --read-from-remote-server -h127.0.0.1 -P"$((PORT + 1))" -urepl -preplpass --to-last-log \
  mysql-bin.000001 2>/dev/null | grep -E "GTID|Rotate" | head -8 || true
echo "== binlogserver log"
cat "$WORK/binlogserver.log"
