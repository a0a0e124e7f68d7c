//! The replication controls (issue 10 items 1-6, the upstream side),
//! driven in-process through `binlogserver::start` as the SQL port will
//! drive them (`START`/`STOP SLAVE`, `CHANGE MASTER`, `RESET SLAVE`),
//! against real MariaDB servers:
//!
//! * `STOP SLAVE` stops the dump while serving goes on, `START SLAVE`
//!   resumes where the stored files end with nothing lost or doubled, and
//!   resuming under semi-sync still measures `behind_bytes`;
//! * `CHANGE MASTER` to another binlogserver that holds the same files
//!   levels up from it, then back to the primary;
//! * a fatal error of an upstream set over SQL stops following
//!   (`Slave_IO_Running: No`, `Last_IO_Error`) and serving goes on;
//! * the checked switch to a promoted replica over SQL: refused by `START
//!   SLAVE` while the replica lacks a transaction (nothing changes on
//!   disk), accepted once it caught up from binlogserver, and lasting: a
//!   restart with the dead primary still on the command line follows the
//!   stored upstream, with a warning naming both.

use std::time::Duration;

use binlogserver::status::control::ControlError;
use binlogserver::status::IoState;
use binlogserver::storage::upstream_file::{self, RunState};

use crate::common::{
    admin, assert_continued, assert_dir_unchanged, assert_gtids_contiguous, assert_same_binlogs,
    bls_sql, change_to, detach_and_flush_above, last_local_file, mixed_workload,
    promotable_replica, snapshot_dir, wait_acked, wait_caught_up, wait_files_from,
    wait_replica_caught_up, wait_until, Binlogserver, InProcess, Load, MariaDb, PrimaryOpts,
    TestDir, Topology, UseGtid, BINLOGSERVER_ID, FOLLOW_ARGS,
};

const CATCH_UP: Duration = Duration::from_secs(60);
const IO: Duration = Duration::from_secs(20);

fn wait_semi_sync_clients(primary: &MariaDb, n: u64) {
    wait_until(IO, &format!("Rpl_semi_sync_master_clients = {n}"), || {
        primary.status_u64("Rpl_semi_sync_master_clients") == n
    });
}

#[test]
fn stop_and_start_slave_keep_serving_and_lose_nothing() {
    let primary = MariaDb::primary(PrimaryOpts::default());
    let data = TestDir::new("control-stop-start");
    let bls = InProcess::follow(primary.port(), data.path(), BINLOGSERVER_ID, &[]);
    wait_semi_sync_clients(&primary, 1);
    bls.wait_io(IoState::Yes, IO);
    let load = Load::start(&primary, 2);
    wait_acked(&load, 50);

    bls.stop_slave();
    assert_eq!(bls.status().io, IoState::No);
    assert_eq!(bls.control.stop_slave(&admin()), Ok(true), "a second STOP SLAVE: warning 1255");
    wait_until(IO, "the primary to see no dump thread", || primary.dump_threads().is_empty());
    let stored = upstream_file::load(data.path()).unwrap().expect("STOP SLAVE is stored");
    assert_eq!((stored.run, stored.port), (RunState::Stopped, primary.port()));
    // Serving goes on; the primary commits on after its semi-sync timeout.
    let logs = bls_sql(bls.port, "SHOW BINARY LOGS").expect("SHOW BINARY LOGS while stopped");
    assert!(logs.contains("mysql-bin.000001"), "{logs}");
    wait_acked(&load, 30);
    assert_eq!(
        bls.control.change_master(&change_to(primary.port(), None), &admin()),
        Ok(()),
        "CHANGE MASTER while stopped"
    );

    bls.start_slave();
    assert_eq!(bls.control.start_slave(&admin()), Ok(true), "a second START SLAVE: 1254");
    assert_eq!(
        bls.control.change_master(&change_to(primary.port(), None), &admin()),
        Err(ControlError::MustStop)
    );
    bls.wait_io(IoState::Yes, IO);
    // Resumed under semi-sync: the primary's binlogs are listed on a
    // second connection, so the distance is known again.
    wait_until(IO, "behind_bytes after a semi-sync resume", || {
        bls.assert_running();
        bls.status().behind_bytes.is_some()
    });
    wait_acked(&load, 30);
    load.stop();
    wait_caught_up(&primary, data.path(), CATCH_UP);
    assert_same_binlogs(&primary, data.path());
    assert_gtids_contiguous(&primary, data.path());
    assert_eq!(upstream_file::load(data.path()).unwrap().unwrap().run, RunState::Running);
    bls.stop().expect("a clean stop");
}

#[test]
fn change_master_levels_from_another_binlogserver_then_follows_the_primary() {
    let t = Topology::start(PrimaryOpts::default(), &[]);
    let data2 = TestDir::new("control-level");
    let bls2 = InProcess::follow(t.primary.port(), data2.path(), "1002", &[]);
    mixed_workload(&t.primary, 10);
    wait_caught_up(&t.primary, data2.path(), CATCH_UP);
    bls2.stop_slave();
    // bls2 falls behind while bls1 keeps everything.
    mixed_workload(&t.primary, 20);
    t.primary.sql("FLUSH BINARY LOGS");
    mixed_workload(&t.primary, 10);
    t.wait_caught_up(CATCH_UP);

    bls2.change_master(t.port, None);
    bls2.start_slave();
    wait_caught_up(&t.primary, data2.path(), CATCH_UP);
    assert_same_binlogs(&t.primary, data2.path());
    assert_eq!(bls2.status().port, t.port, "following bls1");

    bls2.stop_slave();
    bls2.change_master(t.primary.port(), None);
    bls2.start_slave();
    mixed_workload(&t.primary, 5);
    wait_caught_up(&t.primary, data2.path(), CATCH_UP);
    assert_same_binlogs(&t.primary, data2.path());
    assert_gtids_contiguous(&t.primary, data2.path());
    bls2.stop().expect("a clean stop");
}

