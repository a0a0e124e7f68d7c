//! The `retention` thread and the limits it enforces (`--expire-logs-days`,
//! `--binlog-expire-logs-seconds`, `--max-total-size`).
//!
//! The thread checks the limits at start, after every rotation (it looks at
//! the durable end once a second) and every hour, and purges through the
//! one [`Purger`] that `PURGE BINARY LOGS` also uses. A storage error ends it
//! with that error, which `run` reports and turns into a non-zero exit.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use log::info;

use super::purge::{PurgeError, Purger, Reason};
use super::selection::Criterion;
use super::watermark::Watermark;
use crate::shutdown::Shutdown;

/// How often the `retention` thread checks the limits without a rotation.
pub const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);

/// The limits the `retention` thread enforces.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RetentionPolicy {
    /// `--expire-logs-days` (as a duration): files closed longer ago go.
    pub expire: Option<Duration>,
    /// `--max-total-size`: the oldest files go while the total is above it.
    pub max_total_size: Option<u64>,
}

impl RetentionPolicy {
    /// True when there is nothing to enforce.
    pub fn is_empty(&self) -> bool {
        self.expire.is_none() && self.max_total_size.is_none()
    }

    /// Applies the limits once at `now` (seconds since the epoch).
    pub fn apply(&self, purger: &Purger, now: u64) -> Result<(), PurgeError> {
        if let Some(expire) = self.expire {
            purger
                .purge(&Criterion::Before(now.saturating_sub(expire.as_secs())), Reason::Expire)?;
        }
        if let Some(limit) = self.max_total_size {
            purger.purge(&Criterion::MaxTotalSize(limit), Reason::MaxTotalSize)?;
        }
        Ok(())
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The `retention` thread: applies `policy` at start, after every
/// rotation and every [`RETENTION_INTERVAL`], until `shutdown`.
#[derive(Debug)]
pub struct Retention {
    /// Carries out the purges.
    pub purger: Arc<Purger>,
    /// The limits.
    pub policy: RetentionPolicy,
    /// The durable end (its file changes at every rotation).
    pub watermark: Watermark,
    /// Ends the thread.
    pub shutdown: Shutdown,
}

impl Retention {
    /// Runs until shutdown.
    ///
    /// # Errors
    /// The first failed purge: the thread stops, and with it the process.
    pub fn run(self) -> Result<(), PurgeError> {
        info!(
            "retention started expire_secs={:?} max_total_size={:?}",
            self.policy.expire.map(|d| d.as_secs()),
            self.policy.max_total_size
        );
        let mut file = None;
        let mut last = None::<Instant>;
        loop {
            let current = self.watermark.get().map(|w| w.file);
            if current != file || last.is_none_or(|t| t.elapsed() >= RETENTION_INTERVAL) {
                self.policy.apply(&self.purger, unix_now())?;
                file = current;
                last = Some(Instant::now());
            }
            if self.shutdown.wait(Duration::from_secs(1)) {
                return Ok(());
            }
        }
    }
}
