//! Password scrambles: `mysql_native_password` (SHA-1) and
//! `caching_sha2_password` (SHA-256), client and server side.
//!
//! docs/protocol.md §3.6, §3.7; MySQL `sql/auth/password.cc`, `sha2_password.cc`.

use sha1::{Digest, Sha1};
use sha2::Sha256;

/// `mysql_native_password` reply: `SHA1(pw) XOR SHA1(scramble || SHA1(SHA1(pw)))`;
/// empty for an empty password.
pub fn native_password_scramble(password: &[u8], scramble: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let stage1 = Sha1::digest(password);
    let stage2 = Sha1::digest(stage1);
    let mut h = Sha1::new();
    h.update(scramble);
    h.update(stage2);
    let mask = h.finalize();
    stage1.iter().zip(mask.iter()).map(|(a, b)| a ^ b).collect()
}

/// Server-side check of a `mysql_native_password` reply against the password.
pub fn native_password_verify(password: &[u8], scramble: &[u8], reply: &[u8]) -> bool {
    let want = native_password_scramble(password, scramble);
    constant_time_eq(&want, reply)
}

/// `caching_sha2_password` reply: `SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) || nonce)`;
/// empty for an empty password.
pub fn caching_sha2_scramble(password: &[u8], nonce: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let d1 = Sha256::digest(password);
    let d2 = Sha256::digest(d1);
    let mut h = Sha256::new();
    h.update(d2);
    h.update(nonce);
    let mask = h.finalize();
    d1.iter().zip(mask.iter()).map(|(a, b)| a ^ b).collect()
}

/// Server-side check of a `caching_sha2_password` fast-path reply.
pub fn caching_sha2_verify(password: &[u8], nonce: &[u8], reply: &[u8]) -> bool {
    constant_time_eq(&caching_sha2_scramble(password, nonce), reply)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The scrambled reply for `plugin`, or `None` for a plugin we do not speak.
pub fn scramble_for(plugin: &[u8], password: &[u8], nonce: &[u8]) -> Option<Vec<u8>> {
    match plugin {
        b"mysql_native_password" => Some(native_password_scramble(password, nonce)),
        b"caching_sha2_password" => Some(caching_sha2_scramble(password, nonce)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn native_password_matches_the_known_answer() {
        let got = native_password_scramble(b"secret", b"ABCDEFGHIJKLMNOPQRST");
        assert_eq!(hex(&got), "28441590674285e7d03cae7af237504797f70e91");
        assert!(native_password_verify(b"secret", b"ABCDEFGHIJKLMNOPQRST", &got));
        assert!(!native_password_verify(b"secreT", b"ABCDEFGHIJKLMNOPQRST", &got));
    }

    #[test]
    fn caching_sha2_matches_the_known_answer() {
        let got = caching_sha2_scramble(b"secret", b"ABCDEFGHIJKLMNOPQRST");
        assert_eq!(hex(&got), "d721e183c1f036a196c1389201b8d53f38064a16f1d0923683ab886763152d75");
        assert!(caching_sha2_verify(b"secret", b"ABCDEFGHIJKLMNOPQRST", &got));
    }

    #[test]
    fn empty_password_sends_empty_reply() {
        assert!(native_password_scramble(b"", b"x").is_empty());
        assert!(caching_sha2_scramble(b"", b"x").is_empty());
        assert!(scramble_for(b"client_ed25519", b"pw", b"n").is_none());
    }
}
