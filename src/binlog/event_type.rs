//! `EventType`: the type code at byte 4 of every binlog event header.
//!
//! A newtype over `u8` that keeps unknown values: an event of a type this
//! crate does not know is still relayed byte for byte, so decoding a type
//! code never fails. Numbers and names follow MySQL `binlog_event.h`
//! (`Log_event_type`) and MariaDB `sql/log_event.h` (docs/protocol.md §8.5).
//! No I/O here.

use std::fmt;

/// A binlog event type code (header offset 4).
///
/// Values 0–42 are shared with or defined by MySQL; 160–171 are MariaDB's
/// (`MARIA_EVENTS_BEGIN = 160`). Unknown values are kept as they are.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventType(pub u8);

impl EventType {
    /// `UNKNOWN_EVENT` (0): never written.
    pub const UNKNOWN: Self = Self(0);
    /// `START_EVENT_V3` (1): binlog format v1/v3 only.
    pub const START_EVENT_V3: Self = Self(1);
    /// `QUERY_EVENT` (2): a statement (DDL, `BEGIN`, `COMMIT`, SBR DML).
    pub const QUERY: Self = Self(2);
    /// `STOP_EVENT` (3): written on clean shutdown.
    pub const STOP: Self = Self(3);
    /// `ROTATE_EVENT` (4): names the next binlog file.
    pub const ROTATE: Self = Self(4);
    /// `INTVAR_EVENT` (5): `LAST_INSERT_ID` / `INSERT_ID` for the next statement.
    pub const INTVAR: Self = Self(5);
    /// `LOAD_EVENT` (6): obsolete `LOAD DATA`.
    pub const LOAD: Self = Self(6);
    /// `SLAVE_EVENT` (7): never written.
    pub const SLAVE: Self = Self(7);
    /// `CREATE_FILE_EVENT` (8): obsolete `LOAD DATA`.
    pub const CREATE_FILE: Self = Self(8);
    /// `APPEND_BLOCK_EVENT` (9): `LOAD DATA` file contents.
    pub const APPEND_BLOCK: Self = Self(9);
    /// `EXEC_LOAD_EVENT` (10): obsolete `LOAD DATA`.
    pub const EXEC_LOAD: Self = Self(10);
    /// `DELETE_FILE_EVENT` (11): `LOAD DATA` clean-up.
    pub const DELETE_FILE: Self = Self(11);
    /// `NEW_LOAD_EVENT` (12): obsolete `LOAD DATA`.
    pub const NEW_LOAD: Self = Self(12);
    /// `RAND_EVENT` (13): `RAND()` seeds for the next statement.
    pub const RAND: Self = Self(13);
    /// `USER_VAR_EVENT` (14): a user variable used by the next statement.
    pub const USER_VAR: Self = Self(14);
    /// `FORMAT_DESCRIPTION_EVENT` (15): first event of every v4 binlog.
    pub const FORMAT_DESCRIPTION: Self = Self(15);
    /// `XID_EVENT` (16): commit of a transactional-engine transaction.
    pub const XID: Self = Self(16);
    /// `BEGIN_LOAD_QUERY_EVENT` (17): `LOAD DATA` file contents.
    pub const BEGIN_LOAD_QUERY: Self = Self(17);
    /// `EXECUTE_LOAD_QUERY_EVENT` (18): the `LOAD DATA` statement.
    pub const EXECUTE_LOAD_QUERY: Self = Self(18);
    /// `TABLE_MAP_EVENT` (19): table definition for the following rows events.
    pub const TABLE_MAP: Self = Self(19);
    /// `PRE_GA_WRITE_ROWS_EVENT` (20): obsolete.
    pub const PRE_GA_WRITE_ROWS: Self = Self(20);
    /// `PRE_GA_UPDATE_ROWS_EVENT` (21): obsolete.
    pub const PRE_GA_UPDATE_ROWS: Self = Self(21);
    /// `PRE_GA_DELETE_ROWS_EVENT` (22): obsolete.
    pub const PRE_GA_DELETE_ROWS: Self = Self(22);
    /// `WRITE_ROWS_EVENT_V1` (23): written by MariaDB.
    pub const WRITE_ROWS_V1: Self = Self(23);
    /// `UPDATE_ROWS_EVENT_V1` (24): written by MariaDB.
    pub const UPDATE_ROWS_V1: Self = Self(24);
    /// `DELETE_ROWS_EVENT_V1` (25): written by MariaDB.
    pub const DELETE_ROWS_V1: Self = Self(25);
    /// `INCIDENT_EVENT` (26): something happened the replica must stop for.
    pub const INCIDENT: Self = Self(26);
    /// `HEARTBEAT_LOG_EVENT` (27): wire only, never in files.
    pub const HEARTBEAT: Self = Self(27);
    /// `IGNORABLE_LOG_EVENT` (28).
    pub const IGNORABLE: Self = Self(28);
    /// `ROWS_QUERY_LOG_EVENT` (29): MySQL's original statement of rows events.
    pub const ROWS_QUERY: Self = Self(29);
    /// `WRITE_ROWS_EVENT` (30, v2).
    pub const WRITE_ROWS: Self = Self(30);
    /// `UPDATE_ROWS_EVENT` (31, v2).
    pub const UPDATE_ROWS: Self = Self(31);
    /// `DELETE_ROWS_EVENT` (32, v2).
    pub const DELETE_ROWS: Self = Self(32);
    /// `GTID_LOG_EVENT` (33): MySQL GTID, starts a transaction.
    pub const GTID: Self = Self(33);
    /// `ANONYMOUS_GTID_LOG_EVENT` (34): MySQL with `GTID_MODE=OFF`.
    pub const ANONYMOUS_GTID: Self = Self(34);
    /// `PREVIOUS_GTIDS_LOG_EVENT` (35): GTIDs of all previous files.
    pub const PREVIOUS_GTIDS: Self = Self(35);
    /// `TRANSACTION_CONTEXT_EVENT` (36): Group Replication.
    pub const TRANSACTION_CONTEXT: Self = Self(36);
    /// `VIEW_CHANGE_EVENT` (37): Group Replication.
    pub const VIEW_CHANGE: Self = Self(37);
    /// `XA_PREPARE_LOG_EVENT` (38): ends the prepared part of an XA transaction.
    pub const XA_PREPARE: Self = Self(38);
    /// `PARTIAL_UPDATE_ROWS_EVENT` (39): MySQL partial JSON updates.
    pub const PARTIAL_UPDATE_ROWS: Self = Self(39);
    /// `TRANSACTION_PAYLOAD_EVENT` (40): MySQL 8.0.20+ compressed transaction.
    pub const TRANSACTION_PAYLOAD: Self = Self(40);
    /// `HEARTBEAT_LOG_EVENT_V2` (41): MySQL 8.0.28+, wire only.
    pub const HEARTBEAT_V2: Self = Self(41);
    /// `GTID_TAGGED_LOG_EVENT` (42): MySQL 8.3+ tagged GTID.
    pub const GTID_TAGGED: Self = Self(42);
    /// `ANNOTATE_ROWS_EVENT` (160): MariaDB's original statement of rows events.
    pub const ANNOTATE_ROWS: Self = Self(160);
    /// `BINLOG_CHECKPOINT_EVENT` (161): oldest binlog needed for XA recovery.
    pub const BINLOG_CHECKPOINT: Self = Self(161);
    /// `GTID_EVENT` (162): MariaDB GTID, starts an event group.
    pub const MARIADB_GTID: Self = Self(162);
    /// `GTID_LIST_EVENT` (163): MariaDB binlog state at file start.
    pub const GTID_LIST: Self = Self(163);
    /// `START_ENCRYPTION_EVENT` (164): the rest of the file is encrypted.
    pub const START_ENCRYPTION: Self = Self(164);
    /// `QUERY_COMPRESSED_EVENT` (165).
    pub const QUERY_COMPRESSED: Self = Self(165);
    /// `WRITE_ROWS_COMPRESSED_EVENT_V1` (166).
    pub const WRITE_ROWS_COMPRESSED_V1: Self = Self(166);
    /// `UPDATE_ROWS_COMPRESSED_EVENT_V1` (167).
    pub const UPDATE_ROWS_COMPRESSED_V1: Self = Self(167);
    /// `DELETE_ROWS_COMPRESSED_EVENT_V1` (168).
    pub const DELETE_ROWS_COMPRESSED_V1: Self = Self(168);
    /// `WRITE_ROWS_COMPRESSED_EVENT` (169).
    pub const WRITE_ROWS_COMPRESSED: Self = Self(169);
    /// `UPDATE_ROWS_COMPRESSED_EVENT` (170).
    pub const UPDATE_ROWS_COMPRESSED: Self = Self(170);
    /// `DELETE_ROWS_COMPRESSED_EVENT` (171).
    pub const DELETE_ROWS_COMPRESSED: Self = Self(171);

