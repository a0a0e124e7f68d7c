//! A client connection to the primary: connect, authenticate, run text
//! queries and simple commands.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use log::debug;

use super::auth::login;
use super::{UpstreamConfig, UpstreamError};
use crate::net::tls::{self, SslMode, TlsSetupError};
use crate::net::{NetError, NetStream, PacketStream};
use crate::protocol::command::encode_query;
use crate::protocol::handshake::{could_start_greeting, HandshakeV10};
use crate::protocol::response::{decode_column_count, decode_text_row, is_eof, is_err, is_ok};
use crate::protocol::ssl_request::SslRequest;
use crate::protocol::{CapabilityFlags, ErrPacket, Reader};

/// Largest payload accepted from the primary: a 1 GiB event plus its packet prefix.
pub const MAX_PAYLOAD: usize = (1 << 30) + 1024;

/// A query's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryResult {
    /// An OK packet.
    Ok,
    /// A result set.
    Rows {
        /// Column names.
        columns: Vec<String>,
        /// Values, `None` for NULL.
        rows: Vec<Vec<Option<String>>>,
    },
}

/// An authenticated connection to the primary.
#[derive(Debug)]
pub struct Connection {
    ps: PacketStream<NetStream>,
    caps: CapabilityFlags,
    greeting: HandshakeV10,
    buf: Vec<u8>,
}

fn wanted_capabilities() -> CapabilityFlags {
    CapabilityFlags::CLIENT_LONG_PASSWORD
        .with(CapabilityFlags::CLIENT_LONG_FLAG)
        .with(CapabilityFlags::CLIENT_PROTOCOL_41)
        .with(CapabilityFlags::CLIENT_TRANSACTIONS)
        .with(CapabilityFlags::CLIENT_SECURE_CONNECTION)
        .with(CapabilityFlags::CLIENT_PLUGIN_AUTH)
        .with(CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA)
        .with(CapabilityFlags::CLIENT_CONNECT_ATTRS)
        .with(CapabilityFlags::CLIENT_DEPRECATE_EOF)
}

