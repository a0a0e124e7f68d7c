//! A real `mariadbd` replica (started like the primary, from the same
//! template), pointed with CHANGE MASTER at a primary or at binlogserver;
//! its SHOW SLAVE STATUS, waiting until it has applied everything, and
//! comparing tables with CHECKSUM TABLE.

use super::mariadb::{MariaDb, REPL_PASSWORD, REPL_USER};
use super::{tail, wait_until_ok};
use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How to start a replica.
#[derive(Clone, Debug, Default)]
pub(crate) struct ReplicaOpts {
    /// `--rpl-semi-sync-slave-enabled=ON` (otherwise OFF).
    pub(crate) semi_sync: bool,
    /// `--log-bin` with `--log-slave-updates=OFF` (otherwise no binlog).
    pub(crate) log_bin: bool,
    /// The server id; 0 picks a new one from 2001 up (the primary is 1,
    /// binlogserver 1001).
    pub(crate) server_id: u32,
    /// Appended last, so they override the defaults.
    pub(crate) extra_args: Vec<String>,
}

/// `MASTER_USE_GTID=...` of CHANGE MASTER.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UseGtid {
    /// File and position.
    No,
    /// `@@gtid_slave_pos`.
    SlavePos,
}

impl UseGtid {
    fn sql(self) -> &'static str {
        match self {
            UseGtid::No => "no",
            UseGtid::SlavePos => "slave_pos",
        }
    }
}

impl MariaDb {
    /// Starts a replica: no replication threads until [`MariaDb::start_slave`]
    /// (`--skip-slave-start`), relay logs named `relay-bin`, GTID strict mode
    /// like the primary, semi-sync as `opts` says.
    ///
    /// # Panics
    /// Like [`MariaDb::primary`].
    pub(crate) fn replica(opts: ReplicaOpts) -> MariaDb {
        static NEXT_ID: AtomicU32 = AtomicU32::new(2001);
        let begin = Instant::now();
        let server_id = if opts.server_id == 0 {
            NEXT_ID.fetch_add(1, Ordering::Relaxed)
        } else {
            opts.server_id
        };
        let mut args = vec![
            format!("--server-id={server_id}"),
            "--skip-slave-start".to_owned(),
            "--relay-log=relay-bin".to_owned(),
            "--gtid-strict-mode=1".to_owned(),
            format!("--rpl-semi-sync-slave-enabled={}", if opts.semi_sync { "ON" } else { "OFF" }),
        ];
        if opts.log_bin {
            args.extend([
                "--log-bin=replica-bin".to_owned(),
                "--log-slave-updates=OFF".to_owned(),
                "--binlog-format=ROW".to_owned(),
            ]);
        }
        args.extend(opts.extra_args.iter().cloned());
        let db = MariaDb::launch("replica", &args);
        eprintln!(
            "mariadbd replica (server id {server_id}, semi-sync {}) ready on 127.0.0.1:{} in {} ms",
            if opts.semi_sync { "ON" } else { "OFF" },
            db.port(),
            begin.elapsed().as_millis()
        );
        db
    }

    /// `@@server_id`.
    pub(crate) fn server_id(&self) -> u32 {
        let v = self.sql("SELECT @@server_id");
        v.parse().unwrap_or_else(|_| panic!("@@server_id = {v:?} is not a number"))
    }

    /// `CHANGE MASTER TO MASTER_HOST=..., MASTER_PORT=..., MASTER_USER=...,
    /// MASTER_PASSWORD=..., MASTER_USE_GTID=...` (the replication threads
    /// must be stopped).
    pub(crate) fn change_master(
        &self,
        host: &str,
        port: u16,
        user: &str,
        password: &str,
        use_gtid: UseGtid,
    ) {
        self.sql(&format!(
            "CHANGE MASTER TO MASTER_HOST='{host}', MASTER_PORT={port}, MASTER_USER='{user}', \
             MASTER_PASSWORD='{password}', MASTER_USE_GTID={}",
            use_gtid.sql()
        ));
    }

    /// `CHANGE MASTER TO <options>`, e.g. `MASTER_CONNECT_RETRY=1,
    /// MASTER_HEARTBEAT_PERIOD=1` (the replication threads must be stopped).
    pub(crate) fn change_master_options(&self, options: &str) {
        self.sql(&format!("CHANGE MASTER TO {options}"));
    }

    /// A replica (`opts`) replicating from 127.0.0.1:`port` with
    /// [`MariaDb::replicate_from`]: the usual replica of binlogserver.
    pub(crate) fn replica_of(port: u16, opts: ReplicaOpts, use_gtid: UseGtid) -> MariaDb {
        let replica = MariaDb::replica(opts);
        replica.replicate_from(port, use_gtid);
        replica
    }

