//! Logging in to the primary: the handshake response, auth switches, and
//! `caching_sha2_password`'s fast path and full authentication.
//!
//! A MySQL 8.0/8.4/9.x primary asks for full authentication (`01 04`)
//! whenever its password cache lacks the account, i.e. after every restart
//! of the primary. Then the password goes in clear inside TLS (`secure`),
//! or over plain TCP XOR'd with the nonce and RSA-encrypted with the
//! primary's public key: the one in `--server-public-key-path`, or the one
//! it sends when asked (`--get-server-public-key`), as the mysql client
//! does. docs/protocol.md §3.5, §3.7.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use super::{UpstreamConfig, UpstreamError};
use crate::net::PacketStream;
use crate::protocol::auth::scramble_for;
use crate::protocol::caching_sha2::{
    cleartext_password, more_data, ServerPublicKey, Sha2Status, REQUEST_PUBLIC_KEY,
};
use crate::protocol::handshake::{AuthSwitchRequest, HandshakeResponse41, HandshakeV10};
use crate::protocol::{CapabilityFlags, ErrPacket, Reader};

/// Reads and checks the primary's RSA public key file (`MASTER_PUBLIC_KEY_PATH`
/// or the stored one), so that a wrong file is reported when it is given,
/// not at the primary's next restart; the error names the file and why.
///
/// # Errors
/// The file cannot be read, or is not a PEM RSA public key.
pub fn read_server_public_key(path: &Path) -> Result<ServerPublicKey, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    ServerPublicKey::from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))
}

const NATIVE: &[u8] = b"mysql_native_password";
const CACHING_SHA2: &[u8] = b"caching_sha2_password";

/// Sends the handshake response and follows the exchange to the OK.
/// `secure`: the connection is encrypted (TLS), so a password may travel
/// in clear inside it.
pub(super) fn login<S: Read + Write>(
    ps: &mut PacketStream<S>,
    buf: &mut Vec<u8>,
    greeting: &HandshakeV10,
    caps: CapabilityFlags,
    cfg: &UpstreamConfig,
    secure: bool,
) -> Result<(), UpstreamError> {
    let password = cfg.password.as_bytes();
    let mut plugin = greeting.auth_plugin_name.clone();
    let mut nonce = greeting.scramble.clone();
    let auth_response = scramble_for(&plugin, password, &nonce).unwrap_or_else(|| {
        // Answer an unknown default plugin as native; the server switches us.
        plugin = NATIVE.to_vec();
        scramble_for(&plugin, password, &nonce).unwrap_or_default()
    });
    let response = HandshakeResponse41 {
        capabilities: caps,
        max_packet_size: 1 << 30,
        character_set: 45,
        username: cfg.user.as_bytes().to_vec(),
        auth_response,
        database: None,
        auth_plugin_name: Some(plugin.clone()),
        connect_attrs: vec![
            (b"program_name".to_vec(), b"binlogserver".to_vec()),
            (b"_client_name".to_vec(), b"binlogserver".to_vec()),
            (b"_client_version".to_vec(), env!("CARGO_PKG_VERSION").as_bytes().to_vec()),
        ],
    };
    let mut out = Vec::new();
    response.encode(&mut out);
    ps.write_packet(&out)?;
    loop {
        ps.read_packet(buf)?;
        match buf.first() {
            Some(0x00) => return Ok(()),
            Some(0xff) => return Err(login_refused(buf)?),
            Some(0xfe) => {
                let switch = AuthSwitchRequest::decode(&mut Reader::new(buf))?;
                plugin = switch.plugin_name.clone();
                nonce = switch.scramble().to_vec();
                let reply = scramble_for(&plugin, password, &nonce).ok_or_else(|| {
                    UpstreamError::Unsupported(format!(
                        "primary asks for auth plugin {}, which binlogserver does not speak; \
                         give the replication user mysql_native_password or \
                         caching_sha2_password",
                        String::from_utf8_lossy(&plugin)
                    ))
                })?;
                ps.write_packet(&reply)?;
            }
            Some(0x01) if plugin == CACHING_SHA2 => match Sha2Status::decode(buf)? {
                Sha2Status::FastAuthSuccess => continue,
                Sha2Status::PerformFullAuthentication => {
                    full_authentication(ps, buf, cfg, &nonce, secure)?
                }
            },
            Some(&got) => return Err(UpstreamError::Unexpected { expected: "an auth reply", got }),
            None => return Err(UpstreamError::Unexpected { expected: "an auth reply", got: 0 }),
        }
    }
}

/// The primary's ERR during the login: 1045 is a refused login.
fn login_refused(payload: &[u8]) -> Result<UpstreamError, UpstreamError> {
    let err = ErrPacket::decode(&mut Reader::new(payload))?;
    Ok(if err.code == 1045 {
        UpstreamError::AuthRejected(err)
    } else {
        UpstreamError::Server { during: "the login".into(), err }
    })
}

/// Answers `01 04`: the password in clear over TLS, else RSA-encrypted
/// with the configured or the fetched public key, else a clear error (as
/// the mysql client fails with 2061 without sending anything).
fn full_authentication<S: Read + Write>(
    ps: &mut PacketStream<S>,
    buf: &mut Vec<u8>,
    cfg: &UpstreamConfig,
    nonce: &[u8],
    secure: bool,
) -> Result<(), UpstreamError> {
    let password = cfg.password.as_bytes();
    if secure {
        return Ok(ps.write_packet(&cleartext_password(password))?);
    }
    let addr = format!("{}:{}", cfg.host, cfg.port);
    let fetched;
    let key = match (&cfg.server_public_key, cfg.get_server_public_key) {
        (Some(key), _) => key,
        (None, true) => {
            ps.write_packet(&[REQUEST_PUBLIC_KEY])?;
            ps.read_packet(buf)?;
            if buf.first() == Some(&0xff) {
                return Err(login_refused(buf)?);
            }
            fetched = ServerPublicKey::from_pem(more_data(buf)?).map_err(|e| {
                UpstreamError::Unsupported(format!(
                    "primary {addr} sent a public key binlogserver cannot use for \
                     caching_sha2_password: {e}"
                ))
            })?;
            &fetched
        }
        (None, false) => {
            return Err(UpstreamError::Unsupported(format!(
                "primary {addr} asks for caching_sha2_password full authentication (its \
                 password cache lacks the replication user, as after every restart of the \
                 primary) and the connection is not encrypted: use TLS, or let binlogserver \
                 encrypt the password with the primary's RSA key (--get-server-public-key, or \
                 --server-public-key-path with a copy of its public_key.pem; over SQL \
                 CHANGE MASTER TO GET_MASTER_PUBLIC_KEY=1 or MASTER_PUBLIC_KEY_PATH), or give \
                 the replication user mysql_native_password"
            )))
        }
    };
    let packet = key.encrypt_password(password, nonce, os_seed()?).map_err(|e| {
        UpstreamError::Unsupported(format!(
            "cannot encrypt the password for primary {addr} with its public key: {e}"
        ))
    })?;
    Ok(ps.write_packet(&packet)?)
}

/// 32 bytes from the operating system's generator (the OAEP padding's
/// randomness).
fn os_seed() -> Result<[u8; 32], UpstreamError> {
    let mut seed = [0u8; 32];
    File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut seed)).map_err(|e| {
        UpstreamError::Unsupported(format!("cannot read random bytes from /dev/urandom: {e}"))
    })?;
    Ok(seed)
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