impl Connection {
    /// Connects and logs in.
    pub fn connect(cfg: &UpstreamConfig) -> Result<Self, UpstreamError> {
        let addr = format!("{}:{}", cfg.host, cfg.port);
        let connect_err = |source| UpstreamError::Connect { addr: addr.clone(), source };
        let addrs: Vec<_> = addr.to_socket_addrs().map_err(connect_err)?.collect();
        let mut last =
            std::io::Error::new(std::io::ErrorKind::NotFound, "host resolved to no address");
        let mut stream = None;
        for a in &addrs {
            match TcpStream::connect_timeout(a, cfg.connect_timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let stream = stream.ok_or_else(|| connect_err(last))?;
        stream.set_nodelay(true).map_err(connect_err)?;
        check_first_bytes(&stream, &addr, cfg.connect_timeout)?;
        stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(connect_err)?;
        stream.set_write_timeout(Some(Duration::from_secs(30))).map_err(connect_err)?;
        let mut ps = PacketStream::new(NetStream::plain(stream), MAX_PAYLOAD);
        ps.set_trace_packets(cfg.trace_packets);
        let mut buf = Vec::new();
        ps.read_packet(&mut buf)?;
        if is_err(&buf) {
            return Err(UpstreamError::Server {
                during: "the connection".into(),
                err: decode_err(&buf)?,
            });
        }
        let greeting = HandshakeV10::decode(&mut Reader::new(&buf))?;
        let caps = wanted_capabilities().and(greeting.capabilities);
        if !caps
            .contains(CapabilityFlags::CLIENT_PROTOCOL_41.with(CapabilityFlags::CLIENT_PLUGIN_AUTH))
        {
            return Err(UpstreamError::Unsupported(
                "primary does not speak protocol 4.1 with pluggable auth".into(),
            ));
        }
        let mut caps = caps;
        negotiate_tls(&mut ps, &mut caps, &greeting, cfg, &addr)?;
        let mut conn = Connection { ps, caps, greeting, buf };
        conn.authenticate(cfg)?;
        debug!(
            "connected to primary addr={addr} version={} connection_id={} tls={}",
            String::from_utf8_lossy(conn.greeting.version()),
            conn.greeting.connection_id,
            conn.ps
                .get_ref()
                .tls_info()
                .map_or_else(|| "off".to_owned(), |(v, c)| format!("{v}/{c}"))
        );
        Ok(conn)
    }

    fn authenticate(&mut self, cfg: &UpstreamConfig) -> Result<(), UpstreamError> {
        // Inside TLS the password may travel in clear (full authentication).
        let secure = self.ps.get_ref().is_tls();
        login(&mut self.ps, &mut self.buf, &self.greeting, self.caps, cfg, secure)
    }

    /// The primary's greeting.
    pub fn greeting(&self) -> &HandshakeV10 {
        &self.greeting
    }

    /// The socket (to shut it down from another thread).
    pub fn socket(&self) -> &TcpStream {
        self.ps.get_ref().tcp()
    }

    /// True when the connection is encrypted (a password may then go in
    /// the clear inside it, as caching_sha2_password's full authentication
    /// sends it).
    pub fn is_tls(&self) -> bool {
        self.ps.get_ref().is_tls()
    }

    /// True for a MariaDB primary.
    pub fn is_mariadb(&self) -> bool {
        self.greeting.is_mariadb()
    }

    /// Runs a statement and reads its answer.
    pub fn query(&mut self, sql: &str) -> Result<QueryResult, UpstreamError> {
        debug!("query sql={sql:?}");
        let deprecate_eof = self.caps.contains(CapabilityFlags::CLIENT_DEPRECATE_EOF);
        run_query(&mut self.ps, &mut self.buf, sql, deprecate_eof)
    }

    /// Runs a statement that must answer OK.
    pub fn execute(&mut self, sql: &str) -> Result<(), UpstreamError> {
        match self.query(sql)? {
            QueryResult::Ok => Ok(()),
            QueryResult::Rows { .. } => Err(UpstreamError::Unexpected { expected: "OK", got: 1 }),
        }
    }

    /// Runs a query and returns its first row (`None` for an empty result).
    pub fn query_first_row(
        &mut self,
        sql: &str,
    ) -> Result<Option<Vec<Option<String>>>, UpstreamError> {
        match self.query(sql)? {
            QueryResult::Rows { rows, .. } => Ok(rows.into_iter().next()),
            QueryResult::Ok => Err(UpstreamError::Unexpected { expected: "a result set", got: 0 }),
        }
    }

    /// Sends a command (encoded with its command byte) that must answer OK.
    pub fn command(&mut self, payload: &[u8], during: &str) -> Result<(), UpstreamError> {
        self.ps.reset_seq(0);
        self.ps.write_packet(payload)?;
        self.ps.read_packet(&mut self.buf)?;
        if is_err(&self.buf) {
            return Err(UpstreamError::Server {
                during: during.to_owned(),
                err: decode_err(&self.buf)?,
            });
        }
        if !is_ok(&self.buf) {
            return Err(UpstreamError::Unexpected { expected: "OK", got: first(&self.buf) });
        }
        Ok(())
    }

    /// Sends a command that starts a stream (no reply read here).
    pub fn send_command(&mut self, payload: &[u8]) -> Result<(), UpstreamError> {
        self.ps.reset_seq(0);
        self.ps.write_packet(payload)?;
        Ok(())
    }

    /// Hands over the packet stream (for the binlog dump).
    pub fn into_stream(self) -> PacketStream<NetStream> {
        self.ps
    }
}

/// Sends `COM_QUERY` and reads an OK, an ERR or a text result set, with
/// or without the EOF packets (`deprecate_eof`: the client and server both
/// set `CLIENT_DEPRECATE_EOF`).
pub fn run_query<S: Read + Write>(
    ps: &mut PacketStream<S>,
    buf: &mut Vec<u8>,
    sql: &str,
    deprecate_eof: bool,
) -> Result<QueryResult, UpstreamError> {
    let mut out = Vec::new();
    encode_query(sql, &mut out);
    ps.reset_seq(0);
    ps.write_packet(&out)?;
    ps.read_packet(buf)?;
    if is_ok(buf) {
        return Ok(QueryResult::Ok);
    }
    if is_err(buf) {
        return Err(UpstreamError::Server { during: sql.to_owned(), err: decode_err(buf)? });
    }
    let n = usize::try_from(decode_column_count(buf)?).unwrap_or(usize::MAX).min(4096);
    let mut columns = Vec::with_capacity(n);
    for _ in 0..n {
        ps.read_packet(buf)?;
        columns.push(column_name(buf)?);
    }
    if !deprecate_eof {
        ps.read_packet(buf)?;
        if !is_eof(buf) {
            return Err(UpstreamError::Unexpected {
                expected: "EOF after column definitions",
                got: first(buf),
            });
        }
    }
    let mut rows = Vec::new();
    loop {
        ps.read_packet(buf)?;
        if is_err(buf) {
            return Err(UpstreamError::Server { during: sql.to_owned(), err: decode_err(buf)? });
        }
        // With DEPRECATE_EOF an OK packet with header 0xFE ends the rows; a
        // row can only start with 0xFE when its first value is >= 16 MiB.
        let end = if deprecate_eof {
            buf.first() == Some(&0xfe) && buf.len() < 0xff_ffff
        } else {
            is_eof(buf)
        };
        if end {
            return Ok(QueryResult::Rows { columns, rows });
        }
        let row = decode_text_row(buf, n)?;
        rows.push(
            row.into_iter().map(|v| v.map(|b| String::from_utf8_lossy(&b).into_owned())).collect(),
        );
    }
}

/// Switches to TLS after the greeting as `cfg.ssl` says: an SSL request
/// (sequence id 1), the TLS handshake, and `CLIENT_SSL` added to `caps`
/// for the full response that follows inside TLS (docs/protocol.md §3.4).
/// PREFERRED goes on in plain TCP when the primary offers no TLS; the
/// stricter modes stop with an error that names what failed.
fn negotiate_tls(
    ps: &mut PacketStream<NetStream>,
    caps: &mut CapabilityFlags,
    greeting: &HandshakeV10,
    cfg: &UpstreamConfig,
    addr: &str,
) -> Result<(), UpstreamError> {
    let mode = cfg.ssl.mode;
    if mode == SslMode::Disabled {
        return Ok(());
    }
    if !greeting.capabilities.contains(CapabilityFlags::CLIENT_SSL) {
        if mode.requires_tls() {
            return Err(UpstreamError::Tls(format!(
                "the primary at {addr} does not offer TLS and --ssl-mode is {}: configure \
                 ssl_cert and ssl_key on the primary, or lower --ssl-mode",
                mode.as_str()
            )));
        }
        return Ok(());
    }
    let setup = |e: TlsSetupError| UpstreamError::Tls(format!("TLS to the primary: {e}"));
    let config = cfg.ssl.client_config().map_err(setup)?;
    let name = tls::server_name(&cfg.host).map_err(setup)?;
    let conn = rustls::ClientConnection::new(config, name)
        .map_err(|e| UpstreamError::Tls(format!("TLS to the primary at {addr}: {e}")))?;
    let mut out = Vec::new();
    SslRequest { capabilities: *caps, max_packet_size: 1 << 30, character_set: 45 }
        .encode(&mut out);
    ps.write_packet(&out)?;
    ps.switch_stream("tls handshake with the primary", |s, _| s.start_tls(conn, &[]))
        .map_err(|e| tls_failure(e, cfg, addr))?;
    *caps = caps.with(CapabilityFlags::CLIENT_SSL);
    Ok(())
}

/// A failed TLS handshake as an error that says what failed; a socket
/// error (a timeout, a reset) stays a retryable [`UpstreamError::Net`].
fn tls_failure(e: NetError, cfg: &UpstreamConfig, addr: &str) -> UpstreamError {
    let NetError::Io { source, .. } = &e else { return e.into() };
    let Some(rustls_err) = source.get_ref().and_then(|s| s.downcast_ref::<rustls::Error>()) else {
        return e.into();
    };
    let mode = cfg.ssl.mode.as_str();
    let ca = cfg.ssl.ca.as_ref().map_or_else(String::new, |p| p.display().to_string());
    let why = match rustls_err {
        rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer) => format!(
            "untrusted certificate: the primary's certificate is not signed by the CA of \
             --ssl-ca {ca} (--ssl-mode {mode})"
        ),
        rustls::Error::InvalidCertificate(
            rustls::CertificateError::NotValidForName
            | rustls::CertificateError::NotValidForNameContext { .. },
        ) => format!(
            "name mismatch: the primary's certificate is not issued for {:?} \
             (--ssl-mode {mode} checks the host name; connect by a name the certificate has, \
             or use VERIFY_CA): {rustls_err}",
            cfg.host
        ),
        rustls::Error::InvalidCertificate(c) => {
            format!("the primary's certificate is refused: {c:?} (--ssl-mode {mode})")
        }
        other => format!("the TLS handshake failed: {other}"),
    };
    UpstreamError::Tls(format!("TLS to the primary at {addr}: {why}"))
}

/// Refuses a peer whose first bytes (looked at, not consumed) cannot start
/// a greeting, or that sends nothing within `wait` (the greeting is the
/// server's first word, sent at once; the `mysql` client gives it
/// `connect_timeout` too). Without this an SSH banner or an HTTP server's
/// silence costs a 30 s read timeout per attempt and is reported as a
/// broken packet or a timeout. A peer that closes at once is left to the
/// packet reader: a proxy whose backend is down does that.
fn check_first_bytes(stream: &TcpStream, addr: &str, wait: Duration) -> Result<(), UpstreamError> {
    let connect_err = |source| UpstreamError::Connect { addr: addr.to_owned(), source };
    stream.set_read_timeout(Some(wait.max(Duration::from_millis(1)))).map_err(connect_err)?;
    let mut first = [0u8; 64];
    let n = loop {
        match stream.peek(&mut first) {
            Ok(n) => break n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(UpstreamError::NotMysql {
                    addr: addr.to_owned(),
                    opened_with: Vec::new(),
                    waited: wait,
                })
            }
            Err(e) => return Err(connect_err(e)),
        }
    };
    let opened_with = first.get(..n).unwrap_or_default();
    if could_start_greeting(opened_with) {
        return Ok(());
    }
    Err(UpstreamError::NotMysql {
        addr: addr.to_owned(),
        opened_with: opened_with.to_vec(),
        waited: wait,
    })
}

