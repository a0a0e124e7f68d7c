//! One downstream connection: greeting, authentication, then commands
//! until the client quits, is killed, or starts a binlog dump.

use std::fs::File;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{debug, info, warn};

use super::admission::{Admission, Ticket};
use super::command_read::{read_command, MAX_OTHER_COMMAND};
use super::dump::{BinlogSender, DumpRequest};
use super::info::{ServerInfo, SlaveHost};
use super::query::{evaluate, redacted, Reply};
use super::registry::Command;
use super::session_info::SessionInfo;
use super::session_vars::SessionVars;
use super::sha2_auth::{caching_sha2_login, Refusal, Sha2Login, Sha2Outcome};
use super::{Role, Shared};
use crate::net::{NetError, NetStream, PacketStream};
use crate::protocol::auth::native_password_verify;
use crate::protocol::command::{
    ComBinlogDump, ComBinlogDumpGtid, ComRegisterSlave, COM_BINLOG_DUMP, COM_BINLOG_DUMP_GTID,
    COM_PING, COM_QUERY, COM_QUIT, COM_REGISTER_SLAVE,
};
use crate::protocol::handshake::{AuthSwitchRequest, HandshakeResponse41, HandshakeV10};
use crate::protocol::resultset::encode_result_set;
use crate::protocol::ssl_request::SslRequest;
use crate::protocol::{CapabilityFlags, DecodeError, ErrPacket, OkPacket, Reader};

/// The password plugins the listener speaks.
const NATIVE: &[u8] = b"mysql_native_password";
const CACHING_SHA2: &[u8] = b"caching_sha2_password";

/// `COM_INIT_DB`.
const COM_INIT_DB: u8 = 0x02;
/// Largest packet before login: a handshake response with its connection
/// attributes is a few hundred bytes (MySQL caps the attributes at 64 KiB).
const MAX_HANDSHAKE_PACKET: usize = 64 << 10;
/// A connection idle this long is closed (MySQL's `wait_timeout`).
const IDLE_TIMEOUT: Duration = Duration::from_secs(8 * 3600);
/// The handshake must finish within this, in total (MariaDB's
/// `connect_timeout`): a client trickling bytes is cut off too.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// One client connection.
#[derive(Debug)]
pub struct Session {
    shared: Arc<Shared>,
    ps: PacketStream<NetStream>,
    id: u32,
    killed: Arc<AtomicBool>,
    peer: SocketAddr,
    vars: SessionVars,
    caps: CapabilityFlags,
    user: String,
    authenticated: bool,
    admission: Arc<Admission>,
    /// The handshake slot, held until login.
    ticket: Option<Ticket>,
}

fn server_capabilities(mariadb: bool) -> CapabilityFlags {
    let caps = CapabilityFlags::CLIENT_LONG_FLAG
        .with(CapabilityFlags::CLIENT_CONNECT_WITH_DB)
        .with(CapabilityFlags::CLIENT_PROTOCOL_41)
        .with(CapabilityFlags::CLIENT_TRANSACTIONS)
        .with(CapabilityFlags::CLIENT_SECURE_CONNECTION)
        .with(CapabilityFlags::CLIENT_MULTI_RESULTS)
        .with(CapabilityFlags::CLIENT_PLUGIN_AUTH)
        .with(CapabilityFlags::CLIENT_CONNECT_ATTRS)
        .with(CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA)
        .with(CapabilityFlags::CLIENT_DEPRECATE_EOF);
    // MariaDB servers leave bit 0 clear (it means "MySQL" to libmariadb).
    if mariadb {
        caps
    } else {
        caps.with(CapabilityFlags::CLIENT_LONG_PASSWORD)
    }
}

