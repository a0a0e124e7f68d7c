//! Startup recovery: find where the durable data ends and repair a torn tail.
//!
//! Every file but the last was fsync'd before its successor was created, so
//! only the last file is walked: event by event, with every CRC and
//! `log_pos` checked and transaction boundaries tracked by the one
//! [`Scanner`] of `binlog::scan` (this module only reads the chunks). Whatever follows
//! the last complete transaction is cut off (and logged, with the time the
//! walk took).
//!
//! Nothing is skipped for speed: the file is read in 8 MiB chunks and each
//! event is checked in place, so the walk costs one CRC pass plus a few
//! tens of nanoseconds per event (`etc/bench-recovery.sh`: 1 GiB of 74-byte
//! events in 0.5-0.75 s, of large events in under 0.1 s, page cache warm).

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::MetadataExt;
use std::time::Instant;

use log::{info, warn};

use super::datadir::DataDir;
use super::listing::{open_regular, refusal_error, Refusal};
use super::StorageError;
use crate::binlog::scan::{ScanReport, ScannedEvent, Scanner, Step};
use crate::binlog::{BinlogFileName, EventType, FormatDescription, Rotate, BINLOG_MAGIC};

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
    // A symbolic link or another entry named like a binlog stops the start.
    let files = if repair_tail { dir.binlog_files()? } else { super::listing::strict(dir.path())? };
    let Some(last) = files.last().cloned() else {
        return Ok(Recovered { files, tail: None });
    };
    let path = dir.file_path(&last);
    let file = open_regular(&path).map_err(|e| e.into_storage("open", &path))?;
    let size = file.metadata().map_err(StorageError::io("stat", &path))?.len();
    let started = Instant::now();
    let walk = walk_file(file).map_err(StorageError::io("read", &path))?;
    let Walk { report, fd, rotated_to, last_event } = walk;
    if let Some(stop) = report.stop {
        warn!("binlog tail is not a complete event file={last} stop=\"{stop}\"");
    }
    if repair_tail && (report.last_trx_end < size || report.last_trx_end < 4) {
        let cut = size.saturating_sub(report.last_trx_end);
        warn!(
            "cutting incomplete tail file={} from={} to={} bytes_cut={cut}",
            last, size, report.last_trx_end
        );
        repair(&path, report.last_trx_end)?;
    } else if repair_tail {
        // A process killed before its fsync leaves complete events in the
        // page cache: they are served and resumed from as durable below,
        // so make them durable first (with the file's directory entry).
        File::open(&path).and_then(|f| f.sync_all()).map_err(StorageError::io("fsync", &path))?;
        dir.sync_dir()?;
    }
    info!(
        "recovered data directory dir={} files={} last={} end={} events={} \
         bytes_walked={size} ms={}",
        dir.path().display(),
        files.len(),
        last,
        report.last_trx_end,
        report.events,
        started.elapsed().as_millis()
    );
    let tail = Tail { file: last, len: report.last_trx_end.max(4), fd, rotated_to, last_event };
    Ok(Recovered { files, tail: Some(tail) })
}

