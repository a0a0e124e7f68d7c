//! Decodes the packets of one proxied connection into one line each.
//!
//! A [`Conversation`] follows both directions of a client/server pair: the
//! greeting, the handshake response, the authentication exchange, then
//! commands and their responses (OK, ERR, result sets), and once a
//! COM_BINLOG_DUMP(_GTID) is sent the binlog event stream, with semi-sync
//! headers, and the replica's semi-sync ACKs. Passwords and scramble
//! replies are never shown, only their length; in a statement that may
//! carry a password (`IDENTIFIED BY`, `MASTER_PASSWORD`...) every quoted
//! string is replaced by its length. After an SSL request or
//! with the compressed protocol the packets cannot be read: the
//! conversation says so once and goes quiet.

use std::fmt::Write;

use crate::binlog::gtid_set::GtidSet;
use crate::binlog::{EventHeader, FormatDescription};
use crate::protocol::command::{
    ComBinlogDump, ComBinlogDumpGtid, ComRegisterSlave, SemiSyncAck, COM_BINLOG_DUMP,
    COM_BINLOG_DUMP_GTID, COM_QUERY, COM_REGISTER_SLAVE, SEMI_SYNC_MAGIC,
};
use crate::protocol::handshake::{AuthSwitchRequest, HandshakeResponse41, HandshakeV10};
use crate::protocol::response::{decode_column_count, decode_text_row, is_eof};
use crate::protocol::resultset::{decode_column_definition, decode_extended_column_definition};
use crate::protocol::{CapabilityFlags, DecodeError, ErrPacket, OkPacket, Reader};
use crate::tools::describe::{text, EventDescriber};

/// Longest value of a result-set row shown before it is cut.
pub const MAX_VALUE: usize = 64;
/// MariaDB extended capability (bit 35): columns carry extended metadata.
const MARIADB_CLIENT_EXTENDED_METADATA: u32 = 1 << 3;
/// MariaDB extended capability (bit 36): result sets may skip cached metadata.
const MARIADB_CLIENT_CACHE_METADATA: u32 = 1 << 4;
/// `SERVER_MORE_RESULTS_EXISTS` in the status flags of an EOF/OK.
const MORE_RESULTS: u16 = 0x0008;

/// Which way a packet went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client to server.
    ClientToServer,
    /// Server to client.
    ServerToClient,
}

impl Direction {
    /// `c>s` or `s>c`.
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::ClientToServer => "c>s",
            Direction::ServerToClient => "s>c",
        }
    }
}

/// Where the conversation is.
#[derive(Debug)]
enum Phase {
    Greeting,
    HandshakeResponse,
    Auth,
    Command,
    /// Reading a result set: columns expected, columns seen, rows phase.
    ResultSet {
        columns: usize,
        names: Vec<String>,
        rows: bool,
    },
    /// After COM_BINLOG_DUMP(_GTID): an event stream.
    Binlog,
    /// TLS or compression: nothing more can be decoded.
    Opaque,
}

/// The decoding state of one connection.
#[derive(Debug)]
pub struct Conversation {
    phase: Phase,
    server_caps: CapabilityFlags,
    client_caps: CapabilityFlags,
    /// MariaDB extended capabilities both sides agreed on (bits 32-63).
    mariadb_caps: u32,
    events: EventDescriber,
}

impl Default for Conversation {
    fn default() -> Self {
        Self::new()
    }
}

impl Conversation {
    /// A conversation before the server's greeting.
    pub fn new() -> Self {
        Conversation {
            phase: Phase::Greeting,
            server_caps: CapabilityFlags(0),
            client_caps: CapabilityFlags(0),
            mariadb_caps: 0,
            events: EventDescriber::new(),
        }
    }

    /// True once nothing more can be decoded (TLS, compression).
    pub fn is_opaque(&self) -> bool {
        matches!(self.phase, Phase::Opaque)
    }