/// The ERR a client gets for broken framing: MariaDB's codes for a
/// packet over the size cap and for out-of-order sequence ids.
fn framing_error(e: &DecodeError) -> ErrPacket {
    match e {
        DecodeError::TooLarge { .. } => {
            ErrPacket::new(1153, b"08S01", "Got a packet bigger than 'max_allowed_packet' bytes")
        }
        DecodeError::Invalid { what: "PacketHeader.sequence_id", .. } => {
            ErrPacket::new(1156, b"08S01", "Got packets out of order")
        }
        _ => ErrPacket::new(1835, b"08S01", "Malformed communication packet"),
    }
}

/// A MySQL (not MariaDB) version 8 or later: its default plugin is
/// `caching_sha2_password`.
fn mysql_8_or_later(mariadb: bool, version: &str) -> bool {
    let major = version.split('.').next().and_then(|m| m.parse::<u32>().ok());
    !mariadb && major.is_some_and(|m| m >= 8)
}

/// 20 random bytes for a scramble: 7-bit, no NUL and no '$' (as MySQL makes them).
fn scramble() -> Vec<u8> {
    let mut bytes = [0u8; 20];
    let filled = File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).is_ok();
    if !filled {
        // No /dev/urandom: fall back to the clock and a hash (still per connection).
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mut h = crc32fast::Hasher::new();
        for (i, b) in bytes.iter_mut().enumerate() {
            h.update(&nanos.to_le_bytes());
            h.update(&i.to_le_bytes());
            *b = h.clone().finalize().to_le_bytes()[0];
        }
    }
    bytes
        .iter()
        .map(|&b| match b & 0x7f {
            0 => 1,
            b'$' => b'$' + 1,
            x => x,
        })
        .collect()
}

impl Session {
    /// A session over an accepted connection, holding its handshake slot.
    pub fn new(
        shared: Arc<Shared>,
        stream: TcpStream,
        id: u32,
        killed: Arc<AtomicBool>,
        peer: SocketAddr,
        ticket: Ticket,
    ) -> Self {
        let _ = stream.set_nodelay(true);
        let mut ps = PacketStream::new(NetStream::plain(stream), MAX_HANDSHAKE_PACKET);
        ps.set_trace_packets(shared.config.trace_packets);
        let vars = SessionVars::default();
        Session {
            shared,
            ps,
            id,
            killed,
            peer,
            vars,
            caps: CapabilityFlags::default(),
            user: String::new(),
            authenticated: false,
            admission: Arc::clone(ticket.admission()),
            ticket: Some(ticket),
        }
    }

    /// Runs the connection to its end; errors are logged here, once.
    pub fn run(mut self) {
        let result = self.serve();
        if let Err(NetError::Decode(e)) = &result {
            // Tell the client why before closing, as MariaDB does.
            let _ = self.send_err(&framing_error(e));
        }
        if result.as_ref().is_err_and(NetError::is_out_of_budget) {
            let msg = "Out of memory: too many large commands in progress";
            let _ = self.send_err(&ErrPacket::new(1041, b"HY000", msg));
        }
        match result {
            Ok(()) => debug!("connection closed id={} peer={}", self.id, self.peer),
            Err(e) if self.killed.load(Ordering::Relaxed) || self.shared.shutdown.is_set() => {
                debug!("connection killed id={} peer={}: {e}", self.id, self.peer)
            }
            Err(NetError::Closed) if !self.authenticated => {
                // Also what a TCP health check does: news, but not a warning.
                info!(
                    "handshake failed id={} peer={} user={:?}: {}",
                    self.id,
                    self.peer,
                    self.user,
                    NetError::Closed
                )
            }
            Err(e) if !self.authenticated => {
                // A client that fails the handshake is news, whatever the reason.
                let detail =
                    std::error::Error::source(&e).map(|s| format!(": {s}")).unwrap_or_default();
                warn!(
                    "handshake failed id={} peer={} user={:?}: {e}{detail}",
                    self.id, self.peer, self.user
                )
            }
            Err(NetError::Closed) => {
                debug!("connection closed by client id={} peer={}", self.id, self.peer)
            }
            Err(e) => {
                let detail =
                    std::error::Error::source(&e).map(|s| format!(": {s}")).unwrap_or_default();
                info!(
                    "connection ended id={} peer={} user={}: {e}{detail}",
                    self.id, self.peer, self.user
                )
            }
        }
    }

