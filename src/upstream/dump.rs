//! The dump thread: follows the primary until stopped, handing events to
//! the writer in batches, and reconnects with bounded backoff when the link
//! breaks (100 ms doubling up to `MASTER_CONNECT_RETRY`, 10 s by default).
//!
//! Its stop flag is its own: the `replication` thread ([`super::replication`])
//! sets it for `STOP SLAVE` and at shutdown, and gets the stream state back
//! ([`DumpThread::follow`]) to start the next dump where this one ended.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use log::{debug, info, warn};

use super::ack::AckThread;
use super::connection::Connection;
use super::gtid_start::discover_gtid_start;
use super::lister::Lister;
use super::progress::Progress;
use super::session;
use super::stream::{Action, StreamState};
use super::switch::{check_switch_cached, GtidState};
use super::{StartFrom, UpstreamConfig, UpstreamError};
use crate::binlog::{EventHeader, EventType};
use crate::net::{NetError, NetStream, PacketStream};
use crate::protocol::command::SEMI_SYNC_MAGIC;
use crate::protocol::response::{is_eof, is_err};
use crate::protocol::{ErrPacket, Reader};
use crate::shutdown::Shutdown;
use crate::status::Counters;
use crate::status::{IoState, UpstreamStatus};
use crate::storage::ack_queue::AckRequest;
use crate::storage::budget::ByteBudget;
use crate::storage::watermark::Watermark;
use crate::storage::writer::WriterMsg;

/// A batch is handed to the writer once it holds this many bytes.
const BATCH_BYTES: usize = 256 << 10;
/// The packet buffer is shrunk back to this after a larger event.
const PACKET_KEEP: usize = 1 << 20;
const BACKOFF_MIN: Duration = Duration::from_millis(100);

/// The dump thread's side of the writer.
#[derive(Debug, Clone)]
pub struct ToWriter {
    /// The writer's queue.
    pub tx: Sender<WriterMsg>,
    /// The bytes that queue may hold (closed when the writer stops).
    pub budget: ByteBudget,
    /// The durable end the writer publishes (semi-sync ACKs wait for it).
    pub durable: Watermark,
    /// The data directory (read for the GTID state at our end before a
    /// switch to a new primary).
    pub dir: PathBuf,
}

/// The upstream dump thread.
#[derive(Debug)]
pub struct DumpThread {
    cfg: UpstreamConfig,
    state: StreamState,
    writer: ToWriter,
    shutdown: Shutdown,
    counters: Arc<Counters>,
    status: Arc<Mutex<UpstreamStatus>>,
    /// The connection being read, for [`DumpWaker`].
    reading: Arc<Mutex<Option<std::net::TcpStream>>>,
    /// Dumps the primary accepted so far (0: none yet since start).
    connections: u64,
    /// The GTID state at our end, once read for a pending switch.
    our_state: Option<GtidState>,
}

/// Wakes a dump thread blocked reading the primary (at shutdown or `STOP
/// SLAVE`): ends the read side of its connection, so it stops at once
/// instead of at the next event or heartbeat. The ACK side stays open for
/// the last ACKs.
#[derive(Debug, Clone)]
pub struct DumpWaker(Arc<Mutex<Option<std::net::TcpStream>>>);

impl DumpWaker {
    /// Ends the current connection's reads (the shutdown flag must be set first).
    pub fn wake(&self) {
        if let Some(socket) = self.0.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
            let _ = socket.shutdown(std::net::Shutdown::Read);
        }
    }
}

struct Batch {
    bytes: Vec<u8>,
    end: u64,
}

impl DumpThread {
    /// A dump thread resuming from `state`, handing events to `writer`,
    /// until `shutdown` (its own stop flag) is set.
    pub fn new(
        cfg: UpstreamConfig,
        state: StreamState,
        writer: ToWriter,
        shutdown: Shutdown,
        status: Arc<Mutex<UpstreamStatus>>,
        counters: Arc<Counters>,
    ) -> Self {
        DumpThread {
            cfg,
            state,
            writer,
            shutdown,
            counters,
            status,
            reading: Arc::default(),
            connections: 0,
            our_state: None,
        }
    }

    /// A handle that wakes this thread out of a blocked read at shutdown.
    pub fn waker(&self) -> DumpWaker {
        DumpWaker(Arc::clone(&self.reading))
    }

    /// Updates the status shown by `SHOW SLAVE STATUS`.
    fn report(&self, update: impl FnOnce(&mut UpstreamStatus)) {
        let mut s = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((file, pos)) = self.state.position() {
            s.file = file.as_str().to_owned();
            s.position = pos;
        }
        s.acks_sent = self.counters.acks_sent.load(Ordering::Relaxed);
        update(&mut s);
    }

