//! `ByteBudget`: bounds the bytes queued between the dump thread and the
//! writer, so memory stays flat whatever the event sizes.
//!
//! The channel to the writer is bounded by message count; a message can
//! hold one large event, so the count alone does not bound memory. The dump
//! thread takes budget before it queues bytes and the writer returns it once
//! they are written. One message is always admitted when nothing is queued,
//! so an event larger than the whole budget still passes.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Shared between the dump thread (acquire) and the writer (release).
#[derive(Debug, Clone)]
pub struct ByteBudget {
    inner: Arc<(Mutex<State>, Condvar)>,
    limit: u64,
}

#[derive(Debug, Default)]
struct State {
    used: u64,
    closed: bool,
}

impl ByteBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Self {
        ByteBudget { inner: Arc::new((Mutex::new(State::default()), Condvar::new())), limit }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until `n` more bytes fit (or nothing is queued); false once
    /// the budget is closed (the writer is gone).
    pub fn acquire(&self, n: u64) -> bool {
        let mut s = self.lock();
        while !s.closed && s.used > 0 && s.used + n > self.limit {
            s = match self.inner.1.wait_timeout(s, Duration::from_millis(100)) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
        s.used += n;
        !s.closed
    }

    /// Returns `n` bytes.
    pub fn release(&self, n: u64) {
        let mut s = self.lock();
        s.used = s.used.saturating_sub(n);
        drop(s);
        self.inner.1.notify_all();
    }

    /// Wakes and fails every present and future `acquire` (the writer stopped).
    pub fn close(&self) {
        self.lock().closed = true;
        self.inner.1.notify_all();
    }

    /// True once the writer has stopped.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Bytes currently queued.
    pub fn used(&self) -> u64 {
        self.lock().used
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    #[test]
    fn admits_one_oversized_message_when_empty_and_blocks_the_next() {
        let b = ByteBudget::new(10);
        assert!(b.acquire(100));
        let b2 = b.clone();
        let waiter = thread::spawn(move || b2.acquire(1));
        // The waiter cannot proceed until the first message is released.
        thread::sleep(Duration::from_millis(50));
        assert_eq!(b.used(), 100);
        b.release(100);
        assert!(waiter.join().unwrap());
        assert_eq!(b.used(), 1);
    }

    #[test]
    fn a_closed_budget_wakes_and_fails_the_waiter() {
        let b = ByteBudget::new(10);
        assert!(b.acquire(10));
        let b2 = b.clone();
        let waiter = thread::spawn(move || b2.acquire(1));
        b.close();
        assert!(!waiter.join().unwrap());
    }
}
