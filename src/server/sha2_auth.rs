//! `caching_sha2_password` logins to binlogserver's listener.
//!
//! binlogserver knows every account's password, so it needs no cache: a
//! correct scramble gets `01 03` (fast authentication) and the OK. With
//! `--listen-sha2-full-auth` it behaves as a MySQL server whose cache is
//! empty (after its restart): `01 04`, then the password in clear over
//! TLS, or RSA-encrypted over plain TCP (the client asks for the public
//! key with `02`, or has it already). A password in clear over plain TCP is
//! refused. The key is `--listen-rsa-key`, or one made at the first need.
//! docs/protocol.md §3.7; MySQL `sql/auth/sha2_password.cc`.

use std::fmt;
use std::fs::File;
use std::io::{Read, Write};
use std::sync::OnceLock;

use log::info;

use super::Role;
use crate::net::{NetError, PacketStream};
use crate::protocol::auth::caching_sha2_verify;
use crate::protocol::caching_sha2::{
    password_from_cleartext, ServerKeyPair, Sha2Error, Sha2Status, AUTH_MORE_DATA,
    REQUEST_PUBLIC_KEY,
};

/// One login's facts.
#[derive(Debug)]
pub(super) struct Sha2Login<'a> {
    /// The scramble sent to the client.
    pub nonce: &'a [u8],
    /// The client's first answer (the scramble reply).
    pub reply: &'a [u8],
    /// The connection is encrypted (TLS).
    pub secure: bool,
    /// Ask for the password even when the scramble is right.
    pub full_auth: bool,
    /// `--listen-rsa-key`; `None`: a key made once per process.
    pub key: Option<&'a ServerKeyPair>,
}

/// How a login ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Sha2Outcome {
    /// Logged in with the account of this role.
    Accepted(Role),
    /// Refused (the client gets ERR 1045; the reason is for the log).
    Refused(Refusal),
}

/// Why a login was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// No account of that user has that password.
    WrongPassword,
    /// Full authentication without TLS brought the password in clear.
    ClearWithoutTls,
    /// The packet is not a password encrypted with our public key.
    Undecryptable,
    /// No RSA key could be made.
    NoKey,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::WrongPassword => "wrong password",
            Self::ClearWithoutTls => "password sent in clear over a connection without TLS",
            Self::Undecryptable => "RSA-encrypted password does not decrypt with our key",
            Self::NoKey => "no RSA key for full authentication",
        })
    }
}

/// Runs the exchange after the client's scramble reply; `check` finds the
/// role of the account whose password the given predicate accepts.
pub(super) fn caching_sha2_login<S: Read + Write>(
    ps: &mut PacketStream<S>,
    login: &Sha2Login<'_>,
    check: impl Fn(&dyn Fn(&[u8]) -> bool) -> Option<Role>,
) -> Result<Sha2Outcome, NetError> {
    // An empty password needs no full authentication (MySQL answers the
    // empty reply at once, whatever its cache holds).
    if !login.full_auth || login.reply.is_empty() {
        let Some(role) = check(&|pw| caching_sha2_verify(pw, login.nonce, login.reply)) else {
            return Ok(Sha2Outcome::Refused(Refusal::WrongPassword));
        };
        let mut out = Vec::new();
        Sha2Status::FastAuthSuccess.encode(&mut out);
        ps.write_packet(&out)?;
        return Ok(Sha2Outcome::Accepted(role));
    }
    let mut out = Vec::new();
    Sha2Status::PerformFullAuthentication.encode(&mut out);
    ps.write_packet(&out)?;
    let mut packet = Vec::new();
    ps.read_packet(&mut packet)?;
    let password = if login.secure {
        password_from_cleartext(&packet).to_vec()
    } else {
        let key = match login.key {
            Some(key) => key,
            None => match generated_key() {
                Ok(key) => key,
                Err(_) => return Ok(Sha2Outcome::Refused(Refusal::NoKey)),
            },
        };
        if packet == [REQUEST_PUBLIC_KEY] {
            let mut out = vec![AUTH_MORE_DATA];
            out.extend_from_slice(key.public_key_pem());
            ps.write_packet(&out)?;
            ps.read_packet(&mut packet)?;
        }
        match key.decrypt_password(&packet, login.nonce, os_seed()?) {
            Ok(password) => password,
            Err(Sha2Error::Decrypt) if packet.last() == Some(&0) => {
                return Ok(Sha2Outcome::Refused(Refusal::ClearWithoutTls))
            }
            Err(_) => return Ok(Sha2Outcome::Refused(Refusal::Undecryptable)),
        }
    };
    Ok(match check(&|pw| constant_time_eq(pw, &password)) {
        Some(role) => Sha2Outcome::Accepted(role),
        None => Sha2Outcome::Refused(Refusal::WrongPassword),
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The key made once per process when `--listen-rsa-key` is not given
/// (MySQL makes one at its first start, too).
fn generated_key() -> Result<&'static ServerKeyPair, Sha2Error> {
    static KEY: OnceLock<Result<ServerKeyPair, Sha2Error>> = OnceLock::new();
    KEY.get_or_init(|| {
        let seed = os_seed().map_err(|_| Sha2Error::Rsa)?;
        let key = ServerKeyPair::generate(seed);
        if key.is_ok() {
            info!("generated an rsa key for caching_sha2_password full authentication");
        }
        key
    })
    .as_ref()
    .map_err(|&e| e)
}

/// 32 bytes from the operating system's generator.
fn os_seed() -> Result<[u8; 32], NetError> {
    let mut seed = [0u8; 32];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut seed))
        .map_err(|source| NetError::Io { op: "read /dev/urandom", source })?;
    Ok(seed)
}

#[cfg(test)]
#[path = "sha2_auth_tests.rs"]
mod tests;
