//! `caching_sha2_password` after the scramble: the AuthMoreData statuses,
//! the public-key request, the password sent in clear over TLS, and the
//! password XOR'd with the nonce and RSA-OAEP(SHA-1) encrypted over plain
//! TCP. Both sides: binlogserver logs in to a MySQL 8+ primary and accepts
//! such logins from its own clients.
//!
//! No I/O here: randomness comes in as a 32-byte seed ([`SeedRng`] expands
//! it), keys as PEM text. docs/protocol.md §3.7; MySQL
//! `sql/auth/sha2_password.cc` (server) and
//! `sql-common/client_authentication.cc` (client).

use std::convert::Infallible;
use std::fmt;

use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey, LineEnding};
use rsa::rand_core::{TryCryptoRng, TryRng};
use rsa::traits::PublicKeyParts;
use rsa::{Oaep, PrivateKey, PublicKey};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::DecodeError;

/// The header byte of an AuthMoreData packet (server to client).
pub const AUTH_MORE_DATA: u8 = 0x01;
/// The client asks for the server's RSA public key (a bare packet).
pub const REQUEST_PUBLIC_KEY: u8 = 0x02;
/// The scramble matched the server's cache: OK follows.
pub const FAST_AUTH_SUCCESS: u8 = 0x03;
/// The server's cache has no entry (or the scramble did not match): it
/// wants the password itself, over TLS or RSA-encrypted.
pub const PERFORM_FULL_AUTHENTICATION: u8 = 0x04;
/// RSA key size binlogserver generates for its listener (MySQL's default).
pub const GENERATED_KEY_BITS: usize = 2048;
/// Bytes OAEP with SHA-1 adds to a message: two hashes and two bytes.
const OAEP_SHA1_OVERHEAD: usize = 2 * 20 + 2;

/// What went wrong in the exchange's cryptography.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sha2Error {
    /// The PEM text is not an RSA public key (SPKI `PUBLIC KEY` or PKCS#1
    /// `RSA PUBLIC KEY`).
    BadPublicKey,
    /// The PEM text is not an RSA private key (PKCS#8 `PRIVATE KEY` or
    /// PKCS#1 `RSA PRIVATE KEY`).
    BadPrivateKey,
    /// The password does not fit in one OAEP block of the key.
    PasswordTooLong {
        /// Bytes to encrypt (the password and its NUL).
        len: usize,
        /// The most the key takes.
        max: usize,
    },
    /// The ciphertext is not one the private key decrypts (wrong key,
    /// wrong length or broken padding).
    Decrypt,
    /// Encryption or key generation failed inside the RSA library.
    Rsa,
}

impl fmt::Display for Sha2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::BadPublicKey => f.write_str("not a PEM RSA public key"),
            Self::BadPrivateKey => f.write_str("not a PEM RSA private key"),
            Self::PasswordTooLong { len, max } => {
                write!(f, "password of {len} bytes with its NUL is over the {max} the key takes")
            }
            Self::Decrypt => f.write_str("the RSA-encrypted password does not decrypt"),
            Self::Rsa => f.write_str("rsa operation failed"),
        }
    }
}

impl std::error::Error for Sha2Error {}

/// The status byte of a `01 03` / `01 04` AuthMoreData packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sha2Status {
    /// `01 03`: fast authentication succeeded.
    FastAuthSuccess,
    /// `01 04`: send the password (full authentication).
    PerformFullAuthentication,
}

impl Sha2Status {
    /// Decodes the AuthMoreData payload (header byte included).
    pub fn decode(payload: &[u8]) -> Result<Self, DecodeError> {
        match more_data(payload)? {
            [FAST_AUTH_SUCCESS] => Ok(Self::FastAuthSuccess),
            [PERFORM_FULL_AUTHENTICATION] => Ok(Self::PerformFullAuthentication),
            [b, ..] => {
                Err(DecodeError::Invalid { what: "AuthMoreData.status", value: u64::from(*b) })
            }
            [] => Err(DecodeError::Truncated { what: "AuthMoreData.status", need: 1, have: 0 }),
        }
    }

    /// Encodes the two-byte packet.
    pub fn encode(self, out: &mut Vec<u8>) {
        out.push(AUTH_MORE_DATA);
        out.push(match self {
            Self::FastAuthSuccess => FAST_AUTH_SUCCESS,
            Self::PerformFullAuthentication => PERFORM_FULL_AUTHENTICATION,
        });
    }
}

/// The data of an AuthMoreData packet (`0x01 | data`), e.g. the server's
/// PEM public key after [`REQUEST_PUBLIC_KEY`].
pub fn more_data(payload: &[u8]) -> Result<&[u8], DecodeError> {
    match payload.split_first() {
        Some((&AUTH_MORE_DATA, data)) => Ok(data),
        Some((&b, _)) => {
            Err(DecodeError::Invalid { what: "AuthMoreData.header", value: u64::from(b) })
        }
        None => Err(DecodeError::Truncated { what: "AuthMoreData.header", need: 1, have: 0 }),
    }
}

/// The password as a client sends it over TLS: the bytes and a NUL.
pub fn cleartext_password(password: &[u8]) -> Vec<u8> {
    let mut out = password.to_vec();
    out.push(0);
    out
}

/// The password in a full-authentication packet: the bytes before the first
/// NUL (the server reads it as a C string).
pub fn password_from_cleartext(packet: &[u8]) -> &[u8] {
    packet.split(|&b| b == 0).next().unwrap_or_default()
}

/// `data` XOR the nonce repeated (`xor_string` in MySQL); its own inverse.
pub fn xor_with_nonce(data: &[u8], nonce: &[u8]) -> Vec<u8> {
    if nonce.is_empty() {
        return data.to_vec();
    }
    data.iter().zip(nonce.iter().cycle()).map(|(d, n)| d ^ n).collect()
}

