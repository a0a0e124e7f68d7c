//! The binlog sender: streams stored binlogs to one client the way a real
//! primary does, and follows the live tail.
//!
//! Per file: an artificial ROTATE, the file's FORMAT_DESCRIPTION (in-use
//! flag cleared; `log_pos` and `created` zeroed when starting mid-file),
//! then the stored events as they are. At the durable end of the live file
//! it waits on the writer's watermark (no polling) and sends heartbeats at
//! the client's `@master_heartbeat_period`; a non-blocking dump ends with
//! EOF instead. Nothing past the durable end is ever read.
//!
//! The parts: [`start`] resolves the request to a file, a position and
//! what to skip; [`mariadb_gtid`] holds MariaDB's rules for GTID starts;
//! `filter` decides per event what the client gets; `compat` rewrites
//! MariaDB events for clients below capability 4.

mod compat;
mod filter;
pub mod mariadb_gtid;
pub mod start;

use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use log::{debug, info};

use crate::binlog::gtid_set::GtidSet;
use crate::binlog::{
    BinlogFileName, ChecksumAlg, EventHeader, FormatDescription, Heartbeat, Rotate, TrxBoundary,
    LOG_EVENT_ARTIFICIAL_F,
};
use crate::net::{NetError, NetStream, PacketStream};
use crate::protocol::command::{ComBinlogDump, ComBinlogDumpGtid, BINLOG_DUMP_NON_BLOCK};
use crate::protocol::{ErrPacket, OkPacket};
use crate::server::session_info::durable_files;
use crate::server::session_vars::SessionVars;
use crate::server::Shared;
use crate::storage::reader::{file_size, BinlogReader};
use crate::storage::StorageError;
use start::{Skip, Start};

/// Longest wait between checks of the kill flag.
const WAIT_SLICE: Duration = Duration::from_millis(500);

/// A dump command.
#[derive(Debug, Clone)]
pub enum DumpRequest {
    /// `COM_BINLOG_DUMP` (MariaDB GTID mode when `@slave_connect_state` is set).
    FilePos(ComBinlogDump),
    /// MySQL `COM_BINLOG_DUMP_GTID`.
    Gtid(ComBinlogDumpGtid),
}

enum DumpError {
    Net(NetError),
    Refuse(ErrPacket),
}

impl From<NetError> for DumpError {
    fn from(e: NetError) -> Self {
        DumpError::Net(e)
    }
}

impl From<StorageError> for DumpError {
    fn from(e: StorageError) -> Self {
        DumpError::Refuse(ErrPacket::new(
            1236,
            b"HY000",
            format!("binlogserver could not read its binlogs: {e}"),
        ))
    }
}

/// Streams binlogs to one client.
#[derive(Debug)]
pub struct BinlogSender<'a> {
    shared: &'a Shared,
    id: u32,
    killed: &'a AtomicBool,
    vars: &'a SessionVars,
    deprecate_eof: bool,
}

/// A reader at the durable end of its file.
struct AtEnd {
    /// The file is closed: nothing more will come.
    closed: bool,
    /// The watermark version seen before the read.
    version: u64,
}

/// Per-dump state.
struct Stream<'a> {
    sender: BinlogSender<'a>,
    agreed: Option<ChecksumAlg>,
    alg: Option<ChecksumAlg>,
    fd: Option<FormatDescription>,
    semi_sync: bool,
    /// The client asked for ANNOTATE_ROWS (dump flag 0x02).
    annotate: bool,
    /// `@mariadb_slave_capability` (0 when not set: MySQL clients).
    capability: u8,
    non_blocking: bool,
    heartbeat: Option<Duration>,
    heartbeat_v2: bool,
    server_id: u32,
    skip: Skip,
    skipping: Option<TrxBoundary>,
    skipped: bool,
    file: Option<BinlogFileName>,
    last_send: Instant,
}

impl<'a> BinlogSender<'a> {
    /// A sender for session `id`.
    pub fn new(
        shared: &'a Shared,
        id: u32,
        killed: &'a AtomicBool,
        vars: &'a SessionVars,
        deprecate_eof: bool,
    ) -> Self {
        BinlogSender { shared, id, killed, vars, deprecate_eof }
    }

