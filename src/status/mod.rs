//! State shared below the two sides of binlogserver: what the upstream
//! (our replica side), the server (our primary side) and the writer report
//! while they run, and the exporter reads. It sits under `upstream`,
//! `server` and `storage` so that none of them imports another to share it.
//!
//! * [`Counters`]: the counters and histograms the hot paths bump (relaxed
//!   atomics only, no lock, no allocation);
//! * [`upstream::UpstreamStatus`]: the upstream connection as `SHOW SLAVE
//!   STATUS` describes it, and [`upstream::replica_uuid`];
//! * [`histogram::Histogram`]: fixed-bucket latency histograms;
//! * [`control::ReplicationControl`]: the admin statements' way to the
//!   upstream side (`STOP`/`START SLAVE`, `CHANGE MASTER`, `RESET SLAVE`).
//!
//! No I/O, no threads here.
//!
//! Who writes what:
//! * the upstream dump thread: bytes/events received, the timestamp of the
//!   last event and whether it caught up; the upstream status;
//! * the writer thread: the fdatasync latency histogram;
//! * the semi-sync ACK sender: ACKs sent and the ACK latency histogram
//!   (from the flagged event's arrival in the dump thread to the ACK
//!   written on the socket).

pub mod control;
pub mod histogram;
pub mod upstream;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use histogram::Histogram;
pub use upstream::{IoState, UpstreamStatus};

/// Counters and histograms updated by the dump and writer threads.
#[derive(Debug, Default)]
pub struct Counters {
    /// Event bytes received from the primary (every event, heartbeats included).
    pub bytes_received: AtomicU64,
    /// Events received from the primary (every event, heartbeats included).
    pub events_received: AtomicU64,
    /// Semi-sync ACKs written to the primary.
    pub acks_sent: AtomicU64,
    /// `fdatasync` latency of the binlog file being written.
    pub fsync: Histogram,
    /// From a flagged event's arrival to its ACK written on the socket.
    pub ack_latency: Histogram,
    /// Header timestamp (seconds since the epoch) of the last stored event; 0 if none yet.
    pub last_event_timestamp: AtomicU64,
    /// True once the dump reached the primary's end as seen at connect.
    pub caught_up: AtomicBool,
}

impl Counters {
    /// Counts one event of `len` bytes received from the primary.
    pub fn event_received(&self, len: usize) {
        self.events_received.fetch_add(1, Ordering::Relaxed);
        self.bytes_received.fetch_add(len as u64, Ordering::Relaxed);
    }

    /// Seconds behind the primary at `now_unix`, like `Seconds_Behind_Master`:
    /// 0 once caught up, else the age of the last event received.
    pub fn seconds_behind(&self, now_unix: u64) -> u64 {
        let ts = self.last_event_timestamp.load(Ordering::Relaxed);
        if self.caught_up.load(Ordering::Relaxed) || ts == 0 {
            0
        } else {
            now_unix.saturating_sub(ts)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_behind_is_the_age_of_the_last_event_until_caught_up() {
        let m = Counters::default();
        assert_eq!(m.seconds_behind(1_000), 0, "nothing received yet");
        m.last_event_timestamp.store(900, Ordering::Relaxed);
        assert_eq!(m.seconds_behind(1_000), 100);
        assert_eq!(m.seconds_behind(800), 0, "a primary clock ahead of ours is not negative lag");
        m.caught_up.store(true, Ordering::Relaxed);
        assert_eq!(m.seconds_behind(1_000), 0);
    }
}
