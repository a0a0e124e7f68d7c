//! `PacketWriter`: whole packets on a connection's write half (a clone of
//! the socket that a [`PacketStream`](super::PacketStream) or another
//! thread reads), for the writes that stand alone: the semi-sync ACKs
//! sent while the dump thread reads, and the ERR that refuses a
//! connection before any session exists.
//!
//! `frame_packet` is the one place where an outgoing payload is framed
//! and traced (`--trace-packets`); `PacketStream` queues through it too.

use std::io::Write;

use log::trace;

use super::packet_stream::NetError;
use crate::hexdump::hexdump;
use crate::protocol::packet::encode_packets;

/// Appends `payload`, framed as packets numbered from `*seq` (advanced past
/// them), to `out`; with `trace_packets` the payload is logged as a hex dump.
pub(crate) fn frame_packet(payload: &[u8], seq: &mut u8, out: &mut Vec<u8>, trace_packets: bool) {
    if trace_packets {
        trace!("packet out seq={} len={}\n{}", *seq, payload.len(), hexdump(payload, 0));
    }
    encode_packets(payload, seq, out);
}

/// Writes whole packets to a byte stream, one call per packet.
#[derive(Debug)]
pub struct PacketWriter<W> {
    stream: W,
    out: Vec<u8>,
    trace_packets: bool,
}

impl<W: Write> PacketWriter<W> {
    /// Writes to `stream`; `trace_packets` logs every packet as a hex dump.
    pub fn new(stream: W, trace_packets: bool) -> Self {
        PacketWriter { stream, out: Vec::with_capacity(64), trace_packets }
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &W {
        &self.stream
    }

    /// Writes `payload` as packets numbered from `seq`, in one `write`
    /// where the socket takes it whole, and flushes.
    ///
    /// # Errors
    /// [`NetError::Io`] when the stream fails or times out.
    pub fn write_packet(&mut self, seq: u8, payload: &[u8]) -> Result<(), NetError> {
        self.out.clear();
        frame_packet(payload, &mut { seq }, &mut self.out, self.trace_packets);
        let result = self.stream.write_all(&self.out).and_then(|()| self.stream.flush());
        result.map_err(|source| NetError::Io { op: "write packet", source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::PacketStream;
    use std::io::{Cursor, Read};

    /// Reads what a writer wrote, the way a peer would.
    struct Wire(Cursor<Vec<u8>>);

    impl Read for Wire {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.0.read(buf)
        }
    }

    impl Write for Wire {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn writes_one_framed_packet_per_call_with_the_given_sequence_id() {
        let mut w = PacketWriter::new(Vec::new(), false);
        w.write_packet(0, b"\xefabc").unwrap();
        w.write_packet(7, b"x").unwrap();
        assert_eq!(w.get_ref().as_slice(), b"\x04\x00\x00\x00\xefabc\x01\x00\x00\x07x");
    }

    #[test]
    fn a_packet_stream_reads_back_what_it_wrote_including_continuations() {
        let big = vec![0x5a; crate::protocol::packet::MAX_CHUNK + 10];
        let mut w = PacketWriter::new(Vec::new(), true);
        w.write_packet(3, &big).unwrap();
        let mut ps = PacketStream::new(Wire(Cursor::new(w.stream)), 1 << 30);
        ps.expect_seq(3);
        let mut got = Vec::new();
        ps.read_packet(&mut got).unwrap();
        assert_eq!(got, big);
    }

    #[test]
    fn a_failed_write_is_a_net_error() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let err = PacketWriter::new(Broken, false).write_packet(0, b"x").unwrap_err();
        assert!(matches!(err, NetError::Io { op: "write packet", .. }), "{err:?}");
    }
}
