//! One proxied connection: connect to the server, relay both directions,
//! describe the packets.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::decode::{Conversation, Direction};
use super::framer::Framer;
use super::ProxyConfig;
use crate::hexdump::hexdump;
use crate::tools::describe::utc_iso8601;

/// Largest write stall tolerated before the connection is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// Relays one client connection until either side closes.
pub(super) fn connection(id: u64, client: TcpStream, config: &ProxyConfig) {
    let peer = client.peer_addr().map_or_else(|_| "?".into(), |a| a.to_string());
    let server = match TcpStream::connect_timeout(&config.to, config.connect_timeout) {
        Ok(s) => s,
        Err(e) => {
            say(
                id,
                &format!("client {peer} connected; cannot connect to {}: {e}; closing", config.to),
            );
            return;
        }
    };
    say(id, &format!("client {peer} connected to {}", config.to));
    for s in [&client, &server] {
        let _ = s.set_nodelay(true);
        let _ = s.set_write_timeout(Some(WRITE_TIMEOUT));
    }
    let conversation = Arc::new(Mutex::new(Conversation::new()));
    let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
        say(id, "cannot clone the sockets; closing");
        return;
    };
    let back = {
        let conversation = Arc::clone(&conversation);
        let hex = config.hexdump;
        thread::Builder::new().name(format!("proxy-{id}-s2c")).spawn(move || {
            pump(id, Direction::ServerToClient, server2, client2, &conversation, hex)
        })
    };
    let forth = pump(id, Direction::ClientToServer, client, server, &conversation, config.hexdump);
    let back = match back {
        Ok(handle) => handle.join().unwrap_or_else(|_| "relay thread panicked".into()),
        Err(e) => format!("cannot start the s>c thread: {e}"),
    };
    say(id, &format!("closed: c>s {forth}; s>c {back}"));
}

/// Copies `from` to `to`, describing the packets; returns why it stopped.
/// Either end closing shuts both sockets, which ends the other direction.
fn pump(
    id: u64,
    dir: Direction,
    mut from: TcpStream,
    mut to: TcpStream,
    conversation: &Mutex<Conversation>,
    hex: bool,
) -> String {
    let mut framer = Framer::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut opaque_said = false;
    let why = loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break "end of stream".to_owned(),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => break format!("read error: {e}"),
        };
        let bytes = buf.get(..n).unwrap_or_default();
        if !opaque_said {
            opaque_said = describe(id, dir, &mut framer, bytes, conversation, hex);
        }
        if let Err(e) = to.write_all(bytes) {
            break format!("write error: {e}");
        }
    };
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
    why
}

/// Frames and prints the packets completed by `bytes`; true once the
/// conversation is opaque (nothing more to decode in this direction).
fn describe(
    id: u64,
    dir: Direction,
    framer: &mut Framer,
    bytes: &[u8],
    conv: &Mutex<Conversation>,
    hex: bool,
) -> bool {
    let mut conv = conv.lock().unwrap_or_else(PoisonError::into_inner);
    if conv.is_opaque() {
        say(id, &format!("{} relaying raw bytes from now on (TLS or compression)", dir.arrow()));
        return true;
    }
    for frame in framer.push(bytes) {
        let line = conv.describe(dir, &frame.payload);
        let mut out =
            format!("{} seq={} len={} {line}", dir.arrow(), frame.seq, frame.payload.len());
        if hex {
            out.push('\n');
            out.push_str(hexdump(&frame.payload, 0).trim_end());
        }
        say(id, &out);
        if conv.is_opaque() {
            return true;
        }
    }
    false
}

/// Prints one line (or block) for connection `id` with a UTC timestamp.
fn say(id: u64, what: &str) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = u32::try_from(now.as_secs()).unwrap_or(u32::MAX);
    let stamp = utc_iso8601(secs);
    let stamp = stamp.strip_suffix('Z').unwrap_or(&stamp);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{stamp}.{:03}Z #{id} {what}", now.subsec_millis());
    let _ = out.flush();
}
