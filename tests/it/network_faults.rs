//! Network faults on both links of binlogserver, injected by a relay
//! (tests/it/common/relay.rs): primary -> relay -> binlogserver (semi-sync,
//! `--heartbeat 1`) and binlogserver -> relay -> a real MariaDB replica
//! (heartbeat 1 s, connect retry 1 s, `slave_net_timeout` 4 s).
//!
//! Under a continuous small load each fault must end with binlogserver
//! and the replica connected again, binlogserver's files identical to the
//! primary's with every GTID exactly once, and the replica's tables equal
//! to the primary's. Deadlines are generous; nothing asserts on timing.
//!
//! The relay's reset is a FIN or an RST at an arbitrary byte (std has no
//! SO_LINGER), which binlogserver and the replica both see as a connection
//! that broke inside a packet.

use crate::common::{
    assert_gtids_contiguous, assert_same_binlogs, assert_same_tables, big_row, bls_sql,
    count_in_log, largest_event, local_binlog_files, wait_acked, wait_replica_caught_up_checking,
    wait_semi_sync_client, wait_until, wait_until_ok, Load, MariaDb, PrimaryOpts, Relay, RelayDir,
    ReplicaOpts, Topology, UseGtid, DUMP_REQUEST, LINK_LOST,
};
use std::time::Duration;

/// Upper bound for binlogserver or the replica to notice a fault and
/// connect again (a dead link is noticed after 4 heartbeats, 4 s; backoff
/// and a loaded machine add to it).
const RECONNECT: Duration = Duration::from_secs(40);
/// Upper bound for catching up once the load stops.
const CATCH_UP: Duration = Duration::from_secs(60);
/// binlogserver's log line for a dump it serves.
const SERVED_DUMP: &str = "binlog dump started";
/// 20 MiB: one ROWS event spanning two protocol packets.
const BIG_ROW: usize = 20 << 20;

/// A primary, binlogserver and a replica, each link through a relay.
struct Rig {
    /// The primary, the upstream relay and binlogserver.
    top: Topology,
    down: Relay,
    replica: MariaDb,
}

impl Rig {
    fn start() -> Rig {
        let top = Topology::through_relay(PrimaryOpts::default(), &[]);
        let down = Relay::start(top.port);
        let opts = ReplicaOpts {
            extra_args: vec!["--slave-net-timeout=4".to_owned()],
            ..ReplicaOpts::default()
        };
        let replica = MariaDb::replica_of(down.port(), opts, UseGtid::SlavePos);
        Rig { top, down, replica }
    }

    /// The relay between the primary and binlogserver.
    fn up(&self) -> &Relay {
        self.top.relay()
    }

    /// Runs `fault` under a load of two clients; afterwards the load must
    /// make progress again, and once it stops everything must agree.
    fn under_load(&self, what: &str, fault: impl FnOnce(&Load)) {
        eprintln!("--- fault: {what}");
        let load = Load::start(&self.top.primary, 2);
        wait_acked(&load, 20);
        fault(&load);
        wait_acked(&load, 20);
        load.stop();
        self.assert_consistent(what);
    }

    /// binlogserver's files equal the primary's with every GTID once, and
    /// the replica has applied everything.
    fn assert_consistent(&self, what: &str) {
        self.top.wait_caught_up(CATCH_UP);
        self.top.bls.assert_running();
        assert_same_binlogs(&self.top.primary, self.top.data.path());
        assert_gtids_contiguous(&self.top.primary, self.top.data.path());
        wait_replica_caught_up_checking(&self.top.primary, &self.replica, CATCH_UP, &mut || {
            self.top.bls.assert_running()
        });
        let tables = assert_same_tables(&self.top.primary, &self.replica);
        assert!(tables > 0, "after {what}: no tables compared");
        eprintln!("--- after {what}: files, GTIDs and {tables} tables agree");
    }

    /// Waits until binlogserver has logged a lost link and made a new dump
    /// request since `seen`, and both relays saw a new connection since.
    fn wait_reconnected(&self, what: &str, seen: &Seen) {
        wait_until(RECONNECT, &format!("binlogserver to reconnect after {what}"), || {
            self.top.bls.assert_running();
            count_in_log(&self.top.bls, DUMP_REQUEST) > seen.dumps && self.up().accepted() > seen.up
        });
        assert!(
            count_in_log(&self.top.bls, LINK_LOST) > seen.lost,
            "binlogserver reconnected after {what} without logging `{LINK_LOST}`"
        );
        wait_until(RECONNECT, &format!("the replica to reconnect after {what}"), || {
            self.top.bls.assert_running();
            self.down.accepted() > seen.down
        });
        wait_until(
            RECONNECT,
            &format!("the replica's new dump on binlogserver after {what}"),
            || count_in_log(&self.top.bls, SERVED_DUMP) > seen.served,
        );
        // The replica's new dump replaces its stale one on binlogserver.
        wait_until_ok(
            RECONNECT,
            &format!("one replica registered on binlogserver after {what}"),
            || match bls_sql(self.top.port, "SHOW SLAVE HOSTS") {
                Ok(rows) if rows.lines().count() == 1 => Ok(()),
                Ok(rows) => Err(format!("SHOW SLAVE HOSTS:\n{rows}")),
                Err(e) => Err(e),
            },
        );
    }

