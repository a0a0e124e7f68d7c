//! `Shutdown`: a cloneable flag that long-lived threads check, with a
//! wait that returns early when it is set.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Shared stop flag.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    inner: Arc<(Mutex<bool>, Condvar)>,
}

impl Shutdown {
    /// A flag that is not set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the flag and wakes every waiter.
    pub fn trigger(&self) {
        let mut g = self.inner.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *g = true;
        self.inner.1.notify_all();
    }

    /// True once triggered.
    pub fn is_set(&self) -> bool {
        *self.inner.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sleeps for `d` or until triggered; true when triggered.
    pub fn wait(&self, d: Duration) -> bool {
        let g = self.inner.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (g, _) = self
            .inner
            .1
            .wait_timeout_while(g, d, |set| !*set)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *g
    }
}