    /// The event's name, or `None` for a type code this crate does not know.
    ///
    /// MariaDB's `Log_event::get_type_str` names; MySQL-only types get their
    /// MySQL names with `_` for spaces, and MySQL's GTID (33) is `Mysql_gtid`
    /// to keep it apart from MariaDB's `Gtid` (162).
    pub fn name(self) -> Option<&'static str> {
        let name = match self.0 {
            0 => "Unknown",
            1 => "Start_v3",
            2 => "Query",
            3 => "Stop",
            4 => "Rotate",
            5 => "Intvar",
            6 => "Load",
            7 => "Slave",
            8 => "Create_file",
            9 => "Append_block",
            10 => "Exec_load",
            11 => "Delete_file",
            12 => "New_load",
            13 => "Rand",
            14 => "User_var",
            15 => "Format_desc",
            16 => "Xid",
            17 => "Begin_load_query",
            18 => "Execute_load_query",
            19 => "Table_map",
            20 => "Write_rows_event_old",
            21 => "Update_rows_event_old",
            22 => "Delete_rows_event_old",
            23 => "Write_rows_v1",
            24 => "Update_rows_v1",
            25 => "Delete_rows_v1",
            26 => "Incident",
            27 => "Heartbeat",
            28 => "Ignorable",
            29 => "Rows_query",
            30 => "Write_rows",
            31 => "Update_rows",
            32 => "Delete_rows",
            33 => "Mysql_gtid",
            34 => "Anonymous_gtid",
            35 => "Previous_gtids",
            36 => "Transaction_context",
            37 => "View_change",
            38 => "XA_prepare",
            39 => "Partial_update_rows",
            40 => "Transaction_payload",
            41 => "Heartbeat_v2",
            42 => "Gtid_tagged",
            160 => "Annotate_rows",
            161 => "Binlog_checkpoint",
            162 => "Gtid",
            163 => "Gtid_list",
            164 => "Start_encryption",
            165 => "Query_compressed",
            166 => "Write_rows_compressed_v1",
            167 => "Update_rows_compressed_v1",
            168 => "Delete_rows_compressed_v1",
            169 => "Write_rows_compressed",
            170 => "Update_rows_compressed",
            171 => "Delete_rows_compressed",
            _ => return None,
        };
        Some(name)
    }

    /// True for the rows events of both flavours (v1, v2, partial, compressed).
    pub fn is_rows(self) -> bool {
        matches!(self.0, 20..=25 | 30..=32 | 39 | 166..=171)
    }
}

