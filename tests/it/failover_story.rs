//! The whole failover of issue 10's user story, against real MariaDB 10.11
//! servers and the binary, each step over SQL as a DBA takes it.
//!
//! The primary db1 (semi-sync AFTER_SYNC, its timeout raised to an hour
//! once binlogserver acknowledges), binlogserver bls1 following it with an
//! admin account, a promotable replica r1 of bls1 (by GTID), a replica r2
//! of db1 itself that lags (its IO thread stopped early), and clients that
//! record every commit that returned. db1 is killed with SIGKILL under
//! load. Then the DBA's steps: (1) r1 has everything bls1 has (its
//! `@@gtid_slave_pos` is bls1's `@@gtid_binlog_pos`); (2) r1 is promoted;
//! (3) `FLUSH BINARY LOGS` on r1 until its file number is above bls1's
//! last; (4) on bls1, as the admin: `STOP SLAVE; CHANGE MASTER TO ...
//! MASTER_LOG_FILE='<r1's file>', MASTER_LOG_POS=4; START SLAVE`.
//!
//! Asserted: r1's semi-sync comes ON with bls1 as its one semi-sync client,
//! and under load on r1 `Rpl_semi_sync_master_yes_tx` grows by exactly the
//! commits while `no_tx` stays; r2, repointed at bls1 by GTID, catches up;
//! a fresh replica r3 reading bls1 from its first file by file and
//! position (no GTID) crosses the join from db1's last file (which ends
//! without a ROTATE) into r1's; r1, r2 and r3 end with equal tables and
//! every returned commit, before the kill and after; bls1's files are a
//! byte prefix of db1's up to the crash (db1's last file may hold
//! transactions never acknowledged: counted) and r1's from the switch file
//! on, their GTIDs run without gap or duplicate across the join, and
//! `binlogserver verify` is clean. It prints the time from `START SLAVE`
//! to semi-sync ON on r1, and how long r2 took to level (transactions and
//! milliseconds). `BLS_FAILOVER_SEED` replays a run.

use std::thread;
use std::time::{Duration, Instant};

use crate::common::{
    admin_ok, assert_acked_present, assert_acked_rows, assert_continued_after_crash,
    assert_continuous, assert_prefix_of_dead_primary, assert_same_tables, assert_verify_clean,
    bls_gtid_binlog_pos, bls_slave_status, change_master_to, create_torture_schema, fall_behind,
    flush_until_above, gtid_seq_of, last_local_file, local_binlog_files, promote, repoint,
    stored_transactions, wait_files_from, wait_replica_caught_up, wait_replica_has_bls,
    wait_semi_sync_on, wait_until, wait_until_ok, AckLog, Acked, AckedLoad, MariaDb, PrimaryOpts,
    ReplicaOpts, Rng, Topology, UseGtid, ADMIN_ARGS, REPL_PASSWORD, REPL_USER,
};

/// The semi-sync timeout under test: a primary never gives up waiting.
const HOUR: Duration = Duration::from_secs(3600);
const CATCH_UP: Duration = Duration::from_secs(90);
const WITHIN: Duration = Duration::from_secs(60);
const CLIENTS: usize = 4;

fn snapshot(log: &AckLog) -> Vec<Acked> {
    log.lock().expect("ack log").clone()
}

/// A fresh replica reading binlogserver on `port` from its first file by
/// file and position, without GTID.
fn replica_from_first_file(port: u16) -> MariaDb {
    let r = MariaDb::replica(ReplicaOpts::default());
    r.sql(&format!(
        "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={port}, \
         MASTER_USER='{REPL_USER}', MASTER_PASSWORD='{REPL_PASSWORD}', \
         MASTER_LOG_FILE='mysql-bin.000001', MASTER_LOG_POS=4, MASTER_USE_GTID=no, \
         MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=1; START SLAVE"
    ));
    r
}

/// `SHOW SLAVE STATUS` of binlogserver on `port` says it follows the
/// server on `upstream`, connected.
#[track_caller]
fn assert_following(port: u16, upstream: u16) {
    wait_until_ok(WITHIN, "binlogserver to follow the new primary", || {
        let st = bls_slave_status(port);
        let got = ["Slave_IO_Running", "Master_Port", "Last_IO_Errno"]
            .map(|k| st.get(k).cloned().unwrap_or_default());
        match got {
            [io, p, errno] if io == "Yes" && p == upstream.to_string() && errno == "0" => Ok(()),
            _ => Err(format!("{got:?}")),
        }
    });
}