    /// Describes one packet; a decode error is described, not returned.
    pub fn describe(&mut self, dir: Direction, payload: &[u8]) -> String {
        let result = match dir {
            Direction::ClientToServer => self.client_packet(payload),
            Direction::ServerToClient => self.server_packet(payload),
        };
        result.unwrap_or_else(|e| {
            format!("undecoded ({e}) first_byte=0x{:02x}", payload.first().copied().unwrap_or(0))
        })
    }

    fn client_packet(&mut self, p: &[u8]) -> Result<String, DecodeError> {
        match self.phase {
            Phase::HandshakeResponse => self.handshake_response(p),
            Phase::Auth => Ok(format!("auth_data len={}", p.len())),
            Phase::Binlog if p.first() == Some(&SEMI_SYNC_MAGIC) => {
                let ack = SemiSyncAck::decode(&mut Reader::new(p))?;
                Ok(format!(
                    "SEMI_SYNC_ACK file={} pos={}",
                    String::from_utf8_lossy(&ack.file),
                    ack.position
                ))
            }
            Phase::Opaque => Ok("(not decoded)".into()),
            _ => self.command(p),
        }
    }

    fn server_packet(&mut self, p: &[u8]) -> Result<String, DecodeError> {
        if p.first() == Some(&0xff) && !matches!(self.phase, Phase::Greeting | Phase::Opaque) {
            let err = ErrPacket::decode(&mut Reader::new(p))?;
            if !matches!(self.phase, Phase::Auth | Phase::HandshakeResponse) {
                self.phase = Phase::Command;
            }
            return Ok(format!("ERR {err}"));
        }
        match &mut self.phase {
            Phase::Greeting => self.greeting(p),
            Phase::Auth | Phase::HandshakeResponse => self.auth_reply(p),
            Phase::Command => self.response(p),
            Phase::ResultSet { .. } => self.result_set(p),
            Phase::Binlog => self.binlog(p),
            Phase::Opaque => Ok("(not decoded)".into()),
        }
    }

    fn greeting(&mut self, p: &[u8]) -> Result<String, DecodeError> {
        if p.first() == Some(&0xff) {
            self.phase = Phase::Command;
            return Ok(format!("ERR {}", ErrPacket::decode(&mut Reader::new(p))?));
        }
        let h = HandshakeV10::decode(&mut Reader::new(p))?;
        self.server_caps = h.capabilities;
        self.mariadb_caps = h.mariadb_capabilities;
        self.phase = Phase::HandshakeResponse;
        Ok(format!(
            "HANDSHAKE server_version={} connection_id={} capabilities=0x{:08x} \
             mariadb_capabilities=0x{:08x} auth_plugin={} scramble_len={}",
            String::from_utf8_lossy(&h.server_version),
            h.connection_id,
            h.capabilities.0,
            h.mariadb_capabilities,
            String::from_utf8_lossy(&h.auth_plugin_name),
            h.scramble.len()
        ))
    }

    fn handshake_response(&mut self, p: &[u8]) -> Result<String, DecodeError> {
        let caps = CapabilityFlags(Reader::new(p).u32_le("HandshakeResponse41.client_flag")?);
        if caps.contains(CapabilityFlags::CLIENT_SSL) && p.len() == 32 {
            self.phase = Phase::Opaque;
            return Ok(
                "SSL_REQUEST: TLS follows; relaying the rest of the connection raw, not decoded"
                    .into(),
            );
        }
        let r = HandshakeResponse41::decode(&mut Reader::new(p))?;
        self.client_caps = r.capabilities;
        self.mariadb_caps &= client_mariadb_caps(p, r.capabilities);
        self.phase = Phase::Auth;
        let mut s = format!(
            "HANDSHAKE_RESPONSE user={} capabilities=0x{:08x} auth_response_len={}",
            String::from_utf8_lossy(&r.username),
            r.capabilities.0,
            r.auth_response.len()
        );
        if let Some(db) = &r.database {
            let _ = write!(s, " db={}", String::from_utf8_lossy(db));
        }
        if let Some(plugin) = &r.auth_plugin_name {
            let _ = write!(s, " auth_plugin={}", String::from_utf8_lossy(plugin));
        }
        let _ = write!(s, " attrs={}", r.connect_attrs.len());
        Ok(s)
    }

