//! `PacketStream`: reads and writes whole protocol packets over any
//! `Read + Write` stream (a `TcpStream`, or an in-memory pipe in tests).
//!
//! Framing and sequence checks are the codec's ([`PacketAssembler`]); this
//! file only moves bytes. Reads go through an internal buffer so that many
//! small binlog events cost one `read` call, and [`PacketStream::has_buffered`]
//! tells the caller whether the next packet is already here.

use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::sync::Arc;
use std::time::Instant;

use log::trace;

use super::budget::{Lease, MemoryBudget};
use super::packet_writer::frame_packet;
use crate::hexdump::hexdump;
use crate::protocol::packet::{PacketAssembler, PacketHeader};
use crate::protocol::{DecodeError, Reader};

const READ_BUF: usize = 256 * 1024;

/// True for a COM_QUERY whose text names a password (`CHANGE MASTER TO
/// MASTER_PASSWORD=...`, `SOURCE_PASSWORD`, `SET PASSWORD`): the packet
/// trace leaves its bytes out, as the log never shows a password.
fn names_a_password(payload: &[u8]) -> bool {
    const COM_QUERY: u8 = 0x03;
    payload.first() == Some(&COM_QUERY)
        && payload.windows(8).any(|w| w.eq_ignore_ascii_case(b"PASSWORD"))
}
/// A payload buffer grows by what has arrived (doubling from this), so a
/// length prefix alone never commits its full size in memory.
const FIRST_GROWTH: usize = 64 * 1024;

/// A failure to move a packet.
#[derive(Debug)]
pub enum NetError {
    /// The socket failed (including read timeouts).
    Io {
        /// What we were doing.
        op: &'static str,
        /// The cause.
        source: io::Error,
    },
    /// The peer closed the connection.
    Closed,
    /// Framing was broken (sequence id, size cap).
    Decode(DecodeError),
}

impl NetError {
    /// True when a payload could not grow: the shared
    /// [`MemoryBudget`] of half-received commands is spent.
    pub fn is_out_of_budget(&self) -> bool {
        matches!(self, NetError::Io { source, .. } if source.kind() == io::ErrorKind::OutOfMemory)
    }

    /// True when the error is a read timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, NetError::Io { source, .. }
            if matches!(source.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut))
    }
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::Io { op, .. } if self.is_timeout() => write!(f, "{op}: timed out"),
            NetError::Io { op, .. } => write!(f, "{op} failed"),
            NetError::Closed => write!(f, "connection closed by peer"),
            NetError::Decode(_) => write!(f, "bad packet framing"),
        }
    }
}

impl std::error::Error for NetError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            NetError::Io { source, .. } => Some(source),
            NetError::Decode(e) => Some(e),
            NetError::Closed => None,
        }
    }
}

/// Whole packets over a byte stream.
#[derive(Debug)]
pub struct PacketStream<S> {
    stream: S,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    assembler: PacketAssembler,
    max_payload: usize,
    write_seq: u8,
    out: Vec<u8>,
    trace_packets: bool,
    deadline: Option<Instant>,
    budget: Option<Arc<MemoryBudget>>,
    lease: Lease,
}

impl<S: Read + Write> PacketStream<S> {
    /// Wraps `stream`; payloads larger than `max_payload` are refused.
    pub fn new(stream: S, max_payload: usize) -> Self {
        PacketStream {
            stream,
            buf: vec![0; READ_BUF].into_boxed_slice(),
            start: 0,
            end: 0,
            assembler: PacketAssembler::new(0, max_payload),
            max_payload,
            write_seq: 0,
            out: Vec::new(),
            trace_packets: false,
            deadline: None,
            budget: None,
            lease: Lease::default(),
        }
    }

    /// Changes the payload size cap (a client gets the full one only
    /// after it has authenticated).
    pub fn set_max_payload(&mut self, max_payload: usize) {
        self.max_payload = max_payload;
        self.assembler.set_max_payload(max_payload);
    }

    /// Reads fail with a timeout once `deadline` has passed, however the
    /// bytes trickle in (a client sending one byte a second never trips a
    /// per-read socket timeout). `None` lifts it.
    pub fn set_read_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// Payload bytes past the first 64 KiB of a packet are taken from
    /// `budget` as they arrive, and given back when the next packet is
    /// read (or the stream dropped); a packet that cannot get them fails
    /// ([`NetError::is_out_of_budget`]). The caller must not keep a large
    /// payload buffer past that.
    pub fn set_budget(&mut self, budget: Option<Arc<MemoryBudget>>) {
        self.budget = budget;
    }