    /// Reads time out after `read`; writes after `@@net_write_timeout`
    /// (60 s unless the session set it), like MariaDB's: a client that
    /// stops reading, a dump client above all, is dropped after it.
    fn set_timeout(&self, read: Duration) -> Result<(), NetError> {
        let s = self.ps.get_ref().tcp();
        s.set_read_timeout(Some(read))
            .and_then(|()| s.set_write_timeout(Some(self.vars.net_write_timeout())))
            .map_err(|source| NetError::Io { op: "set socket timeout", source })
    }

    fn serve(&mut self) -> Result<(), NetError> {
        self.set_timeout(HANDSHAKE_TIMEOUT)?;
        self.ps.set_read_deadline(Some(Instant::now() + HANDSHAKE_TIMEOUT));
        if !self.authenticate()? {
            return Ok(());
        }
        self.authenticated = true;
        self.ps.set_read_deadline(None);
        self.ps.set_budget(Some(self.admission.command_memory()));
        let mut packet = Vec::new();
        loop {
            if packet.capacity() > MAX_OTHER_COMMAND {
                // Not kept past the command: the budget no longer counts it.
                packet = Vec::new();
            }
            self.ps.reset_seq(0);
            self.read_command(&mut packet)?;
            let Some((&command, body)) = packet.split_first() else { continue };
            match command {
                COM_QUIT => return Ok(()),
                COM_PING => self.send_ok()?,
                COM_INIT_DB => {
                    let db = String::from_utf8_lossy(body).into_owned();
                    self.shared.registry.set_database(self.id, Some(&db));
                    self.vars.set_database(Some(db));
                    self.send_ok()?
                }
                COM_QUERY => {
                    let sql = String::from_utf8_lossy(body).into_owned();
                    self.query(&sql)?;
                }
                COM_REGISTER_SLAVE => self.register_slave(body)?,
                COM_BINLOG_DUMP => match ComBinlogDump::decode(&mut Reader::new(body)) {
                    Ok(cmd) => self.dump(DumpRequest::FilePos(cmd))?,
                    Err(_) => self.send_err(&ErrPacket::new(
                        1835,
                        b"HY000",
                        "Malformed communication packet",
                    ))?,
                },
                COM_BINLOG_DUMP_GTID => match ComBinlogDumpGtid::decode(&mut Reader::new(body)) {
                    Ok(cmd) => self.dump(DumpRequest::Gtid(cmd))?,
                    Err(_) => self.send_err(&ErrPacket::new(
                        1835,
                        b"HY000",
                        "Malformed communication packet",
                    ))?,
                },
                other => self.send_err(&ErrPacket::new(
                    1047,
                    b"08S01",
                    format!("Unknown command {other:#04x}"),
                ))?,
            }
        }
    }

    /// Waits for the next command (up to the idle timeout), then reads it
    /// whole within `@@net_read_timeout` of its first byte, under the
    /// `max_allowed_packet` of its kind: a client stalled or trickling
    /// mid-command is dropped after it.
    fn read_command(&mut self, packet: &mut Vec<u8>) -> Result<(), NetError> {
        self.set_timeout(IDLE_TIMEOUT)?;
        self.ps.peek(1)?;
        let timeout = self.vars.net_read_timeout();
        self.set_timeout(timeout)?;
        read_command(&mut self.ps, packet, timeout)
    }

