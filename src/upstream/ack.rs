//! The semi-sync ACK sink: encodes an ACK (`0xEF | u64 position | file`)
//! and writes it on the dump connection's write half. The writer calls it
//! right after the fsync that covers the position.
//!
//! The ACK packet always has sequence id 0 (docs/protocol.md §5.4, §5.5).

use std::io::Write;
use std::net::TcpStream;

use log::trace;

use crate::protocol::command::SemiSyncAck;
use crate::protocol::packet::encode_packets;
use crate::storage::writer::{AckRequest, AckSink};

/// A sink writing ACKs to `stream` (the writer counts what it sent); with
/// `trace_packets` each ACK packet is logged as a hex dump, as
/// [`crate::net::PacketStream`] logs the packets it moves.
pub fn ack_sink(mut stream: TcpStream, trace_packets: bool) -> AckSink {
    let mut payload = Vec::with_capacity(64);
    let mut wire = Vec::with_capacity(64);
    Box::new(move |ack: &AckRequest| {
        payload.clear();
        wire.clear();
        SemiSyncAck { position: ack.position, file: ack.file.as_str().as_bytes().to_vec() }
            .encode(&mut payload);
        encode_packets(&payload, &mut 0, &mut wire);
        if trace_packets {
            trace!(
                "packet out seq=0 len={}\n{}",
                payload.len(),
                crate::hexdump::hexdump(&payload, 0)
            );
        }
        stream.write_all(&wire)?;
        trace!("semi-sync ack sent file={} position={}", ack.file, ack.position);
        Ok(())
    })
}
