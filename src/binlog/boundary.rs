//! `TrxBoundary`: where event groups (transactions) begin and end.
//!
//! A binlog server may only publish, acknowledge, cut or resume the stream
//! between groups, never inside one. This state machine follows
//! docs/protocol.md §8.17 for both flavours:
//!
//! * MySQL (`trx_boundary_parser.cpp`): a GTID / ANONYMOUS_GTID / GTID_TAGGED
//!   starts a group; `BEGIN` / `XA START` opens a transaction that ends at
//!   XID, XA_PREPARE, `COMMIT`, `ROLLBACK` (not `ROLLBACK TO …`) or `XA
//!   ROLLBACK`; any other statement (DDL, `XA COMMIT`, TRANSACTION_PAYLOAD)
//!   directly after the GTID is the whole group. Without GTIDs (old
//!   binlogs) `BEGIN` opens and a statement outside a transaction is a group
//!   by itself. INTVAR/RAND/USER_VAR belong to the next statement.
//! * MariaDB (`sql_repl.cc`, GTID_SKIP_*): the GTID (162) is the `BEGIN`.
//!   With `FL_STANDALONE` the group ends with the first event that is not
//!   part of a statement's prefix (INTVAR, RAND, USER_VAR, TABLE_MAP,
//!   ANNOTATE_ROWS); otherwise at XID, XA_PREPARE, `COMMIT` or `ROLLBACK`
//!   (and `XA COMMIT …`/`XA ROLLBACK …`, as MariaDB's `is_group_ending`).
//! * INCIDENT ends any group. FD, ROTATE, STOP, heartbeats, PREVIOUS_GTIDS,
//!   GTID_LIST, BINLOG_CHECKPOINT, START_ENCRYPTION, TRANSACTION_CONTEXT and
//!   unknown types never change the state.
//!
//! Unexpected sequences (a GTID inside a group, `BEGIN` twice) are not
//! errors here: the newest event wins, as a replica's parser only warns.
//! No I/O here.

use crate::binlog::event_type::EventType;
use crate::binlog::format_description::FormatDescription;
use crate::binlog::gtid::MariaGtid;
use crate::binlog::header::EventHeader;
use crate::binlog::query::query_text;
use crate::protocol::DecodeError;

/// Where the stream is relative to event groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between groups.
    Outside,
    /// After a MySQL GTID, before `BEGIN` or the statement.
    AfterGtid,
    /// After INTVAR/RAND/USER_VAR outside a transaction: waiting for the statement.
    PreStatement,
    /// Inside `BEGIN …` or a MariaDB transactional group: waiting for the end.
    InTrx,
    /// After a MariaDB `FL_STANDALONE` GTID: waiting for the statement.
    Standalone,
}

/// What one event means for group boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// MariaDB GTID (162).
    MariaGtid { standalone: bool },
    /// MySQL GTID (33), ANONYMOUS_GTID (34), GTID_TAGGED (42).
    MysqlGtid,
    /// QUERY `BEGIN` / `XA START …`.
    Begin,
    /// XID, XA_PREPARE, QUERY `COMMIT` / `ROLLBACK` / `XA ROLLBACK …` / `XA COMMIT …`.
    End,
    /// INTVAR, RAND, USER_VAR.
    PreStatement,
    /// TABLE_MAP: a statement for MySQL, a statement prefix for MariaDB standalone groups.
    TableMap,
    /// ANNOTATE_ROWS: inside the group, never ends it.
    Annotate,
    /// Any other statement: QUERY, rows, LOAD DATA parts, TRANSACTION_PAYLOAD, …
    Statement,
    /// INCIDENT.
    Incident,
    /// Everything that does not change the state.
    Ignore,
}

/// Transaction-boundary state machine over a stream of whole events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrxBoundary {
    state: State,
    completed: u64,
}

impl TrxBoundary {
    /// A parser positioned between groups (the start of a file).
    pub fn new() -> Self {
        Self { state: State::Outside, completed: 0 }
    }

