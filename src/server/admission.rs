//! Who may log in, how fast, and what the log says about those who fail.
//!
//! - **Handshakes in progress** are capped in total and per peer IP
//!   ([`LoginLimits`]): a connection over either cap gets MariaDB's ERR
//!   1040 in place of the greeting. The total stays below
//!   `--max-connections`, so clients that never finish logging in cannot
//!   take the slots of authenticated sessions, and one peer cannot take all
//!   handshake slots. Each handshake also has a deadline (MariaDB's
//!   `connect_timeout`, in the session).
//! - **Failed logins slow their peer down**: after [`FREE_FAILURES`] failed
//!   logins in a row from one IP, each further login from it waits one
//!   second more than the last before its password is checked, up to
//!   [`LoginLimits::max_delay`]; a successful login resets the count. This
//!   is the growing delay of MySQL's `connection_control` plugin rather
//!   than MariaDB's `max_connect_errors` block: a block lets whoever shares
//!   a replica's IP (or a replica with a stale password) lock it out until
//!   an operator flushes hosts, while a delay never refuses a right
//!   password. The delay holds the handshake slot, so one peer gets at most
//!   `per_peer / max_delay` password checks a second.
//! - **Half-received commands** share one [`COMMAND_MEMORY`] budget
//!   ([`Admission::command_memory`]): a command that cannot get the bytes
//!   it needs is refused with ERR 1041 and its connection closed, at once,
//!   rather than left waiting while it holds what it has (MariaDB has no
//!   such budget; 1041 is its "out of memory"). Replicas never need it:
//!   their commands fit in the free first 64 KiB of each packet.
//! - **The log** gets one line for the first failed login (or refused
//!   connection) of a peer, then one summary line per peer per
//!   [`LOG_INTERVAL`] while it goes on ([`Admission::flush`]), never one
//!   line per attempt.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use log::warn;

use crate::net::MemoryBudget;

/// Failed logins in a row from one IP before its logins are delayed.
pub const FREE_FAILURES: u32 = 3;
/// How often a peer that keeps failing gets a summary line.
pub const LOG_INTERVAL: Duration = Duration::from_secs(60);
/// The bytes all half-received commands may hold together, beyond the
/// first 64 KiB of each: four commands of the largest size at once.
pub const COMMAND_MEMORY: usize = 64 << 20;
/// Peers remembered at most; past it, those without a handshake in
/// progress are forgotten (their failure counts with them).
const MAX_PEERS: usize = 10_000;
/// User names a summary line lists at most.
const MAX_USERS_SHOWN: usize = 8;

/// The caps (`--max-handshakes`, `--max-login-delay`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Handshakes in progress at most.
    pub max_handshakes: usize,
    /// Handshakes in progress from one IP at most.
    pub per_peer: usize,
    /// Longest delay of a login from a peer that keeps failing (zero: none).
    pub max_delay: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits { max_handshakes: 50, per_peer: 10, max_delay: Duration::from_secs(10) }
    }
}

