//! `scan`: walk a binlog file image event by event and find where it can be cut.
//!
//! Crash recovery walks the last binlog file and truncates it to
//! [`ScanReport::last_trx_end`], the end of the last complete event group, so
//! that no torn event or half transaction survives. The checks live here
//! once, in [`Scanner`], an incremental stepper fed byte slices: [`walk`] and
//! [`scan`] feed it a whole buffer, `storage::recovery` feeds it the windows
//! of its chunked file reader, and both get exactly the same events and
//! report. Pure (bytes in, report out), and it never panics, whatever the
//! input. No I/O here.
//!
//! Checks per event (docs/protocol.md §8.1, §8.2, §8.4):
//! * the header decodes, `19 <= event_len <= MAX_EVENT_LEN`;
//! * the first event (offset 4) is a FORMAT_DESCRIPTION that decodes;
//! * the CRC-32 verifies under the FD's algorithm (the FD's own CRC when
//!   its algorithm is CRC32);
//! * `log_pos` equals the event's end offset (mod 2^32), unless it is 0:
//!   MariaDB ≥ 11.4 writes 0 inside transactions;
//! * QUERY and MariaDB GTID events decode, for [`TrxBoundary`].

use std::fmt;

use crate::binlog::boundary::TrxBoundary;
use crate::binlog::checksum::verify_event;
use crate::binlog::event_type::EventType;
use crate::binlog::format_description::FormatDescription;
use crate::binlog::header::EventHeader;
use crate::binlog::BINLOG_MAGIC;
use crate::protocol::DecodeError;

/// Largest `event_len` accepted anywhere an event is read (recovery, the
/// scan, replica reads): `max_allowed_packet` tops out at 1 GiB, and MariaDB
/// reads an event up to that plus its headers (`MAX_LOG_EVENT_HEADER`, a few
/// hundred bytes; `Log_event::read_log_event`), so 1 KiB of room on top.
pub const MAX_EVENT_LEN: u32 = (1 << 30) + 1024;

/// Why a scan stopped before the end of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanStop {
    /// The first 4 bytes are not `\xfebin`.
    BadMagic,
    /// The buffer ends inside the magic (`offset` 0, `need` 4), an event
    /// header (`need` 19) or an event (`need` = its `event_len`).
    Torn {
        /// Where the incomplete piece starts.
        offset: u64,
        /// Its full length; `len - offset` bytes of it are present.
        need: u64,
    },
    /// The event at `offset` is complete but wrong.
    Corrupt {
        /// Where the event starts.
        offset: u64,
        /// What is wrong with it.
        cause: DecodeError,
    },
}

/// The result of [`scan`].
///
/// Always `last_trx_end <= events_end <= buf.len()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanReport {
    /// End of the last complete, valid event (4 after the magic alone, 0 without it).
    pub events_end: u64,
    /// End of the last event after which the stream was between groups
    /// (4 after the magic alone, 0 without it).
    pub last_trx_end: u64,
    /// Number of complete, valid events.
    pub events: u64,
    /// The file's FORMAT_DESCRIPTION, once decoded.
    pub fd: Option<FormatDescription>,
    /// Why the scan stopped early; `None` when the buffer ends exactly after an event.
    pub stop: Option<ScanStop>,
}

/// One complete, valid event found by [`walk`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScannedEvent<'a> {
    /// File offset of the event.
    pub offset: u64,
    /// Its decoded header.
    pub header: EventHeader,
    /// The whole event, `event_len` bytes.
    pub bytes: &'a [u8],
    /// True when the stream is between groups after this event.
    pub at_boundary: bool,
}

impl ScannedEvent<'_> {
    /// File offset just past the event.
    pub fn end(&self) -> u64 {
        self.offset + u64::from(self.header.event_len)
    }
}

impl fmt::Display for ScanStop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScanStop::BadMagic => f.write_str("no binlog magic at offset 0"),
            ScanStop::Torn { offset, need } => {
                write!(f, "torn at offset={offset}: the next piece needs {need} bytes")
            }
            ScanStop::Corrupt { offset, cause } => {
                write!(f, "corrupt event at offset={offset}: {cause}")
            }
        }
    }
}

