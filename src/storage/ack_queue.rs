//! `AckQueue`: the semi-sync ACK requests of one upstream connection, each
//! released only once the writer has published its position as durable.
//!
//! The dump thread [`push`](AckQueue::push)es a request for every flagged
//! event before the event's bytes go to the writer; the ACK thread (in
//! `upstream`) waits in [`next`](AckQueue::next) for the newest request
//! that the [`Watermark`] covers and writes that one ACK: the primary
//! releases every transaction waiting at or before it. The writer only
//! publishes the watermark after each fsync; it knows nothing of ACKs or
//! sockets, so a primary that stops reading them never holds up an fsync.
//!
//! One queue per connection: the requests of a connection that ended are
//! discarded with its queue, never sent on the next one.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::watermark::{DurablePosition, Watermark};
use crate::binlog::BinlogFileName;

/// Requests kept while none is durable yet; past this the oldest go (a
/// later ACK releases the transactions of the earlier ones too).
const MAX_PENDING: usize = 4096;
/// Longest wait on the watermark between looks at the queue; pushes and
/// closes wake the waiter sooner ([`Watermark::wake`]).
const WAIT_SLICE: Duration = Duration::from_secs(1);

/// A semi-sync acknowledgement to send once its position is durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckRequest {
    /// The primary's (and our) file name.
    pub file: BinlogFileName,
    /// End position of the flagged event.
    pub position: u64,
    /// When the flagged event arrived in the dump thread (for the ACK latency).
    pub arrived: Instant,
}

impl AckRequest {
    /// True when `durable` covers the request (every earlier file is durable too).
    pub fn is_covered_by(&self, durable: &DurablePosition) -> bool {
        (&self.file, self.position) <= (&durable.file, durable.offset)
    }
}

/// How a connection's queue ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// The connection broke or was replaced: send nothing more.
    Discard,
    /// A clean stop: send what becomes durable until `until`, then stop.
    Drain {
        /// When to give up on requests the writer has not made durable.
        until: Instant,
    },
}

#[derive(Debug, Default)]
struct State {
    pending: VecDeque<AckRequest>,
    closed: Option<Close>,
    finished: bool,
}

/// The requests of one connection; cheap to clone (the dump thread and the
/// ACK thread each hold one).
#[derive(Debug, Clone)]
pub struct AckQueue {
    state: Arc<(Mutex<State>, Condvar)>,
    watermark: Watermark,
}

