//! Text result sets, server side: the packets that answer a `SELECT` or a
//! `SHOW` (docs/protocol.md §2.4; MySQL `sql/protocol_classic.cc::send_field_metadata`,
//! MariaDB `sql/protocol.cc::Protocol::send_result_set_metadata`).
//!
//! A result set goes out as a list of packet payloads:
//!
//! ```text
//! lenenc column_count
//! column_count × ColumnDefinition41
//! EOF                      (fe 00 00 02 00; omitted with CLIENT_DEPRECATE_EOF)
//! rows: one lenenc string per column, 0xFB for NULL
//! EOF                      (or, with CLIENT_DEPRECATE_EOF, an OK with header 0xFE)
//! ```
//!
//! The client side (reading the column count and rows) lives in
//! [`super::response`]. No I/O here.

use super::error::DecodeError;
use super::reader::Reader;
use super::response::OkPacket;
use super::writer::{put_lenenc_bytes, put_lenenc_int, put_u16, put_u32};

/// `MYSQL_TYPE_LONG`: a 4-byte integer (`SHOW PROCESSLIST`'s `Time`).
pub const MYSQL_TYPE_LONG: u8 = 3;
/// `MYSQL_TYPE_DOUBLE`: a double (`SHOW PROCESSLIST`'s `Progress`).
pub const MYSQL_TYPE_DOUBLE: u8 = 5;
/// `MYSQL_TYPE_LONGLONG`: an 8-byte integer.
pub const MYSQL_TYPE_LONGLONG: u8 = 8;
/// `MYSQL_TYPE_LONG_BLOB` (251): what MariaDB reports for string user variables.
pub const MYSQL_TYPE_LONG_BLOB: u8 = 0xfb;
/// `MYSQL_TYPE_VAR_STRING` (253): a string column.
pub const MYSQL_TYPE_VAR_STRING: u8 = 0xfd;

/// Collation id 33, `utf8mb3_general_ci`.
pub const CHARSET_UTF8_GENERAL_CI: u16 = 33;
/// Collation id 63, `binary` (used for numbers).
pub const CHARSET_BINARY: u16 = 63;

/// `NOT_NULL_FLAG`.
pub const NOT_NULL_FLAG: u16 = 0x0001;
/// `BINARY_FLAG`.
pub const BINARY_FLAG: u16 = 0x0080;
/// `UNSIGNED_FLAG`.
pub const UNSIGNED_FLAG: u16 = 0x0020;
/// `NUM_FLAG`: the column is numeric.
pub const NUM_FLAG: u16 = 0x8000;

/// `SERVER_STATUS_AUTOCOMMIT`, the status every EOF/OK here carries by default.
pub const SERVER_STATUS_AUTOCOMMIT: u16 = 0x0002;

/// MariaDB's `NOT_FIXED_DEC`: the `decimals` of string columns.
pub const NOT_FIXED_DEC: u8 = 39;
/// The lenenc length of the fixed-size tail of a column definition.
const FIXED_FIELDS_LEN: u8 = 0x0c;

/// One column of a result set (a `ColumnDefinition41` without the table parts,
/// which are always empty here).
///
/// Layout: `lenenc "def" | lenenc schema | lenenc table | lenenc org_table |
/// lenenc name | lenenc org_name | [lenenc extended metadata] | 0x0c |
/// u16 charset | u32 length | u8 type | u16 flags | u8 decimals | 00 00`.
/// The extended metadata string is present only when the client negotiated
/// MariaDB's `MARIADB_CLIENT_EXTENDED_METADATA` (MariaDB KB "Result Set
/// Packets"); it holds `(u8 key, lenenc value)` pairs naming pluggable types
/// such as JSON, and is empty for every column we send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Column name, also sent as `org_name`.
    pub name: String,
    /// `MYSQL_TYPE_*` code.
    pub column_type: u8,
    /// Maximum display length.
    pub length: u32,
    /// Collation id.
    pub charset: u16,
    /// Column flags (`NOT_NULL_FLAG`, `NUM_FLAG`, …).
    pub flags: u16,
    /// Decimals (39 = not fixed, for strings).
    pub decimals: u8,
}

impl Column {
    /// A string column (`VAR_STRING`, utf8), as MariaDB sends for
    /// `SHOW VARIABLES` and string system variables.
    pub fn text(name: impl Into<String>) -> Self {
        Column {
            name: name.into(),
            column_type: MYSQL_TYPE_VAR_STRING,
            length: 4096,
            charset: CHARSET_UTF8_GENERAL_CI,
            flags: 0,
            decimals: NOT_FIXED_DEC,
        }
    }

