//! Catch-up progress of the dump thread: a `catching up` line every few
//! seconds until binlogserver reaches the primary's end as listed at
//! connect, the `caught up` line once that position is durable here, and
//! the figures behind `Seconds_Behind_Master`-style metrics and `SHOW SLAVE
//! STATUS` (bytes behind, timestamp of the last stored event).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use log::{debug, info};

use crate::binlog::BinlogFileName;
use crate::protocol::Reader;
use crate::status::Counters;
use crate::storage::watermark::Watermark;

/// Interval of progress lines while catching up.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// Interval of status refreshes for `SHOW SLAVE STATUS`.
const STATUS_EVERY: Duration = Duration::from_secs(1);

/// Catch-up progress: a line every few seconds until we reach the primary's end.
pub(super) struct Progress {
    primary_logs: Vec<(String, u64)>,
    /// The primary's binlogs were listed at connect (not when resuming under
    /// semi-sync: then the first heartbeat, sent only when the primary has
    /// nothing more, says we caught up).
    listed: bool,
    last: Instant,
    last_status: Instant,
    bytes: u64,
    pub(super) caught_up: bool,
    /// Header timestamp of the last stored event (0: none yet).
    last_timestamp: u32,
    /// The "caught up" line and the position it names, logged once that
    /// position is durable ([`Progress::take_announcement`]).
    announce: Option<(String, BinlogFileName, u64)>,
}

impl Progress {
    pub(super) fn new(primary_logs: Vec<(String, u64)>, listed: bool) -> Self {
        let caught_up = listed && primary_logs.is_empty();
        let now = Instant::now();
        Progress {
            primary_logs,
            listed,
            last: now,
            last_status: now,
            bytes: 0,
            caught_up,
            last_timestamp: 0,
            announce: None,
        }
    }

    /// The "caught up" line, once the writer has made its position durable:
    /// checked after every event and heartbeat, it never waits, and it
    /// follows the writer's "new binlog file" line of the same file.
    pub(super) fn take_announcement(&mut self, durable: &Watermark) -> Option<String> {
        let (_, file, pos) = self.announce.as_ref()?;
        if !durable.covers(file, *pos) {
            return None;
        }
        self.announce.take().map(|(line, ..)| line)
    }

    /// True once the primary's binlogs were listed.
    pub(super) fn listed(&self) -> bool {
        self.listed
    }

    /// The primary's binlogs as listed after the dump started (by the
    /// second connection of a resume under semi-sync): from now on the
    /// distance is known, as if listed at connect.
    pub(super) fn set_listing(&mut self, logs: Vec<(String, u64)>) {
        if self.listed || logs.is_empty() {
            return;
        }
        self.primary_logs = logs;
        self.listed = true;
    }

    /// A heartbeat: the primary had nothing to send for a heartbeat period.
    pub(super) fn heartbeat(&mut self, file: &BinlogFileName, pos: u64, counters: &Counters) {
        if !self.caught_up {
            self.caught_up = true;
            counters.caught_up.store(true, Ordering::Relaxed);
            let line = format!(
                "caught up with the primary (idle: heartbeat received) file={file} position={pos}"
            );
            self.announce = Some((line, file.clone(), pos));
        }
    }

    /// Notes the header timestamp of a stored event (artificial events carry 0).
    pub(super) fn stored(&mut self, event: &[u8]) {
        let mut r = Reader::new(event);
        if let Ok(ts) = r.u32_le("event timestamp") {
            if ts != 0 {
                self.last_timestamp = ts;
            }
        }
    }

    pub(super) fn new_file(&mut self, file: &BinlogFileName, create: bool) {
        if !create {
            debug!("continuing binlog file file={file}");
        }
    }