    fn auth_reply(&mut self, p: &[u8]) -> Result<String, DecodeError> {
        match p.first() {
            Some(0x00) => {
                let ok = OkPacket::decode(&mut Reader::new(p))?;
                let both = self.server_caps.and(self.client_caps);
                if both.contains(CapabilityFlags::CLIENT_COMPRESS) {
                    self.phase = Phase::Opaque;
                    return Ok(format!(
                        "OK {} (compressed protocol follows: not decoded)",
                        ok_fields(&ok)
                    ));
                }
                self.phase = Phase::Command;
                Ok(format!("OK {} (authenticated)", ok_fields(&ok)))
            }
            Some(0xfe) => {
                let sw = AuthSwitchRequest::decode(&mut Reader::new(p))?;
                self.phase = Phase::Auth;
                Ok(format!(
                    "AUTH_SWITCH plugin={} data_len={}",
                    String::from_utf8_lossy(&sw.plugin_name),
                    sw.plugin_data.len()
                ))
            }
            Some(0x01) => Ok(format!("AUTH_MORE_DATA len={}", p.len() - 1)),
            _ => Ok(format!("auth packet len={}", p.len())),
        }
    }

    fn command(&mut self, p: &[u8]) -> Result<String, DecodeError> {
        let Some((&cmd, body)) = p.split_first() else { return Ok("empty packet".into()) };
        let mut r = Reader::new(body);
        let line = match cmd {
            COM_QUERY => format!("COM_QUERY \"{}\"", text(&redact_secrets(body))),
            COM_REGISTER_SLAVE => {
                let c = ComRegisterSlave::decode(&mut r)?;
                format!(
                    "COM_REGISTER_SLAVE server_id={} host={} user={} password_len={} port={} \
                     master_id={}",
                    c.server_id,
                    String::from_utf8_lossy(&c.host),
                    String::from_utf8_lossy(&c.user),
                    c.password.len(),
                    c.port,
                    c.master_id
                )
            }
            COM_BINLOG_DUMP => {
                let c = ComBinlogDump::decode(&mut r)?;
                self.phase = Phase::Binlog;
                format!(
                    "COM_BINLOG_DUMP file={} pos={} flags=0x{:04x} server_id={}",
                    String::from_utf8_lossy(&c.file),
                    c.position,
                    c.flags,
                    c.server_id
                )
            }
            COM_BINLOG_DUMP_GTID => {
                let c = ComBinlogDumpGtid::decode(&mut r)?;
                self.phase = Phase::Binlog;
                let set = GtidSet::decode(&c.gtid_set)
                    .map_or_else(|e| format!("undecoded: {e}"), |s| s.to_string());
                format!(
                    "COM_BINLOG_DUMP_GTID file={} pos={} flags=0x{:04x} server_id={} \
                     gtid_set=[{set}]",
                    String::from_utf8_lossy(&c.file),
                    c.position,
                    c.flags,
                    c.server_id
                )
            }
            0x02 => format!("COM_INIT_DB {}", text(body)),
            _ => format!("{} len={}", command_name(cmd), p.len()),
        };
        Ok(line)
    }

    /// The first packet of a response in the command phase.
    fn response(&mut self, p: &[u8]) -> Result<String, DecodeError> {
        match p.first() {
            Some(0x00) => Ok(format!("OK {}", ok_fields(&OkPacket::decode(&mut Reader::new(p))?))),
            Some(0xfb) => {
                Ok(format!("LOCAL_INFILE_REQUEST file={}", text(p.get(1..).unwrap_or_default())))
            }
            Some(0xfe) if is_eof(p) => Ok("EOF".into()),
            _ if self.mariadb_caps & MARIADB_CLIENT_CACHE_METADATA != 0 => {
                let mut r = Reader::new(p);
                let n = r.lenenc_int("ResultSet.column_count")?;
                let metadata_follows = r.u8("ResultSet.metadata_follows")?;
                r.finish("ResultSet.column_count")?;
                let columns = usize::try_from(n).unwrap_or(usize::MAX);
                self.phase =
                    Phase::ResultSet { columns, names: Vec::new(), rows: metadata_follows == 0 };
                Ok(format!("RESULT_SET columns={n} metadata_follows={metadata_follows}"))
            }
            _ => {
                let n = decode_column_count(p)?;
                let columns = usize::try_from(n).unwrap_or(usize::MAX);
                self.phase = Phase::ResultSet { columns, names: Vec::new(), rows: false };
                Ok(format!("RESULT_SET columns={n}"))
            }
        }
    }