impl LoginLimits {
    /// The limits from `--max-handshakes N[:PER_PEER]` and
    /// `--max-login-delay SECONDS`. Without the first: 50, but never more
    /// than three quarters of `max_connections` (so the rest stays for
    /// logged-in sessions), and 10 per peer at most; a flag's name and the
    /// reason on error.
    pub fn parse(
        handshakes: Option<&str>,
        delay: Option<&str>,
        max_connections: usize,
    ) -> Result<Self, (&'static str, String)> {
        let d = LoginLimits::default();
        let (max_handshakes, per_peer) = match handshakes {
            None => {
                let total = d.max_handshakes.min(max_connections - max_connections / 4).max(1);
                (total, d.per_peer.min(total))
            }
            Some(v) => {
                let bad = || {
                    (
                        "--max-handshakes",
                        format!("invalid value {v:?} (expected N or N:PER_PEER, 1-100000)"),
                    )
                };
                let (total, peer) = v.split_once(':').map_or((v, None), |(t, p)| (t, Some(p)));
                let total = total.parse::<usize>().ok().filter(|n| (1..=100_000).contains(n));
                let total = total.ok_or_else(bad)?;
                let peer = match peer {
                    None => d.per_peer.min(total),
                    Some(p) => p
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=total).contains(n))
                        .ok_or_else(bad)?,
                };
                (total, peer)
            }
        };
        let max_delay = match delay {
            None => d.max_delay,
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|&s| s <= 3600)
                .map(Duration::from_secs)
                .ok_or_else(|| {
                    ("--max-login-delay", format!("invalid value {v:?} (expected seconds, 0-3600)"))
                })?,
        };
        Ok(LoginLimits { max_handshakes, per_peer, max_delay })
    }
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The total of handshakes in progress is reached.
    Busy(usize),
    /// This IP's handshakes in progress are at the cap.
    PeerBusy(usize),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Busy(n) => write!(f, "{n} logins in progress already (--max-handshakes)"),
            Refusal::PeerBusy(n) => {
                write!(f, "{n} logins in progress from this peer already (--max-handshakes)")
            }
        }
    }
}

/// What one peer did in one log interval.
#[derive(Debug)]
struct Window {
    start: Instant,
    failed: u32,
    refused: u32,
    users: BTreeSet<String>,
    /// Follows a summary: its first event was not logged on its own.
    continued: bool,
}

impl Window {
    fn new(start: Instant, continued: bool) -> Self {
        Window { start, failed: 0, refused: 0, users: BTreeSet::new(), continued }
    }

    /// True for the first event of a window that follows none.
    fn first(&self) -> bool {
        !self.continued && self.failed + self.refused == 1
    }
}

#[derive(Debug, Default)]
struct Peer {
    handshakes: usize,
    failures: u32,
    window: Option<Window>,
}

#[derive(Debug, Default)]
struct State {
    handshakes: usize,
    peers: HashMap<IpAddr, Peer>,
}

/// One summary line: what a peer did in the last interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The peer.
    pub ip: IpAddr,
    /// Failed logins.
    pub failed: u32,
    /// Connections refused by the handshake caps.
    pub refused: u32,
    /// The user names tried (the first 8).
    pub users: Vec<String>,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "failed logins peer={} count={} users={} refused_connections={} interval={}s",
            self.ip,
            self.failed,
            self.users.join(","),
            self.refused,
            LOG_INTERVAL.as_secs()
        )
    }
}

/// The admission state shared by the listener and every session.
#[derive(Debug)]
pub struct Admission {
    limits: LoginLimits,
    state: Mutex<State>,
    memory: Arc<MemoryBudget>,
}

/// A handshake slot, given back when dropped (at login or at the end of
/// a connection that never logged in).
#[derive(Debug)]
pub struct Ticket {
    admission: Arc<Admission>,
    ip: IpAddr,
}

impl Ticket {
    /// The admission that gave it.
    pub fn admission(&self) -> &Arc<Admission> {
        &self.admission
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut state = self.admission.lock();
        state.handshakes = state.handshakes.saturating_sub(1);
        if let Some(peer) = state.peers.get_mut(&self.ip) {
            peer.handshakes = peer.handshakes.saturating_sub(1);
            if peer.handshakes == 0 && peer.failures == 0 && peer.window.is_none() {
                state.peers.remove(&self.ip);
            }
        }
    }
}

impl Admission {
    /// Admission under `limits`.
    pub fn new(limits: LoginLimits) -> Arc<Self> {
        let memory = MemoryBudget::new(COMMAND_MEMORY);
        Arc::new(Admission { limits, state: Mutex::default(), memory })
    }

