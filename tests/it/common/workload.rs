//! Writes on the primary: a deterministic mixed workload, one very large
//! row, and a concurrent load of many small commits.
//!
//! Each helper reports how many binlog transactions it made (the GTID
//! sequence delta), because that is what semi-sync counts.

use super::mariadb::MariaDb;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// Runs `n` steps of inserts, updates, deletes, savepoints, rollbacks,
/// non-transactional (Aria) writes and DDL in a fresh schema, most steps
/// being multi-statement transactions. Returns the number of binlog
/// transactions written (n + 3 for the schema setup; checked).
pub(crate) fn mixed_workload(primary: &MariaDb, n: usize) -> u64 {
    static SCHEMAS: AtomicUsize = AtomicUsize::new(0);
    let db = format!("w{}", SCHEMAS.fetch_add(1, Ordering::Relaxed));
    let before = primary.gtid_seq();
    let script = mixed_script(&db, n);
    primary.sql_script(&script);
    let made = primary.gtid_seq() - before;
    let expected = n as u64 + 3;
    assert_eq!(
        made, expected,
        "mixed_workload({n}) in {db} wrote {made} binlog transactions, expected {expected}"
    );
    made
}

fn mixed_script(db: &str, n: usize) -> String {
    let mut s = String::new();
    let t = format!("{db}.t");
    // Three setup transactions.
    let _ = write!(
        s,
        "CREATE DATABASE {db};\n\
         CREATE TABLE {t} (id INT AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL, v VARCHAR(255), \
         d DECIMAL(12,3), j TEXT, ts DATETIME(6), KEY (k)) ENGINE=InnoDB;\n\
         CREATE TABLE {db}.a (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(100)) ENGINE=Aria;\n"
    );
    let row = |k: usize, tag: &str| {
        format!("({k}, 'v-{k}-{tag}', {k}.5, REPEAT('j{tag}', {}), NOW(6))", 20 + k % 50)
    };
    let cols = "(k, v, d, j, ts)";
    let mut tables: Vec<String> = Vec::new();
    let mut columns: Vec<String> = Vec::new();
    // Every step writes exactly one binlog transaction.
    for i in 0..n {
        match i % 8 {
            0 => {
                let _ = write!(
                    s,
                    "BEGIN; INSERT INTO {t} {cols} VALUES {}, {}, {}; \
                     UPDATE {t} SET v = CONCAT(v, '+') WHERE k = {i};",
                    row(i, "a"),
                    row(i + 1, "b"),
                    row(i + 2, "c")
                );
                if let Some(d) = tables.last() {
                    let _ = write!(s, " INSERT INTO {d} VALUES ({i}, 'x{i}');");
                }
                s.push_str(" COMMIT;\n");
            }
            1 => {
                let _ = writeln!(
                    s,
                    "BEGIN; INSERT INTO {t} {cols} VALUES {}, {}; \
                     DELETE FROM {t} WHERE k = {i} AND v LIKE '%-b'; \
                     UPDATE {t} SET d = d + 1 WHERE k = {i}; COMMIT;",
                    row(i, "a"),
                    row(i, "b")
                );
            }
            2 => {
                let _ =
                    writeln!(s, "UPDATE {t} SET j = CONCAT(j, 'x') WHERE k < {i} AND k % 3 = 0;");
            }
            3 => ddl_step(&mut s, db, i, &mut tables, &mut columns),
            4 => {
                let _ =
                    writeln!(s, "INSERT INTO {db}.a (note) VALUES ('aria {i}'), ('aria {i} b');");
            }
            5 => {
                let _ = writeln!(
                    s,
                    "BEGIN; INSERT INTO {t} {cols} VALUES {}; SAVEPOINT sp; \
                     INSERT INTO {t} {cols} VALUES {}; ROLLBACK TO SAVEPOINT sp; \
                     UPDATE {t} SET v = 'sp' WHERE k = {i}; COMMIT;",
                    row(i, "a"),
                    row(i, "rolled-back")
                );
            }
            6 => {
                // The rolled-back transaction writes nothing to the binlog.
                let _ = writeln!(
                    s,
                    "BEGIN; INSERT INTO {t} {cols} VALUES {}; ROLLBACK; \
                     INSERT INTO {t} {cols} VALUES {};",
                    row(i, "gone"),
                    row(i, "a")
                );
            }
            _ => {
                let _ = writeln!(
                    s,
                    "BEGIN; DELETE FROM {t} WHERE k = {}; \
                     INSERT INTO {t} {cols} VALUES {}; COMMIT;",
                    i - 7,
                    row(i, "r")
                );
            }
        }
    }
    s
}