    /// Feeds one whole event (`event_len` bytes); returns true when the
    /// stream is at a group boundary after it.
    ///
    /// `fd` is the FORMAT_DESCRIPTION in force (QUERY post-header length and
    /// checksum algorithm, to read statement texts).
    ///
    /// # Errors
    ///
    /// The header, a QUERY or a MariaDB GTID event does not decode. The
    /// state is left unchanged then.
    pub fn feed(&mut self, event: &[u8], fd: &FormatDescription) -> Result<bool, DecodeError> {
        let header = EventHeader::parse(event)?;
        let class = classify(header.event_type, event, fd)?;
        let next = transition(self.state, class);
        if next == State::Outside && !matches!(class, Class::Ignore | Class::Annotate) {
            self.completed += 1;
        }
        self.state = next;
        Ok(!self.in_group())
    }

    /// True while inside a group.
    pub fn in_group(&self) -> bool {
        self.state != State::Outside
    }

    /// Number of groups completed so far, counting a statement outside any
    /// group (pre-GTID binlogs) and an INCIDENT as one group each.
    pub fn completed(&self) -> u64 {
        self.completed
    }
}

impl Default for TrxBoundary {
    fn default() -> Self {
        Self::new()
    }
}

/// Classifies one event by type (and, for QUERY and MariaDB GTID, content).
fn classify(t: EventType, event: &[u8], fd: &FormatDescription) -> Result<Class, DecodeError> {
    let class = match t {
        EventType::MARIADB_GTID => {
            Class::MariaGtid { standalone: MariaGtid::decode_event(event)?.is_standalone() }
        }
        EventType::GTID | EventType::ANONYMOUS_GTID | EventType::GTID_TAGGED => Class::MysqlGtid,
        EventType::QUERY => classify_query(query_text(event, fd)?),
        EventType::XID | EventType::XA_PREPARE => Class::End,
        EventType::INTVAR | EventType::RAND | EventType::USER_VAR => Class::PreStatement,
        EventType::TABLE_MAP => Class::TableMap,
        EventType::ANNOTATE_ROWS => Class::Annotate,
        EventType::INCIDENT => Class::Incident,
        EventType::QUERY_COMPRESSED
        | EventType::LOAD
        | EventType::CREATE_FILE
        | EventType::APPEND_BLOCK
        | EventType::EXEC_LOAD
        | EventType::NEW_LOAD
        | EventType::BEGIN_LOAD_QUERY
        | EventType::EXECUTE_LOAD_QUERY
        | EventType::ROWS_QUERY
        | EventType::VIEW_CHANGE
        | EventType::TRANSACTION_PAYLOAD => Class::Statement,
        t if t.is_rows() => Class::Statement,
        _ => Class::Ignore,
    };
    Ok(class)
}

/// MySQL `get_event_boundary_type` for QUERY texts, plus MariaDB's
/// `XA COMMIT` group end. `COMPRESSED` queries never hold these (MariaDB
/// does not compress COMMIT/ROLLBACK), so they are not looked at.
fn classify_query(text: &[u8]) -> Class {
    let starts =
        |prefix: &[u8]| text.get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix));
    if text.eq_ignore_ascii_case(b"BEGIN") || starts(b"XA START") {
        Class::Begin
    } else if text.eq_ignore_ascii_case(b"COMMIT")
        || (starts(b"ROLLBACK") && !starts(b"ROLLBACK TO "))
        || starts(b"XA ROLLBACK")
        || starts(b"XA COMMIT")
    {
        Class::End
    } else {
        Class::Statement
    }
}

/// One step of the state machine.
fn transition(state: State, class: Class) -> State {
    match class {
        Class::Ignore | Class::Annotate => state,
        Class::MariaGtid { standalone: true } => State::Standalone,
        Class::MariaGtid { standalone: false } => State::InTrx,
        Class::MysqlGtid => State::AfterGtid,
        Class::End | Class::Incident => State::Outside,
        // MariaDB ends a standalone group at any event outside the prefix set.
        Class::Begin if state == State::Standalone => State::Outside,
        Class::Begin => State::InTrx,
        Class::PreStatement => match state {
            State::Outside | State::AfterGtid => State::PreStatement,
            other => other,
        },
        Class::TableMap => match state {
            State::InTrx | State::Standalone => state,
            _ => State::Outside,
        },
        Class::Statement => match state {
            State::InTrx => State::InTrx,
            _ => State::Outside,
        },
    }
}

#[cfg(test)]
#[path = "boundary_tests.rs"]
mod tests;
