//! The `retention` thread and the limits it enforces (`--expire-logs-days`,
//! `--binlog-expire-logs-seconds`, `--max-total-size`).
//!
//! The thread checks the limits at start, after every rotation (it looks at
//! the durable end once a second) and every hour, and purges through the
//! one [`Purger`] that `PURGE BINARY LOGS` also uses. A storage error ends it
//! with that error, which `run` reports and turns into a non-zero exit.

use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use log::{error, info};

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

/// Starts the `retention` thread: applies `policy` at start, after every
/// rotation and every [`RETENTION_INTERVAL`], until `shutdown`.
pub fn spawn_retention(
    purger: Arc<Purger>,
    policy: RetentionPolicy,
    watermark: Watermark,
    shutdown: Shutdown,
) -> std::io::Result<JoinHandle<()>> {
    thread::Builder::new().name("retention".into()).spawn(move || {
        info!(
            "retention started expire_secs={:?} max_total_size={:?}",
            policy.expire.map(|d| d.as_secs()),
            policy.max_total_size
        );
        let mut file = None;
        let mut last = None::<Instant>;
        loop {
            let current = watermark.get().map(|w| w.file);
            if current != file || last.is_none_or(|t| t.elapsed() >= RETENTION_INTERVAL) {
                if let Err(e) = policy.apply(&purger, unix_now()) {
                    error!("retention stopped, restart to recover: {e}");
                    return;
                }
                file = current;
                last = Some(Instant::now());
            }
            if shutdown.wait(Duration::from_secs(1)) {
                return;
            }
        }
    })
}
