//! Startup recovery: find where the durable data ends and repair a torn tail.
//!
//! Every file but the last was fsync'd before its successor was created, so
//! only the last file is walked: event by event, with every CRC and
//! `log_pos` checked and transaction boundaries tracked. Whatever follows
//! the last complete transaction is cut off (and logged, with the time the
//! walk took).
//!
//! Nothing is skipped for speed: the file is read in 8 MiB chunks and each
//! event is checked in place, so the walk costs one CRC pass plus a few
//! tens of nanoseconds per event (`etc/bench-recovery.sh`: 1 GiB of 74-byte
//! events in 0.5-0.75 s, of large events in under 0.1 s, page cache warm).

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read};
use std::time::Instant;

use log::{info, warn};

use super::datadir::DataDir;
use super::StorageError;
use crate::binlog::{
    verify_event, BinlogFileName, EventHeader, EventType, FormatDescription, Rotate, TrxBoundary,
    BINLOG_MAGIC,
};
use crate::protocol::DecodeError;

/// Largest event we accept (MySQL's `max_allowed_packet` limit, 1 GiB) plus headers.
pub const MAX_EVENT_LEN: u64 = (1 << 30) + 1024;

/// Enough of a stored event to recognise it when the primary sends it
/// again: its place, its length, its header and its last four bytes (the
/// CRC, when the file has checksums).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSample {
    /// File offset of the event.
    pub offset: u64,
    /// Its length.
    pub len: u64,
    /// Its 19-byte header.
    pub head: [u8; 19],
    /// Its last four bytes.
    pub tail: [u8; 4],
}

impl EventSample {
    /// Samples the whole event `event` stored at `offset`.
    pub fn of(offset: u64, event: &[u8]) -> Option<Self> {
        let head = event.get(..19)?.try_into().ok()?;
        let tail = event.get(event.len().checked_sub(4)?..)?.try_into().ok()?;
        Some(EventSample { offset, len: event.len() as u64, head, tail })
    }

    /// True when `event` is the sampled event.
    pub fn matches(&self, event: &[u8]) -> bool {
        EventSample::of(self.offset, event).as_ref() == Some(self)
    }
}

/// Where the stored data ends.
#[derive(Debug, Clone)]
pub struct Tail {
    /// The last file.
    pub file: BinlogFileName,
    /// Its length after repair: the end of its last complete transaction.
    pub len: u64,
    /// The bytes of its format description event, when it has one.
    pub fd: Option<Vec<u8>>,
    /// The file named by a ROTATE at its end, when the file is closed.
    pub rotated_to: Option<BinlogFileName>,
    /// The last event kept (none when only the magic is left).
    pub last_event: Option<EventSample>,
}

/// What recovery found.
#[derive(Debug, Clone)]
pub struct Recovered {
    /// All binlog files, oldest first.
    pub files: Vec<BinlogFileName>,
    /// The last file's state; `None` for an empty data directory.
    pub tail: Option<Tail>,
}

/// Walks the last file, cuts a torn tail and reports where to resume.
pub fn recover(dir: &DataDir) -> Result<Recovered, StorageError> {
    recover_with(dir, true)
}

/// As [`recover`]; with `repair` false nothing is changed on disk (serving
/// a directory of archived binlogs: a torn tail is just not served), except
/// that a purge a crash interrupted is completed (see [`super::index`]).
pub fn recover_with(dir: &DataDir, repair_tail: bool) -> Result<Recovered, StorageError> {
    super::index::finish_interrupted_purge(dir.path())?;
    let files =
        if repair_tail { dir.binlog_files()? } else { super::reader::list_files(dir.path())? };
    let Some(last) = files.last().cloned() else {
        return Ok(Recovered { files, tail: None });
    };
    let path = dir.file_path(&last);
    let file = File::open(&path).map_err(StorageError::io("open", &path))?;
    let size = file.metadata().map_err(StorageError::io("stat", &path))?.len();
    let started = Instant::now();
    let walk = walk_file(file).map_err(StorageError::io("read", &path))?;
    if let Some((offset, cause)) = walk.stop {
        warn!("binlog tail is not a complete event file={} offset={offset} cause={cause}", last);
    }
    if repair_tail && (walk.last_trx_end < size || walk.last_trx_end < 4) {
        let cut = size.saturating_sub(walk.last_trx_end);
        warn!(
            "cutting incomplete tail file={} from={} to={} bytes_cut={cut}",
            last, size, walk.last_trx_end
        );
        repair(&path, walk.last_trx_end)?;
    } else if repair_tail {
        // A process killed before its fsync leaves complete events in the
        // page cache: they are served and resumed from as durable below,
        // so make them durable first (with the file's directory entry).
        File::open(&path).and_then(|f| f.sync_all()).map_err(StorageError::io("fsync", &path))?;
        dir.sync_dir()?;
    }
    info!(
        "recovered data directory dir={} files={} last={} end={} events={} bytes_walked={size} ms={}",
        dir.path().display(),
        files.len(),
        last,
        walk.last_trx_end,
        walk.events,
        started.elapsed().as_millis()
    );
    let tail = Tail {
        file: last,
        len: walk.last_trx_end.max(4),
        fd: walk.fd,
        rotated_to: walk.rotated_to,
        last_event: walk.last_event,
    };
    Ok(Recovered { files, tail: Some(tail) })
}