    /// A link that went silent was dropped by binlogserver's own read
    /// timeout (four heartbeat periods), not closed by anyone.
    fn assert_silence_noticed(&self, what: &str, seen: &Seen) {
        let log = self.top.bls.log();
        let lost: Vec<&str> =
            log.lines().filter(|l| l.contains(LINK_LOST)).skip(seen.lost).collect();
        assert!(
            lost.iter().any(|l| l.contains("timed out")),
            "after {what} binlogserver did not drop the link for silence; lost links:\n{}",
            lost.join("\n")
        );
    }

    fn seen(&self) -> Seen {
        Seen {
            dumps: count_in_log(&self.top.bls, DUMP_REQUEST),
            lost: count_in_log(&self.top.bls, LINK_LOST),
            up: self.up().accepted(),
            down: self.down.accepted(),
            served: count_in_log(&self.top.bls, SERVED_DUMP),
        }
    }
}

/// Counters before a fault.
struct Seen {
    dumps: usize,
    lost: usize,
    up: usize,
    down: usize,
    served: usize,
}

#[test]
fn links_survive_resets_mid_packet_and_trickles() {
    let rig = Rig::start();

    rig.under_load("a reset mid-packet on both links", |_| {
        let seen = rig.seen();
        // A few hundred bytes into a stream of ~500-byte transactions.
        assert!(rig.up().reset_after(RelayDir::ToClient, 777) >= 1, "an upstream link to reset");
        assert!(rig.down.reset_after(RelayDir::ToClient, 555) >= 1, "a downstream link");
        rig.wait_reconnected("a reset mid-packet", &seen);
    });

    rig.under_load("a reset inside a 20 MiB row event", |_| {
        let seen = rig.seen();
        let resets = (rig.up().resets(), rig.down.resets());
        // The load writes far less than 3 MiB before the big event starts.
        rig.up().reset_after(RelayDir::ToClient, 3 << 20);
        rig.down.reset_after(RelayDir::ToClient, 3 << 20);
        big_row(&rig.top.primary, BIG_ROW);
        rig.wait_reconnected("a reset inside a large event", &seen);
        assert!(
            rig.up().resets() > resets.0 && rig.down.resets() > resets.1,
            "both links were cut"
        );
    });
    let largest = local_binlog_files(rig.top.data.path())
        .iter()
        .filter_map(|f| largest_event(&rig.top.data.join(f)))
        .map(|e| e.size)
        .max();
    assert!(
        largest.is_some_and(|s| s as usize > BIG_ROW),
        "the 20 MiB row event is stored (largest event {largest:?})"
    );

    rig.under_load("a one-byte trickle on both links", |load| {
        let seen = rig.seen();
        let (up0, down0) =
            (rig.up().forwarded(RelayDir::ToClient), rig.down.forwarded(RelayDir::ToClient));
        rig.up().set_trickle(true);
        rig.down.set_trickle(true);
        wait_acked(load, 5);
        wait_until(RECONNECT, "4 KiB trickled on both links", || {
            rig.up().forwarded(RelayDir::ToClient) > up0 + 4096
                && rig.down.forwarded(RelayDir::ToClient) > down0 + 4096
        });
        rig.up().set_trickle(false);
        rig.down.set_trickle(false);
        // A slow link is alive: every byte arrived well within a heartbeat.
        assert_eq!(
            count_in_log(&rig.top.bls, LINK_LOST),
            seen.lost,
            "binlogserver dropped a trickling link"
        );
        assert_eq!(
            count_in_log(&rig.top.bls, DUMP_REQUEST),
            seen.dumps,
            "binlogserver reconnected during the trickle"
        );
    });
}

#[test]
fn dead_links_are_noticed_and_replaced() {
    let rig = Rig::start();

    rig.under_load("a stall longer than the heartbeat on both links", |_| {
        let seen = rig.seen();
        assert!(rig.up().stall() >= 1, "an upstream link to stall");
        assert!(rig.down.stall() >= 1, "a downstream link to stall");
        rig.wait_reconnected("a stall", &seen);
        rig.assert_silence_noticed("a stall", &seen);
        rig.up().release();
        rig.down.release();
    });

    // MariaDB 10.11.19 freezes (no new connection gets a greeting) when a
    // semi-sync replica behind a half-open link reconnects: reproduced with
    // a real MariaDB replica in place of binlogserver, so not ours to fix.
    // Semi-sync is off at the primary while its link is half-open.
    rig.top.primary.sql("SET GLOBAL rpl_semi_sync_master_enabled = OFF");
    rig.under_load("half-open links", |_| {
        let seen = rig.seen();
        assert!(rig.up().half_open() >= 1, "an upstream link to cut");
        assert!(rig.down.half_open() >= 1, "a downstream link to cut");
        rig.wait_reconnected("a half-open link", &seen);
        rig.assert_silence_noticed("a half-open link", &seen);
    });
    rig.top.primary.sql("SET GLOBAL rpl_semi_sync_master_enabled = ON");
    wait_semi_sync_client(&rig.top.primary, &rig.top.bls);
    let log = rig.top.bls.log();
    let lost: Vec<&str> = log.lines().filter(|l| l.contains(LINK_LOST)).collect();
    assert!(
        lost.len() >= 2,
        "binlogserver logged fewer than two lost links after a stall and a half-open link:\n{}",
        lost.join("\n")
    );
}