    /// An integer column (`LONGLONG`, binary collation, `NOT_NULL | BINARY | NUM`),
    /// as MariaDB sends for `UNIX_TIMESTAMP()` or `@@GLOBAL.gtid_domain_id`.
    pub fn integer(name: impl Into<String>) -> Self {
        Column {
            name: name.into(),
            column_type: MYSQL_TYPE_LONGLONG,
            length: 21,
            charset: CHARSET_BINARY,
            flags: NOT_NULL_FLAG | BINARY_FLAG | NUM_FLAG,
            decimals: 0,
        }
    }

    /// A nullable integer column (no `NOT_NULL_FLAG`).
    pub fn nullable_integer(name: impl Into<String>) -> Self {
        let mut column = Column::integer(name);
        column.flags &= !NOT_NULL_FLAG;
        column
    }

    /// A long string column (`LONG_BLOB`, utf8), as MariaDB sends for user
    /// variables (`SELECT @master_binlog_checksum`) and `BINLOG_GTID_POS()`.
    pub fn long_text(name: impl Into<String>) -> Self {
        Column {
            name: name.into(),
            column_type: MYSQL_TYPE_LONG_BLOB,
            length: 16_777_216,
            charset: CHARSET_UTF8_GENERAL_CI,
            flags: 0,
            decimals: NOT_FIXED_DEC,
        }
    }

    /// Encodes the column definition; `extended_metadata` adds MariaDB's
    /// (empty) extended metadata string.
    pub fn encode(&self, extended_metadata: bool, out: &mut Vec<u8>) {
        put_lenenc_bytes(out, b"def");
        put_lenenc_bytes(out, b""); // schema
        put_lenenc_bytes(out, b""); // table
        put_lenenc_bytes(out, b""); // org_table
        put_lenenc_bytes(out, self.name.as_bytes());
        put_lenenc_bytes(out, self.name.as_bytes()); // org_name
        if extended_metadata {
            put_lenenc_bytes(out, b"");
        }
        out.push(FIXED_FIELDS_LEN);
        put_u16(out, self.charset);
        put_u32(out, self.length);
        out.push(self.column_type);
        put_u16(out, self.flags);
        out.push(self.decimals);
        out.extend_from_slice(&[0, 0]);
    }

    /// Decodes a column definition (the name is taken from `name`, not `org_name`).
    ///
    /// # Errors
    ///
    /// [`DecodeError::Truncated`] on a short packet, [`DecodeError::Invalid`]
    /// when the fixed-fields length is not 0x0c.
    pub fn decode(r: &mut Reader<'_>, extended_metadata: bool) -> Result<Self, DecodeError> {
        r.lenenc_bytes("ColumnDefinition41.catalog")?;
        r.lenenc_bytes("ColumnDefinition41.schema")?;
        r.lenenc_bytes("ColumnDefinition41.table")?;
        r.lenenc_bytes("ColumnDefinition41.org_table")?;
        let name = String::from_utf8_lossy(r.lenenc_bytes("ColumnDefinition41.name")?).into_owned();
        r.lenenc_bytes("ColumnDefinition41.org_name")?;
        if extended_metadata {
            r.lenenc_bytes("ColumnDefinition41.extended_metadata")?;
        }
        let fixed = r.lenenc_int("ColumnDefinition41.fixed_length")?;
        if fixed != u64::from(FIXED_FIELDS_LEN) {
            return Err(DecodeError::Invalid {
                what: "ColumnDefinition41.fixed_length",
                value: fixed,
            });
        }
        let charset = r.u16_le("ColumnDefinition41.charset")?;
        let length = r.u32_le("ColumnDefinition41.column_length")?;
        let column_type = r.u8("ColumnDefinition41.type")?;
        let flags = r.u16_le("ColumnDefinition41.flags")?;
        let decimals = r.u8("ColumnDefinition41.decimals")?;
        r.skip(2, "ColumnDefinition41.filler")?;
        Ok(Column { name, column_type, length, charset, flags, decimals })
    }
}

/// A text result set: columns and rows of optional strings (`None` = SQL NULL).
///
/// Every row should have one value per column; [`encode_result_set`] pads a
/// short row with NULLs and drops extra values.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResultSet {
    /// The columns, in order.
    pub columns: Vec<Column>,
    /// The rows.
    pub rows: Vec<Vec<Option<String>>>,
}