    fn result_set(&mut self, p: &[u8]) -> Result<String, DecodeError> {
        let deprecate_eof = self.client_caps.contains(CapabilityFlags::CLIENT_DEPRECATE_EOF);
        let extended = self.mariadb_caps & MARIADB_CLIENT_EXTENDED_METADATA != 0;
        let Phase::ResultSet { columns, names, rows } = &mut self.phase else {
            return Ok(String::new());
        };
        if !*rows && names.len() < *columns {
            let col = if extended {
                decode_extended_column_definition(p)?
            } else {
                decode_column_definition(p)?
            };
            names.push(col.name.clone());
            let line = format!("COLUMN {} name={} type={}", names.len(), col.name, col.column_type);
            if names.len() == *columns && deprecate_eof {
                *rows = true;
            }
            return Ok(line);
        }
        if !*rows {
            *rows = true;
            return Ok(format!("EOF (columns: {})", names.join(", ")));
        }
        if p.first() == Some(&0xfe) && p.len() < 0xff_ffff && (is_eof(p) || deprecate_eof) {
            let status = end_status(p, deprecate_eof);
            self.phase = Phase::Command;
            return Ok(format!(
                "EOF end of rows{}",
                if status & MORE_RESULTS != 0 { " (more results)" } else { "" }
            ));
        }
        let row = decode_text_row(p, *columns)?;
        let shown: Vec<String> =
            row.iter().map(|v| v.as_deref().map_or_else(|| "NULL".into(), value)).collect();
        Ok(format!("ROW [{}]", shown.join(", ")))
    }

    fn binlog(&mut self, p: &[u8]) -> Result<String, DecodeError> {
        match p.first() {
            Some(0xfe) if is_eof(p) => {
                self.phase = Phase::Command;
                return Ok("EOF end of binlog stream".into());
            }
            Some(0x00) => {}
            _ => return Ok(format!("binlog packet len={}", p.len())),
        }
        let rest = p.get(1..).unwrap_or_default();
        let (semi, event) = split_semi_sync(rest);
        let header = EventHeader::parse(event)?;
        let mut line = String::from("EVENT ");
        if let Some(need_ack) = semi {
            let _ = write!(line, "semi_sync need_ack={} ", u8::from(need_ack));
        }
        line.push_str(&self.events.line(&header, event, header.log_pos.into()));
        Ok(line)
    }

    /// The FD in force in the binlog stream, if any.
    pub fn format_description(&self) -> Option<&FormatDescription> {
        self.events.format_description()
    }
}

/// `(Some(need_ack), event)` when the event packet has the semi-sync
/// header `0xEF flag`, judged by the event's own length.
fn split_semi_sync(rest: &[u8]) -> (Option<bool>, &[u8]) {
    let fits = |ev: &[u8]| EventHeader::parse(ev).is_ok_and(|h| h.event_len_usize() == ev.len());
    if let (Some(&SEMI_SYNC_MAGIC), Some(&flag), Some(ev)) =
        (rest.first(), rest.get(1), rest.get(2..))
    {
        if fits(ev) || !fits(rest) {
            return (Some(flag & 0x01 != 0), ev);
        }
    }
    (None, rest)
}

