//! `NetStream`: a connection that is plain TCP or TLS (either side), so
//! that [`PacketStream`](super::PacketStream) and
//! [`PacketWriter`](super::PacketWriter) run over both unchanged.
//!
//! A TLS stream is full duplex across threads (issue 11 item 4): clones made
//! with [`NetStream::try_clone`] share one `rustls` session behind a mutex,
//! each with its own clone of the socket. The reading thread blocks on its
//! socket *outside* the lock and locks only to hand the received records to
//! `rustls` and take the plaintext out; a writing thread locks to encrypt,
//! releases, then writes the records to its socket. So the dump thread
//! waiting for events and the `semi-sync-ack` thread sending an ACK never
//! wait for each other, only for a few microseconds of cipher work. A
//! second, writer-only mutex keeps the records of concurrent writers in
//! the order `rustls` numbered them.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use rustls::Connection;

/// Raw bytes read from the socket per `read` call of a TLS stream.
const RAW_READ: usize = 64 * 1024;

/// One TLS session shared by the clones of a stream.
struct Shared {
    conn: Mutex<Connection>,
    /// Held by a writer from encrypting until its records are on the wire.
    write_order: Mutex<Vec<u8>>,
}

/// A byte stream over TCP, with or without TLS.
pub struct NetStream {
    tcp: TcpStream,
    tls: Option<Arc<Shared>>,
    /// Received records not yet taken by `rustls` (its plaintext buffer was full).
    raw: Vec<u8>,
    raw_pos: usize,
    /// The TLS handshake fails once this has passed (a peer trickling its
    /// handshake a byte per socket timeout is cut off); `None`: no limit
    /// beyond the socket's timeouts.
    handshake_deadline: Option<Instant>,
}

impl fmt::Debug for NetStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetStream").field("tcp", &self.tcp).field("tls", &self.is_tls()).finish()
    }
}

impl From<TcpStream> for NetStream {
    fn from(tcp: TcpStream) -> Self {
        NetStream::plain(tcp)
    }
}

impl NetStream {
    /// A plaintext stream.
    pub fn plain(tcp: TcpStream) -> Self {
        NetStream { tcp, tls: None, raw: Vec::new(), raw_pos: 0, handshake_deadline: None }
    }

    /// Sets the deadline of a coming [`NetStream::start_tls`] handshake.
    pub fn set_handshake_deadline(&mut self, deadline: Option<Instant>) {
        self.handshake_deadline = deadline;
    }

    /// Runs the TLS handshake of `conn` over `tcp` (blocking, under the
    /// socket's timeouts); `received` are bytes the peer already sent that
    /// were read before the switch (a client's ClientHello can arrive in
    /// the same segment as its SSL request).
    ///
    /// # Errors
    /// The handshake failed: [`io::ErrorKind::InvalidData`] wrapping the
    /// [`rustls::Error`] (an untrusted certificate, a name mismatch, ...),
    /// or the socket's own error.
    pub fn tls(tcp: TcpStream, conn: impl Into<Connection>, received: &[u8]) -> io::Result<Self> {
        let mut stream = NetStream::plain(tcp);
        stream.start_tls(conn, received)?;
        Ok(stream)
    }