fn ddl_step(
    s: &mut String,
    db: &str,
    i: usize,
    tables: &mut Vec<String>,
    columns: &mut Vec<String>,
) {
    let t = format!("{db}.t");
    match (i / 8) % 4 {
        0 => {
            let d = format!("{db}.d{i}");
            let _ =
                writeln!(s, "CREATE TABLE {d} (a INT PRIMARY KEY, b VARCHAR(20)) ENGINE=InnoDB;");
            tables.push(d);
        }
        1 => {
            let c = format!("c{i}");
            let _ = writeln!(s, "ALTER TABLE {t} ADD COLUMN {c} INT DEFAULT {i};");
            columns.push(c);
        }
        2 => match columns.pop() {
            Some(c) => {
                let _ = writeln!(s, "ALTER TABLE {t} DROP COLUMN {c};");
            }
            None => {
                let _ = writeln!(s, "ALTER TABLE {t} COMMENT = 'step {i}';");
            }
        },
        _ => match tables.pop() {
            Some(d) => {
                let _ = writeln!(s, "DROP TABLE {d};");
            }
            None => {
                let _ = writeln!(s, "CREATE TABLE {db}.e{i} (a INT) ENGINE=InnoDB;");
            }
        },
    }
}

/// Inserts one LONGBLOB row of `bytes` bytes, so that the primary writes a
/// single ROWS event of about that size (above 16 MiB it spans several
/// protocol packets). Returns the number of binlog transactions written.
pub(crate) fn big_row(primary: &MariaDb, bytes: usize) -> u64 {
    // A 31-byte pattern: a chunk moved by a multiple of 2^n bytes shows up.
    const PATTERN: &str = "abcdefghijklmnopqrstuvwxyz01234";
    let before = primary.gtid_seq();
    primary.sql_script(&format!(
        "CREATE DATABASE IF NOT EXISTS big;\n\
         CREATE TABLE IF NOT EXISTS big.blobs (id INT AUTO_INCREMENT PRIMARY KEY, b LONGBLOB) \
             ENGINE=InnoDB;\n\
         INSERT INTO big.blobs (b) \
             VALUES (CONCAT(REPEAT('{PATTERN}', {}), LEFT('{PATTERN}', {})));\n",
        bytes / PATTERN.len(),
        bytes % PATTERN.len()
    ));
    let len: usize = primary
        .sql("SELECT LENGTH(b) FROM big.blobs ORDER BY id DESC LIMIT 1")
        .parse()
        .expect("LENGTH(b) is a number");
    assert_eq!(len, bytes, "big_row stored a row of the wrong size");
    primary.gtid_seq() - before
}