    /// Follows the primary until shutdown or a fatal error.
    pub fn run(self) -> Result<(), UpstreamError> {
        self.follow().1
    }

    /// Follows the primary until stopped or a fatal error, and returns the
    /// stream state where it ended (everything it handed to the writer).
    pub fn follow(mut self) -> (StreamState, Result<(), UpstreamError>) {
        let result = self.reconnecting();
        (self.state, result)
    }

    fn reconnecting(&mut self) -> Result<(), UpstreamError> {
        let max = self.cfg.connect_retry.max(Duration::from_millis(1));
        let mut backoff = BACKOFF_MIN.min(max);
        while !self.shutdown.is_set() {
            let started = Instant::now();
            let connections = self.connections;
            let result = self.follow_once();
            let error = result.as_ref().err().map(ToString::to_string).unwrap_or_default();
            let errno = result.as_ref().err().map_or(0, UpstreamError::io_errno);
            self.report(|s| {
                s.set_io(IoState::Connecting, Instant::now());
                s.last_error = error;
                s.last_io_errno = errno;
            });
            match result {
                Ok(()) => return Ok(()),
                // A link that broke while we were stopping is no news.
                Err(_) if self.shutdown.is_set() => return Ok(()),
                // Something else at the address from the start is a wrong
                // --host/--port, not an outage: say so and stop.
                Err(e) if e.is_wrong_service() && self.connections == 0 => return Err(e),
                Err(e) if e.is_retryable() => {
                    if started.elapsed() > Duration::from_secs(30) {
                        backoff = BACKOFF_MIN.min(max);
                    }
                    let detail =
                        std::error::Error::source(&e).map(|s| format!(": {s}")).unwrap_or_default();
                    // Lost: the dump was streaming; failed: it never started.
                    let what = if self.connections > connections {
                        "upstream connection lost"
                    } else {
                        "upstream connect failed"
                    };
                    warn!("{what}: {e}{detail}; reconnecting in {} ms", backoff.as_millis());
                    if self.shutdown.wait(backoff) {
                        return Ok(());
                    }
                    backoff = (backoff * 2).min(max);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn follow_once(&mut self) -> Result<(), UpstreamError> {
        if self.state.position().is_none() {
            if let StartFrom::Gtid(gtid) = &self.cfg.start {
                let file = discover_gtid_start(&self.cfg, gtid)?;
                self.state.set_start_file(file);
            } else if let StartFrom::File(f) = &self.cfg.start {
                self.state.set_start_file(f.clone());
            }
        }
        if let Some((file, (last, end))) = self.state.pending_switch() {
            let (file, last) = (file.clone(), last.clone());
            // What an earlier dump queued must be durable before it is read.
            let (budget, stop) = (&self.writer.budget, &self.shutdown);
            let give_up = || budget.is_closed() || stop.is_set();
            if !self.writer.durable.wait_covers(&last, end, give_up) {
                return if stop.is_set() { Ok(()) } else { Err(UpstreamError::WriterGone) };
            }
            let dir = &self.writer.dir;
            check_switch_cached(&self.cfg, dir, (&last, end), &file, &mut self.our_state)?;
        }
        let conn = Connection::connect(&self.cfg)?;
        let list_logs = session::list_binlogs_is_safe(&self.cfg, self.state.position().is_some());
        if !list_logs {
            debug!(
                "resuming under semi-sync: listing the primary's binlogs on a second connection \
                 once the dump runs"
            );
        }
        let mut session = session::prepare(conn, &self.cfg, list_logs)?;
        self.state.start_connection(session.checksum);
        let (file, pos) = self.state.dump_request();
        info!(
            "requesting binlog dump primary={}:{} primary_server_id={} our_server_id={} file={:?} \
             position={pos} semi_sync={}",
            self.cfg.host,
            self.cfg.port,
            session.primary_server_id,
            self.cfg.server_id,
            String::from_utf8_lossy(&file),
            session.semi_sync
        );
        session.request_dump(&file, pos, &self.cfg)?;
        self.connections += 1;
        let primary_logs = std::mem::take(&mut session.primary_logs);
        let semi_sync = session.semi_sync;
        let primary_server_id = session.primary_server_id;
        let semi_sync_warning = session.semi_sync_warning.take().unwrap_or_default();
        self.report(|s| {
            s.set_io(IoState::Yes, Instant::now());
            s.semi_sync = semi_sync;
            s.semi_sync_warning = semi_sync_warning;
            s.primary_server_id = primary_server_id;
            s.last_error.clear();
            s.last_io_errno = 0;
        });
        let mut ps = session.conn.into_stream();
        set_read_timeout(ps.get_ref().tcp(), self.cfg.dead_link_after())?;
        let acks = if semi_sync {
            let spawned = AckThread::spawn(
                ps.get_ref(),
                self.writer.durable.clone(),
                Arc::clone(&self.counters),
                self.cfg.trace_packets,
            );
            let op = "start the semi-sync-ack thread";
            Some(spawned.map_err(|source| UpstreamError::Net(NetError::Io { op, source }))?)
        } else {
            None
        };
        let mut progress = Progress::new(primary_logs, list_logs);
        self.counters.caught_up.store(progress.caught_up, Ordering::Relaxed);
        // Set before the loop's first look at the shutdown flag: a waker
        // that runs earlier finds the flag set there, one that runs later
        // finds the socket.
        *self.reading.lock().unwrap_or_else(PoisonError::into_inner) =
            ps.get_ref().tcp().try_clone().ok();
        // Resuming under semi-sync, the binlogs are listed on a second
        // connection once the dump runs (see [`Lister`]).
        let mut lister = None;
        let result = self.stream_events(&mut ps, acks.as_ref(), (&mut progress, &mut lister));
        if let Some(lister) = lister {
            lister.finish();
        }
        *self.reading.lock().unwrap_or_else(PoisonError::into_inner) = None;
        // A clean stop sends the ACKs of what the writer still makes durable;
        // a broken connection's requests die with it.
        let acked = acks.map(|a| a.finish(result.is_ok()));
        let _ = ps.get_ref().tcp().shutdown(std::net::Shutdown::Both);
        match (result, acked) {
            // The ACK thread's failed write is why the connection closed.
            (Err(UpstreamError::Net(_)), Some(Err(e))) => Err(e.into()),
            (result, _) => result,
        }
    }

    /// Streams events until shutdown or an error. On an error the events
    /// already received whole still go to the writer: the position we
    /// resume from counts them, so dropping them would leave a gap.
    fn stream_events(
        &mut self,
        ps: &mut PacketStream<NetStream>,
        acks: Option<&AckThread>,
        progress: (&mut Progress, &mut Option<Lister>),
    ) -> Result<(), UpstreamError> {
        let mut batch = Batch { bytes: Vec::with_capacity(BATCH_BYTES), end: 0 };
        let result = self.stream_into(ps, acks, progress, &mut batch);
        if result.is_err() {
            self.flush(&mut batch)?;
            if matches!(result, Err(UpstreamError::Net(_))) && self.shutdown.is_set() {
                // Woken out of a read (DumpWaker): a clean stop.
                return Ok(());
            }
        }
        result
    }

    fn stream_into(
        &mut self,
        ps: &mut PacketStream<NetStream>,
        acks: Option<&AckThread>,
        (progress, lister): (&mut Progress, &mut Option<Lister>),
        batch: &mut Batch,
    ) -> Result<(), UpstreamError> {
        let mut packet = Vec::new();
        let mut first = true;
        let mut headers = acks.is_some();
        ps.expect_seq(1);
        loop {
            if self.shutdown.is_set() {
                return self.flush(batch);
            }
            if packet.capacity() > PACKET_KEEP {
                packet = Vec::with_capacity(PACKET_KEEP);
            }
            let prefix = if headers { 3 } else { 1 };
            ps.read_packet_sized(&mut packet, |p| event_len_hint(p, prefix))?;
            if is_err(&packet) {
                self.flush(batch)?;
                let err = ErrPacket::decode(&mut Reader::new(&packet))?;
                return Err(explain_dump_error(err));
            }
            if is_eof(&packet) {
                self.flush(batch)?;
                return Err(UpstreamError::Unexpected {
                    expected: "a binlog event (the primary ended the dump)",
                    got: 0xfe,
                });
            }
            if first && headers && packet.get(1) != Some(&SEMI_SYNC_MAGIC) {
                warn!("primary sends no semi-sync headers; replicating asynchronously");
                headers = false;
            }
            if first && !progress.listed() {
                // The dump runs: the primary took our position as acknowledged.
                *lister = Some(Lister::spawn(&self.cfg));
            }
            if let Some(logs) = lister.as_ref().and_then(Lister::take) {
                progress.set_listing(logs);
            }
            first = false;
            let (skip, need_ack) = {
                let (event, need_ack) = split_event(&packet, headers)?;
                (packet.len() - event.len(), need_ack)
            };
            let event_len = packet.len() - skip;
            self.counters.event_received(event_len);
            if need_ack {
                // The primary restarts its packet numbering after a flagged event.
                ps.expect_seq(1);
            }
            let action = self.state.on_event(packet.get(skip..).unwrap_or_default())?;
            if matches!(action, Action::Store { .. }) {
                progress.stored(packet.get(skip..).unwrap_or_default());
            }
            if let (true, Some(acks), Some((file, position))) =
                (need_ack, acks, self.state.position())
            {
                // Queued before the event goes to the writer, so the publish
                // that covers it finds it.
                acks.request(AckRequest { file: file.clone(), position, arrived: Instant::now() });
            }
            match action {
                // Heartbeats land here: a quiet primary must not keep us
                // connected (and the primary waiting for ACKs) after the
                // writer stopped on a storage error.
                Action::Skip if self.writer.budget.is_closed() => {
                    return Err(UpstreamError::WriterGone)
                }
                Action::Skip => {
                    let event_type = packet.get(skip + 4).copied().map(EventType);
                    if let (
                        Some(EventType::HEARTBEAT | EventType::HEARTBEAT_V2),
                        Some((file, pos)),
                    ) = (event_type, self.state.position())
                    {
                        progress.heartbeat(file, pos, &self.counters);
                    }
                }
                Action::Open { file, create } => {
                    self.flush(batch)?;
                    progress.new_file(&file, create);
                    self.send(WriterMsg::Open { file, create })?;
                }
                Action::Store { end } if event_len >= BATCH_BYTES => {
                    // Large events move to the writer without a copy.
                    self.flush(batch)?;
                    let bytes = std::mem::take(&mut packet);
                    batch.end = end;
                    self.send_bytes(bytes, skip, end)?;
                }
                Action::Store { end } => {
                    batch.bytes.extend_from_slice(packet.get(skip..).unwrap_or_default());
                    batch.end = end;
                }
            }
            let pending = !batch.bytes.is_empty();
            if pending && (batch.bytes.len() >= BATCH_BYTES || !ps.has_buffered()) {
                self.flush(batch)?;
            }
            if let Some((file, pos)) = self.state.position() {
                if progress.tick(file, pos, event_len as u64, &self.counters) {
                    let behind = progress.behind(file, pos);
                    self.report(|s| s.behind_bytes = behind);
                }
            }
            if let Some(line) = progress.take_announcement(&self.writer.durable) {
                info!("{line}");
            }
        }
    }

    fn flush(&self, batch: &mut Batch) -> Result<(), UpstreamError> {
        if batch.bytes.is_empty() {
            return Ok(());
        }
        let bytes = std::mem::replace(&mut batch.bytes, Vec::with_capacity(BATCH_BYTES));
        self.send_bytes(bytes, 0, batch.end)
    }

    fn send_bytes(&self, bytes: Vec<u8>, skip: usize, end: u64) -> Result<(), UpstreamError> {
        if !self.writer.budget.acquire(bytes.len() as u64) {
            return Err(UpstreamError::WriterGone);
        }
        self.send(WriterMsg::Append { bytes, skip, end })
    }

    fn send(&self, msg: WriterMsg) -> Result<(), UpstreamError> {
        self.writer.tx.send(msg).map_err(|_| UpstreamError::WriterGone)
    }
}

pub(super) fn set_read_timeout(
    sock: &std::net::TcpStream,
    t: Duration,
) -> Result<(), UpstreamError> {
    sock.set_read_timeout(Some(t))
        .map_err(|source| UpstreamError::Connect { addr: String::new(), source })
}

/// The packet length implied by the `event_len` of the event header that
/// starts after `prefix` bytes (status byte, semi-sync header).
fn event_len_hint(first_chunk: &[u8], prefix: usize) -> Option<usize> {
    let mut r = Reader::new(first_chunk.get(prefix..)?);
    let header = EventHeader::decode(&mut r).ok()?;
    Some(prefix + header.event_len as usize)
}

/// Splits a stream packet into the event bytes and the semi-sync need-ACK flag.
pub fn split_event(packet: &[u8], semi_sync_headers: bool) -> Result<(&[u8], bool), UpstreamError> {
    let mut r = Reader::new(packet);
    r.u8("binlog packet status")?;
    let mut need_ack = false;
    if semi_sync_headers {
        let magic = r.u8("semi-sync magic")?;
        if magic != SEMI_SYNC_MAGIC {
            return Err(UpstreamError::Unexpected {
                expected: "the semi-sync magic 0xef",
                got: magic,
            });
        }
        need_ack = r.u8("semi-sync flag")? == 1;
    }
    Ok((r.rest(), need_ack))
}

/// The error of a dump the primary refused, with the likely cause.
pub(super) fn explain_dump_error(err: ErrPacket) -> UpstreamError {
    if matches!(err.code, 1045 | 1227) {
        return UpstreamError::needs_replication_slave("the binlog dump", err);
    }
    let during = if err.code == 1236 {
        "the binlog dump (the binlogs binlogserver needs are not on the primary: purged, RESET \
         MASTER, or another server; binlogserver never overwrites stored files, so fix the primary \
         or move the data directory aside)"
    } else {
        "the binlog dump"
    };
    UpstreamError::Server { during: during.into(), err }
}
