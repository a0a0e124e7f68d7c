//! `binlogserver proxy --listen ADDR --to HOST:PORT`: a MySQL protocol
//! proxy that relays bytes untouched and prints every packet decoded.
//!
//! The listener thread accepts clients; each connection gets a thread
//! `proxy-N` that connects to the server and relays client to server, and a
//! thread `proxy-N-s2c` for the other direction. Each direction copies the
//! bytes it reads into a [`framer::Framer`] and describes the packets with
//! the connection's shared [`decode::Conversation`] *before* forwarding
//! them, so a request is always decoded before its response. Decoding never
//! stops the relay: a packet that does not decode is printed as such.
//!
//! Output, one line per packet on stdout:
//! `2026-01-02T03:04:05.678Z #3 c>s seq=0 len=18 COM_QUERY "select 1"`,
//! followed with `--hexdump` by the payload in `hexdump -C` layout.

pub mod decode;
pub mod framer;
mod relay;

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use getopts::Options;

/// How the proxy runs.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// The server to connect each client to.
    pub to: SocketAddr,
    /// Print each packet's bytes too.
    pub hexdump: bool,
    /// TCP connect timeout toward the server.
    pub connect_timeout: Duration,
}

const BRIEF: &str = "Usage: binlogserver proxy --listen ADDR:PORT --to HOST:PORT [--hexdump]\n\n\
    Sits between MySQL/MariaDB clients and a server (or replicas and a primary)\n\
    and prints every packet decoded, one line each, with the connection number\n\
    and direction (c>s, s>c): handshake (passwords and scrambles by length only),\n\
    commands, OK/ERR/EOF, result sets, binlog events with their semi-sync\n\
    headers, and semi-sync ACKs. Bytes are relayed untouched. TLS connections\n\
    are relayed but not decoded.";

/// Runs the tool; returns the exit status (it runs until killed).
pub fn main(args: &[String]) -> u8 {
    let mut opts = Options::new();
    opts.optopt("", "listen", "address to accept clients on (required)", "ADDR:PORT");
    opts.optopt("", "to", "server to relay to (required)", "HOST:PORT");
    opts.optopt("", "connect-timeout", "TCP connect timeout toward the server [10]", "SECONDS");
    opts.optflag("x", "hexdump", "also print each packet's bytes, 16 per line (like hexdump -C)");
    opts.optflag("?", "help", "print this help");
    let m = match crate::tools::parse_args(&opts, args, BRIEF) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let config = match config(&m) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("binlogserver proxy: {e}\nTry 'binlogserver proxy --help'.");
            return 2;
        }
    };
    let listen = m.opt_str("listen").unwrap_or_default();
    let listener = match TcpListener::bind(&listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("binlogserver proxy: cannot listen on {listen}: {e}");
            return 1;
        }
    };
    let local = listener.local_addr().map_or(listen, |a| a.to_string());
    println!("proxy listening on {local}, relaying to {}", config.to);
    serve(&listener, Arc::new(config));
    1
}

fn config(m: &getopts::Matches) -> Result<ProxyConfig, String> {
    if !m.free.is_empty() {
        return Err(format!("unexpected argument {}", m.free.join(" ")));
    }
    let listen = m.opt_str("listen").ok_or("--listen is required")?;
    if listen.is_empty() {
        return Err("--listen is empty".into());
    }
    let to_text = m.opt_str("to").ok_or("--to is required")?;
    let to = to_text
        .to_socket_addrs()
        .map_err(|e| format!("--to {to_text}: {e}"))?
        .next()
        .ok_or_else(|| format!("--to {to_text}: no address"))?;
    let secs = match m.opt_str("connect-timeout") {
        Some(s) => s
            .parse::<u64>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or(format!("--connect-timeout {s}: not a positive number"))?,
        None => 10,
    };
    Ok(ProxyConfig {
        to,
        hexdump: m.opt_present("hexdump"),
        connect_timeout: Duration::from_secs(secs),
    })
}

/// Accepts clients forever, one `proxy-N` thread per connection.
fn serve(listener: &TcpListener, config: Arc<ProxyConfig>) {
    let mut next_id = 0u64;
    for stream in listener.incoming() {
        let client = match stream {
            Ok(s) => s,
            Err(e) => {
                eprintln!("proxy: accept failed: {e}");
                continue;
            }
        };
        next_id += 1;
        let id = next_id;
        let config = Arc::clone(&config);
        let spawned = thread::Builder::new()
            .name(format!("proxy-{id}"))
            .spawn(move || relay::connection(id, client, &config));
        if let Err(e) = spawned {
            eprintln!("proxy: cannot start a thread for connection #{id}: {e}");
        }
    }
}