    /// Greeting and login; false when the client was refused (ERR sent).
    fn authenticate(&mut self) -> Result<bool, NetError> {
        let info = SessionInfo::new(&self.shared, self.id);
        let mariadb = info.is_mariadb();
        let version = if mariadb
            && !info.version().starts_with("11.")
            && !info.version().starts_with("12.")
        {
            format!("5.5.5-{}", info.version())
        } else {
            info.version()
        };
        drop(info);
        // MySQL 8's default plugin, so that its clients log in as they would there.
        let default_plugin =
            if mysql_8_or_later(mariadb, &version) { CACHING_SHA2 } else { NATIVE };
        let nonce = scramble();
        let mut capabilities = server_capabilities(mariadb);
        if self.shared.config.tls.is_some() {
            capabilities = capabilities.with(CapabilityFlags::CLIENT_SSL);
        }
        let greeting = HandshakeV10 {
            server_version: version.into_bytes(),
            connection_id: self.id,
            scramble: nonce.clone(),
            capabilities,
            character_set: 45,
            status_flags: 2,
            mariadb_capabilities: 0,
            auth_plugin_name: default_plugin.to_vec(),
        };
        let mut out = Vec::new();
        greeting.encode(&mut out);
        self.ps.reset_seq(0);
        self.ps.write_packet(&out)?;
        let mut packet = Vec::new();
        self.ps.read_packet(&mut packet)?;
        if SslRequest::is_ssl_request(&packet) {
            if !self.start_tls()? {
                return Ok(false);
            }
            // The full response, inside TLS, with the next sequence id.
            self.ps.read_packet(&mut packet)?;
        }
        let resp = match HandshakeResponse41::decode(&mut Reader::new(&packet)) {
            Ok(resp) => resp,
            Err(e) => {
                warn!(
                    "handshake failed id={} peer={}: bad handshake response: {e}",
                    self.id, self.peer
                );
                self.send_err(&ErrPacket::new(1043, b"08S01", "Bad handshake"))?;
                return Ok(false);
            }
        };
        self.caps = resp.capabilities.and(greeting.capabilities);
        self.user = String::from_utf8_lossy(&resp.username).into_owned();
        self.delay_login();
        let plugin = resp.auth_plugin_name.clone().unwrap_or_else(|| NATIVE.to_vec());
        let role = match plugin.as_slice() {
            NATIVE => {
                self.check_password(|pw| native_password_verify(pw, &nonce, &resp.auth_response))
            }
            CACHING_SHA2 => self.caching_sha2(&nonce, &resp.auth_response)?,
            _ => self.switch_plugin(default_plugin, &nonce)?,
        };
        let plugin = match plugin.as_slice() {
            NATIVE | CACHING_SHA2 => String::from_utf8_lossy(&plugin).into_owned(),
            _ => String::from_utf8_lossy(default_plugin).into_owned(),
        };
        let role = role.filter(|_| self.transport_allowed());
        let Some(role) = role else {
            let using = if resp.auth_response.is_empty() { "NO" } else { "YES" };
            // Logged once per peer and interval by the admission, not here.
            debug!(
                "access denied id={} peer={} user={} tls={}",
                self.id,
                self.peer,
                self.user,
                self.ps.get_ref().is_tls()
            );
            self.admission.failed(self.peer.ip(), &self.user, Instant::now());
            let msg = format!(
                "Access denied for user '{}'@'{}' (using password: {using})",
                self.user,
                self.peer.ip()
            );
            self.send_err(&ErrPacket::new(1045, b"28000", msg))?;
            return Ok(false);
        };
        debug!(
            "authenticated id={} peer={} user={} role={} plugin={plugin}",
            self.id,
            self.peer,
            self.user,
            role.as_str()
        );
        self.admission.succeeded(self.peer.ip());
        self.ticket = None;
        self.vars.set_account(&self.user, &self.peer.ip().to_string());
        self.vars.set_role(role);
        self.shared.registry.set_command(self.id, Command::Sleep, None);
        self.shared.registry.set_user(self.id, &self.user);
        self.send_ok()?;
        Ok(true)
    }