impl AckQueue {
    /// An empty queue released by `watermark`.
    pub fn new(watermark: Watermark) -> Self {
        AckQueue { state: Arc::default(), watermark }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `request`. Call it before the bytes it covers go to the
    /// writer, so that the publish covering it wakes the ACK thread.
    pub fn push(&self, request: AckRequest) {
        let covered = self.watermark.covers(&request.file, request.position);
        {
            let mut s = self.lock();
            if s.pending.len() >= MAX_PENDING {
                s.pending.pop_front();
            }
            s.pending.push_back(request);
        }
        // Already durable (an event the primary re-sent after a reconnect):
        // no publish will come for it, so wake the ACK thread here.
        if covered {
            self.watermark.wake();
        }
    }

    /// Ends the queue; [`AckQueue::next`] returns `None` from now on
    /// (after draining, for [`Close::Drain`]).
    pub fn close(&self, how: Close) {
        self.lock().closed = Some(how);
        self.watermark.wake();
    }

    /// Blocks until a request is durable and returns the newest such one
    /// (dropping the older ones it supersedes); `None` once closed.
    pub fn next(&self) -> Option<AckRequest> {
        loop {
            // The version is read before the queue is looked at, so a
            // publish in between ends the wait at once.
            let version = self.watermark.version();
            let durable = self.watermark.get();
            let slice = {
                let mut s = self.lock();
                if let Some(request) = take_newest_covered(&mut s.pending, durable.as_ref()) {
                    if s.closed != Some(Close::Discard) {
                        return Some(request);
                    }
                }
                match s.closed {
                    Some(Close::Discard) => return None,
                    Some(Close::Drain { until }) => {
                        let left = until.saturating_duration_since(Instant::now());
                        if s.pending.is_empty() || left.is_zero() {
                            return None;
                        }
                        left.min(WAIT_SLICE)
                    }
                    None => WAIT_SLICE,
                }
            };
            self.watermark.wait_change(version, slice);
        }
    }

    /// Notes that the ACK thread ended (whatever the reason).
    pub fn set_finished(&self) {
        self.lock().finished = true;
        self.state.1.notify_all();
    }

    /// Waits until [`AckQueue::set_finished`] or `deadline`; true when finished.
    pub fn wait_finished(&self, deadline: Instant) -> bool {
        let mut s = self.lock();
        while !s.finished {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            s = match self.state.1.wait_timeout(s, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
        true
    }
}

/// Removes and returns the newest request `durable` covers, with every
/// older one (positions only grow along the queue).
fn take_newest_covered(
    pending: &mut VecDeque<AckRequest>,
    durable: Option<&DurablePosition>,
) -> Option<AckRequest> {
    let durable = durable?;
    let covered = pending.iter().take_while(|r| r.is_covered_by(durable)).count();
    pending.drain(..covered).next_back()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    fn name(n: u64) -> BinlogFileName {
        BinlogFileName::new(format!("mysql-bin.{n:06}")).unwrap()
    }

    fn req(file: u64, position: u64) -> AckRequest {
        AckRequest { file: name(file), position, arrived: Instant::now() }
    }

    fn publish(wm: &Watermark, file: u64, offset: u64) {
        wm.publish(DurablePosition { file: name(file), offset });
    }

    #[test]
    fn releases_the_newest_durable_request_and_drops_the_older_ones() {
        let wm = Watermark::new();
        let q = AckQueue::new(wm.clone());
        for pos in [100, 200, 300] {
            q.push(req(1, pos));
        }
        publish(&wm, 1, 250);
        assert_eq!(q.next().map(|r| r.position), Some(200));
        publish(&wm, 2, 4);
        assert_eq!(q.next().map(|r| (r.file, r.position)), Some((name(1), 300)));
        assert!(q.lock().pending.is_empty());
    }

    #[test]
    fn waits_for_the_publish_that_covers_a_request() {
        let wm = Watermark::new();
        publish(&wm, 1, 4);
        let q = AckQueue::new(wm.clone());
        q.push(req(1, 500));
        let taker = {
            let q = q.clone();
            thread::spawn(move || q.next())
        };
        publish(&wm, 1, 499);
        thread::sleep(Duration::from_millis(50));
        assert!(!taker.is_finished(), "499 durable bytes do not cover an ACK at 500");
        publish(&wm, 1, 500);
        assert_eq!(taker.join().unwrap().map(|r| r.position), Some(500));
    }

    #[test]
    fn an_already_durable_request_is_released_without_another_publish() {
        let wm = Watermark::new();
        publish(&wm, 1, 900);
        let q = AckQueue::new(wm.clone());
        let taker = {
            let q = q.clone();
            thread::spawn(move || q.next())
        };
        thread::sleep(Duration::from_millis(20));
        let started = Instant::now();
        q.push(req(1, 900));
        assert_eq!(taker.join().unwrap().map(|r| r.position), Some(900));
        assert!(started.elapsed() < WAIT_SLICE / 2, "woken by the push, not the wait slice");
    }

    #[test]
    fn a_discarded_queue_sends_nothing_even_when_durable() {
        let wm = Watermark::new();
        let q = AckQueue::new(wm.clone());
        q.push(req(1, 100));
        publish(&wm, 1, 100);
        q.close(Close::Discard);
        assert_eq!(q.next(), None);
    }

    #[test]
    fn a_drained_queue_sends_what_becomes_durable_then_ends() {
        let wm = Watermark::new();
        let q = AckQueue::new(wm.clone());
        q.push(req(1, 100));
        q.push(req(1, 200));
        q.close(Close::Drain { until: Instant::now() + Duration::from_secs(10) });
        let taker = {
            let q = q.clone();
            thread::spawn(move || (q.next().map(|r| r.position), q.next()))
        };
        publish(&wm, 1, 200);
        assert_eq!(taker.join().unwrap(), (Some(200), None));
    }

    #[test]
    fn a_drain_gives_up_on_what_never_becomes_durable() {
        let wm = Watermark::new();
        let q = AckQueue::new(wm.clone());
        q.push(req(1, 100));
        let started = Instant::now();
        q.close(Close::Drain { until: started + Duration::from_millis(100) });
        assert_eq!(q.next(), None);
        assert!(started.elapsed() >= Duration::from_millis(100));
    }

    #[test]
    fn a_full_queue_drops_its_oldest_requests() {
        let wm = Watermark::new();
        let q = AckQueue::new(wm.clone());
        for pos in 0..MAX_PENDING as u64 + 10 {
            q.push(req(1, 4 + pos));
        }
        assert_eq!(q.lock().pending.len(), MAX_PENDING);
        assert_eq!(q.lock().pending.front().map(|r| r.position), Some(14));
    }

    #[test]
    fn finished_is_seen_by_a_waiter() {
        let q = AckQueue::new(Watermark::new());
        assert!(!q.wait_finished(Instant::now() + Duration::from_millis(10)));
        let q2 = q.clone();
        let t = thread::spawn(move || q2.wait_finished(Instant::now() + Duration::from_secs(10)));
        q.set_finished();
        assert!(t.join().unwrap());
    }
}
