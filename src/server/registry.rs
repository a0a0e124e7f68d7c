//! The registry of downstream connections: ids, kill switches, registered
//! replicas (`SHOW SLAVE HOSTS`), dump positions, the file each dump
//! reads, which purges must not remove ([`Readers`]), and what each
//! connection is doing for `SHOW PROCESSLIST` ([`Command`], since when,
//! the statement).
//!
//! The command is set at its changes only (login, each statement and its
//! end, the start of a dump), never per event: a dump's state (sending or
//! waiting at the durable end) is derived when asked, from the position it
//! reports at each file end and at the durable end anyway.
//!
//! Lock order: the connections, then the purge fence.

use std::collections::HashMap;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

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
    command: Command,
    since: Instant,
    info: Option<String>,
    db: Option<String>,
}

/// What a connection is doing, as `SHOW PROCESSLIST`'s `Command` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Before login.
    Connect,
    /// Logged in, waiting for a command.
    Sleep,
    /// Running a statement.
    Query,
    /// Streaming binlogs (`COM_BINLOG_DUMP`, `COM_BINLOG_DUMP_GTID`).
    BinlogDump,
}

impl Command {
    /// MariaDB's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Connect => "Connect",
            Command::Sleep => "Sleep",
            Command::Query => "Query",
            Command::BinlogDump => "Binlog Dump",
        }
    }
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
    /// What it does.
    pub command: Command,
    /// Since when it does that.
    pub since: Instant,
    /// The statement it runs (with [`Command::Query`]).
    pub info: Option<String>,
    /// Its current database.
    pub db: Option<String>,
}

/// All live downstream connections.
#[derive(Debug)]
pub struct Registry {
    conns: Mutex<HashMap<u32, Entry>>,
    next_id: AtomicU32,
    /// The id our own upstream connection shows under, taken from the same
    /// sequence on first use.
    upstream_id: OnceLock<u32>,
    /// The first file a purge keeps: no dump may start reading an older one.
    fence: Mutex<Option<BinlogFileName>>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            conns: Mutex::new(HashMap::new()),
            next_id: AtomicU32::new(1),
            upstream_id: OnceLock::new(),
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
                command: Command::Connect,
                since: Instant::now(),
                info: None,
                db: None,
            },
        );
        Some((id, killed))
    }

    /// The id of our own upstream connection in `SHOW PROCESSLIST`: one id
    /// of the connection sequence, the same for the process's life.
    pub fn upstream_id(&self) -> u32 {
        *self.upstream_id.get_or_init(|| self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Records that `id` now does `command` (running `info`, for a query).
    pub fn set_command(&self, id: u32, command: Command, info: Option<String>) {
        if let Some(e) = self.lock().get_mut(&id) {
            e.command = command;
            e.since = Instant::now();
            e.info = info;
        }
    }

    /// Records `id`'s current database (`USE`, `COM_INIT_DB`).
    pub fn set_database(&self, id: u32, db: Option<&str>) {
        if let Some(e) = self.lock().get_mut(&id) {
            e.db = db.map(str::to_owned);
        }
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
            e.command = Command::BinlogDump;
            e.since = Instant::now();
            e.info = None;
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
                command: e.command,
                since: e.since,
                info: e.info.clone(),
                db: e.db.clone(),
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

    #[test]
    fn records_commands_at_their_changes_and_gives_the_upstream_one_id() {
        let r = Registry::default();
        let (a, _) = r.register(peer(), None, 10).unwrap();
        let up = r.upstream_id();
        let (b, _) = r.register(peer(), None, 10).unwrap();
        assert!(a < up && up < b, "ids {a} {up} {b} come from one sequence");
        assert_eq!(r.upstream_id(), up);
        let view = |id| r.connections().into_iter().find(|c| c.id == id).unwrap();
        assert_eq!(view(a).command, Command::Connect);
        r.set_user(a, "repl");
        r.set_command(a, Command::Query, Some("SHOW PROCESSLIST".into()));
        r.set_database(a, Some("information_schema"));
        let v = view(a);
        assert_eq!((v.command, v.info.as_deref()), (Command::Query, Some("SHOW PROCESSLIST")));
        assert_eq!(v.db.as_deref(), Some("information_schema"));
        r.set_command(a, Command::Sleep, None);
        assert!(view(a).since >= v.since);
        r.start_dump(b, 7);
        assert_eq!((view(b).command.as_str(), view(b).info), ("Binlog Dump", None));
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
