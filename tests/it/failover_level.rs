//! Two binlogservers through a failover, over SQL as a DBA runs it (issue
//! 10 item 7): leveling, each refusal of a switch, and the old primary
//! coming back; against real MariaDB 10.11 servers and the binary.
//!
//! db1 (semi-sync AFTER_SYNC, its timeout an hour) has two binlogservers,
//! bls1 and bls2, both its semi-sync clients, and clients that record every
//! commit that returned. bls2 is stopped (`STOP SLAVE` as its admin) during
//! the load, then db1 is killed with SIGKILL. bls2 levels from bls1
//! (`CHANGE MASTER TO` bls1 without `MASTER_LOG_FILE`) until the two hold
//! the same files byte for byte. On bls1, each wrong switch is refused with
//! the data directory unchanged: a file it holds (ERR 1210 at `CHANGE
//! MASTER`), a candidate one transaction short and one that wrote a
//! transaction of its own (ERR 1236 at `START SLAVE`, naming the GTIDs).
//! Then both binlogservers continue with the promoted replica's next file,
//! which counts both as semi-sync clients; under load every commit is
//! acknowledged and both end with the same files, db1's prefix then the new
//! primary's. Last, db1 restarted as it was is refused while bls1 follows
//! the new primary: with its new file (it lacks the new primary's
//! transactions) and by a plain resume (the bytes differ; following stops
//! with `Last_IO_Errno` 1236 and serving goes on); bls1 then resumes from
//! the new primary.

use std::path::Path;
use std::time::Duration;

use crate::common::{
    admin_err, admin_ok, assert_acked_present, assert_acked_rows, assert_continued_after_crash,
    assert_continuous, assert_dir_unchanged, assert_prefix_of_dead_primary, assert_verify_clean,
    bls_gtid_binlog_pos, bls_slave_status, change_master_to, create_torture_schema,
    detach_and_flush_above, fall_behind, flush_until_above, last_local_file, listen_addr,
    promotable_replica, promote, snapshot_dir, start_on_free_port, stored_transactions,
    wait_files_from, wait_replica_has_bls, wait_same_files, wait_semi_sync_on, wait_until,
    wait_until_ok, AckLog, AckedLoad, Binlogserver, DirSnapshot, MariaDb, PrimaryOpts, ReplicaOpts,
    TestDir, Topology, UseGtid, ADMIN_ARGS, FOLLOW_ARGS,
};

const HOUR: Duration = Duration::from_secs(3600);
const CATCH_UP: Duration = Duration::from_secs(90);
const WITHIN: Duration = Duration::from_secs(60);
const CLIENTS: usize = 4;

/// A second binlogserver (server id 1002, the admin account) following the
/// server on 127.0.0.1:`upstream` into `data`; it and its SQL port.
fn second_binlogserver(upstream: u16, data: &TestDir) -> (Binlogserver, u16) {
    start_on_free_port(|port| {
        let addr = listen_addr(port);
        let args = [&FOLLOW_ARGS[..], &["--listen", &addr], &ADMIN_ARGS[..]].concat();
        Binlogserver::follow_port_as(upstream, data.path(), "1002", &args)
    })
}

/// Waits until binlogserver on `port` reports `Slave_IO_Running` `io` and
/// `Last_IO_Errno` `errno`; returns its `Last_IO_Error`.
#[track_caller]
fn wait_io(port: u16, io: &str, errno: &str) -> String {
    let mut error = String::new();
    wait_until_ok(WITHIN, &format!("binlogserver's IO to be {io} with errno {errno}"), || {
        let st = bls_slave_status(port);
        let got = ["Slave_IO_Running", "Last_IO_Errno"].map(|k| st.get(k).cloned());
        error = st.get("Last_IO_Error").cloned().unwrap_or_default();
        match got {
            [Some(i), Some(e)] if i == io && e == errno => Ok(()),
            _ => Err(format!("{got:?} {error}")),
        }
    });
    error
}

/// Every file of `dir` but the stored upstream.
fn binlogs(dir: &Path) -> DirSnapshot {
    let mut files = snapshot_dir(dir);
    files.remove("binlogserver.upstream");
    files
}

/// A replica of binlogserver on `port` by GTID, promotable, detached once
/// it has everything binlogserver has, plus `own` statements of its own;
/// its binlog numbering pushed past `last`. Returns it and its new file.
fn candidate(port: u16, last: &str, own: &str) -> (MariaDb, String) {
    let db = promotable_replica(port);
    wait_replica_has_bls(port, &db, CATCH_UP);
    db.sql("STOP SLAVE; RESET SLAVE ALL");
    if !own.is_empty() {
        db.sql(own);
    }
    let file = flush_until_above(&db, last);
    (db, file)
}

/// `START SLAVE` on binlogserver on `port` after `CHANGE MASTER TO` the
/// server on `to` with `file` is refused with ERR 1236 naming each of
/// `needles`; nothing in `dir` changes.
#[track_caller]
fn assert_switch_refused(port: u16, dir: &Path, to: u16, file: &str, needles: &[&str]) {
    admin_ok(port, &change_master_to(to, Some(file)));
    let before = snapshot_dir(dir);
    let e = admin_err(port, "START SLAVE", 1236);
    for needle in needles {
        assert!(e.contains(needle), "the refusal of {file} does not name {needle:?}: {e}");
    }
    assert_eq!(bls_slave_status(port)["Slave_IO_Running"], "No", "after the refusal");
    assert_dir_unchanged(&before, dir);
}