fn first(b: &[u8]) -> u8 {
    b.first().copied().unwrap_or_default()
}

fn decode_err(payload: &[u8]) -> Result<ErrPacket, UpstreamError> {
    Ok(ErrPacket::decode(&mut Reader::new(payload))?)
}

/// The `name` field of a ColumnDefinition41.
fn column_name(payload: &[u8]) -> Result<String, UpstreamError> {
    let mut r = Reader::new(payload);
    for what in [
        "ColumnDefinition41.catalog",
        "ColumnDefinition41.schema",
        "ColumnDefinition41.table",
        "ColumnDefinition41.org_table",
    ] {
        r.lenenc_bytes(what)?;
    }
    Ok(String::from_utf8_lossy(r.lenenc_bytes("ColumnDefinition41.name")?).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::scripted::Scripted;
    use crate::protocol::packet::encode_packets;
    use crate::protocol::writer::put_lenenc_bytes;
    use crate::protocol::{ErrPacket, OkPacket};

    fn column(name: &str) -> Vec<u8> {
        let mut c = Vec::new();
        for f in ["def", "", "", "", name, name] {
            put_lenenc_bytes(&mut c, f.as_bytes());
        }
        c.extend_from_slice(&[0x0c, 33, 0, 0, 1, 0, 0, 0xfd, 0, 0, 0, 0, 0]);
        c
    }

    /// A server reply to `SHOW VARIABLES LIKE 'server_id'`, shaped for `deprecate_eof`.
    fn reply(deprecate_eof: bool) -> Vec<u8> {
        let eof = [0xfe, 0, 0, 2, 0];
        let mut ok_end = Vec::new();
        OkPacket { status_flags: 2, ..Default::default() }.encode(0xfe, &mut ok_end);
        let mut row = Vec::new();
        put_lenenc_bytes(&mut row, b"server_id");
        put_lenenc_bytes(&mut row, b"23100");
        let mut packets: Vec<Vec<u8>> = vec![vec![2], column("Variable_name"), column("Value")];
        if !deprecate_eof {
            packets.push(eof.to_vec());
        }
        packets.push(row);
        packets.push(vec![0xfb, 1, b'x']);
        packets.push(if deprecate_eof { ok_end } else { eof.to_vec() });
        let mut wire = Vec::new();
        let mut seq = 1;
        for p in packets {
            encode_packets(&p, &mut seq, &mut wire);
        }
        wire
    }

    fn run(wire: Vec<u8>, deprecate_eof: bool) -> Result<QueryResult, UpstreamError> {
        let mut ps = PacketStream::new(Scripted::new(wire), 1 << 20);
        run_query(&mut ps, &mut Vec::new(), "SHOW VARIABLES LIKE 'server_id'", deprecate_eof)
    }

    #[test]
    fn reads_result_sets_with_and_without_eof_packets() {
        for deprecate_eof in [false, true] {
            let got = run(reply(deprecate_eof), deprecate_eof).unwrap();
            let want = QueryResult::Rows {
                columns: vec!["Variable_name".into(), "Value".into()],
                rows: vec![
                    vec![Some("server_id".into()), Some("23100".into())],
                    vec![None, Some("x".into())],
                ],
            };
            assert_eq!(got, want, "deprecate_eof={deprecate_eof}");
        }
    }

    #[test]
    fn reports_server_errors_and_truncated_replies() {
        let mut err = Vec::new();
        ErrPacket::new(1193, b"HY000", "Unknown system variable").encode(&mut err);
        let mut wire = Vec::new();
        encode_packets(&err, &mut 1, &mut wire);
        assert!(
            matches!(run(wire, false), Err(UpstreamError::Server { err, .. }) if err.code == 1193)
        );
        let full = reply(false);
        for cut in 0..full.len() {
            assert!(run(full[..cut].to_vec(), false).is_err(), "cut {cut}");
        }
    }
}