/// A deterministic random generator: SHA-256 of a 32-byte seed and a block
/// counter. Seeded from the operating system by the caller, it gives the
/// RSA library its randomness without this module doing I/O (and gives
/// tests repeatable ciphertexts).
#[derive(Debug, Clone)]
pub struct SeedRng {
    seed: [u8; 32],
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl SeedRng {
    /// A generator over `seed`.
    pub fn new(seed: [u8; 32]) -> Self {
        SeedRng { seed, counter: 0, block: [0; 32], used: 32 }
    }

    fn fill(&mut self, dst: &mut [u8]) {
        for b in dst {
            if self.used == self.block.len() {
                let mut h = Sha256::new();
                h.update(self.seed);
                h.update(self.counter.to_le_bytes());
                self.block.copy_from_slice(&h.finalize());
                self.counter = self.counter.wrapping_add(1);
                self.used = 0;
            }
            *b = self.block.get(self.used).copied().unwrap_or_default();
            self.used += 1;
        }
    }
}

impl TryRng for SeedRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0; 4];
        self.fill(&mut b);
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0; 8];
        self.fill(&mut b);
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.fill(dst);
        Ok(())
    }
}

impl TryCryptoRng for SeedRng {}

/// A server's RSA public key, as the client side holds it.
#[derive(Debug, Clone)]
pub struct ServerPublicKey(PublicKey);

impl ServerPublicKey {
    /// Decodes a PEM public key: SPKI (`BEGIN PUBLIC KEY`, what MySQL sends
    /// and writes to `public_key.pem`) or PKCS#1 (`BEGIN RSA PUBLIC KEY`).
    pub fn from_pem(pem: &[u8]) -> Result<Self, Sha2Error> {
        let text = std::str::from_utf8(pem).map_err(|_| Sha2Error::BadPublicKey)?;
        // MySQL ends the key it sends with a NUL; the PEM parser wants none.
        let text = text.trim_matches(|c: char| c == '\0' || c.is_whitespace());
        PublicKey::from_public_key_pem(text)
            .or_else(|_| PublicKey::from_pkcs1_pem(text))
            .map(ServerPublicKey)
            .map_err(|_| Sha2Error::BadPublicKey)
    }

    /// The full-authentication packet over plain TCP:
    /// `RSA-OAEP-SHA1((password || NUL) XOR nonce)`, as long as the key.
    pub fn encrypt_password(
        &self,
        password: &[u8],
        nonce: &[u8],
        seed: [u8; 32],
    ) -> Result<Vec<u8>, Sha2Error> {
        let plain = xor_with_nonce(&cleartext_password(password), nonce);
        let max = self.0.size().saturating_sub(OAEP_SHA1_OVERHEAD);
        if plain.len() > max {
            return Err(Sha2Error::PasswordTooLong { len: plain.len(), max });
        }
        self.0
            .encrypt(&mut SeedRng::new(seed), Oaep::<Sha1>::new(), &plain)
            .map_err(|_| Sha2Error::Rsa)
    }
}

/// The listener's RSA key pair.
#[derive(Clone)]
pub struct ServerKeyPair {
    private: PrivateKey,
    public_pem: Vec<u8>,
}

impl fmt::Debug for ServerKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerKeyPair").field("bits", &(self.private.size() * 8)).finish()
    }
}

impl ServerKeyPair {
    /// Decodes a PEM private key: PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1
    /// (`BEGIN RSA PRIVATE KEY`, what `openssl genrsa` of OpenSSL 1.x and
    /// MySQL's `private_key.pem` hold).
    pub fn from_pem(pem: &str) -> Result<Self, Sha2Error> {
        let pem = pem.trim();
        PrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| PrivateKey::from_pkcs1_pem(pem))
            .map_err(|_| Sha2Error::BadPrivateKey)
            .and_then(Self::from_key)
    }

    /// A new key of [`GENERATED_KEY_BITS`] from `seed`.
    pub fn generate(seed: [u8; 32]) -> Result<Self, Sha2Error> {
        PrivateKey::new(&mut SeedRng::new(seed), GENERATED_KEY_BITS)
            .map_err(|_| Sha2Error::Rsa)
            .and_then(Self::from_key)
    }

    fn from_key(private: PrivateKey) -> Result<Self, Sha2Error> {
        let public = PublicKey::from(&private);
        let pem = public.to_public_key_pem(LineEnding::LF).map_err(|_| Sha2Error::Rsa)?;
        Ok(ServerKeyPair { private, public_pem: pem.into_bytes() })
    }

    /// The public key as the server sends it after [`REQUEST_PUBLIC_KEY`]
    /// (SPKI PEM, `BEGIN PUBLIC KEY`).
    pub fn public_key_pem(&self) -> &[u8] {
        &self.public_pem
    }

    /// The password inside a full-authentication packet sent over plain
    /// TCP; `seed` blinds the private-key operation.
    pub fn decrypt_password(
        &self,
        packet: &[u8],
        nonce: &[u8],
        seed: [u8; 32],
    ) -> Result<Vec<u8>, Sha2Error> {
        if packet.len() != self.private.size() {
            return Err(Sha2Error::Decrypt);
        }
        let plain = self
            .private
            .decrypt_blinded(&mut SeedRng::new(seed), Oaep::<Sha1>::new(), packet)
            .map_err(|_| Sha2Error::Decrypt)?;
        Ok(password_from_cleartext(&xor_with_nonce(&plain, nonce)).to_vec())
    }
}

#[cfg(test)]
#[path = "caching_sha2_tests.rs"]
mod tests;