#[test]
fn the_promotion_of_the_user_story_loses_nothing_and_reconfigures_no_replica() {
    let (mut rng, seed) = Rng::from_env("BLS_FAILOVER_SEED");
    eprintln!("failover story: BLS_FAILOVER_SEED={seed}");
    let mut t = Topology::start(PrimaryOpts::default(), &ADMIN_ARGS).with_ack_timeout(HOUR);
    create_torture_schema(&t.primary);
    let r1 = t.replica(ReplicaOpts::promotable(), UseGtid::SlavePos);
    let r2 = MariaDb::replica_of(t.primary.port(), ReplicaOpts::default(), UseGtid::SlavePos);
    let acked = AckLog::default();

    // Load on db1; r2 stops reading from it early; SIGKILL under load.
    let load = AckedLoad::start(&t.primary, 100, CLIENTS, &acked);
    wait_until(WITHIN, "100 returned commits", || load.count() >= 100);
    fall_behind(&r2);
    let kill_after = 1000 + rng.below(1000);
    wait_until(WITHIN, &format!("{kill_after} returned commits"), || {
        t.bls.assert_running();
        load.count() >= kill_after
    });
    assert_eq!(t.primary.status_u64("Rpl_semi_sync_master_no_tx"), 0, "a commit went unACKed");
    thread::sleep(Duration::from_micros(rng.below(3000)));
    t.primary.stop();
    let cut = load.stop_after_crash();
    let before_kill = snapshot(&acked);

    // What binlogserver holds, while db1 is dead.
    let dir = t.data.path();
    let copy = assert_prefix_of_dead_primary(&t.primary, dir);
    assert_acked_present(&copy.stored, &before_kill, "binlogserver's files after the kill");
    let bls_pos = bls_gtid_binlog_pos(t.port);
    eprintln!(
        "killed db1 after {} returned commits ({cut} clients cut); binlogserver holds {:?} up to \
         {bls_pos}; db1's unacknowledged tail: {} transactions",
        before_kill.len(),
        local_binlog_files(dir),
        copy.unacked.len()
    );

    // (1) The replica that has everything binlogserver has; r2 has not.
    wait_replica_has_bls(t.port, &r1, CATCH_UP);
    let lagging_at = r2.sql("SELECT @@GLOBAL.gtid_slave_pos");
    assert!(gtid_seq_of(&lagging_at) < gtid_seq_of(&bls_pos), "r2 at {lagging_at}");
    // (2) Promote it; (3) continue binlogserver's numbering.
    let r1 = promote(r1);
    assert_eq!(r1.gtid_binlog_pos(), bls_pos, "the promoted replica's GTID state");
    let switch = flush_until_above(&r1, &last_local_file(dir));
    // (4) On binlogserver, as the admin.
    admin_ok(t.port, &format!("STOP SLAVE; {}", change_master_to(r1.port(), Some(&switch))));
    let begin = Instant::now();
    admin_ok(t.port, "START SLAVE");
    wait_semi_sync_on(&r1, 1, WITHIN);
    let semi_sync_on = begin.elapsed();
    assert_following(t.port, r1.port());
    eprintln!(
        "START SLAVE on binlogserver to semi-sync ON on the new primary: {} ms (switch to \
         {switch})",
        semi_sync_on.as_millis()
    );
    r1.sql(&format!("SET GLOBAL rpl_semi_sync_master_timeout = {}", HOUR.as_millis()));

    // Every commit on the new primary waits for binlogserver's ACK.
    let (yes0, no0) = semi_sync_tx(&r1);
    let load = AckedLoad::start(&r1, 200, CLIENTS, &acked);
    wait_until(WITHIN, "300 commits on the new primary", || load.count() >= 300);
    load.stop();
    let on_r1 = snapshot(&acked).len() - before_kill.len();
    let (yes, no) = semi_sync_tx(&r1);
    assert_eq!((yes - yes0, no - no0), (on_r1 as u64, 0), "r1's semi-sync yes_tx, no_tx");

    // The lagging replica of the dead primary, repointed at binlogserver.
    let behind = gtid_seq_of(&bls_gtid_binlog_pos(t.port)) - gtid_seq_of(&lagging_at);
    let begin = Instant::now();
    repoint(&r2, t.port);
    wait_replica_has_bls(t.port, &r2, CATCH_UP);
    let levelled = begin.elapsed();
    eprintln!(
        "the lagging replica levelled from {lagging_at}: {behind} transactions in {} ms",
        levelled.as_millis()
    );

    // More load on r1; a replica reading binlogserver from its first file.
    let load = AckedLoad::start(&r1, 300, CLIENTS, &acked);
    let r3 = replica_from_first_file(t.port);
    wait_until(WITHIN, "200 more commits on the new primary", || load.count() >= 200);
    load.stop();
    for r in [&r2, &r3] {
        wait_replica_caught_up(&r1, r, CATCH_UP);
    }
    let all = snapshot(&acked);
    for (name, server) in [("r1", &r1), ("r2", &r2), ("r3", &r3)] {
        assert_acked_rows(server, &all, name);
    }
    assert_same_tables(&r1, &r2);
    assert_same_tables(&r1, &r3);
    let st = r3.slave_status();
    let (live, _) = r1.master_status();
    assert_eq!((st["Using_Gtid"].as_str(), &st["Master_Log_File"]), ("No", &live), "r3");

    // binlogserver's files: db1's up to the crash, r1's from the switch on.
    wait_files_from(&r1, &switch, dir, CATCH_UP);
    let end = assert_continued_after_crash(&t.primary, &r1, &switch, dir);
    assert_eq!(end.unacked, copy.unacked, "db1's unacknowledged tail");
    let stored = stored_transactions(dir);
    assert_acked_present(&stored, &all, "binlogserver's files at the end");
    let last = assert_continuous(&stored, "binlogserver's files across the switch");
    let verify = assert_verify_clean(dir);
    t.bls.assert_running();
    eprintln!(
        "failover story summary: commits_returned={} before_kill={} unacked_tail={} \
         semi_sync_on_ms={} lagging_replica_levelled={behind}_transactions_in_{}_ms \
         transactions={last} switch={switch} seed={seed}\n{}",
        all.len(),
        before_kill.len(),
        copy.unacked.len(),
        semi_sync_on.as_millis(),
        levelled.as_millis(),
        verify.lines().last().unwrap_or_default()
    );
}

/// `Rpl_semi_sync_master_yes_tx` and `no_tx` of `primary`.
fn semi_sync_tx(primary: &MariaDb) -> (u64, u64) {
    (
        primary.status_u64("Rpl_semi_sync_master_yes_tx"),
        primary.status_u64("Rpl_semi_sync_master_no_tx"),
    )
}
