//! Cuts one direction's byte stream into protocol packets for decoding.
//!
//! The proxy relays bytes as they arrive; a copy goes through a [`Framer`],
//! which yields each logical packet (sequence id of its first chunk and the
//! joined payload of a >16 MiB packet split into 0xFFFFFF-byte chunks).
//! No sequence checks: the proxy shows what was sent, right or wrong.

use crate::protocol::packet::MAX_CHUNK;

/// One packet seen on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Sequence id of its first chunk.
    pub seq: u8,
    /// The payload (continuation chunks joined).
    pub payload: Vec<u8>,
}

/// Accumulates bytes and yields whole packets.
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
    pending: Option<Frame>,
}

impl Framer {
    /// A framer at a packet boundary.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `bytes` and returns the packets they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Frame> {
        self.buf.extend_from_slice(bytes);
        let mut frames = Vec::new();
        let mut used = 0;
        while let Some(&[l0, l1, l2, seq]) = self.buf.get(used..used + 4) {
            let len = usize::from(l0) | usize::from(l1) << 8 | usize::from(l2) << 16;
            let Some(chunk) = self.buf.get(used + 4..used + 4 + len) else { break };
            let frame = self.pending.get_or_insert_with(|| Frame { seq, payload: Vec::new() });
            frame.payload.extend_from_slice(chunk);
            used += 4 + len;
            if len < MAX_CHUNK {
                frames.extend(self.pending.take());
            }
        }
        self.buf.drain(..used);
        frames
    }

    /// Bytes held that do not yet form a whole packet.
    pub fn buffered(&self) -> usize {
        self.buf.len() + self.pending.as_ref().map_or(0, |f| f.payload.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yields_packets_across_reads_and_joins_continuations() {
        let mut f = Framer::new();
        assert!(f.push(&[3, 0, 0, 7, b'a']).is_empty());
        let frames = f.push(&[b'b', b'c', 1, 0, 0, 8]);
        assert_eq!(frames, vec![Frame { seq: 7, payload: b"abc".to_vec() }]);
        assert_eq!(f.buffered(), 4);
        let frames = f.push(&[b'z', 0, 0, 0, 9]);
        assert_eq!(
            frames,
            vec![Frame { seq: 8, payload: b"z".to_vec() }, Frame { seq: 9, payload: vec![] }]
        );

        let mut wire = vec![0xff, 0xff, 0xff, 0];
        wire.extend(vec![1u8; MAX_CHUNK]);
        wire.extend([2, 0, 0, 1, 2, 2]);
        let frames = f.push(&wire);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].seq, 0);
        assert_eq!(frames[0].payload.len(), MAX_CHUNK + 2);
        assert_eq!(f.buffered(), 0);
    }
}