/// What [`Scanner::step`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'w> {
    /// A complete, valid event, borrowed from the window; the scanner's
    /// position is now its end.
    Event(ScannedEvent<'w>),
    /// The window must hold at least this many bytes from
    /// [`Scanner::position`] (as it is after this call: the magic may have
    /// been consumed) before the scan can go on.
    NeedMore(usize),
    /// The input ends exactly after an event (or after the magic).
    End,
    /// The scan stopped early; the same stop is in [`Scanner::report`].
    Stop(ScanStop),
}

/// The incremental event stepper: holds the position, the file's FORMAT
/// DESCRIPTION and the transaction state between calls, and is fed the
/// bytes from its position on, as much of them as the caller has.
///
/// Every call either consumes one whole valid event, or says how many
/// bytes it needs, or ends the scan. It never looks behind its position, so
/// a caller reading a file in chunks may drop the bytes before it.
#[derive(Debug, Clone)]
pub struct Scanner {
    pos: u64,
    boundary: TrxBoundary,
    report: ScanReport,
}

impl Default for Scanner {
    fn default() -> Self {
        Self::new()
    }
}

impl Scanner {
    /// A scanner at offset 0, before the magic.
    pub fn new() -> Self {
        let report = ScanReport { events_end: 0, last_trx_end: 0, events: 0, fd: None, stop: None };
        Scanner { pos: 0, boundary: TrxBoundary::new(), report }
    }

    /// The file offset of the next byte the scanner wants: `window` in
    /// [`Scanner::step`] starts here.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// What the scan has found so far (final once a step returned
    /// [`Step::End`] or [`Step::Stop`]).
    pub fn report(&self) -> &ScanReport {
        &self.report
    }

    /// The report, consuming the scanner.
    pub fn into_report(self) -> ScanReport {
        self.report
    }

