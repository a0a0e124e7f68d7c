//! `scan`: walk a whole binlog file image and find where it can be cut.
//!
//! Crash recovery reads a binlog file, scans it, and truncates it to
//! [`ScanReport::last_trx_end`], the end of the last complete event group, so
//! that no torn event or half transaction survives. The scan is pure (bytes
//! in, report out) and never panics, whatever the input. No I/O here.
//!
//! Checks per event (docs/protocol.md §8.1, §8.2, §8.4):
//! * the header decodes, `19 <= event_len <= 1 GiB`;
//! * the first event (offset 4) is a FORMAT_DESCRIPTION that decodes;
//! * the CRC-32 verifies under the FD's algorithm (the FD's own CRC when
//!   its algorithm is CRC32);
//! * `log_pos` equals the event's end offset (mod 2^32), unless it is 0:
//!   MariaDB ≥ 11.4 writes 0 inside transactions;
//! * QUERY and MariaDB GTID events decode, for [`TrxBoundary`].

use crate::binlog::boundary::TrxBoundary;
use crate::binlog::checksum::verify_event;
use crate::binlog::event_type::EventType;
use crate::binlog::format_description::FormatDescription;
use crate::binlog::header::EventHeader;
use crate::binlog::BINLOG_MAGIC;
use crate::protocol::DecodeError;

/// Largest `event_len` accepted: `max_allowed_packet` tops out at 1 GiB.
pub const MAX_EVENT_LEN: u32 = 1 << 30;

/// Why a scan stopped before the end of the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// An iterator over the valid events of a binlog file image; see [`walk`].
#[derive(Debug, Clone)]
pub struct Walk<'a> {
    buf: &'a [u8],
    pos: usize,
    boundary: TrxBoundary,
    report: ScanReport,
}

/// Walks a binlog file image from offset 0, yielding each valid event.
///
/// Iteration ends at the end of the buffer or at the first problem; then
/// [`Walk::report`] says which, exactly as [`scan`] would.
pub fn walk(buf: &[u8]) -> Walk<'_> {
    let mut report = ScanReport { events_end: 0, last_trx_end: 0, events: 0, fd: None, stop: None };
    match buf.get(..BINLOG_MAGIC.len()) {
        Some(magic) if magic == BINLOG_MAGIC => {
            report.events_end = to_u64(BINLOG_MAGIC.len());
            report.last_trx_end = report.events_end;
        }
        Some(_) => report.stop = Some(ScanStop::BadMagic),
        None if BINLOG_MAGIC.starts_with(buf) => {
            report.stop = Some(ScanStop::Torn { offset: 0, need: to_u64(BINLOG_MAGIC.len()) });
        }
        None => report.stop = Some(ScanStop::BadMagic),
    }
    Walk { buf, pos: BINLOG_MAGIC.len(), boundary: TrxBoundary::new(), report }
}

/// Scans a whole binlog file image: magic, then events back to back.
///
/// Never panics; see [`ScanReport`] and [`ScanStop`] for what it finds.
pub fn scan(buf: &[u8]) -> ScanReport {
    let mut walk = walk(buf);
    walk.by_ref().for_each(drop);
    walk.into_report()
}

impl<'a> Walk<'a> {
    /// What the walk has found so far (final once the iterator returned `None`).
    pub fn report(&self) -> &ScanReport {
        &self.report
    }

    /// The report, consuming the walk.
    pub fn into_report(self) -> ScanReport {
        self.report
    }

    /// Reads and checks the event at `self.pos`.
    fn step(&mut self) -> Result<ScannedEvent<'a>, ScanStop> {
        let offset = to_u64(self.pos);
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        if rest.len() < EventHeader::LEN {
            return Err(ScanStop::Torn { offset, need: to_u64(EventHeader::LEN) });
        }
        let corrupt = |cause| ScanStop::Corrupt { offset, cause };
        let header = EventHeader::parse(rest).map_err(corrupt)?;
        if header.event_len > MAX_EVENT_LEN {
            let cause = DecodeError::TooLarge {
                what: "EventHeader.event_len",
                len: header.event_len.into(),
                max: MAX_EVENT_LEN.into(),
            };
            return Err(corrupt(cause));
        }
        let len = header.event_len_usize();
        let bytes =
            rest.get(..len).ok_or(ScanStop::Torn { offset, need: header.event_len.into() })?;
        let at_boundary = self.check(offset, &header, bytes).map_err(corrupt)?;
        self.pos += len;
        self.report.events += 1;
        self.report.events_end = to_u64(self.pos);
        if at_boundary {
            self.report.last_trx_end = self.report.events_end;
        }
        Ok(ScannedEvent { offset, header, bytes, at_boundary })
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

impl<'a> Iterator for Walk<'a> {
    type Item = ScannedEvent<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.report.stop.is_some() || self.pos >= self.buf.len() {
            return None;
        }
        match self.step() {
            Ok(event) => Some(event),
            Err(stop) => {
                self.report.stop = Some(stop);
                None
            }
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
