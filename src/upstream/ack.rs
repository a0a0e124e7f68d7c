//! The `semi-sync-ack` thread: one per semi-sync connection to the primary.
//! It owns the connection's write half and writes an ACK
//! (`0xEF | u64 position | file`, always sequence id 0, docs/protocol.md §5.4)
//! for the newest flagged position the writer has published as durable
//! ([`AckQueue`]).
//!
//! The dump thread reads the other half and queues the requests; the
//! writer only publishes the durable end. Neither holds a lock while this
//! thread blocks on the socket, so a primary that stops reading ACKs stalls
//! nothing but its own ACKs; after the socket's write timeout this thread
//! fails and closes the connection, and the dump thread reconnects.

use std::net::Shutdown;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use log::trace;

use crate::net::{NetError, NetStream, PacketWriter};
use crate::protocol::command::SemiSyncAck;
use crate::status::Counters;
use crate::storage::ack_queue::{AckQueue, AckRequest, Close};
use crate::storage::watermark::Watermark;

/// How long a clean stop waits for the writer to make the last flagged
/// events durable so that their ACKs can still go out.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// Writes the ACKs of one connection (the body of the `semi-sync-ack` thread).
#[derive(Debug)]
pub struct AckSender<W> {
    queue: AckQueue,
    out: PacketWriter<W>,
    counters: Arc<Counters>,
}

impl<W: std::io::Write> AckSender<W> {
    /// A sender of `queue`'s ACKs to `out` (the write half of the connection).
    pub fn new(queue: AckQueue, out: PacketWriter<W>, counters: Arc<Counters>) -> Self {
        AckSender { queue, out, counters }
    }

    /// Sends ACKs until the queue is closed; stops at the first failed write.
    ///
    /// # Errors
    /// The failed write ([`NetError::Io`], op `write semi-sync ack`).
    pub fn run(mut self) -> Result<(), NetError> {
        let mut payload = Vec::with_capacity(64);
        while let Some(ack) = self.queue.next() {
            payload.clear();
            SemiSyncAck { position: ack.position, file: ack.file.as_str().as_bytes().to_vec() }
                .encode(&mut payload);
            self.out.write_packet(0, &payload).map_err(|e| match e {
                NetError::Io { source, .. } => NetError::Io { op: "write semi-sync ack", source },
                other => other,
            })?;
            self.counters.acks_sent.fetch_add(1, Ordering::Relaxed);
            self.counters.ack_latency.observe(ack.arrived.elapsed());
            trace!("semi-sync ack sent file={} position={}", ack.file, ack.position);
        }
        Ok(())
    }
}

/// The running `semi-sync-ack` thread of one connection.
#[derive(Debug)]
pub struct AckThread {
    queue: AckQueue,
    socket: NetStream,
    handle: JoinHandle<Result<(), NetError>>,
}

impl AckThread {
    /// Starts the thread on a clone of `socket`, released by `watermark`.
    ///
    /// # Errors
    /// When the socket cannot be cloned or the thread cannot start.
    pub fn spawn(
        socket: &NetStream,
        watermark: Watermark,
        counters: Arc<Counters>,
        trace_packets: bool,
    ) -> std::io::Result<Self> {
        let queue = AckQueue::new(watermark);
        let sender = AckSender::new(
            queue.clone(),
            PacketWriter::new(socket.try_clone()?, trace_packets),
            counters,
        );
        let (finished, closer) = (queue.clone(), socket.try_clone()?);
        let handle = thread::Builder::new().name("semi-sync-ack".into()).spawn(move || {
            let result = sender.run();
            if result.is_err() {
                // The ACK path is dead: end the connection, the dump thread reconnects.
                let _ = closer.tcp().shutdown(Shutdown::Both);
            }
            finished.set_finished();
            result
        })?;
        Ok(AckThread { queue, socket: socket.try_clone()?, handle })
    }

    /// Queues the ACK of a flagged event; call it before the event's bytes go to the writer.
    pub fn request(&self, request: AckRequest) {
        self.queue.push(request);
    }

    /// Ends the thread and closes the connection. `drain`: first send the
    /// ACKs that become durable within [`DRAIN_LIMIT`] (a clean stop);
    /// otherwise the requests left are dropped (the connection broke).
    ///
    /// # Errors
    /// The thread's failed write. A panic of the thread goes on in the caller.
    pub fn finish(self, drain: bool) -> Result<(), NetError> {
        if drain {
            let until = Instant::now() + DRAIN_LIMIT;
            self.queue.close(Close::Drain { until });
            // A write blocked on a primary that stopped reading ends with the socket.
            self.queue.wait_finished(until + Duration::from_secs(1));
        } else {
            self.queue.close(Close::Discard);
        }
        let _ = self.socket.tcp().shutdown(Shutdown::Both);
        match self.handle.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

#[cfg(test)]
#[path = "ack_tests.rs"]
mod tests;