    /// Switches a plain stream to TLS in place (see [`NetStream::tls`]).
    ///
    /// # Errors
    /// As [`NetStream::tls`]; a stream that is already TLS.
    pub fn start_tls(&mut self, conn: impl Into<Connection>, received: &[u8]) -> io::Result<()> {
        if self.tls.is_some() {
            return Err(io::Error::other("tls: the stream is already encrypted"));
        }
        let mut conn = conn.into();
        let tcp = &mut self.tcp;
        let mut early = received;
        while !early.is_empty() {
            conn.read_tls(&mut early)?;
            if let Err(e) = conn.process_new_packets() {
                // Tell the peer why (an alert) before giving up.
                let _ = conn.write_tls(tcp);
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
        }
        // rustls' complete_io, step by step, so that the deadline is
        // looked at after every read (complete_io loops on its own).
        while conn.is_handshaking() {
            if self.handshake_deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "tls handshake: timed out"));
            }
            while conn.wants_write() {
                conn.write_tls(tcp)?;
            }
            if !conn.is_handshaking() {
                break;
            }
            if !conn.wants_read() {
                return Err(io::Error::other("tls handshake: neither side has anything to say"));
            }
            if conn.read_tls(tcp)? == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "tls handshake: closed"));
            }
            if let Err(e) = conn.process_new_packets() {
                // Tell the peer why (an alert) before giving up.
                let _ = conn.write_tls(tcp);
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
        }
        // Whatever the last handshake flight left to send (a TLS 1.3 client's Finished).
        while conn.wants_write() {
            conn.write_tls(tcp)?;
        }
        let shared = Shared { conn: Mutex::new(conn), write_order: Mutex::new(Vec::new()) };
        self.tls = Some(Arc::new(shared));
        Ok(())
    }

    /// True when the stream is encrypted. (The login toward the primary
    /// sends a cleartext password only then.)
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The negotiated protocol and cipher suite, in OpenSSL's names as
    /// MariaDB shows them (`TLSv1.3`, `TLS_AES_256_GCM_SHA384`); `None`
    /// for plain TCP.
    pub fn tls_info(&self) -> Option<(String, String)> {
        let conn = lock(&self.tls.as_ref()?.conn);
        let version = match conn.protocol_version()? {
            rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
            rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
            other => format!("{other:?}"),
        };
        let suite = conn.negotiated_cipher_suite()?.suite();
        Some((version, super::tls::openssl_cipher_name(suite)))
    }

    /// The socket, for its options (timeouts), its addresses and `shutdown`.
    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// Another handle on the same connection (and TLS session): one
    /// thread reads through one handle while another writes through another.
    ///
    /// # Errors
    /// When the socket cannot be cloned.
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(NetStream {
            tcp: self.tcp.try_clone()?,
            tls: self.tls.clone(),
            raw: Vec::new(),
            raw_pos: 0,
            handshake_deadline: None,
        })
    }

    /// Hands pending raw records to `rustls` (as many as it takes: it
    /// stops taking while its plaintext buffer is full).
    fn feed(&mut self, conn: &mut Connection) -> io::Result<()> {
        let mut pending = self.raw.get(self.raw_pos..).unwrap_or_default();
        let before = pending.len();
        match conn.read_tls(&mut pending) {
            Ok(_) => {}
            // "received plaintext buffer full": the caller takes plaintext first.
            Err(e) if e.kind() == io::ErrorKind::Other => return Ok(()),
            Err(e) => return Err(e),
        }
        self.raw_pos += before - pending.len();
        if self.raw_pos >= self.raw.len() {
            self.raw.clear();
            self.raw_pos = 0;
        }
        conn.process_new_packets().map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        Ok(())
    }

    fn read_tls_plaintext(&mut self, shared: &Shared, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            {
                let mut conn = lock(&shared.conn);
                let mut stuck = 0;
                loop {
                    match conn.reader().read(buf) {
                        Ok(n) => return Ok(n),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        // The peer closed without close_notify: as plain TCP's end.
                        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                        Err(e) => return Err(e),
                    }
                    if self.raw_pos >= self.raw.len() {
                        break;
                    }
                    let at = self.raw_pos;
                    self.feed(&mut conn)?;
                    stuck = if self.raw_pos == at { stuck + 1 } else { 0 };
                    if stuck > 1 {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "tls: records neither taken nor decrypted",
                        ));
                    }
                }
            }
            // The blocking read, outside the lock: a writer goes on meanwhile.
            self.raw.resize(RAW_READ, 0);
            self.raw_pos = 0;
            let got = self.tcp.read(&mut self.raw);
            let n = *got.as_ref().unwrap_or(&0);
            self.raw.truncate(n);
            if got? == 0 {
                return Ok(0);
            }
        }
    }

    fn write_tls_plaintext(&self, shared: &Shared, buf: &[u8]) -> io::Result<usize> {
        let mut records = lock(&shared.write_order);
        records.clear();
        let n = {
            let mut conn = lock(&shared.conn);
            let n = conn.writer().write(buf)?;
            while conn.wants_write() {
                conn.write_tls(&mut *records)?;
            }
            n
        };
        // Only the writers wait on this (under the socket's write timeout).
        (&self.tcp).write_all(&records)?;
        if records.capacity() > 1 << 20 {
            *records = Vec::new();
        }
        Ok(n)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicked holder leaves rustls in a state the next call reports.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Read for NetStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.tls.clone() {
            None => self.tcp.read(buf),
            Some(shared) => self.read_tls_plaintext(&shared, buf),
        }
    }
}

impl Write for NetStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &self.tls {
            None => self.tcp.write(buf),
            Some(shared) => self.write_tls_plaintext(shared, buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