    /// Points the (stopped) replica at 127.0.0.1:`port` as the replication
    /// account, by `use_gtid`, with a connect retry and a heartbeat period
    /// of 1 s (so that it notices a lost source and reconnects at once),
    /// and starts it.
    pub(crate) fn replicate_from(&self, port: u16, use_gtid: UseGtid) {
        self.change_master("127.0.0.1", port, REPL_USER, REPL_PASSWORD, use_gtid);
        self.change_master_options("MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=1");
        self.start_slave();
    }

    /// `START SLAVE`.
    pub(crate) fn start_slave(&self) {
        self.sql("START SLAVE");
    }

    /// `STOP SLAVE` (returns once both threads have stopped).
    pub(crate) fn stop_slave(&self) {
        self.sql("STOP SLAVE");
    }

    /// `SHOW SLAVE STATUS`, column name -> value (empty if no replication
    /// is configured).
    pub(crate) fn slave_status(&self) -> HashMap<String, String> {
        let text = self.sql_vertical("SHOW SLAVE STATUS");
        vertical_rows(&text).into_iter().next().unwrap_or_default()
    }

    /// Runs `stmt` with vertical output (`-E`) and returns stdout.
    ///
    /// # Panics
    /// If the client fails.
    pub(crate) fn sql_vertical(&self, stmt: &str) -> String {
        run_vertical(self.client(), stmt).unwrap_or_else(|e| panic!("SQL failed: {stmt}\n{e}"))
    }
}