/// Concurrent small commits from `clients` long-lived `mariadb` processes,
/// each fed statements on stdin one at a time; a commit counts as
/// acknowledged when the client has printed the `SELECT` that follows it.
/// Every commit inserts exactly one row into `loadgen.t`.
#[derive(Debug)]
pub(crate) struct Load {
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicU64>,
    failed: Arc<Mutex<Option<String>>>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Load {
    /// Creates `loadgen.t` if needed and starts the clients.
    pub(crate) fn start(primary: &MariaDb, clients: usize) -> Load {
        static CLIENT_IDS: AtomicUsize = AtomicUsize::new(0);
        primary.sql(
            "CREATE DATABASE IF NOT EXISTS loadgen; \
             CREATE TABLE IF NOT EXISTS loadgen.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, \
             client INT NOT NULL, seq BIGINT NOT NULL, pad VARCHAR(255), \
             UNIQUE KEY (client, seq)) ENGINE=InnoDB",
        );
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(Mutex::new(None));
        let threads = (0..clients)
            .map(|_| {
                let id = CLIENT_IDS.fetch_add(1, Ordering::Relaxed);
                let child = primary.piped_client();
                let (stop, acked, failed) = (stop.clone(), acked.clone(), failed.clone());
                thread::Builder::new()
                    .name(format!("load-{id}"))
                    .spawn(move || {
                        if let Err(e) = run_client(id, child, &stop, &acked) {
                            failed.lock().expect("failed lock").get_or_insert(e);
                        }
                    })
                    .expect("spawn a load thread")
            })
            .collect();
        Load { stop, acked, failed, threads }
    }

    /// Commits acknowledged so far.
    ///
    /// # Panics
    /// If a client has failed (its error is in the message).
    pub(crate) fn acked(&self) -> u64 {
        if let Some(e) = self.failed.lock().expect("failed lock").as_ref() {
            panic!("a load client failed: {e}");
        }
        self.acked.load(Ordering::SeqCst)
    }

    /// Stops the clients after their current commit; returns the total
    /// number of acknowledged commits.
    ///
    /// # Panics
    /// If any client failed.
    pub(crate) fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            t.join().expect("load thread panicked");
        }
        self.acked()
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn run_client(
    id: usize,
    mut child: Child,
    stop: &AtomicBool,
    acked: &AtomicU64,
) -> Result<(), String> {
    let mut stdin = child.stdin.take().expect("piped stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut line = String::new();
    let mut seq: u64 = 0;
    let mut result = Ok(());
    while !stop.load(Ordering::SeqCst) {
        seq += 1;
        let insert = format!(
            "INSERT INTO loadgen.t (client, seq, pad) VALUES ({id}, {seq}, REPEAT('p{seq}', 20))"
        );
        // Every fifth commit is an explicit two-statement transaction.
        let stmt = match seq % 5 {
            0 => format!(
                "BEGIN; {insert}; \
                 UPDATE loadgen.t SET pad = CONCAT(pad, 'u') WHERE client = {id} AND seq = {seq}; \
                 COMMIT; SELECT {seq};\n"
            ),
            _ => format!("{insert}; SELECT {seq};\n"),
        };
        if let Err(e) = stdin.write_all(stmt.as_bytes()).and_then(|()| stdin.flush()) {
            result = Err(format!("client {id}: write to mariadb failed at seq {seq}: {e}"));
            break;
        }
        line.clear();
        match stdout.read_line(&mut line) {
            Ok(0) => {
                result = Err(format!("client {id}: mariadb exited at seq {seq}"));
                break;
            }
            Ok(_) if line.trim() == seq.to_string() => {
                acked.fetch_add(1, Ordering::SeqCst);
            }
            Ok(_) => {
                result = Err(format!("client {id}: expected {seq}, got {line:?}"));
                break;
            }
            Err(e) => {
                result = Err(format!("client {id}: read from mariadb failed: {e}"));
                break;
            }
        }
    }
    drop(stdin);
    let status = child.wait().map_err(|e| format!("client {id}: wait: {e}"))?;
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    match result {
        Ok(()) if status.success() => Ok(()),
        Ok(()) => Err(format!("client {id}: mariadb exited with {status}: {}", stderr.trim())),
        Err(e) => Err(format!("{e}; exit {status}; stderr: {}", stderr.trim())),
    }
}

/// Waits (up to 30 s) until `load` has `more` further acknowledged commits.
pub(crate) fn wait_acked(load: &Load, more: u64) {
    let target = load.acked() + more;
    super::wait_until(
        std::time::Duration::from_secs(30),
        &format!("{target} acknowledged load commits"),
        || load.acked() >= target,
    );
}