fn repair(path: &std::path::Path, len: u64) -> Result<(), StorageError> {
    let f = OpenOptions::new().write(true).open(path).map_err(StorageError::io("open", path))?;
    if len < 4 {
        // Not even the magic survived: start the file over.
        f.set_len(0).map_err(StorageError::io("truncate", path))?;
        use std::io::Write;
        (&f).write_all(&BINLOG_MAGIC).map_err(StorageError::io("write", path))?;
    } else {
        f.set_len(len).map_err(StorageError::io("truncate", path))?;
    }
    f.sync_all().map_err(StorageError::io("fsync", path))
}

/// The result of walking one file.
#[derive(Debug, Default)]
pub struct Walk {
    /// End of the last complete transaction (0 if the magic is missing).
    pub last_trx_end: u64,
    /// Events read.
    pub events: u64,
    /// The format description event's bytes.
    pub fd: Option<Vec<u8>>,
    /// The next file named by a final ROTATE.
    pub rotated_to: Option<BinlogFileName>,
    /// Where and why the walk stopped early (torn or corrupt tail).
    pub stop: Option<(u64, DecodeError)>,
    /// The event that ends at `last_trx_end`.
    pub last_event: Option<EventSample>,
}

/// Bytes read from the file at a time. Events are checked in place inside
/// this window (no copy per event, one `read` per chunk): with the small
/// events of an OLTP load the per-event reads and copies used to cost more
/// than the CRCs.
const CHUNK: usize = 8 << 20;

/// A window over the file being walked: `buf[start..]` are the next bytes.
struct Window<R> {
    src: R,
    buf: Vec<u8>,
    start: usize,
    eof: bool,
    chunk: usize,
}

