//! The semi-sync ACK sender: one thread per semi-sync connection that owns
//! the write half of the dump socket and sends an ACK for each position the
//! writer reports durable.
//!
//! The dump thread blocks in `read` and cannot also wait for an fsync, so
//! the ACKs leave from here, in the order the writer made them durable.
//! The ACK packet always has sequence id 0 (protocol.md §5.4).

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};
use log::{debug, trace};

use crate::protocol::command::SemiSyncAck;
use crate::protocol::packet::encode_packets;
use crate::storage::writer::AckRequest;

/// Sends ACKs for one upstream connection.
#[derive(Debug)]
pub struct AckSender {
    /// Write half of the dump connection.
    pub stream: TcpStream,
    /// Durable positions from the writer.
    pub acks: Receiver<AckRequest>,
    /// Number of this connection; requests of other connections are dropped.
    pub connection: u64,
    /// Set by the dump thread when the connection ends.
    pub stop: Arc<AtomicBool>,
    /// ACKs sent, for progress reports.
    pub sent: Arc<AtomicU64>,
}

impl AckSender {
    /// Sends ACKs until stopped or the socket fails.
    pub fn run(mut self) {
        let mut payload = Vec::with_capacity(64);
        let mut wire = Vec::with_capacity(64);
        loop {
            let ack = match self.acks.recv_timeout(Duration::from_millis(100)) {
                Ok(a) => a,
                Err(RecvTimeoutError::Timeout) if !self.stop.load(Ordering::Relaxed) => continue,
                Err(_) => return,
            };
            if ack.connection != self.connection {
                continue;
            }
            payload.clear();
            wire.clear();
            SemiSyncAck { position: ack.position, file: ack.file.as_str().as_bytes().to_vec() }.encode(&mut payload);
            let mut seq = 0;
            encode_packets(&payload, &mut seq, &mut wire);
            if let Err(e) = self.stream.write_all(&wire) {
                debug!("semi-sync ack not sent, connection closing: {e}");
                return;
            }
            self.sent.fetch_add(1, Ordering::Relaxed);
            trace!("semi-sync ack sent file={} position={}", ack.file, ack.position);
        }
    }
}