fn repair(path: &std::path::Path, len: u64) -> Result<(), StorageError> {
    let f = OpenOptions::new().write(true).open(path).map_err(StorageError::io("open", path))?;
    // The walk opened a regular file here; this must be the same one.
    let walked = open_regular(path).map_err(|e| e.into_storage("open", path))?;
    let (a, b) = (
        f.metadata().map_err(StorageError::io("stat", path))?,
        walked.metadata().map_err(StorageError::io("stat", path))?,
    );
    if (a.dev(), a.ino()) != (b.dev(), b.ino()) {
        return Err(refusal_error(path, Refusal::Replaced));
    }
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walk {
    /// What the scan found: events, their end, the end of the last complete
    /// transaction (0 if the magic is missing), the format description, and
    /// where and why the walk stopped early (torn or corrupt tail).
    pub report: ScanReport,
    /// The format description event's bytes.
    pub fd: Option<Vec<u8>>,
    /// The next file named by a final ROTATE.
    pub rotated_to: Option<BinlogFileName>,
    /// The event that ends at `report.last_trx_end`.
    pub last_event: Option<EventSample>,
}

/// Bytes read from the file at a time. Events are checked in place inside
/// this window (no copy per event, one `read` per chunk): with the small
/// events of an OLTP load the per-event reads and copies used to cost more
/// than the CRCs.
const CHUNK: usize = 8 << 20;

/// A window over the file being walked: `buf` holds the file's bytes from
/// offset `base` on.
struct Window<R> {
    src: R,
    buf: Vec<u8>,
    base: u64,
    eof: bool,
    chunk: usize,
}

impl<R: Read> Window<R> {
    /// The bytes held from file offset `pos` (at or past `base`) on.
    fn from(&self, pos: u64) -> &[u8] {
        usize::try_from(pos.saturating_sub(self.base))
            .ok()
            .and_then(|start| self.buf.get(start..))
            .unwrap_or_default()
    }

    /// Holds at least `n` bytes from `pos` on, unless the file ends first;
    /// the bytes before `pos` are dropped when more must be read.
    fn fill(&mut self, pos: u64, n: usize) -> std::io::Result<()> {
        if self.from(pos).len() >= n || self.eof {
            return Ok(());
        }
        let start = self.buf.len() - self.from(pos).len();
        self.buf.drain(..start);
        self.base = pos;
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
        Ok(())
    }
}

/// Walks a binlog image event by event, reading it in large chunks, without
/// holding it in memory (an event larger than a chunk is held whole). The
/// checks are [`Scanner`]'s, so the result is the one [`crate::binlog::scan()`]
/// gives on the whole image.
pub fn walk_file<R: Read>(src: R) -> std::io::Result<Walk> {
    walk_in_chunks(src, CHUNK)
}

/// As [`walk_file`], reading `chunk` bytes at a time (at least one).
pub(crate) fn walk_in_chunks<R: Read>(src: R, chunk: usize) -> std::io::Result<Walk> {
    let chunk = chunk.max(1);
    let mut win = Window { src, buf: Vec::with_capacity(chunk), base: 0, eof: false, chunk };
    let mut scanner = Scanner::new();
    let mut kept = Kept::default();
    loop {
        match scanner.step(win.from(scanner.position()), win.eof) {
            Step::Event(event) => kept.note(&event, scanner.report().fd.as_ref()),
            Step::NeedMore(n) => win.fill(scanner.position(), n)?,
            Step::End | Step::Stop(_) => break,
        }
    }
    let Kept { fd, rotated_to, last_event } = kept;
    Ok(Walk { report: scanner.into_report(), fd, rotated_to, last_event })
}

/// What the walk keeps of the valid events beyond the scan's report.
#[derive(Debug, Default)]
struct Kept {
    fd: Option<Vec<u8>>,
    rotated_to: Option<BinlogFileName>,
    last_event: Option<EventSample>,
}

impl Kept {
    /// Records one valid event: the format description's bytes, the next
    /// file named by a final ROTATE, and the event that ends a transaction.
    fn note(&mut self, event: &ScannedEvent<'_>, fd: Option<&FormatDescription>) {
        let is_fd = event.header.event_type == EventType::FORMAT_DESCRIPTION;
        if self.fd.is_none() && is_fd {
            self.fd = Some(event.bytes.to_vec());
        }
        self.rotated_to = None;
        if let (EventType::ROTATE, Some(fd)) = (event.header.event_type, fd) {
            self.rotated_to = Rotate::decode_event(event.bytes, fd.checksum_alg)
                .ok()
                .and_then(|r| BinlogFileName::new(&r.next_file).ok());
        }
        if event.at_boundary {
            self.last_event = EventSample::of(event.offset, event.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binlog::scan::ScanStop;
    use crate::binlog::EventHeader;
    use std::io::Cursor;

    const FIXTURE: &[u8] =
        include_bytes!("../../tests/fixtures/binlogs/mysql_common/mariadb-bin.000001");

    #[test]
    fn walks_the_same_whatever_the_chunk_size_and_cut() {
        // Tiny chunks make every event straddle a chunk border.
        for cut in (0..=FIXTURE.len()).step_by(7).chain([FIXTURE.len()]) {
            let bytes = &FIXTURE[..cut];
            let whole = walk_in_chunks(Cursor::new(bytes), CHUNK).unwrap();
            for chunk in [1, 2, 3, 18, 19, 20, 64, 255] {
                let w = walk_in_chunks(Cursor::new(bytes), chunk).unwrap();
                assert_eq!(w, whole, "cut {cut} chunk {chunk}");
            }
        }
        let whole = walk_file(Cursor::new(FIXTURE)).unwrap();
        assert_eq!((whole.report.last_trx_end, whole.report.events), (FIXTURE.len() as u64, 13));
        assert_eq!(whole.report, crate::binlog::scan(FIXTURE));
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
        assert_eq!(walk.report.last_trx_end, 4);
        assert_eq!(walk.report.stop, Some(ScanStop::Torn { offset: 4, need: 1 << 30 }));
        assert!(
            probe.largest_read <= 4 << 20,
            "asked to read {} bytes at once",
            probe.largest_read
        );
    }
}
