//! The binlog file and event format.
//!
//! A binlog file is the 4-byte magic `\xfebin` followed by events back to
//! back; every event is a 19-byte [`EventHeader`], a body, and a CRC-32 when
//! the file's [`FormatDescription`] says so (docs/protocol.md §8). This module
//! decodes only what the server acts on — FORMAT_DESCRIPTION, ROTATE, the
//! GTID events of both flavours, QUERY texts at transaction boundaries — and
//! treats every other event as opaque bytes to relay unchanged.
//!
//! * [`event_type`], [`header`], [`checksum`]: what every event has.
//! * [`format_description`], [`rotate`], [`gtid`], [`query`], [`table_map`]: the events decoded.
//! * [`heartbeat`], and [`FormatDescription::resent_event`]: what a dump
//!   sends that is not stored as it is.
//! * [`gtid_pos`]: a MariaDB GTID position (`0-1-100,1-2-7`), as replicas
//!   and `--start-gtid` give it and as the stored binlogs end.
//! * [`file_name`]: validated `basename.NNNNNN` names.
//! * [`boundary`]: where transactions begin and end, for both flavours.
//! * [`scan`](mod@scan): walk a whole file image and find the last clean cut point,
//!   for crash recovery.
//!
//! No I/O here: everything works on `&[u8]` and `Vec<u8>`; files are read and
//! written by `storage`, sockets by `net`.

pub mod boundary;
pub mod checksum;
pub mod compat;
pub mod continuity;
pub mod event_type;
pub mod file_name;
pub mod format_description;
pub mod gtid;
pub mod gtid_pos;
pub mod gtid_set;
pub mod gtid_tagged;
pub mod header;
pub mod heartbeat;
pub mod query;
pub mod rotate;
pub mod scan;
pub mod table_map;

pub use boundary::TrxBoundary;
pub use checksum::{crc32, verify_event, ChecksumAlg};
pub use event_type::EventType;
pub use file_name::BinlogFileName;
pub use format_description::FormatDescription;
pub use gtid::{GtidTriple, MariaGtid, MariaGtidList, MysqlGtid};
pub use gtid_pos::{GtidPart, GtidPos, GtidPosError};
pub use gtid_tagged::MysqlTaggedGtid;
pub use header::{
    EventHeader, LOG_EVENT_ARTIFICIAL_F, LOG_EVENT_BINLOG_IN_USE_F, LOG_EVENT_IGNORABLE_F,
};
pub use heartbeat::Heartbeat;
pub use query::query_text;
pub use rotate::Rotate;
pub use scan::{scan, walk, ScanReport, ScanStop, ScannedEvent, Walk};
pub use table_map::{rows_table_id, TableMap};

/// The 4 bytes every binlog file starts with (`BINLOG_MAGIC`, `\xfebin`).
pub const BINLOG_MAGIC: [u8; 4] = [0xfe, b'b', b'i', b'n'];