    /// Waits as long as the peer's failed logins ask before the password
    /// is checked (see [`super::admission`]), holding the handshake slot;
    /// the rest of the login (an auth switch) then gets the whole deadline.
    fn delay_login(&mut self) {
        let delay = self.admission.delay(self.peer.ip());
        if !delay.is_zero() {
            debug!(
                "delaying login id={} peer={} ms={}: failed logins before",
                self.id,
                self.peer,
                delay.as_millis()
            );
            self.shared.shutdown.wait(delay);
            self.ps.set_read_deadline(Some(Instant::now() + HANDSHAKE_TIMEOUT));
        }
    }

    /// Runs the TLS handshake after an SSL request; false when refused
    /// (TLS not offered here: ERR sent).
    fn start_tls(&mut self) -> Result<bool, NetError> {
        let Some(config) = self.shared.config.tls.clone() else {
            // CLIENT_SSL was not offered, so a client should never ask.
            self.send_err(&ErrPacket::new(1043, b"08S01", "Bad handshake"))?;
            return Ok(false);
        };
        let conn = rustls::ServerConnection::new(config)
            .map_err(|e| NetError::Io { op: "start tls", source: crate::net::tls::io_error(e) })?;
        // The login's deadline covers the TLS handshake too.
        let deadline = self.ps.read_deadline();
        self.ps.switch_stream("tls handshake", |s, early| {
            s.set_handshake_deadline(deadline);
            s.start_tls(conn, early)
        })?;
        let tls = self.ps.get_ref().tls_info();
        if let Some((version, cipher)) = &tls {
            debug!("tls id={} peer={} version={version} cipher={cipher}", self.id, self.peer);
        }
        self.vars.set_tls(tls);
        Ok(true)
    }

    /// False when the login must be refused for coming over plain TCP
    /// (`--require-secure-transport`, or an `ssl` account): MariaDB 10.11
    /// then answers 1045 Access denied, as for a wrong password (measured).
    fn transport_allowed(&self) -> bool {
        if self.ps.get_ref().is_tls() {
            return true;
        }
        let tls_only_account =
            || self.shared.config.accounts.iter().any(|a| a.user == self.user && a.require_ssl);
        !self.shared.config.require_secure_transport && !tls_only_account()
    }

    /// Asks a client that answered for another plugin to answer for `plugin`.
    fn switch_plugin(&mut self, plugin: &[u8], nonce: &[u8]) -> Result<Option<Role>, NetError> {
        let mut data = nonce.to_vec();
        data.push(0);
        let switch = AuthSwitchRequest { plugin_name: plugin.to_vec(), plugin_data: data };
        let mut out = Vec::new();
        switch.encode(&mut out);
        self.ps.write_packet(&out)?;
        let mut reply = Vec::new();
        self.ps.read_packet(&mut reply)?;
        if plugin == CACHING_SHA2 {
            return self.caching_sha2(nonce, &reply);
        }
        Ok(self.check_password(|pw| native_password_verify(pw, nonce, &reply)))
    }

    /// A `caching_sha2_password` login after the client's scramble `reply`.
    fn caching_sha2(&mut self, nonce: &[u8], reply: &[u8]) -> Result<Option<Role>, NetError> {
        let config = &self.shared.config;
        let secure = self.ps.get_ref().is_tls();
        let login = Sha2Login {
            nonce,
            reply,
            secure,
            full_auth: config.sha2_full_auth,
            key: config.rsa_key.as_ref(),
        };
        let accounts = &config.accounts;
        let user = &self.user;
        let check = |verify: &dyn Fn(&[u8]) -> bool| {
            accounts
                .iter()
                .find(|a| &a.user == user && verify(a.password.as_bytes()))
                .map(|a| a.role)
        };
        match caching_sha2_login(&mut self.ps, &login, check)? {
            Sha2Outcome::Accepted(role) => Ok(Some(role)),
            Sha2Outcome::Refused(reason) => {
                if reason != Refusal::WrongPassword {
                    warn!(
                        "caching_sha2_password login refused id={} peer={} user={}: {reason}",
                        self.id, self.peer, self.user
                    );
                }
                Ok(None)
            }
        }
    }