impl<R: Read> Window<R> {
    /// The unconsumed bytes, at least `n` of them unless the file ends first.
    fn fill(&mut self, n: usize) -> std::io::Result<&[u8]> {
        if self.buf.len() - self.start < n && !self.eof {
            self.buf.drain(..self.start);
            self.start = 0;
            let want = n.max(self.chunk);
            while self.buf.len() < want && !self.eof {
                let missing = (want - self.buf.len()) as u64;
                match (&mut self.src).take(missing).read_to_end(&mut self.buf) {
                    Ok(0) => self.eof = true,
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(self.buf.get(self.start..).unwrap_or_default())
    }
}

/// Walks a binlog image event by event, reading it in large chunks, without
/// holding it in memory (an event larger than a chunk is held whole).
pub fn walk_file<R: Read>(src: R) -> std::io::Result<Walk> {
    walk_in_chunks(src, CHUNK)
}

fn walk_in_chunks<R: Read>(mut src: R, chunk: usize) -> std::io::Result<Walk> {
    let mut walk = Walk::default();
    let mut magic = [0u8; 4];
    match read_full(&mut src, &mut magic)? {
        4 if magic == BINLOG_MAGIC => walk.last_trx_end = 4,
        n => {
            walk.stop = Some((0, DecodeError::Invalid { what: "binlog magic", value: n as u64 }));
            return Ok(walk);
        }
    }
    let mut win = Window { src, buf: Vec::with_capacity(chunk), start: 0, eof: false, chunk };
    let mut offset = 4u64;
    let mut fd: Option<FormatDescription> = None;
    let mut boundary = TrxBoundary::new();
    loop {
        let step = next_event(&mut win, offset, &mut fd, &mut boundary)?;
        let (header, at_boundary) = match step {
            None => return Ok(walk),
            Some(Err(cause)) => {
                walk.stop = Some((offset, cause));
                return Ok(walk);
            }
            Some(Ok(step)) => step,
        };
        let len = header.event_len_usize();
        let event = win.buf.get(win.start..win.start + len).unwrap_or_default();
        win.start += len;
        offset += len as u64;
        walk.events += 1;
        note_event(&mut walk, event, &header, fd.as_ref());
        if at_boundary {
            walk.last_trx_end = offset;
            walk.last_event = EventSample::of(offset - len as u64, event);
        }
    }
}

/// Records what the walk keeps of one valid event: the format description's
/// bytes, and the next file named by a final ROTATE.
fn note_event(walk: &mut Walk, event: &[u8], header: &EventHeader, fd: Option<&FormatDescription>) {
    if walk.fd.is_none() && fd.is_some() {
        walk.fd = Some(event.to_vec());
    }
    walk.rotated_to = None;
    if let (EventType::ROTATE, Some(fd)) = (header.event_type, fd) {
        walk.rotated_to = Rotate::decode_event(event, fd.checksum_alg)
            .ok()
            .and_then(|r| BinlogFileName::new(&r.next_file).ok());
    }
}

/// One checked event: its header, and whether a transaction ends with it;
/// or why the event is torn or bad. `None` at a clean end of file.
type Step = Option<Result<(EventHeader, bool), DecodeError>>;

/// Checks the next event in `win` without consuming it. The error is I/O.
fn next_event<R: Read>(
    win: &mut Window<R>,
    offset: u64,
    fd: &mut Option<FormatDescription>,
    boundary: &mut TrxBoundary,
) -> std::io::Result<Step> {
    let head = win.fill(EventHeader::LEN)?;
    if head.is_empty() {
        return Ok(None);
    }
    if head.len() < EventHeader::LEN {
        return Ok(Some(Err(DecodeError::Truncated {
            what: "event header",
            need: EventHeader::LEN,
            have: head.len(),
        })));
    }
    let header = match EventHeader::parse(head) {
        Ok(h) => h,
        Err(e) => return Ok(Some(Err(e))),
    };
    let len = u64::from(header.event_len);
    if len > MAX_EVENT_LEN {
        return Ok(Some(Err(DecodeError::TooLarge { what: "event_len", len, max: MAX_EVENT_LEN })));
    }
    let need = header.event_len_usize();
    let avail = win.fill(need)?;
    let Some(event) = avail.get(..need) else {
        return Ok(Some(Err(DecodeError::Truncated { what: "event", need, have: avail.len() })));
    };
    Ok(Some(check_event(event, &header, offset, fd, boundary).map(|b| (header, b))))
}

fn check_event(
    event: &[u8],
    header: &EventHeader,
    offset: u64,
    fd: &mut Option<FormatDescription>,
    boundary: &mut TrxBoundary,
) -> Result<bool, DecodeError> {
    let end = offset + event.len() as u64;
    if header.log_pos != 0 && u64::from(header.log_pos) != end & 0xffff_ffff {
        return Err(DecodeError::Invalid {
            what: "event log_pos",
            value: u64::from(header.log_pos),
        });
    }
    if header.event_type == EventType::FORMAT_DESCRIPTION {
        let new_fd = FormatDescription::decode_event(event)?;
        verify_event(event, new_fd.checksum_alg)?;
        *fd = Some(new_fd);
    } else {
        let Some(current) = fd.as_ref() else {
            return Err(DecodeError::Invalid {
                what: "first event type",
                value: u64::from(header.event_type.0),
            });
        };
        verify_event(event, current.checksum_alg)?;
    }
    let Some(current) = fd.as_ref() else { return Ok(true) };
    boundary.feed(event, current)
}

fn read_full<R: Read>(src: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match src.read(buf.get_mut(filled..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    const FIXTURE: &[u8] =
        include_bytes!("../../tests/fixtures/binlogs/mysql_common/mariadb-bin.000001");

    fn summary(w: &Walk) -> (u64, u64, Option<u64>, Option<EventSample>, Option<Vec<u8>>) {
        (w.last_trx_end, w.events, w.stop.as_ref().map(|s| s.0), w.last_event.clone(), w.fd.clone())
    }

    #[test]
    fn walks_the_same_whatever_the_chunk_size_and_cut() {
        // Tiny chunks make every event straddle a chunk border.
        for cut in (0..=FIXTURE.len()).step_by(7).chain([FIXTURE.len()]) {
            let bytes = &FIXTURE[..cut];
            let whole = walk_in_chunks(Cursor::new(bytes), CHUNK).unwrap();
            for chunk in [1, 2, 3, 18, 19, 20, 64, 255] {
                let w = walk_in_chunks(Cursor::new(bytes), chunk).unwrap();
                assert_eq!(summary(&w), summary(&whole), "cut {cut} chunk {chunk}");
            }
        }
        let whole = walk_file(Cursor::new(FIXTURE)).unwrap();
        assert_eq!((whole.last_trx_end, whole.events), (FIXTURE.len() as u64, 13));
    }

    /// Reads from a slice and remembers the largest buffer it was asked to fill.
    struct Probe<'a> {
        data: &'a [u8],
        largest_read: usize,
    }

    impl Read for Probe<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.largest_read = self.largest_read.max(buf.len());
            self.data.read(buf)
        }
    }

    #[test]
    fn a_torn_header_claiming_1_gib_is_not_allocated() {
        // Magic, then a header whose event_len is 1 GiB, then 10 bytes.
        let mut image = BINLOG_MAGIC.to_vec();
        EventHeader {
            timestamp: 1,
            event_type: EventType::QUERY,
            server_id: 1,
            event_len: 1 << 30,
            log_pos: 0,
            flags: 0,
        }
        .encode(&mut image);
        image.extend_from_slice(&[0; 10]);
        let mut probe = Probe { data: &image, largest_read: 0 };
        let walk = walk_file(&mut probe).unwrap();
        assert_eq!(walk.last_trx_end, 4);
        assert!(matches!(walk.stop, Some((4, DecodeError::Truncated { .. }))), "{:?}", walk.stop);
        assert!(
            probe.largest_read <= 4 << 20,
            "asked to read {} bytes at once",
            probe.largest_read
        );
    }
}