    /// Runs the dump; returns when it ends (EOF of a non-blocking dump, or
    /// an ERR sent); a broken connection is an error.
    pub fn run(
        self,
        ps: &mut PacketStream<NetStream>,
        request: DumpRequest,
    ) -> Result<(), NetError> {
        let (flags, server_id, start) = match self.resolve(&request) {
            Ok(r) => r,
            Err(err) => return send_err(ps, &err),
        };
        self.shared.registry.start_dump(self.id, server_id);
        // From here on purges leave the start file (and every later one) alone.
        if !self.shared.registry.start_reading(self.id, &start.file) {
            return send_err(
                ps,
                &ErrPacket::new(1236, b"HY000", format!("binlog {} was purged", start.file)),
            );
        }
        info!(
            "binlog dump started id={} server_id={server_id} file={} position={} \
             flags={flags:#06x} gtid={}",
            self.id,
            start.file,
            start.pos,
            !matches!(start.skip, Skip::None)
        );
        let mariadb_client = self.vars.mariadb_capability() > 0;
        let mut stream = Stream {
            agreed: self.vars.checksum_alg(),
            alg: None,
            fd: None,
            semi_sync: self.vars.semi_sync_requested(),
            annotate: flags & 0x02 != 0,
            capability: self.vars.mariadb_capability(),
            non_blocking: flags & BINLOG_DUMP_NON_BLOCK != 0 || server_id == 0,
            heartbeat: self.vars.heartbeat_period().filter(|d| !d.is_zero()),
            heartbeat_v2: !mariadb_client && flags & 0x02 != 0,
            server_id: 0,
            skip: start.skip.clone(),
            skipping: None,
            skipped: false,
            file: None,
            last_send: Instant::now(),
            sender: self,
        };
        let result = stream.stream(ps, start);
        stream.sender.shared.registry.stop_reading(stream.sender.id);
        match result {
            Ok(()) => Ok(()),
            Err(DumpError::Net(e)) => Err(e),
            Err(DumpError::Refuse(err)) => send_err(ps, &err),
        }
    }

    fn resolve(&self, request: &DumpRequest) -> Result<(u16, u32, Start), ErrPacket> {
        match request {
            DumpRequest::FilePos(cmd) => {
                let start = match self.vars.slave_connect_state() {
                    Some(state) if self.vars.mariadb_capability() >= 4 => start::mariadb_gtid(
                        self.shared,
                        &state,
                        self.vars.gtid_strict_mode(),
                        self.vars.gtid_ignore_duplicates(),
                    )?,
                    _ => start::file_pos(self.shared, &cmd.file, u64::from(cmd.position))?,
                };
                Ok((cmd.flags, cmd.server_id, start))
            }
            DumpRequest::Gtid(cmd) => {
                let set = GtidSet::decode(&cmd.gtid_set).map_err(|e| {
                    ErrPacket::new(
                        1236,
                        b"HY000",
                        format!("Malformed GTID set in COM_BINLOG_DUMP_GTID: {e}"),
                    )
                })?;
                Ok((
                    cmd.flags,
                    cmd.server_id,
                    start::mysql_gtid(self.shared, &cmd.file, cmd.position, set)?,
                ))
            }
        }
    }
}

fn send_err(ps: &mut PacketStream<NetStream>, err: &ErrPacket) -> Result<(), NetError> {
    debug!("binlog dump refused: {err}");
    let mut out = Vec::new();
    err.encode(&mut out);
    ps.write_packet(&out)
}