impl ResultSet {
    /// A result set with `columns` and no rows yet.
    pub fn new(columns: Vec<Column>) -> Self {
        ResultSet { columns, rows: Vec::new() }
    }

    /// Appends a row.
    pub fn push_row(&mut self, row: Vec<Option<String>>) {
        self.rows.push(row);
    }
}

/// The packet payloads of `rs`, with status `SERVER_STATUS_AUTOCOMMIT`.
///
/// `deprecate_eof`: the client negotiated `CLIENT_DEPRECATE_EOF` (no EOF
/// after the columns; an OK with header 0xFE at the end).
/// `mariadb_extended_metadata`: the client negotiated
/// `MARIADB_CLIENT_EXTENDED_METADATA` (only meaningful if the server offered it).
pub fn encode_result_set(
    rs: &ResultSet,
    deprecate_eof: bool,
    mariadb_extended_metadata: bool,
) -> Vec<Vec<u8>> {
    encode_result_set_with_status(
        rs,
        deprecate_eof,
        mariadb_extended_metadata,
        SERVER_STATUS_AUTOCOMMIT,
    )
}

/// [`encode_result_set`] with explicit server status flags in the EOF/OK
/// packets (e.g. without `SERVER_STATUS_AUTOCOMMIT` after `SET AUTOCOMMIT = 0`).
pub fn encode_result_set_with_status(
    rs: &ResultSet,
    deprecate_eof: bool,
    mariadb_extended_metadata: bool,
    status_flags: u16,
) -> Vec<Vec<u8>> {
    let mut packets = Vec::with_capacity(rs.columns.len() + rs.rows.len() + 3);
    let mut count = Vec::new();
    put_lenenc_int(&mut count, rs.columns.len() as u64);
    packets.push(count);
    for column in &rs.columns {
        let mut def = Vec::new();
        column.encode(mariadb_extended_metadata, &mut def);
        packets.push(def);
    }
    if !deprecate_eof {
        packets.push(eof(status_flags));
    }
    for row in &rs.rows {
        let mut out = Vec::new();
        let mut values = row.iter();
        for _ in &rs.columns {
            match values.next() {
                Some(Some(value)) => put_lenenc_bytes(&mut out, value.as_bytes()),
                Some(None) | None => out.push(0xfb),
            }
        }
        packets.push(out);
    }
    if deprecate_eof {
        let mut ok = Vec::new();
        OkPacket { status_flags, ..OkPacket::default() }.encode(0xfe, &mut ok);
        packets.push(ok);
    } else {
        packets.push(eof(status_flags));
    }
    packets
}

/// `0xFE | u16 warnings | u16 status`.
fn eof(status_flags: u16) -> Vec<u8> {
    let mut out = vec![0xfe, 0, 0];
    put_u16(&mut out, status_flags);
    out
}

/// Decodes a plain `ColumnDefinition41` payload (no extended metadata).
///
/// # Errors
///
/// As [`Column::decode`], plus [`DecodeError::Trailing`] on extra bytes.
pub fn decode_column_definition(payload: &[u8]) -> Result<Column, DecodeError> {
    let mut r = Reader::new(payload);
    let column = Column::decode(&mut r, false)?;
    r.finish("ColumnDefinition41")?;
    Ok(column)
}

