//! The exporter's connection slots: at most [`Limits::max_connections`]
//! connections are served at once, each by its own short-lived thread.
//!
//! A full table makes room by closing its oldest connection: a scrape is
//! answered within milliseconds of its connect, so the oldest connection is
//! the one most likely to be a client that trickles its request (a
//! slowloris), and a new scraper always gets a slot. Closing is a
//! `shutdown` of a clone of the socket, which wakes the thread blocked on
//! it; the thread then ends and frees nothing more (its slot is gone).

use std::net::{Shutdown, TcpStream};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// The exporter's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; a new one closes the oldest.
    pub max_connections: usize,
    /// From accept to close: the request, the answer and the drain.
    pub deadline: Duration,
}

/// Connections served at once by default.
pub const MAX_CONNECTIONS: usize = 16;
/// Default deadline of a whole exporter connection.
pub const DEADLINE: Duration = Duration::from_secs(5);

impl Default for Limits {
    fn default() -> Self {
        Limits { max_connections: MAX_CONNECTIONS, deadline: DEADLINE }
    }
}

#[derive(Debug)]
struct Slot {
    id: u64,
    /// A clone of the connection's socket, to close it from outside.
    socket: TcpStream,
}

/// The connections being served, oldest first.
#[derive(Debug)]
pub struct Slots {
    max: usize,
    taken: Mutex<Vec<Slot>>,
}

impl Slots {
    /// Room for `max` connections (at least one).
    pub fn new(max: usize) -> Self {
        Slots { max: max.max(1), taken: Mutex::new(Vec::new()) }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Slot>> {
        self.taken.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a slot for connection `id` (its socket cloned as `socket`);
    /// when all are taken, closes the oldest connection first and returns
    /// its id.
    pub fn take(&self, id: u64, socket: TcpStream) -> Option<u64> {
        let mut taken = self.lock();
        let evicted = (taken.len() >= self.max).then(|| taken.remove(0)).map(|old| {
            let _ = old.socket.shutdown(Shutdown::Both);
            old.id
        });
        taken.push(Slot { id, socket });
        evicted
    }

    /// Frees the slot of connection `id` (nothing if it was evicted).
    pub fn free(&self, id: u64) {
        self.lock().retain(|s| s.id != id);
    }

    /// Connections holding a slot.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no connection holds a slot.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Closes every connection (at shutdown).
    pub fn close_all(&self) {
        for s in self.lock().drain(..) {
            let _ = s.socket.shutdown(Shutdown::Both);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;

    /// A connected pair: (our end, the server's end).
    fn pair(l: &TcpListener) -> (TcpStream, TcpStream) {
        let client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (server, _) = l.accept().unwrap();
        (client, server)
    }

    #[test]
    fn a_full_table_closes_its_oldest_connection() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let slots = Slots::new(2);
        let (mut c1, s1) = pair(&l);
        let (_c2, s2) = pair(&l);
        let (_c3, s3) = pair(&l);
        assert_eq!(slots.take(1, s1.try_clone().unwrap()), None);
        assert_eq!(slots.take(2, s2.try_clone().unwrap()), None);
        assert_eq!(slots.take(3, s3.try_clone().unwrap()), Some(1));
        assert_eq!(slots.len(), 2);
        // The evicted connection is closed: its client reads the end.
        c1.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(c1.read(&mut [0u8; 8]).unwrap(), 0);
        slots.free(1);
        slots.free(2);
        assert_eq!(slots.len(), 1);
        slots.close_all();
        assert!(slots.is_empty());
    }
}