impl Stream<'_> {
    fn stream(&mut self, ps: &mut PacketStream<NetStream>, start: Start) -> Result<(), DumpError> {
        let (mut file, mut pos) = (start.file, start.pos);
        loop {
            match self.send_file(ps, &file, pos)? {
                Some(next) => (file, pos) = (next, 4),
                None => return Ok(()),
            }
        }
    }

    /// The durable length of `file` and whether it is closed (not the live file).
    fn limit(&self, file: &BinlogFileName) -> Result<(u64, bool), DumpError> {
        let shared = self.sender.shared;
        match shared.watermark.get() {
            Some(wm) if wm.file == *file => Ok((wm.offset, false)),
            Some(wm) if *file < wm.file => Ok((file_size(&shared.dir, file)?, true)),
            _ => Err(DumpError::Refuse(ErrPacket::new(
                1236,
                b"HY000",
                format!("binlog {file} is not durable yet"),
            ))),
        }
    }

    /// Streams one file from `pos`: the next file, or `None` when a non-blocking dump ended.
    fn send_file(
        &mut self,
        ps: &mut PacketStream<NetStream>,
        file: &BinlogFileName,
        pos: u64,
    ) -> Result<Option<BinlogFileName>, DumpError> {
        let shared = self.sender.shared;
        // Purges leave alone the files a dump reads (and every later one).
        if !shared.registry.start_reading(self.sender.id, file) {
            return Err(DumpError::Refuse(ErrPacket::new(
                1236,
                b"HY000",
                format!("binlog {file} was purged"),
            )));
        }
        let mut event = Vec::new();
        let mut reader = BinlogReader::open(&shared.dir, file, 4)?;
        // A file just rotated to may not hold a durable FD yet: wait for it.
        let mut closed_len = None;
        while let Some(AtEnd { closed, version }) =
            self.next_durable(&mut reader, file, &mut closed_len, &mut event)?
        {
            if closed {
                return Err(DumpError::Refuse(ErrPacket::new(
                    1236,
                    b"HY000",
                    format!("binlog {file} has no format description"),
                )));
            }
            if self.non_blocking {
                self.send_eof(ps)?;
                return Ok(None);
            }
            ps.flush_packets()?;
            self.wait(ps, file, 4, version)?;
        }
        self.file = Some(file.clone());
        let header = EventHeader::parse(&event).map_err(|e| self.refuse(e))?;
        let fd = FormatDescription::decode_event(&event).map_err(|e| self.refuse(e))?;
        if fd.checksum_alg.has_crc() && self.agreed.is_none() {
            return Err(DumpError::Refuse(ErrPacket::new(
                1236,
                b"HY000",
                "Slave can not handle replication events with the checksum that master is \
                 configured to log; set @master_binlog_checksum first",
            )));
        }
        self.server_id = header.server_id;
        let fake = Rotate { position: pos, next_file: file.as_str().as_bytes().to_vec() };
        // Before the first FD the client reads with the checksum it agreed on;
        // afterwards with the FD's (MariaDB does the same at file switches).
        let fake_alg = self.alg.or(self.agreed).unwrap_or(ChecksumAlg::OFF);
        self.send(ps, &fake.encode_event(0, self.server_id, 0, LOG_EVENT_ARTIFICIAL_F, fake_alg))?;
        let resent =
            FormatDescription::resent_event(&event, pos > 4).map_err(|e| self.refuse(e))?;
        self.send(ps, &resent)?;
        self.alg = Some(fd.checksum_alg);
        self.fd = Some(fd);
        if pos > 4 {
            reader = BinlogReader::open(&shared.dir, file, pos)?;
        }
        let mut closed_len = None;
        loop {
            let Some(AtEnd { closed, version }) =
                self.next_durable(&mut reader, file, &mut closed_len, &mut event)?
            else {
                self.on_event(ps, &event, reader.position())?;
                continue;
            };
            if closed {
                // Reported per file too, so a catching-up client shows its progress.
                shared.registry.set_position(self.sender.id, file.as_str(), reader.position());
                return Ok(Some(self.next_file(file)?));
            }
            if self.skipping.is_none() {
                self.after_skipping(ps, reader.position())?;
            }
            ps.flush_packets()?;
            shared.registry.set_position(self.sender.id, file.as_str(), reader.position());
            if self.non_blocking {
                self.send_eof(ps)?;
                return Ok(None);
            }
            self.wait(ps, file, reader.position(), version)?;
        }
    }

    /// Reads the next durable event of `file` into `event`; at the durable
    /// end, `Some` says whether the file is closed and which watermark
    /// version was current before looking (to wait for the next one). A
    /// closed file's length is final: it is looked up once (`closed_len`).
    fn next_durable(
        &self,
        reader: &mut BinlogReader,
        file: &BinlogFileName,
        closed_len: &mut Option<u64>,
        event: &mut Vec<u8>,
    ) -> Result<Option<AtEnd>, DumpError> {
        let version = self.sender.shared.watermark.version();
        let (limit, closed) = match *closed_len {
            Some(len) => (len, true),
            None => self.limit(file)?,
        };
        if closed {
            *closed_len = Some(limit);
        }
        if reader.next_event(limit, event)? {
            return Ok(None);
        }
        Ok(Some(AtEnd { closed, version }))
    }

    fn next_file(&self, file: &BinlogFileName) -> Result<BinlogFileName, DumpError> {
        durable_files(self.sender.shared).into_iter().map(|(f, _)| f).find(|f| f > file).ok_or_else(
            || {
                DumpError::Refuse(ErrPacket::new(
                    1236,
                    b"HY000",
                    format!("could not find next log after {file}"),
                ))
            },
        )
    }

    /// Waits for new durable data, sending heartbeats while idle.
    fn wait(
        &mut self,
        ps: &mut PacketStream<NetStream>,
        file: &BinlogFileName,
        pos: u64,
        version: u64,
    ) -> Result<(), DumpError> {
        let slice = match self.heartbeat {
            Some(hb) => hb.saturating_sub(self.last_send.elapsed()).min(WAIT_SLICE),
            None => WAIT_SLICE,
        };
        self.sender.shared.watermark.wait_change(version, slice);
        if self.sender.killed.load(Ordering::Relaxed)
            || self.sender.shared.shutdown.is_set()
            || peer_closed(ps.get_ref().tcp())
        {
            return Err(DumpError::Net(NetError::Closed));
        }
        if self.heartbeat.is_some_and(|hb| self.last_send.elapsed() >= hb) {
            let hb = self.heartbeat_event(file, pos);
            self.send(ps, &hb)?;
            ps.flush_packets()?;
        }
        Ok(())
    }

    fn refuse(&self, e: crate::protocol::DecodeError) -> DumpError {
        let file = self.file.as_ref().map(BinlogFileName::as_str).unwrap_or_default();
        DumpError::Refuse(ErrPacket::new(
            1236,
            b"HY000",
            format!("binlogserver could not decode an event of {file}: {e}"),
        ))
    }

    /// The OK byte, plus the semi-sync header (we never ask downstream
    /// replicas for an ACK).
    fn packet_head(&self) -> &'static [u8] {
        if self.semi_sync {
            &[0x00, 0xef, 0x00]
        } else {
            &[0x00]
        }
    }

    fn send(&mut self, ps: &mut PacketStream<NetStream>, event: &[u8]) -> Result<(), DumpError> {
        ps.queue_packet_parts(self.packet_head(), event)?;
        self.last_send = Instant::now();
        Ok(())
    }

    fn send_eof(&mut self, ps: &mut PacketStream<NetStream>) -> Result<(), DumpError> {
        let mut out = Vec::new();
        if self.sender.deprecate_eof {
            OkPacket { status_flags: 2, ..Default::default() }.encode(0xfe, &mut out);
        } else {
            out.extend_from_slice(&[0xfe, 0, 0, 2, 0]);
        }
        ps.write_packet(&out)?;
        Ok(())
    }

    fn heartbeat_event(&self, file: &BinlogFileName, pos: u64) -> Vec<u8> {
        let alg = self.alg.unwrap_or(ChecksumAlg::OFF);
        let hb = Heartbeat {
            file: file.as_str().as_bytes().to_vec(),
            position: pos,
            v2: self.heartbeat_v2,
        };
        hb.encode_event(self.server_id, alg)
    }
}

/// True when the client has closed its side: an idle dump notices a gone
/// client without waiting for the next event to fail (clients like
/// mariadb-binlog ask for no heartbeats).
fn peer_closed(sock: &TcpStream) -> bool {
    if sock.set_nonblocking(true).is_err() {
        return false;
    }
    let closed = matches!(sock.peek(&mut [0u8; 1]), Ok(0));
    let _ = sock.set_nonblocking(false);
    closed
}