    /// Waits until `n` bytes are buffered (at most the read buffer's size)
    /// and shows them without consuming them: a caller can see a packet's
    /// header, or wait for a command to start, before reading it.
    pub fn peek(&mut self, n: usize) -> Result<&[u8], NetError> {
        let n = n.min(self.buf.len());
        if self.buf.len() - self.start < n {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        while self.end - self.start < n {
            let free = self.buf.get_mut(self.end..).unwrap_or_default();
            self.end += read_some(&mut self.stream, free, "read packet header", self.deadline)?;
        }
        Ok(self.buf.get(self.start..self.end).unwrap_or_default())
    }

    /// The deadline set by [`PacketStream::set_read_deadline`].
    pub fn read_deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Logs every packet as a hex dump at `trace` level (`--trace-packets`).
    pub fn set_trace_packets(&mut self, on: bool) {
        self.trace_packets = on;
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The underlying stream, mutably (a TLS upgrade takes it through
    /// [`PacketStream::upgrade`] instead).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// Runs `switch(stream, buffered)` to change the stream in place (to
    /// TLS), where `buffered` are the bytes read past the last packet (a
    /// TLS ClientHello sent right behind the SSL request); the buffer is
    /// then empty, sequence ids and settings carry over.
    ///
    /// # Errors
    /// `switch`'s error (a failed TLS handshake), as [`NetError::Io`].
    pub fn switch_stream(
        &mut self,
        op: &'static str,
        switch: impl FnOnce(&mut S, &[u8]) -> io::Result<()>,
    ) -> Result<(), NetError> {
        let buffered = self.buf.get(self.start..self.end).unwrap_or_default();
        let result = switch(&mut self.stream, buffered);
        self.start = 0;
        self.end = 0;
        result.map_err(|source| NetError::Io { op, source })
    }

    /// Starts a new command/response exchange: both directions at `seq`.
    pub fn reset_seq(&mut self, seq: u8) {
        self.assembler.reset(seq);
        self.write_seq = seq;
    }

    /// Sets only the sequence id expected on the next packet read.
    pub fn expect_seq(&mut self, seq: u8) {
        self.assembler.reset(seq);
    }

    /// True when at least one whole packet header is already buffered.
    pub fn has_buffered(&self) -> bool {
        self.end - self.start >= PacketHeader::LEN
    }

    /// Reads one whole payload into `out` (cleared first).
    pub fn read_packet(&mut self, out: &mut Vec<u8>) -> Result<(), NetError> {
        self.read_packet_sized(out, |_| None)
    }

    /// Like [`PacketStream::read_packet`]; when the payload spans several
    /// chunks, `total` is asked for its full length from the first chunk
    /// (a binlog event knows its own length), so the buffer is allocated
    /// once instead of grown by copying.
    pub fn read_packet_sized(
        &mut self,
        out: &mut Vec<u8>,
        total: impl Fn(&[u8]) -> Option<usize>,
    ) -> Result<(), NetError> {
        out.clear();
        self.lease.release();
        let mut first = true;
        loop {
            let mut hdr = [0u8; PacketHeader::LEN];
            self.read_exact_buffered(&mut hdr, "read packet header")?;
            let header = PacketHeader::decode(&mut Reader::new(&hdr)).map_err(NetError::Decode)?;
            self.assembler.accept(header, out.len()).map_err(NetError::Decode)?;
            self.read_chunk(out, header.len as usize)?;
            if !header.continues() {
                break;
            }
            if std::mem::take(&mut first) {
                if let Some(n) = total(out) {
                    // Never trust the hint beyond the size cap checked per chunk.
                    out.reserve_exact(n.min(self.max_payload).saturating_sub(out.len()));
                }
            }
        }
        // A reply continues the sequence of the packet it answers.
        self.write_seq = self.assembler.next_seq();
        if self.trace_packets {
            let seq = self.assembler.next_seq().wrapping_sub(1);
            if names_a_password(out) {
                trace!(
                    "packet in seq={seq} len={} (a statement naming a password: not dumped)",
                    out.len()
                );
            } else {
                trace!("packet in seq={seq} len={}\n{}", out.len(), hexdump(out, 0));
            }
        }
        Ok(())
    }

    /// Writes one payload (split into chunks as needed) and flushes.
    pub fn write_packet(&mut self, payload: &[u8]) -> Result<(), NetError> {
        self.queue_packet(payload)?;
        self.flush_packets()
    }

    /// Queues one payload; the queue is written when it passes 256 KiB or
    /// on [`PacketStream::flush_packets`]. Streams of many small packets
    /// (binlog events) then cost few `write` calls.
    pub fn queue_packet(&mut self, payload: &[u8]) -> Result<(), NetError> {
        frame_packet(payload, &mut self.write_seq, &mut self.out, self.trace_packets);
        // The peer's reply continues the same sequence.
        self.assembler.reset(self.write_seq);
        if self.out.len() >= 256 << 10 {
            self.flush_packets()?;
        }
        Ok(())
    }

    /// Queues one packet made of `head` then `body` without first joining
    /// them; a large body goes from the caller's buffer straight to the
    /// socket (after the queue is flushed), saving two copies.
    pub fn queue_packet_parts(&mut self, head: &[u8], body: &[u8]) -> Result<(), NetError> {
        let len = head.len() + body.len();
        if len >= crate::protocol::packet::MAX_CHUNK || body.len() < 64 << 10 || self.trace_packets
        {
            let mut joined = Vec::with_capacity(len);
            joined.extend_from_slice(head);
            joined.extend_from_slice(body);
            return self.queue_packet(&joined);
        }
        // One chunk: header, head, then the body as it is.
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        crate::protocol::packet::PacketHeader { len, seq: self.write_seq }.encode(&mut self.out);
        self.out.extend_from_slice(head);
        self.write_seq = self.write_seq.wrapping_add(1);
        self.assembler.reset(self.write_seq);
        // One writev for the queue and the body: no tiny segment of its own
        // for the packet header.
        let mut slices = [IoSlice::new(&self.out), IoSlice::new(body)];
        let mut bufs = &mut slices[..];
        while !bufs.is_empty() {
            match self.stream.write_vectored(bufs) {
                Ok(0) => return Err(NetError::Closed),
                Ok(n) => IoSlice::advance_slices(&mut bufs, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(NetError::Io { op: "write packet", source }),
            }
        }
        self.out.clear();
        Ok(())
    }

    /// Writes every queued packet.
    pub fn flush_packets(&mut self) -> Result<(), NetError> {
        if self.out.is_empty() {
            return Ok(());
        }
        let result = self.stream.write_all(&self.out).and_then(|()| self.stream.flush());
        self.out.clear();
        if self.out.capacity() > 1 << 20 {
            self.out = Vec::new();
        }
        result.map_err(|source| NetError::Io { op: "write packet", source })
    }

    /// Appends `len` payload bytes to `out`, growing it only as they arrive.
    fn read_chunk(&mut self, out: &mut Vec<u8>, len: usize) -> Result<(), NetError> {
        let start = out.len();
        let mut got = 0;
        while got < len {
            let step = (len - got).min(got.max(FIRST_GROWTH));
            self.take_budget(out.len(), start + got + step)?;
            out.resize(start + got + step, 0);
            let piece = out.get_mut(start + got..).unwrap_or_default();
            self.read_exact_buffered(piece, "read packet payload")?;
            got += step;
        }
        Ok(())
    }

    /// Takes from the budget what growing a payload from `old` to `new`
    /// bytes costs beyond the free first [`FIRST_GROWTH`].
    fn take_budget(&mut self, old: usize, new: usize) -> Result<(), NetError> {
        let Some(budget) = &self.budget else { return Ok(()) };
        let need = new.saturating_sub(old.max(FIRST_GROWTH));
        if need == 0 || budget.take(&mut self.lease, need) {
            return Ok(());
        }
        let why = format!(
            "{need} more bytes for a command: {} of {} in use by half-received commands",
            budget.in_use(),
            budget.total()
        );
        let source = io::Error::new(io::ErrorKind::OutOfMemory, why);
        Err(NetError::Io { op: "read packet payload", source })
    }

    fn read_exact_buffered(&mut self, dst: &mut [u8], op: &'static str) -> Result<(), NetError> {
        let mut filled = 0;
        while filled < dst.len() {
            if self.start == self.end {
                let want = dst.len() - filled;
                if want >= self.buf.len() {
                    // Large payloads go straight into the destination.
                    let rest = dst.get_mut(filled..).unwrap_or_default();
                    let n = read_some(&mut self.stream, rest, op, self.deadline)?;
                    filled += n;
                    continue;
                }
                self.start = 0;
                self.end = read_some(&mut self.stream, &mut self.buf, op, self.deadline)?;
            }
            let avail = self.buf.get(self.start..self.end).unwrap_or_default();
            let n = avail.len().min(dst.len() - filled);
            if let (Some(to), Some(from)) = (dst.get_mut(filled..filled + n), avail.get(..n)) {
                to.copy_from_slice(from);
            }
            filled += n;
            self.start += n;
        }
        Ok(())
    }
}

fn read_some<S: Read>(
    stream: &mut S,
    dst: &mut [u8],
    op: &'static str,
    deadline: Option<Instant>,
) -> Result<usize, NetError> {
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(NetError::Io { op, source: io::ErrorKind::TimedOut.into() });
        }
        match stream.read(dst) {
            Ok(0) => return Err(NetError::Closed),
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => return Err(NetError::Io { op, source }),
        }
    }
}

#[cfg(test)]
#[path = "packet_stream_tests.rs"]
mod tests;
