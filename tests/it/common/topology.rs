//! The set-up most end-to-end tests start from, in one call: a real primary,
//! binlogserver following it as its semi-sync replica (directly or through
//! a [`Relay`]) and serving on a free port, and MariaDB replicas of
//! binlogserver.
//!
//! The order of the set-up is the point. A semi-sync primary without a
//! semi-sync replica stalls every commit for `rpl_semi_sync_master_timeout`
//! and then falls back to asynchronous commits, so the primary starts with
//! the harness's short timeout ([`PrimaryOpts`]) and nothing is written
//! until binlogserver is its semi-sync client. Only then may a test that
//! needs every commit acknowledged raise the timeout
//! ([`Topology::with_ack_timeout`]).

use super::binlogs::{assert_index_matches, assert_same_binlog_set, assert_same_binlogs};
use super::binlogserver::{wait_semi_sync_client, Binlogserver};
use super::faults::follow_port;
use super::mariadb::{MariaDb, PrimaryOpts};
use super::relay::Relay;
use super::replica::{ReplicaOpts, UseGtid};
use super::serving::{listen_addr, start_on_free_port};
use super::TestDir;
use std::time::Duration;

/// A primary and binlogserver following it into `data` and serving on
/// `port`. Fields drop in order: binlogserver is killed before its data
/// directory goes, the relay closes before the primary stops.
#[derive(Debug)]
pub(crate) struct Topology {
    /// binlogserver, started with [`super::FOLLOW_ARGS`], `--listen` and the
    /// constructor's extra arguments.
    pub(crate) bls: Binlogserver,
    /// The port binlogserver serves replicas and clients on.
    pub(crate) port: u16,
    /// binlogserver's data directory.
    pub(crate) data: TestDir,
    /// Between the primary and binlogserver, when started through one.
    relay: Option<Relay>,
    /// The primary.
    pub(crate) primary: MariaDb,
    /// The arguments binlogserver was given after [`super::FOLLOW_ARGS`] and
    /// `--listen`.
    extra: Vec<String>,
}

impl Topology {
    /// A primary started with `opts` and binlogserver following it
    /// directly with `extra` arguments (e.g. `--metrics 127.0.0.1:0`),
    /// serving on a free port. Returns once binlogserver greets clients
    /// and, when the primary has semi-sync, is its semi-sync client.
    pub(crate) fn start(opts: PrimaryOpts, extra: &[&str]) -> Topology {
        Topology::launch(opts, extra, false)
    }

    /// [`Topology::start`] with a [`Relay`] between the primary and
    /// binlogserver ([`Topology::relay`]), for injecting network faults.
    pub(crate) fn through_relay(opts: PrimaryOpts, extra: &[&str]) -> Topology {
        Topology::launch(opts, extra, true)
    }

    fn launch(opts: PrimaryOpts, extra: &[&str], relayed: bool) -> Topology {
        let semi_sync = opts.semi_sync;
        let primary = MariaDb::primary(opts);
        let relay = relayed.then(|| Relay::start(primary.port()));
        let upstream = relay.as_ref().map_or(primary.port(), Relay::port);
        let data = TestDir::new("bls-data");
        let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        let (bls, port) = start_on_free_port(|port| follow_at(upstream, &data, port, &extra));
        if semi_sync {
            wait_semi_sync_client(&primary, &bls);
        }
        Topology { bls, port, data, relay, primary, extra }
    }

    /// Raises the primary's `rpl_semi_sync_master_timeout` to `timeout`,
    /// now that binlogserver is its semi-sync client: from here on a slow
    /// ACK is waited for instead of being counted as a missing one.
    pub(crate) fn with_ack_timeout(self, timeout: Duration) -> Topology {
        self.raise_ack_timeout(timeout);
        self
    }

    /// What [`Topology::with_ack_timeout`] does, again: after a restart the
    /// primary is back at its command line's short timeout, and the test
    /// raises it once binlogserver is its semi-sync client again.
    pub(crate) fn raise_ack_timeout(&self, timeout: Duration) {
        assert_eq!(
            self.primary.status_u64("Rpl_semi_sync_master_clients"),
            1,
            "raise the semi-sync timeout only once binlogserver is the semi-sync client"
        );
        self.primary
            .sql(&format!("SET GLOBAL rpl_semi_sync_master_timeout = {}", timeout.as_millis()));
    }

    /// The relay between the primary and binlogserver.
    ///
    /// # Panics
    /// If the topology was not started [`Topology::through_relay`].
    pub(crate) fn relay(&self) -> &Relay {
        self.relay.as_ref().expect("a topology started through_relay")
    }

    /// Starts another binlogserver like the first (same upstream, data
    /// directory, port and arguments) without waiting for anything: for a
    /// restart after [`Binlogserver::kill9`], or a start that must fail.
    pub(crate) fn follow_again(&self) -> Binlogserver {
        follow_at(self.upstream(), &self.data, self.port, &self.extra)
    }

    /// A MariaDB replica (`opts`) of binlogserver, replicating by `use_gtid`
    /// with [`MariaDb::replicate_from`] (connect retry and heartbeat 1 s).
    pub(crate) fn replica(&self, opts: ReplicaOpts, use_gtid: UseGtid) -> MariaDb {
        MariaDb::replica_of(self.port, opts, use_gtid)
    }

    /// Waits until binlogserver's files hold everything the primary has
    /// written ([`super::wait_caught_up`]).
    #[track_caller]
    pub(crate) fn wait_caught_up(&self, timeout: Duration) {
        super::wait_caught_up(&self.primary, self.data.path(), timeout);
    }

    /// binlogserver's files are the primary's: every file byte-identical,
    /// the same set of files, and an index naming them in order.
    #[track_caller]
    pub(crate) fn assert_same_files(&self) {
        assert_same_binlogs(&self.primary, self.data.path());
        assert_same_binlog_set(&self.primary, self.data.path());
        assert_index_matches(&self.primary, self.data.path());
    }

    fn upstream(&self) -> u16 {
        self.relay.as_ref().map_or(self.primary.port(), Relay::port)
    }
}

/// binlogserver following 127.0.0.1:`upstream` into `data` with
/// [`super::FOLLOW_ARGS`], serving on `port`, then `extra`.
fn follow_at(upstream: u16, data: &TestDir, port: u16, extra: &[String]) -> Binlogserver {
    let addr = listen_addr(port);
    let mut args = vec!["--listen", &addr];
    args.extend(extra.iter().map(String::as_str));
    follow_port(upstream, data.path(), &args)
}