    /// The role of the account whose password `verify` accepts, if any.
    fn check_password(&self, verify: impl Fn(&[u8]) -> bool) -> Option<Role> {
        self.shared
            .config
            .accounts
            .iter()
            .find(|a| a.user == self.user && verify(a.password.as_bytes()))
            .map(|a| a.role)
    }

    fn deprecate_eof(&self) -> bool {
        self.caps.contains(CapabilityFlags::CLIENT_DEPRECATE_EOF)
    }

    fn send_ok(&mut self) -> Result<(), NetError> {
        let mut out = Vec::new();
        OkPacket { status_flags: 2, ..Default::default() }.encode(0, &mut out);
        self.ps.write_packet(&out)
    }

    fn send_err(&mut self, err: &ErrPacket) -> Result<(), NetError> {
        let mut out = Vec::new();
        err.encode(&mut out);
        self.ps.write_packet(&out)
    }

    /// Runs one statement; `SHOW PROCESSLIST` shows it (passwords hidden)
    /// while it runs.
    fn query(&mut self, sql: &str) -> Result<(), NetError> {
        let shown = redacted(sql).into_owned();
        debug!("query id={} sql={:?}", self.id, shown);
        let registry = Arc::clone(&self.shared.registry);
        registry.set_command(self.id, Command::Query, Some(shown));
        let db = self.vars.database().map(str::to_owned);
        let result = self.run_query(sql);
        if self.vars.database() != db.as_deref() {
            registry.set_database(self.id, self.vars.database());
        }
        registry.set_command(self.id, Command::Sleep, None);
        result
    }

    fn run_query(&mut self, sql: &str) -> Result<(), NetError> {
        let info = SessionInfo::new(&self.shared, self.id);
        let reply = evaluate(sql, &mut self.vars, &info);
        drop(info);
        match reply {
            Reply::Ok => {
                let warnings = u16::try_from(self.vars.warnings().len()).unwrap_or(u16::MAX);
                let mut out = Vec::new();
                OkPacket { status_flags: 2, warnings, ..Default::default() }.encode(0, &mut out);
                self.ps.write_packet(&out)
            }
            Reply::Err(err) => {
                debug!("query refused id={} code={} sql={:?}", self.id, err.code, redacted(sql));
                self.send_err(&err)
            }
            Reply::Rows(rs) => {
                for payload in encode_result_set(&rs, self.deprecate_eof(), false) {
                    self.ps.write_packet(&payload)?;
                }
                Ok(())
            }
        }
    }

    fn register_slave(&mut self, body: &[u8]) -> Result<(), NetError> {
        let Ok(cmd) = ComRegisterSlave::decode(&mut Reader::new(body)) else {
            return self.send_err(&ErrPacket::new(
                1835,
                b"HY000",
                "Malformed communication packet",
            ));
        };
        let master_id = SessionInfo::new(&self.shared, self.id).server_id();
        let host = String::from_utf8_lossy(&cmd.host).into_owned();
        info!(
            "replica registered id={} peer={} server_id={} report_host={host:?} port={}",
            self.id, self.peer, cmd.server_id, cmd.port
        );
        let uuid = self.vars.replica_uuid().unwrap_or_default();
        self.shared.registry.set_slave(
            self.id,
            SlaveHost { server_id: cmd.server_id, host, port: cmd.port, master_id, uuid },
        );
        self.send_ok()
    }

    fn dump(&mut self, request: DumpRequest) -> Result<(), NetError> {
        // The session may have set @@net_write_timeout since login.
        self.set_timeout(IDLE_TIMEOUT)?;
        let sender = BinlogSender::new(
            &self.shared,
            self.id,
            &self.killed,
            &self.vars,
            self.deprecate_eof(),
        );
        let result = sender.run(&mut self.ps, request);
        self.shared.registry.set_command(self.id, Command::Sleep, None);
        result
    }
}
