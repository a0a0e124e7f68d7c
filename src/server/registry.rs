//! The registry of downstream connections: ids, kill switches, registered
//! replicas (`SHOW SLAVE HOSTS`), dump positions, and the file each dump
//! reads, which purges must not remove ([`Readers`]).
//!
//! Lock order: the connections, then the purge fence.

use std::collections::HashMap;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::info::SlaveHost;
use crate::binlog::BinlogFileName;
use crate::storage::purge::Readers;

#[derive(Debug)]
struct Entry {
    peer: SocketAddr,
    socket: Option<TcpStream>,
    killed: Arc<AtomicBool>,
    slave: Option<SlaveHost>,
    dump_server_id: Option<u32>,
    position: Option<(String, u64)>,
    user: String,
    reading: Option<BinlogFileName>,
}

/// What an operator may see of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionView {
    /// Connection id.
    pub id: u32,
    /// Client address.
    pub peer: SocketAddr,
    /// Server id of its binlog dump, if dumping.
    pub dump_server_id: Option<u32>,
    /// Last position sent, if dumping.
    pub position: Option<(String, u64)>,
    /// The user it logged in as (empty before authentication).
    pub user: String,
}

/// All live downstream connections.
#[derive(Debug)]
pub struct Registry {
    conns: Mutex<HashMap<u32, Entry>>,
    next_id: AtomicU32,
    /// The first file a purge keeps: no dump may start reading an older one.
    fence: Mutex<Option<BinlogFileName>>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            conns: Mutex::new(HashMap::new()),
            next_id: AtomicU32::new(1),
            fence: Mutex::new(None),
        }
    }
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<u32, Entry>> {
        self.conns.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a connection; returns its id and kill flag, or `None` past `max`.
    pub fn register(
        &self,
        peer: SocketAddr,
        socket: Option<TcpStream>,
        max: usize,
    ) -> Option<(u32, Arc<AtomicBool>)> {
        let mut conns = self.lock();
        if conns.len() >= max {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let killed = Arc::new(AtomicBool::new(false));
        conns.insert(
            id,
            Entry {
                peer,
                socket,
                killed: Arc::clone(&killed),
                slave: None,
                dump_server_id: None,
                position: None,
                user: String::new(),
                reading: None,
            },
        );
        Some((id, killed))
    }

    /// Removes a finished connection.
    pub fn unregister(&self, id: u32) {
        self.lock().remove(&id);
    }

    /// Records the user `id` logged in as.
    pub fn set_user(&self, id: u32, user: &str) {
        if let Some(e) = self.lock().get_mut(&id) {
            e.user = user.to_owned();
        }
    }

    /// Records `COM_REGISTER_SLAVE`.
    pub fn set_slave(&self, id: u32, slave: SlaveHost) {
        if let Some(e) = self.lock().get_mut(&id) {
            e.slave = Some(slave);
        }
    }

    /// Marks `id` as dumping for `server_id` and kills older dumps of the
    /// same replica (a reconnecting replica replaces its stale connection).
    pub fn start_dump(&self, id: u32, server_id: u32) {
        let mut conns = self.lock();
        if server_id != 0 {
            for (other, e) in conns.iter_mut() {
                if *other != id && e.dump_server_id == Some(server_id) {
                    kill_entry(e);
                }
            }
        }
        if let Some(e) = conns.get_mut(&id) {
            e.dump_server_id = Some(server_id);
        }
    }

    /// Records the last position sent to `id`.
    pub fn set_position(&self, id: u32, file: &str, pos: u64) {
        if let Some(e) = self.lock().get_mut(&id) {
            match &mut e.position {
                Some((f, p)) if f == file => *p = pos,
                other => *other = Some((file.to_owned(), pos)),
            }
        }
    }

    /// Records that `id` reads `file` from now on; false when a purge
    /// removes or has removed it (it is before the purge fence).
    pub fn start_reading(&self, id: u32, file: &BinlogFileName) -> bool {
        let mut conns = self.lock();
        let fence = self.fence.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if fence.as_ref().is_some_and(|kept| file < kept) {
            return false;
        }
        if let Some(e) = conns.get_mut(&id) {
            e.reading = Some(file.clone());
        }
        true
    }

    /// `id` reads no file any more (its dump ended).
    pub fn stop_reading(&self, id: u32) {
        if let Some(e) = self.lock().get_mut(&id) {
            e.reading = None;
        }
    }

    /// False for a file a purge removes or has removed.
    pub fn may_read(&self, file: &BinlogFileName) -> bool {
        let fence = self.fence.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        fence.as_ref().is_none_or(|kept| file >= kept)
    }

    /// `KILL id`: true when the connection existed.
    pub fn kill(&self, id: u32) -> bool {
        match self.lock().get_mut(&id) {
            Some(e) => {
                kill_entry(e);
                true
            }
            None => false,
        }
    }

    /// Kills every connection (server shutdown).
    pub fn kill_all(&self) {
        for e in self.lock().values_mut() {
            kill_entry(e);
        }
    }

    /// Registered replicas that are still connected.
    pub fn slave_hosts(&self) -> Vec<SlaveHost> {
        let mut v: Vec<SlaveHost> = self.lock().values().filter_map(|e| e.slave.clone()).collect();
        v.sort_by_key(|s| s.server_id);
        v
    }

    /// Snapshot of every connection.
    pub fn connections(&self) -> Vec<ConnectionView> {
        let mut v: Vec<ConnectionView> = self
            .lock()
            .iter()
            .map(|(id, e)| ConnectionView {
                id: *id,
                peer: e.peer,
                dump_server_id: e.dump_server_id,
                position: e.position.clone(),
                user: e.user.clone(),
            })
            .collect();
        v.sort_by_key(|c| c.id);
        v
    }

    /// Number of connections.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no client is connected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Readers for Registry {
    fn fence(&self, decide: &mut dyn FnMut(&[BinlogFileName]) -> Option<BinlogFileName>) {
        let conns = self.lock();
        let reading: Vec<BinlogFileName> =
            conns.values().filter_map(|e| e.reading.clone()).collect();
        let mut fence = self.fence.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(kept) = decide(&reading) {
            if fence.as_ref().is_none_or(|f| kept > *f) {
                *fence = Some(kept);
            }
        }
    }
}

fn kill_entry(e: &mut Entry) {
    e.killed.store(true, Ordering::Relaxed);
    if let Some(s) = &e.socket {
        // Wakes the session's blocked read or write.
        let _ = s.shutdown(Shutdown::Both);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> SocketAddr {
        "127.0.0.1:5000".parse().unwrap()
    }

    #[test]
    fn caps_connections_and_kills_by_id() {
        let r = Registry::default();
        let (a, ka) = r.register(peer(), None, 2).unwrap();
        let (b, _) = r.register(peer(), None, 2).unwrap();
        assert!(r.register(peer(), None, 2).is_none());
        assert!(r.kill(a));
        assert!(ka.load(Ordering::Relaxed));
        assert!(!r.kill(999));
        r.unregister(a);
        r.unregister(b);
        assert!(r.is_empty());
    }

    #[test]
    fn a_new_dump_of_the_same_replica_kills_the_old_one() {
        let r = Registry::default();
        let (a, ka) = r.register(peer(), None, 10).unwrap();
        let (b, kb) = r.register(peer(), None, 10).unwrap();
        r.start_dump(a, 7);
        r.start_dump(b, 7);
        assert!(ka.load(Ordering::Relaxed));
        assert!(!kb.load(Ordering::Relaxed));
        r.set_slave(b, SlaveHost { server_id: 7, ..Default::default() });
        assert_eq!(r.slave_hosts().len(), 1);
    }

    fn name(n: u64) -> BinlogFileName {
        BinlogFileName::new(format!("mysql-bin.{n:06}")).unwrap()
    }

    #[test]
    fn the_fence_sees_readers_and_keeps_new_ones_out_of_purged_files() {
        let r = Registry::default();
        let (a, _) = r.register(peer(), None, 10).unwrap();
        let (b, _) = r.register(peer(), None, 10).unwrap();
        assert!(r.start_reading(a, &name(2)));
        assert!(r.start_reading(b, &name(4)));
        let mut seen = Vec::new();
        r.fence(&mut |reading| {
            seen = reading.to_vec();
            Some(name(2))
        });
        seen.sort();
        assert_eq!(seen, vec![name(2), name(4)]);
        assert!(!r.start_reading(b, &name(1)), "file 1 is purged");
        assert!(!r.may_read(&name(1)));
        assert!(r.start_reading(b, &name(2)));
        // The fence never moves back.
        r.fence(&mut |_| Some(name(1)));
        assert!(!r.may_read(&name(1)));
        r.stop_reading(a);
        r.stop_reading(b);
        r.fence(&mut |reading| {
            assert!(reading.is_empty());
            None
        });
    }
}