    /// The budget of half-received commands, shared by every session.
    pub fn command_memory(&self) -> Arc<MemoryBudget> {
        Arc::clone(&self.memory)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A handshake slot for a new connection from `ip`, or why not (the
    /// refusal is counted for the log, and logged if it is the peer's
    /// first in the interval).
    pub fn admit(self: &Arc<Self>, ip: IpAddr, now: Instant) -> Result<Ticket, Refusal> {
        let mut state = self.lock();
        let refusal = if state.handshakes >= self.limits.max_handshakes {
            Some(Refusal::Busy(self.limits.max_handshakes))
        } else if state.peers.get(&ip).is_some_and(|p| p.handshakes >= self.limits.per_peer) {
            Some(Refusal::PeerBusy(self.limits.per_peer))
        } else {
            None
        };
        if let Some(refusal) = refusal {
            let window = open_window(peer(&mut state, ip), now);
            window.refused += 1;
            if window.first() {
                warn!("refusing connection peer={ip}: {refusal} (more are summed up)");
            }
            return Err(refusal);
        }
        state.handshakes += 1;
        peer(&mut state, ip).handshakes += 1;
        Ok(Ticket { admission: Arc::clone(self), ip })
    }

    /// How long a login from `ip` waits before its password is checked.
    pub fn delay(&self, ip: IpAddr) -> Duration {
        let failures = self.lock().peers.get(&ip).map_or(0, |p| p.failures);
        let over = failures.saturating_sub(FREE_FAILURES - 1);
        Duration::from_secs(u64::from(over)).min(self.limits.max_delay)
    }

    /// Counts a failed login of `user` from `ip` (and logs it if it is
    /// the peer's first in the interval).
    pub fn failed(&self, ip: IpAddr, user: &str, now: Instant) {
        let mut state = self.lock();
        let peer = peer(&mut state, ip);
        peer.failures = peer.failures.saturating_add(1);
        let window = open_window(peer, now);
        window.failed += 1;
        if window.users.len() < MAX_USERS_SHOWN {
            window.users.insert(user.to_owned());
        }
        if window.first() {
            warn!("access denied peer={ip} user={user:?} (more failed logins are summed up)");
        }
    }

    /// A successful login from `ip`: its failures are forgiven.
    pub fn succeeded(&self, ip: IpAddr) {
        if let Some(peer) = self.lock().peers.get_mut(&ip) {
            peer.failures = 0;
        }
    }

    /// The summaries of the windows that ended by `now` (all of them with
    /// `all`, at shutdown). A window with nothing after its first, already
    /// logged, event closes without a line; one with more gives a summary
    /// and goes on, so a peer that keeps failing gets one line per interval.
    pub fn flush(&self, now: Instant, all: bool) -> Vec<Summary> {
        let mut out = Vec::new();
        let mut guard = self.lock();
        let state = &mut *guard;
        for (ip, peer) in &mut state.peers {
            let Some(w) = &mut peer.window else { continue };
            if !all && now.saturating_duration_since(w.start) < LOG_INTERVAL {
                continue;
            }
            let unlogged = if w.continued { 1 } else { 2 };
            if w.failed + w.refused >= unlogged {
                let users = std::mem::take(&mut w.users).into_iter().collect();
                out.push(Summary { ip: *ip, failed: w.failed, refused: w.refused, users });
                *w = Window::new(now, true);
            } else {
                peer.window = None;
            }
        }
        state.peers.retain(|_, p| p.handshakes > 0 || p.failures > 0 || p.window.is_some());
        out
    }

    /// Handshakes in progress now.
    pub fn handshakes(&self) -> usize {
        self.lock().handshakes
    }
}

/// The entry of `ip`, made room for if the map is full.
fn peer(state: &mut State, ip: IpAddr) -> &mut Peer {
    if state.peers.len() >= MAX_PEERS && !state.peers.contains_key(&ip) {
        state.peers.retain(|_, p| p.handshakes > 0);
    }
    state.peers.entry(ip).or_default()
}

fn open_window(peer: &mut Peer, now: Instant) -> &mut Window {
    peer.window.get_or_insert_with(|| Window::new(now, false))
}

/// Logs the summaries that are due; run every second by the listener.
pub fn log_summaries(admission: &Admission, now: Instant, all: bool) {
    for summary in admission.flush(now, all) {
        warn!("{summary}");
    }
}

#[cfg(test)]
#[path = "admission_tests.rs"]
mod tests;