impl From<u8> for EventType {
    fn from(code: u8) -> Self {
        Self(code)
    }
}

impl From<EventType> for u8 {
    fn from(t: EventType) -> Self {
        t.0
    }
}

impl fmt::Debug for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "EventType({:#04X})", self.0),
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_known_types_in_mariadb_style() {
        assert_eq!(EventType::QUERY.name(), Some("Query"));
        assert_eq!(EventType::GTID_LIST.name(), Some("Gtid_list"));
        assert_eq!(EventType::MARIADB_GTID.name(), Some("Gtid"));
        assert_eq!(EventType::GTID.name(), Some("Mysql_gtid"));
        assert_eq!(EventType::FORMAT_DESCRIPTION.to_string(), "Format_desc");
    }

    #[test]
    fn keeps_unknown_values_and_prints_them_in_hex() {
        let t = EventType(0xa6 + 10);
        assert_eq!(t.name(), None);
        assert_eq!(format!("{t:?}"), "EventType(0xB0)");
        assert_eq!(format!("{}", EventType(43)), "EventType(0x2B)");
        assert_eq!(u8::from(t), 0xb0);
    }

    #[test]
    fn every_named_code_round_trips_through_u8() {
        for code in 0..=u8::MAX {
            let t = EventType::from(code);
            assert_eq!(u8::from(t), code);
            let printed = t.to_string();
            assert_eq!(t.name().is_some(), !printed.starts_with("EventType("), "{code}");
        }
    }

    #[test]
    fn classifies_rows_events() {
        assert!(EventType::WRITE_ROWS_V1.is_rows());
        assert!(EventType::DELETE_ROWS.is_rows());
        assert!(EventType::UPDATE_ROWS_COMPRESSED.is_rows());
        assert!(!EventType::TABLE_MAP.is_rows());
        assert!(!EventType::QUERY_COMPRESSED.is_rows());
    }
}