/// Decodes a `ColumnDefinition41` payload sent to a client with
/// `MARIADB_CLIENT_EXTENDED_METADATA`.
///
/// # Errors
///
/// As [`decode_column_definition`].
pub fn decode_extended_column_definition(payload: &[u8]) -> Result<Column, DecodeError> {
    let mut r = Reader::new(payload);
    let column = Column::decode(&mut r, true)?;
    r.finish("ColumnDefinition41")?;
    Ok(column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::response::{decode_column_count, decode_text_row, is_eof};

    fn sample() -> ResultSet {
        let mut rs = ResultSet::new(vec![Column::text("Variable_name"), Column::integer("Value")]);
        rs.push_row(vec![Some("server_id".into()), Some("23100".into())]);
        rs.push_row(vec![Some("x".repeat(300)), None]);
        rs
    }

    fn check_round_trip(deprecate_eof: bool, extended: bool) {
        let rs = sample();
        let packets = encode_result_set(&rs, deprecate_eof, extended);
        let mut it = packets.iter();
        assert_eq!(decode_column_count(it.next().unwrap()).unwrap(), 2);
        for want in &rs.columns {
            let payload = it.next().unwrap();
            let got = if extended {
                decode_extended_column_definition(payload).unwrap()
            } else {
                decode_column_definition(payload).unwrap()
            };
            assert_eq!(&got, want);
        }
        if !deprecate_eof {
            assert_eq!(it.next().unwrap(), &vec![0xfe, 0, 0, 2, 0]);
        }
        for want in &rs.rows {
            let payload = it.next().unwrap();
            assert!(!is_eof(payload));
            let got = decode_text_row(payload, 2).unwrap();
            let want: Vec<_> =
                want.iter().map(|v| v.as_ref().map(|s| s.as_bytes().to_vec())).collect();
            assert_eq!(got, want);
        }
        let end = it.next().unwrap();
        assert!(is_eof(end));
        let want_end: &[u8] =
            if deprecate_eof { &[0xfe, 0, 0, 2, 0, 0, 0] } else { &[0xfe, 0, 0, 2, 0] };
        assert_eq!(end.as_slice(), want_end);
        assert!(it.next().is_none());
    }

    #[test]
    fn round_trips_with_eof_packets() {
        check_round_trip(false, false);
    }

    #[test]
    fn round_trips_with_deprecate_eof() {
        check_round_trip(true, false);
    }

    #[test]
    fn round_trips_with_mariadb_extended_metadata() {
        check_round_trip(false, true);
        check_round_trip(true, true);
    }

    #[test]
    fn encodes_a_column_definition_byte_for_byte() {
        let mut out = Vec::new();
        Column::integer("UNIX_TIMESTAMP()").encode(false, &mut out);
        let mut want = vec![3, b'd', b'e', b'f', 0, 0, 0, 16];
        want.extend_from_slice(b"UNIX_TIMESTAMP()");
        want.push(16);
        want.extend_from_slice(b"UNIX_TIMESTAMP()");
        want.extend_from_slice(&[0x0c, 63, 0, 21, 0, 0, 0, 8, 0x81, 0x80, 0, 0, 0]);
        assert_eq!(out, want);
    }

    #[test]
    fn extended_metadata_sits_between_org_name_and_fixed_fields() {
        let (mut plain, mut extended) = (Vec::new(), Vec::new());
        Column::text("a").encode(false, &mut plain);
        Column::text("a").encode(true, &mut extended);
        // def, 3 empty strings, name "a", org_name "a": 4 + 3 + 2 + 2 bytes.
        let at = 11;
        assert_eq!(extended[..at], plain[..at]);
        assert_eq!(extended[at], 0, "empty extended metadata string");
        assert_eq!(extended[at + 1..], plain[at..]);
    }

    #[test]
    fn short_rows_are_padded_with_null() {
        let mut rs = ResultSet::new(vec![Column::text("a"), Column::text("b")]);
        rs.push_row(vec![Some("1".into())]);
        let packets = encode_result_set(&rs, true, false);
        assert_eq!(decode_text_row(&packets[3], 2).unwrap(), vec![Some(b"1".to_vec()), None]);
    }

    #[test]
    fn empty_result_sets_have_columns_and_no_rows() {
        let rs = ResultSet::new(vec![Column::text("Log_name")]);
        let packets = encode_result_set(&rs, false, false);
        assert_eq!(packets.len(), 4);
        assert!(is_eof(&packets[2]) && is_eof(&packets[3]));
    }

    #[test]
    fn status_flags_reach_both_end_shapes() {
        let rs = ResultSet::new(vec![Column::text("a")]);
        assert_eq!(
            encode_result_set_with_status(&rs, false, false, 0).last().unwrap(),
            &vec![0xfe, 0, 0, 0, 0]
        );
        assert_eq!(
            encode_result_set_with_status(&rs, true, false, 0).last().unwrap(),
            &vec![0xfe, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn rejects_every_truncation_of_a_column_definition() {
        let mut out = Vec::new();
        Column::long_text("@master_binlog_checksum").encode(false, &mut out);
        for cut in 0..out.len() {
            assert!(
                matches!(decode_column_definition(&out[..cut]), Err(DecodeError::Truncated { .. })),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn rejects_trailing_bytes_and_a_wrong_fixed_length() {
        let mut out = Vec::new();
        Column::text("a").encode(false, &mut out);
        let mut long = out.clone();
        long.push(0);
        assert!(matches!(decode_column_definition(&long), Err(DecodeError::Trailing { .. })));
        let at = out.iter().position(|&b| b == 0x0c).unwrap();
        out[at] = 0x0d;
        assert!(matches!(
            decode_column_definition(&out),
            Err(DecodeError::Invalid { value: 0x0d, .. })
        ));
    }
}