/// The MariaDB extended capabilities in the last 4 bytes of the 23-byte
/// filler of a handshake response (offset 28); a MySQL client (one that
/// sets `CLIENT_MYSQL`, bit 0) has none.
fn client_mariadb_caps(p: &[u8], caps: CapabilityFlags) -> u32 {
    if caps.contains(CapabilityFlags::CLIENT_LONG_PASSWORD) {
        return 0;
    }
    let mut r = Reader::new(p.get(28..).unwrap_or_default());
    r.u32_le("HandshakeResponse41.mariadb_capabilities").unwrap_or(0)
}

/// A statement that may carry a password (`IDENTIFIED BY`, `PASSWORD`,
/// `MASTER_PASSWORD`, ...) with every quoted string replaced by
/// `'<N bytes>'`; other statements unchanged.
fn redact_secrets(sql: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let upper = sql.to_ascii_uppercase();
    let risky =
        [&b"PASSWORD"[..], b"IDENTIFIED"].iter().any(|k| upper.windows(k.len()).any(|w| w == *k));
    if !risky {
        return std::borrow::Cow::Borrowed(sql);
    }
    let mut out = Vec::with_capacity(sql.len());
    let mut quote: Option<(u8, usize)> = None;
    let mut escaped = false;
    for &b in sql {
        match quote {
            None if b == b'\'' || b == b'"' => quote = Some((b, 0)),
            None => out.push(b),
            Some((_, n)) if escaped => {
                escaped = false;
                quote = quote.map(|(q, _)| (q, n + 1));
            }
            Some((q, n)) if b == b'\\' => {
                escaped = true;
                quote = Some((q, n + 1));
            }
            Some((q, n)) if b == q => {
                out.extend_from_slice(format!("'<{n} bytes>'").as_bytes());
                quote = None;
            }
            Some((q, n)) => quote = Some((q, n + 1)),
        }
    }
    if let Some((_, n)) = quote {
        out.extend_from_slice(format!("'<{n} bytes>'").as_bytes());
    }
    std::borrow::Cow::Owned(out)
}

/// The status flags of an EOF (or OK standing in for one).
fn end_status(p: &[u8], ok_form: bool) -> u16 {
    if ok_form {
        OkPacket::decode(&mut Reader::new(p)).map_or(0, |ok| ok.status_flags)
    } else {
        let mut r = Reader::new(p.get(1..).unwrap_or_default());
        let _ = r.u16_le("Eof.warnings");
        r.u16_le("Eof.status_flags").unwrap_or(0)
    }
}

fn ok_fields(ok: &OkPacket) -> String {
    format!(
        "affected_rows={} last_insert_id={} status=0x{:04x} warnings={}",
        ok.affected_rows, ok.last_insert_id, ok.status_flags, ok.warnings
    )
}

/// A row value: quoted, escaped, cut at [`MAX_VALUE`] characters.
fn value(v: &[u8]) -> String {
    let mut t = text(v);
    if let Some((cut, _)) = t.char_indices().nth(MAX_VALUE) {
        t.truncate(cut);
        t.push_str("...");
    }
    format!("'{t}'")
}

/// Names of the commands not decoded further.
fn command_name(cmd: u8) -> String {
    let name = match cmd {
        0x00 => "COM_SLEEP",
        0x01 => "COM_QUIT",
        0x04 => "COM_FIELD_LIST",
        0x07 => "COM_REFRESH",
        0x08 => "COM_SHUTDOWN",
        0x09 => "COM_STATISTICS",
        0x0a => "COM_PROCESS_INFO",
        0x0c => "COM_PROCESS_KILL",
        0x0d => "COM_DEBUG",
        0x0e => "COM_PING",
        0x11 => "COM_CHANGE_USER",
        0x16 => "COM_STMT_PREPARE",
        0x17 => "COM_STMT_EXECUTE",
        0x18 => "COM_STMT_SEND_LONG_DATA",
        0x19 => "COM_STMT_CLOSE",
        0x1a => "COM_STMT_RESET",
        0x1b => "COM_SET_OPTION",
        0x1c => "COM_STMT_FETCH",
        0x1f => "COM_RESET_CONNECTION",
        _ => return format!("COM_0x{cmd:02x}"),
    };
    name.to_owned()
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