    /// Bytes between `file:pos` and the primary's end as seen at connect;
    /// 0 in a file newer than all of those (nothing known to be ahead).
    pub(super) fn behind(&self, file: &BinlogFileName, pos: u64) -> Option<u64> {
        let Some(idx) = self.primary_logs.iter().position(|(n, _)| n == file.as_str()) else {
            let (last, _) = self.primary_logs.last()?;
            return BinlogFileName::new(last).ok().filter(|last| last < file).map(|_| 0);
        };
        let rest: u64 = self.primary_logs.iter().skip(idx + 1).map(|(_, s)| s).sum();
        let here = self.primary_logs.get(idx).map_or(0, |(_, s)| s.saturating_sub(pos));
        Some(here + rest)
    }

    /// Counts an event; true about once a second (time to refresh the status).
    pub(super) fn tick(
        &mut self,
        file: &BinlogFileName,
        pos: u64,
        event_len: u64,
        counters: &Counters,
    ) -> bool {
        self.bytes += event_len;
        let refresh = self.last_status.elapsed() >= STATUS_EVERY;
        if refresh {
            self.last_status = Instant::now();
            counters.last_event_timestamp.store(u64::from(self.last_timestamp), Ordering::Relaxed);
        }
        if self.caught_up {
            return refresh;
        }
        let behind = self.behind(file, pos);
        if !self.listed {
            return refresh;
        }
        if behind == Some(0) || behind.is_none() {
            self.caught_up = true;
            counters.caught_up.store(true, Ordering::Relaxed);
            let line =
                format!("caught up with the primary (durable here) file={file} position={pos}");
            self.announce = Some((line, file.clone(), pos));
            return true;
        }
        let elapsed = self.last.elapsed();
        if elapsed >= PROGRESS_EVERY {
            let mb_s = self.bytes as f64 / elapsed.as_secs_f64() / 1e6;
            info!(
                "catching up file={file} position={pos} rate_mb_s={mb_s:.1} behind_bytes={} \
                 acks_sent={}",
                behind.unwrap_or_default(),
                counters.acks_sent.load(Ordering::Relaxed)
            );
            self.last = Instant::now();
            self.bytes = 0;
        }
        refresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> BinlogFileName {
        BinlogFileName::new(s).unwrap()
    }

    #[test]
    fn behind_counts_to_the_connect_time_end_and_is_zero_past_it() {
        let p = Progress::new(vec![("b.000001".into(), 1000), ("b.000002".into(), 300)], true);
        assert_eq!(p.behind(&name("b.000001"), 400), Some(600 + 300));
        assert_eq!(p.behind(&name("b.000002"), 300), Some(0));
        // The primary rotated after we connected: we are at its newest file.
        assert_eq!(p.behind(&name("b.000003"), 4), Some(0));
        assert_eq!(p.behind(&name("a.000001"), 4), None);
        assert_eq!(Progress::new(Vec::new(), true).behind(&name("b.000001"), 4), None);
    }

    #[test]
    fn unlisted_resumes_catch_up_at_the_first_heartbeat() {
        let counters = Counters::default();
        let mut p = Progress::new(Vec::new(), false);
        assert!(!p.caught_up);
        p.tick(&name("b.000001"), 400, 100, &counters);
        assert!(!p.caught_up, "no listing: an event says nothing about the primary's end");
        p.heartbeat(&name("b.000001"), 400, &counters);
        assert!(p.caught_up && counters.caught_up.load(Ordering::Relaxed));
    }

    #[test]
    fn a_listing_that_comes_late_gives_the_distance() {
        let counters = Counters::default();
        let mut p = Progress::new(Vec::new(), false);
        assert_eq!(p.behind(&name("b.000001"), 400), None);
        p.set_listing(Vec::new());
        assert_eq!(p.behind(&name("b.000001"), 400), None, "an empty answer says nothing");
        p.set_listing(vec![("b.000001".into(), 1000), ("b.000002".into(), 300)]);
        assert_eq!(p.behind(&name("b.000001"), 400), Some(900));
        p.tick(&name("b.000002"), 300, 100, &counters);
        assert!(p.caught_up, "listed: reaching the listed end is catching up");
    }
}