    /// Checks the next piece of the input: `window` holds the bytes from
    /// [`Scanner::position`] on, and `eof` says whether the input ends with
    /// it (a short piece is then torn, not awaited).
    pub fn step<'w>(&mut self, window: &'w [u8], eof: bool) -> Step<'w> {
        if let Some(stop) = self.report.stop {
            return Step::Stop(stop);
        }
        let mut rest = window;
        if self.pos == 0 {
            if let Err(step) = self.magic(window, eof) {
                return step;
            }
            rest = window.get(BINLOG_MAGIC.len()..).unwrap_or_default();
        }
        if rest.is_empty() && eof {
            return Step::End;
        }
        let offset = self.pos;
        if rest.len() < EventHeader::LEN {
            return self.short(EventHeader::LEN, eof);
        }
        let header = match Self::header(rest) {
            Ok(header) => header,
            Err(cause) => return self.stop(ScanStop::Corrupt { offset, cause }),
        };
        let Some(bytes) = rest.get(..header.event_len_usize()) else {
            return self.short(header.event_len_usize(), eof);
        };
        match self.check(offset, &header, bytes) {
            Ok(at_boundary) => {
                self.pos += u64::from(header.event_len);
                self.report.events += 1;
                self.report.events_end = self.pos;
                if at_boundary {
                    self.report.last_trx_end = self.pos;
                }
                Step::Event(ScannedEvent { offset, header, bytes, at_boundary })
            }
            Err(cause) => self.stop(ScanStop::Corrupt { offset, cause }),
        }
    }

    /// Checks and consumes the magic at offset 0.
    fn magic<'w>(&mut self, window: &[u8], eof: bool) -> Result<(), Step<'w>> {
        let len = BINLOG_MAGIC.len();
        match window.get(..len) {
            Some(magic) if magic == BINLOG_MAGIC => {
                self.pos = to_u64(len);
                self.report.events_end = self.pos;
                self.report.last_trx_end = self.pos;
                Ok(())
            }
            None if BINLOG_MAGIC.starts_with(window) => Err(self.short(len, eof)),
            _ => Err(self.stop(ScanStop::BadMagic)),
        }
    }

    /// The header of the event at the start of `rest`, its length checked.
    fn header(rest: &[u8]) -> Result<EventHeader, DecodeError> {
        let header = EventHeader::parse(rest)?;
        if header.event_len > MAX_EVENT_LEN {
            return Err(DecodeError::TooLarge {
                what: "EventHeader.event_len",
                len: header.event_len.into(),
                max: MAX_EVENT_LEN.into(),
            });
        }
        Ok(header)
    }

    /// The window holds less than the `need` bytes of the next piece.
    fn short<'w>(&mut self, need: usize, eof: bool) -> Step<'w> {
        if eof {
            self.stop(ScanStop::Torn { offset: self.pos, need: to_u64(need) })
        } else {
            Step::NeedMore(need)
        }
    }

    fn stop<'w>(&mut self, stop: ScanStop) -> Step<'w> {
        self.report.stop = Some(stop);
        Step::Stop(stop)
    }

    /// Checks one complete event; returns whether it ends at a group boundary.
    fn check(
        &mut self,
        offset: u64,
        header: &EventHeader,
        event: &[u8],
    ) -> Result<bool, DecodeError> {
        let is_fd = header.event_type == EventType::FORMAT_DESCRIPTION;
        if self.report.fd.is_none() && !is_fd {
            return Err(DecodeError::Invalid {
                what: "first event type",
                value: header.event_type.0.into(),
            });
        }
        if is_fd {
            // The first FD rules the file; a later one (not written by
            // servers into their own binlogs) is checked under its own alg.
            let fd = FormatDescription::decode_event(event)?;
            verify_event(event, fd.checksum_alg)?;
            if self.report.fd.is_none() {
                self.report.fd = Some(fd);
            }
        }
        let fd = self
            .report
            .fd
            .as_ref()
            .ok_or(DecodeError::Invalid { what: "first event type", value: 0 })?;
        if !is_fd {
            verify_event(event, fd.checksum_alg)?;
        }
        let end = offset + u64::from(header.event_len);
        if header.log_pos != 0 && u64::from(header.log_pos) != end & 0xffff_ffff {
            return Err(DecodeError::Invalid {
                what: "EventHeader.log_pos",
                value: header.log_pos.into(),
            });
        }
        self.boundary.feed(event, fd)
    }
}

/// An iterator over the valid events of a binlog file image; see [`walk`].
#[derive(Debug, Clone)]
pub struct Walk<'a> {
    buf: &'a [u8],
    scanner: Scanner,
}

/// Walks a binlog file image from offset 0, yielding each valid event.
///
/// Iteration ends at the end of the buffer or at the first problem; then
/// [`Walk::report`] says which, exactly as [`scan`] would.
pub fn walk(buf: &[u8]) -> Walk<'_> {
    Walk { buf, scanner: Scanner::new() }
}

/// Scans a whole binlog file image: magic, then events back to back.
///
/// Never panics; see [`ScanReport`] and [`ScanStop`] for what it finds.
pub fn scan(buf: &[u8]) -> ScanReport {
    let mut walk = walk(buf);
    walk.by_ref().for_each(drop);
    walk.into_report()
}

impl Walk<'_> {
    /// What the walk has found so far (final once the iterator returned `None`).
    pub fn report(&self) -> &ScanReport {
        self.scanner.report()
    }

    /// The report, consuming the walk.
    pub fn into_report(self) -> ScanReport {
        self.scanner.into_report()
    }
}

impl<'a> Iterator for Walk<'a> {
    type Item = ScannedEvent<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = usize::try_from(self.scanner.position())
            .ok()
            .and_then(|pos| self.buf.get(pos..))
            .unwrap_or_default();
        match self.scanner.step(rest, true) {
            Step::Event(event) => Some(event),
            Step::NeedMore(_) | Step::End | Step::Stop(_) => None,
        }
    }
}

/// A buffer offset as a file offset.
fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;
