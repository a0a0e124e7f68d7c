//! `Watermark`: the durable end of the stored binlogs, published by the
//! writer after each fsync and read by everyone else.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::binlog::BinlogFileName;

/// A durable position: everything in `file` before `offset` (and every
/// earlier file) is fsync'd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurablePosition {
    /// The file.
    pub file: BinlogFileName,
    /// Byte offset in it.
    pub offset: u64,
}

#[derive(Debug, Default)]
struct Inner {
    pos: Option<DurablePosition>,
    version: u64,
}

/// Shared, cheaply cloned; one writer publishes, many read or wait.
#[derive(Debug, Clone, Default)]
pub struct Watermark {
    inner: Arc<(Mutex<Inner>, Condvar)>,
}

impl Watermark {
    /// An empty watermark (nothing stored yet).
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock means a thread panicked while publishing; the
        // position it holds is still a valid earlier value.
        self.inner.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Publishes a new durable end and wakes waiters.
    pub fn publish(&self, pos: DurablePosition) {
        let mut g = self.lock();
        g.pos = Some(pos);
        g.version += 1;
        drop(g);
        self.inner.1.notify_all();
    }

    /// Wakes every waiter without moving the durable end (the version
    /// changes, the position does not): for a waiter that also waits on
    /// something else, such as the ACK queue.
    pub fn wake(&self) {
        self.lock().version += 1;
        self.inner.1.notify_all();
    }

    /// True when the durable end is at or past `offset` of `file` (or in a
    /// later file); no allocation, unlike [`Watermark::get`].
    pub fn covers(&self, file: &BinlogFileName, offset: u64) -> bool {
        self.lock().pos.as_ref().is_some_and(|p| (file, offset) <= (&p.file, p.offset))
    }

    /// The current durable end.
    pub fn get(&self) -> Option<DurablePosition> {
        self.lock().pos.clone()
    }

    /// Waits until the watermark changes after `version` (see [`Watermark::version`]) or
    /// `timeout` passes.
    pub fn wait_change(&self, version: u64, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        let mut g = self.lock();
        while g.version == version {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            g = match self.inner.1.wait_timeout(g, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
        g.version
    }

    /// Waits until the durable end covers `offset` of `file`; false when
    /// `give_up` (asked at every publish, and every 100 ms) says so first.
    pub fn wait_covers(
        &self,
        file: &BinlogFileName,
        offset: u64,
        give_up: impl Fn() -> bool,
    ) -> bool {
        loop {
            let version = self.version();
            if self.covers(file, offset) {
                return true;
            }
            if give_up() {
                return false;
            }
            self.wait_change(version, Duration::from_millis(100));
        }
    }

    /// A counter that changes with every publish.
    pub fn version(&self) -> u64 {
        self.lock().version
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: u64) -> BinlogFileName {
        BinlogFileName::new(format!("mysql-bin.{n:06}")).unwrap()
    }

    #[test]
    fn covers_positions_up_to_the_durable_end_and_every_earlier_file() {
        let wm = Watermark::new();
        assert!(!wm.covers(&name(1), 4), "nothing is durable yet");
        wm.publish(DurablePosition { file: name(2), offset: 500 });
        assert!(wm.covers(&name(2), 500));
        assert!(!wm.covers(&name(2), 501));
        assert!(wm.covers(&name(1), 1 << 40), "an earlier file is durable whole");
        assert!(!wm.covers(&name(3), 4));
    }

    #[test]
    fn wake_changes_the_version_but_not_the_position() {
        let wm = Watermark::new();
        wm.publish(DurablePosition { file: name(1), offset: 4 });
        let version = wm.version();
        wm.wake();
        assert_eq!(wm.wait_change(version, Duration::from_secs(5)), version + 1);
        assert_eq!(wm.get(), Some(DurablePosition { file: name(1), offset: 4 }));
    }

    #[test]
    fn wait_covers_returns_once_published_or_when_told_to_give_up() {
        let wm = Watermark::new();
        let publisher = wm.clone();
        let t = std::thread::spawn(move || {
            publisher.publish(DurablePosition { file: name(1), offset: 100 });
            publisher.publish(DurablePosition { file: name(1), offset: 200 });
        });
        assert!(wm.wait_covers(&name(1), 200, || false));
        t.join().unwrap();
        assert!(!wm.wait_covers(&name(1), 201, || true), "gives up instead of waiting");
    }
}