#[test]
fn a_fatal_error_of_an_upstream_set_over_sql_stops_following_and_serving_goes_on() {
    let opts = PrimaryOpts { semi_sync: false, ..PrimaryOpts::default() };
    let primary = MariaDb::primary(opts.clone());
    let data = TestDir::new("control-fatal");
    let bls = InProcess::follow(primary.port(), data.path(), BINLOGSERVER_ID, &[]);
    mixed_workload(&primary, 5);
    wait_caught_up(&primary, data.path(), CATCH_UP);
    // Another server with another history behind the new address.
    let other = MariaDb::primary(opts);
    mixed_workload(&other, 12);

    bls.stop_slave();
    bls.change_master(other.port(), None);
    bls.start_slave();
    wait_until(IO, "the dump to stop on the mismatch", || {
        bls.assert_running();
        let s = bls.status();
        s.io == IoState::No && s.last_io_errno == 1236
    });
    let status = bls.status();
    assert!(status.last_error.contains("do not match"), "{status:?}");
    bls_sql(bls.port, "SHOW BINARY LOGS").expect("serving goes on");
    assert_same_binlogs(&primary, data.path());

    // Fixed over SQL.
    assert_eq!(bls.control.stop_slave(&admin()), Ok(true), "already stopped by the error");
    bls.change_master(primary.port(), None);
    bls.start_slave();
    mixed_workload(&primary, 3);
    wait_caught_up(&primary, data.path(), CATCH_UP);
    assert_same_binlogs(&primary, data.path());
    assert_eq!(bls.status().last_io_errno, 0);
    bls.stop().expect("a clean stop");
}

#[test]
fn a_switch_over_sql_is_checked_at_start_slave_and_lasts_across_a_restart() {
    let mut db1 = MariaDb::primary(PrimaryOpts::default());
    let data = TestDir::new("control-switch");
    let bls = InProcess::follow(db1.port(), data.path(), BINLOGSERVER_ID, &[]);
    wait_semi_sync_clients(&db1, 1);
    let db2 = promotable_replica(bls.port);
    mixed_workload(&db1, 15);
    db1.sql("FLUSH BINARY LOGS");
    mixed_workload(&db1, 5);
    wait_replica_caught_up(&db1, &db2, CATCH_UP);
    // db2 misses the last transaction; then the primary dies.
    db2.stop_slave();
    db1.sql("CREATE DATABASE unreplicated");
    wait_caught_up(&db1, data.path(), CATCH_UP);
    let last_gtid = db1.gtid_binlog_pos();
    db1.stop();
    bls.wait_io(IoState::Connecting, IO);

    bls.stop_slave();
    let next = detach_and_flush_above(&db2, &last_local_file(data.path()));
    bls.change_master(db2.port(), Some(&next));
    let before = snapshot_dir(data.path());
    match bls.control.start_slave(&admin()) {
        Err(ControlError::SwitchRefused(why)) => {
            assert!(why.contains("lacks transactions binlogserver holds"), "{why}");
            assert!(why.contains(&last_gtid), "{why}");
        }
        other => panic!("START SLAVE with a replica one transaction short: {other:?}"),
    }
    assert_dir_unchanged(&before, data.path());
    assert_eq!(bls.status().io, IoState::No);

    // The failover as it should go: db2 catches up from binlogserver,
    // then continues its numbering.
    db2.replicate_from(bls.port, UseGtid::SlavePos);
    wait_until(CATCH_UP, "db2 to catch up from binlogserver", || {
        db2.sql("SELECT @@GLOBAL.gtid_slave_pos") == last_gtid
    });
    let next = detach_and_flush_above(&db2, &next);
    bls.change_master(db2.port(), Some(&next));
    bls.start_slave();
    mixed_workload(&db2, 10);
    wait_files_from(&db2, &next, data.path(), CATCH_UP);
    assert_continued(&db1, &db2, &next, data.path());
    wait_until(IO, "the stored switch to be done with", || {
        upstream_file::load(data.path()).unwrap().unwrap().switch_file.is_none()
    });
    bls.stop().expect("a clean stop");

    // A restart with the dead primary on the command line follows db2.
    let old = Binlogserver::follow_port(db1.port(), data.path(), &FOLLOW_ARGS);
    mixed_workload(&db2, 5);
    wait_files_from(&db2, &next, data.path(), CATCH_UP);
    old.assert_running();
    assert_continued(&db1, &db2, &next, data.path());
    let warning = format!(
        "following the stored upstream repl@127.0.0.1:{} (set by CHANGE MASTER, in \
         binlogserver.upstream) instead of the command line's repl@127.0.0.1:{}",
        db2.port(),
        db1.port()
    );
    let log = old.log();
    assert!(log.lines().any(|l| l.contains(" WARN ") && l.contains(&warning)), "{log}");
}