#[test]
fn a_lagging_binlogserver_levels_and_each_wrong_switch_over_sql_changes_nothing() {
    let mut t = Topology::start(PrimaryOpts::default(), &ADMIN_ARGS);
    let data2 = TestDir::new("bls2-data");
    let (bls2, port2) = second_binlogserver(t.primary.port(), &data2);
    wait_until(WITHIN, "two semi-sync clients on db1", || {
        t.primary.status_u64("Rpl_semi_sync_master_clients") == 2
    });
    t.primary.sql(&format!("SET GLOBAL rpl_semi_sync_master_timeout = {}", HOUR.as_millis()));
    create_torture_schema(&t.primary);
    let r1 = t.replica(ReplicaOpts::promotable(), UseGtid::SlavePos);
    let short = promotable_replica(t.port);
    let acked = AckLog::default();

    // bls2 stops following during the load; db1 is killed under it.
    let load = AckedLoad::start(&t.primary, 100, CLIENTS, &acked);
    wait_until(WITHIN, "200 returned commits", || load.count() >= 200);
    admin_ok(port2, "STOP SLAVE");
    fall_behind(&short);
    wait_until(WITHIN, "1000 returned commits", || load.count() >= 1000);
    assert_eq!(t.primary.status_u64("Rpl_semi_sync_master_no_tx"), 0, "a commit went unACKed");
    t.primary.stop();
    load.stop_after_crash();
    let before_kill = acked.lock().expect("ack log").clone();
    let dir = t.data.path();
    let copy = assert_prefix_of_dead_primary(&t.primary, dir);
    assert_acked_present(&copy.stored, &before_kill, "bls1's files after the kill");
    let behind = bls_gtid_binlog_pos(port2);

    // bls2 levels from bls1.
    admin_ok(port2, &format!("{}; START SLAVE", change_master_to(t.port, None)));
    let levelled = wait_same_files(dir, data2.path(), CATCH_UP);
    assert_eq!(bls_gtid_binlog_pos(port2), bls_gtid_binlog_pos(t.port), "bls2 levelled");
    eprintln!("bls2 levelled from {behind} in {} ms", levelled.as_millis());
    // Stopped before bls1 moves on, so that both continue with r1's file.
    admin_ok(port2, "STOP SLAVE");

    // Each wrong switch on bls1 changes nothing.
    let last = last_local_file(dir);
    admin_ok(t.port, "STOP SLAVE");
    let before = snapshot_dir(dir);
    let e = admin_err(t.port, &change_master_to(r1.port(), Some(&last)), 1210);
    assert!(e.contains(&last), "{e}");
    assert_dir_unchanged(&before, dir);
    let short_file = detach_and_flush_above(&short, &last);
    let bls_pos = bls_gtid_binlog_pos(t.port);
    assert_switch_refused(t.port, dir, short.port(), &short_file, &["lacks", &bls_pos]);
    let (own, own_file) = candidate(t.port, &last, "CREATE DATABASE written_before_the_switch");
    let own_gtid = own.gtid_binlog_pos();
    assert_switch_refused(t.port, dir, own.port(), &own_file, &["holds transactions", &own_gtid]);

    // The promotion; both binlogservers continue with r1's next file.
    wait_replica_has_bls(t.port, &r1, CATCH_UP);
    let r1 = promote(r1);
    let switch = flush_until_above(&r1, &last);
    for port in [t.port, port2] {
        let change = change_master_to(r1.port(), Some(&switch));
        admin_ok(port, &format!("STOP SLAVE; {change}; START SLAVE"));
    }
    wait_semi_sync_on(&r1, 2, WITHIN);
    r1.sql(&format!("SET GLOBAL rpl_semi_sync_master_timeout = {}", HOUR.as_millis()));
    let load = AckedLoad::start(&r1, 200, CLIENTS, &acked);
    wait_until(WITHIN, "300 commits on the new primary", || load.count() >= 300);
    load.stop();
    assert_eq!(r1.status_u64("Rpl_semi_sync_master_no_tx"), 0, "a commit went unACKed on r1");
    wait_files_from(&r1, &switch, dir, CATCH_UP);
    wait_same_files(dir, data2.path(), CATCH_UP);
    assert_continued_after_crash(&t.primary, &r1, &switch, dir);
    let all = acked.lock().expect("ack log").clone();
    let stored = stored_transactions(dir);
    assert_acked_present(&stored, &all, "bls1's files after the switch");
    assert_continuous(&stored, "bls1's files across the switch");
    assert_acked_rows(&r1, &all, "the new primary");

    // db1 comes back as it was: never followed again.
    t.primary.restart();
    let db1_file = flush_until_above(&t.primary, &last_local_file(dir));
    admin_ok(t.port, "STOP SLAVE");
    assert_switch_refused(t.port, dir, t.primary.port(), &db1_file, &["lacks transactions"]);
    // The refused switch stays pending for that host until RESET SLAVE.
    admin_ok(t.port, &format!("RESET SLAVE; {}", change_master_to(t.primary.port(), None)));
    let before = binlogs(dir);
    admin_ok(t.port, "START SLAVE");
    let error = wait_io(t.port, "No", "1236");
    eprintln!("a resume on the old primary: {error}");
    assert!(error.contains("primary refused the binlog dump"), "{error}");
    // The stored upstream says it stopped; the binlogs are as they were.
    assert!(binlogs(dir) == before, "a refused resume changed binlogserver's binlogs");
    admin_ok(t.port, &format!("{}; START SLAVE", change_master_to(r1.port(), None)));
    wait_io(t.port, "Yes", "0");
    r1.sql("CREATE DATABASE after_the_old_primary_came_back");
    wait_files_from(&r1, &switch, dir, CATCH_UP);
    wait_same_files(dir, data2.path(), CATCH_UP);
    assert_verify_clean(dir);
    assert_verify_clean(data2.path());
    t.bls.assert_running();
    bls2.assert_running();
}
