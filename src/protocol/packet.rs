//! Packet framing: the 4-byte header and the 16 MiB continuation rule.
//!
//! A payload of 0xFFFFFF bytes or more is split into 0xFFFFFF-byte chunks
//! and closed by a shorter chunk (an empty one when the size is an exact
//! multiple). Sequence ids count up by one per chunk, modulo 256.

use super::error::DecodeError;
use super::reader::Reader;
use super::writer::put_u24;

/// Largest chunk a single packet carries.
pub const MAX_CHUNK: usize = 0xff_ffff;

/// The 4-byte packet header: `u24 payload_len | u8 sequence_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketHeader {
    /// Length of this chunk's payload.
    pub len: u32,
    /// Sequence id.
    pub seq: u8,
}

impl PacketHeader {
    /// Header size on the wire.
    pub const LEN: usize = 4;

    /// Decodes a header.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let len = r.u24_le("PacketHeader.payload_len")?;
        let seq = r.u8("PacketHeader.sequence_id")?;
        Ok(PacketHeader { len, seq })
    }

    /// Encodes the header.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u24(out, self.len);
        out.push(self.seq);
    }

    /// True when another chunk of the same payload follows.
    pub fn continues(&self) -> bool {
        self.len as usize == MAX_CHUNK
    }
}

/// Frames `payload` into one or more packets starting at sequence `*seq`,
/// leaving `*seq` at the id the next packet must carry.
#[allow(clippy::cast_possible_truncation, reason = "chunks are at most MAX_CHUNK bytes")]
pub fn encode_packets(payload: &[u8], seq: &mut u8, out: &mut Vec<u8>) {
    out.reserve(payload.len() + PacketHeader::LEN * (1 + payload.len() / MAX_CHUNK));
    let mut chunks = payload.chunks(MAX_CHUNK);
    loop {
        let chunk = chunks.next().unwrap_or_default();
        PacketHeader { len: chunk.len() as u32, seq: *seq }.encode(out);
        out.extend_from_slice(chunk);
        *seq = seq.wrapping_add(1);
        if chunk.len() < MAX_CHUNK {
            break;
        }
    }
}

/// Reassembles chunks into payloads and checks sequence ids.
///
/// The socket layer reads a header, asks [`PacketAssembler::accept`] whether it
/// is acceptable, reads exactly `len` bytes into the payload buffer, and asks
/// again while [`PacketHeader::continues`] holds.
#[derive(Debug, Clone)]
pub struct PacketAssembler {
    next_seq: u8,
    max_payload: usize,
}

impl PacketAssembler {
    /// An assembler expecting sequence `seq` and payloads up to `max_payload`.
    pub fn new(seq: u8, max_payload: usize) -> Self {
        PacketAssembler { next_seq: seq, max_payload }
    }

    /// The sequence id the next chunk must carry.
    pub fn next_seq(&self) -> u8 {
        self.next_seq
    }

    /// Changes the payload size cap (smaller before a client authenticates).
    pub fn set_max_payload(&mut self, max_payload: usize) {
        self.max_payload = max_payload;
    }

    /// Resets the expected sequence id (a new command, or after a semi-sync ACK).
    pub fn reset(&mut self, seq: u8) {
        self.next_seq = seq;
    }

    /// Checks a chunk header against the sequence and the size cap, given
    /// `have` payload bytes already assembled; advances the sequence.
    pub fn accept(&mut self, header: PacketHeader, have: usize) -> Result<(), DecodeError> {
        if header.seq != self.next_seq {
            return Err(DecodeError::Invalid {
                what: "PacketHeader.sequence_id",
                value: u64::from(header.seq),
            });
        }
        let total = have.saturating_add(header.len as usize);
        if total > self.max_payload {
            return Err(DecodeError::TooLarge {
                what: "packet payload",
                len: total as u64,
                max: self.max_payload as u64,
            });
        }
        self.next_seq = self.next_seq.wrapping_add(1);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    fn reassemble(wire: &[u8], seq: u8) -> Vec<u8> {
        let mut asm = PacketAssembler::new(seq, 1 << 30);
        let mut r = Reader::new(wire);
        let mut payload = Vec::new();
        loop {
            let h = PacketHeader::decode(&mut r).unwrap();
            asm.accept(h, payload.len()).unwrap();
            payload.extend_from_slice(r.bytes(h.len as usize, "chunk").unwrap());
            if !h.continues() {
                break;
            }
        }
        r.finish("wire").unwrap();
        payload
    }

    #[test]
    fn frames_small_payload_in_one_packet() {
        let mut seq = 3;
        let mut out = Vec::new();
        encode_packets(b"abc", &mut seq, &mut out);
        assert_eq!(out, [3, 0, 0, 3, b'a', b'b', b'c']);
        assert_eq!(seq, 4);
    }

    #[test]
    fn splits_exact_multiple_with_trailing_empty_packet() {
        let payload = vec![7u8; MAX_CHUNK];
        let mut seq = 0;
        let mut out = Vec::new();
        encode_packets(&payload, &mut seq, &mut out);
        assert_eq!(out.len(), MAX_CHUNK + 8);
        assert_eq!(seq, 2);
        assert_eq!(reassemble(&out, 0), payload);
    }

    #[test]
    fn splits_and_reassembles_a_large_payload() {
        let payload: Vec<u8> = (0..(2 * MAX_CHUNK + 10)).map(|i| i as u8).collect();
        let mut seq = 255;
        let mut out = Vec::new();
        encode_packets(&payload, &mut seq, &mut out);
        assert_eq!(seq, 2);
        assert_eq!(reassemble(&out, 255), payload);
    }

    #[test]
    fn rejects_wrong_sequence_and_oversized_payload() {
        let mut asm = PacketAssembler::new(1, 100);
        assert!(asm.accept(PacketHeader { len: 1, seq: 2 }, 0).is_err());
        assert!(asm.accept(PacketHeader { len: 101, seq: 1 }, 0).is_err());
        assert!(asm.accept(PacketHeader { len: 100, seq: 1 }, 0).is_ok());
        assert_eq!(asm.next_seq(), 2);
    }

    #[test]
    fn rejects_every_truncation_of_a_header() {
        for cut in 0..4 {
            let bytes = [1u8, 0, 0, 0];
            assert!(PacketHeader::decode(&mut Reader::new(&bytes[..cut])).is_err());
        }
    }
}
