//! Supervision of the long-lived threads that [`crate::run`] starts.
//!
//! Each thread is started by name with a body that returns
//! `Result<(), Error>`. Whichever thread ends first, for whatever reason
//! (done, an error, a panic), triggers [`Shutdown`], so the others stop
//! too: a process missing one of its parts never runs on silently.
//! [`Supervisor::wait`] then joins every thread and returns the first
//! failure (by the time its thread ended), which `main` logs and turns
//! into a non-zero exit; any further failure is logged here, once, with
//! its thread's name.

use std::any::Any;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use log::{debug, error};

use crate::error::{Error, Result};
use crate::shutdown::Shutdown;
use crate::upstream::UpstreamError;

/// Run once shutdown is seen, before the threads are joined.
type Waker = Box<dyn FnOnce() + Send>;

/// The supervised threads of one run.
pub struct Supervisor {
    shutdown: Shutdown,
    threads: Vec<(String, JoinHandle<Result<()>>)>,
    /// Thread names in the order the threads ended.
    ended: Arc<Mutex<Vec<String>>>,
    wakers: Vec<Waker>,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.threads.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Supervisor").field("threads", &names).finish_non_exhaustive()
    }
}

/// Triggers shutdown and notes the end of its thread when dropped: when the
/// body returns and also while a panic unwinds.
struct EndNotice {
    name: String,
    shutdown: Shutdown,
    ended: Arc<Mutex<Vec<String>>>,
}

impl Drop for EndNotice {
    fn drop(&mut self) {
        self.ended.lock().unwrap_or_else(PoisonError::into_inner).push(self.name.clone());
        self.shutdown.trigger();
    }
}

impl Supervisor {
    /// No threads yet; `shutdown` stops them all.
    pub fn new(shutdown: Shutdown) -> Self {
        Supervisor { shutdown, threads: Vec::new(), ended: Arc::default(), wakers: Vec::new() }
    }

    /// Runs `wake` once shutdown is seen, before joining: for a thread
    /// blocked where the flag alone cannot reach it (a socket read).
    pub fn on_shutdown(&mut self, wake: impl FnOnce() + Send + 'static) {
        self.wakers.push(Box::new(wake));
    }

    /// Starts thread `name` running `body`.
    ///
    /// # Errors
    /// [`Error::Thread`] when the thread cannot start.
    pub fn spawn<F>(&mut self, name: &'static str, body: F) -> Result<()>
    where
        F: FnOnce() -> Result<()> + Send + 'static,
    {
        let notice = EndNotice {
            name: name.into(),
            shutdown: self.shutdown.clone(),
            ended: self.ended.clone(),
        };
        let handle = thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let _notice = notice;
                body()
            })
            .map_err(|_| Error::Thread(name))?;
        self.threads.push((name.into(), handle));
        Ok(())
    }

    /// Waits for shutdown (a thread ended, or someone triggered it), joins
    /// every thread, and returns the first failure.
    ///
    /// # Errors
    /// The first thread's error, or [`Error::Panicked`].
    pub fn wait(self) -> Result<()> {
        while !self.shutdown.wait(Duration::from_secs(3600)) {}
        for wake in self.wakers {
            wake();
        }
        let mut failures: Vec<(String, Error)> = Vec::new();
        for (name, handle) in self.threads {
            match handle.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failures.push((name, e)),
                Err(panic) => {
                    let message = panic_message(&*panic).to_owned();
                    failures.push((name.clone(), Error::Panicked { thread: name, message }));
                }
            }
        }
        let ended = self.ended.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let rank = |(name, e): &(String, Error)| {
            (is_consequence(e), ended.iter().position(|n| n == name).unwrap_or(usize::MAX))
        };
        failures.sort_by_key(rank);
        let mut failures = failures.into_iter();
        let first = failures.next();
        for (name, e) in failures {
            if is_consequence(&e) {
                debug!("thread={name} stopped: {}", crate::error::chain(&e));
            } else {
                error!("thread={name} failed: {}", crate::error::chain(&e));
            }
        }
        match first {
            Some((_, e)) => Err(e),
            None => Ok(()),
        }
    }
}

/// An error that only follows from another thread's failure (the dump
/// thread's "writer gone" after a storage error).
fn is_consequence(e: &Error) -> bool {
    matches!(e, Error::Upstream(UpstreamError::WriterGone))
}

/// The message a panic was raised with.
fn panic_message(panic: &(dyn Any + Send)) -> &str {
    if let Some(s) = panic.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "(no message)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::StorageError;

    #[test]
    fn a_thread_that_ends_stops_the_others_and_its_error_is_returned() {
        let shutdown = Shutdown::new();
        let mut s = Supervisor::new(shutdown.clone());
        let waiter = shutdown.clone();
        s.spawn("waits", move || {
            while !waiter.wait(Duration::from_secs(60)) {}
            Ok(())
        })
        .unwrap();
        s.spawn("fails", || Err(Error::Storage(StorageError::Poisoned))).unwrap();
        let err = s.wait().unwrap_err();
        assert!(matches!(err, Error::Storage(StorageError::Poisoned)), "{err:?}");
    }

    #[test]
    fn a_panic_is_an_error_with_its_thread_and_message() {
        let mut s = Supervisor::new(Shutdown::new());
        s.spawn("retention", || panic!("index is {}", "gone")).unwrap();
        match s.wait() {
            Err(Error::Panicked { thread, message }) => {
                assert_eq!((thread.as_str(), message.as_str()), ("retention", "index is gone"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_root_cause_wins_over_its_consequence_and_an_orderly_stop_is_ok() {
        let mut s = Supervisor::new(Shutdown::new());
        s.spawn("upstream-dump", || Err(Error::Upstream(UpstreamError::WriterGone))).unwrap();
        s.spawn("binlog-writer", || {
            thread::sleep(Duration::from_millis(50));
            Err(Error::Storage(StorageError::Poisoned))
        })
        .unwrap();
        assert!(matches!(s.wait(), Err(Error::Storage(_))));

        let shutdown = Shutdown::new();
        let mut s = Supervisor::new(shutdown.clone());
        s.spawn("listener", || Ok(())).unwrap();
        shutdown.trigger();
        assert!(s.wait().is_ok());
    }
}