/// Runs `stmt` with `cmd` (a `mariadb` client command) in vertical mode.
pub(crate) fn run_vertical(mut cmd: Command, stmt: &str) -> Result<String, String> {
    // `--column-names` undoes a `-N` given earlier: vertical output needs them.
    let out = cmd
        .arg("--column-names")
        .arg("-E")
        .arg("-e")
        .arg(stmt)
        .output()
        .expect("spawn the mariadb client");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "mariadb client exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Parses the client's vertical output (`-E`): rows introduced by
/// `*** N. row ***` lines, then `Name: value` lines (values may be empty).
pub(crate) fn vertical_rows(text: &str) -> Vec<HashMap<String, String>> {
    let mut rows: Vec<HashMap<String, String>> = Vec::new();
    for line in text.lines() {
        if line.starts_with("*****") {
            rows.push(HashMap::new());
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let Some(row) = rows.last_mut() else {
            continue;
        };
        let value = value.strip_prefix(' ').unwrap_or(value);
        row.insert(name.trim().to_owned(), value.to_owned());
    }
    rows
}

/// The columns of SHOW SLAVE STATUS that say what the replica is doing.
pub(crate) fn describe_slave_status(st: &HashMap<String, String>) -> String {
    let keys = [
        "Slave_IO_State",
        "Master_Host",
        "Master_Port",
        "Slave_IO_Running",
        "Slave_SQL_Running",
        "Master_Log_File",
        "Read_Master_Log_Pos",
        "Relay_Master_Log_File",
        "Exec_Master_Log_Pos",
        "Using_Gtid",
        "Gtid_IO_Pos",
        "Last_IO_Errno",
        "Last_IO_Error",
        "Last_SQL_Errno",
        "Last_SQL_Error",
        "Slave_SQL_Running_State",
    ];
    keys.iter()
        .map(|k| format!("{k}: {}", st.get(*k).map_or("(absent)", String::as_str)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Panics if the replica's SQL thread hit an error or a replication thread
/// has stopped: both end replication for good.
#[track_caller]
pub(crate) fn assert_replicating(replica: &MariaDb, st: &HashMap<String, String>) {
    let get = |k: &str| st.get(k).map_or("", String::as_str);
    let sql_error = get("Last_SQL_Errno") != "0" && !get("Last_SQL_Errno").is_empty();
    if st.is_empty()
        || sql_error
        || get("Slave_SQL_Running") == "No"
        || get("Slave_IO_Running") == "No"
    {
        panic!(
            "the replica (port {}) is not replicating:\n{}\nreplica error log, last lines:\n{}",
            replica.port(),
            if st.is_empty() {
                "(SHOW SLAVE STATUS is empty)".to_owned()
            } else {
                describe_slave_status(st)
            },
            tail(&replica.error_log(), 25)
        );
    }
}

/// Polls until the replica has applied everything the primary has written:
/// its `@@gtid_slave_pos` equals the primary's `@@gtid_binlog_pos`, and
/// Slave_IO_Running and Slave_SQL_Running are both Yes. Panics at once on
/// a replication error that stops a thread (with Last_IO_Error /
/// Last_SQL_Error), and on timeout with the replica's status.
#[track_caller]
pub(crate) fn wait_replica_caught_up(primary: &MariaDb, replica: &MariaDb, timeout: Duration) {
    wait_replica_caught_up_checking(primary, replica, timeout, &mut || {});
}

/// [`wait_replica_caught_up`], calling `also` at every poll (e.g. to fail
/// fast when binlogserver has exited).
#[track_caller]
pub(crate) fn wait_replica_caught_up_checking(
    primary: &MariaDb,
    replica: &MariaDb,
    timeout: Duration,
    also: &mut dyn FnMut(),
) {
    wait_replica_at(replica, timeout, "the primary's gtid_binlog_pos", &mut || {
        also();
        primary.gtid_binlog_pos()
    });
}

/// Polls until the replica's `@@gtid_slave_pos` equals what `want` returns
/// (asked again at every poll; `source` names it in messages) and
/// Slave_IO_Running and Slave_SQL_Running are both Yes. Panics at once on
/// a replication error that stops a thread, and on timeout with the
/// replica's status.
#[track_caller]
pub(crate) fn wait_replica_at(
    replica: &MariaDb,
    timeout: Duration,
    source: &str,
    want: &mut dyn FnMut() -> String,
) {
    wait_until_ok(timeout, &format!("the replica on port {} to catch up", replica.port()), || {
        let want = want();
        let st = replica.slave_status();
        assert_replicating(replica, &st);
        let have = replica.sql("SELECT @@GLOBAL.gtid_slave_pos");
        let running = st.get("Slave_IO_Running").map(String::as_str) == Some("Yes")
            && st.get("Slave_SQL_Running").map(String::as_str) == Some("Yes");
        if have == want && running {
            Ok(())
        } else {
            Err(format!(
                "replica gtid_slave_pos {have:?}, {source} {want:?}\n{}",
                describe_slave_status(&st)
            ))
        }
    });
}

/// `CHECKSUM TABLE` of every base table of `db`: (table, checksum) sorted
/// by table name.
pub(crate) fn checksum_tables(server: &MariaDb, db: &str) -> Vec<(String, String)> {
    let tables: Vec<String> = server
        .sql(&format!(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{db}' \
             AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME"
        ))
        .lines()
        .map(str::to_owned)
        .collect();
    if tables.is_empty() {
        return Vec::new();
    }
    let list = tables.iter().map(|t| format!("`{db}`.`{t}`")).collect::<Vec<_>>().join(", ");
    let mut sums: Vec<(String, String)> = server
        .sql(&format!("CHECKSUM TABLE {list} EXTENDED"))
        .lines()
        .map(|line| {
            let (name, sum) =
                line.split_once('\t').unwrap_or_else(|| panic!("bad CHECKSUM TABLE row {line:?}"));
            let table = name.split_once('.').map_or(name, |(_, t)| t).to_owned();
            (table, sum.to_owned())
        })
        .collect();
    sums.sort();
    sums
}

/// The databases that are not MariaDB's own, sorted.
pub(crate) fn user_databases(server: &MariaDb) -> Vec<String> {
    server
        .sql(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN \
             ('mysql', 'information_schema', 'performance_schema', 'sys') ORDER BY SCHEMA_NAME",
        )
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The replica has the primary's databases and tables, and CHECKSUM TABLE
/// gives the same result for every table. Returns the number of tables
/// compared.
#[track_caller]
pub(crate) fn assert_same_tables(primary: &MariaDb, replica: &MariaDb) -> usize {
    let dbs = user_databases(primary);
    assert_eq!(user_databases(replica), dbs, "databases on the replica vs the primary");
    let mut compared = 0;
    let mut problems = Vec::new();
    for db in &dbs {
        let theirs = checksum_tables(primary, db);
        let ours = checksum_tables(replica, db);
        if theirs != ours {
            problems.push(format!("{db}: primary {theirs:?}\n    replica {ours:?}"));
        }
        assert!(
            theirs.iter().all(|(_, sum)| sum != "NULL"),
            "CHECKSUM TABLE gave NULL on the primary for {db}: {theirs:?}"
        );
        compared += theirs.len();
    }
    assert!(
        problems.is_empty(),
        "CHECKSUM TABLE differs between the primary and the replica:\n{}",
        problems.join("\n")
    );
    compared
}
