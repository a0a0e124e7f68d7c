//! The listener's side of caching_sha2_password against scripted clients:
//! the fast path, full authentication in clear over TLS, RSA over plain TCP
//! with the key asked for or pinned, and the refusals. The RSA test key is
//! described in tests/fixtures/rsa/README.md.

use super::*;
use crate::net::scripted::Scripted;
use crate::protocol::auth::caching_sha2_scramble;
use crate::protocol::caching_sha2::{more_data, ServerPublicKey};
use crate::protocol::packet::encode_packets;

const PRIVATE: &str = include_str!("../../tests/fixtures/rsa/test_key_pkcs1.pem");
const PUBLIC: &str = include_str!("../../tests/fixtures/rsa/test_key_public.pem");
const NONCE: &[u8] = b"ABCDEFGHIJKLMNOPQRST";

/// Runs the login with the client's later packets (sequence ids 1, 3...);
/// returns the outcome and the server's packets.
fn run(login: &Sha2Login<'_>, client: &[Vec<u8>]) -> (Result<Sha2Outcome, NetError>, Vec<Vec<u8>>) {
    let mut wire = Vec::new();
    for (p, seq) in client.iter().zip((1u8..).step_by(2)) {
        encode_packets(p, &mut { seq }, &mut wire);
    }
    let mut ps = PacketStream::new(Scripted::new(wire), 4096);
    let check = |verify: &dyn Fn(&[u8]) -> bool| verify(b"secret").then_some(Role::Replication);
    let outcome = caching_sha2_login(&mut ps, login, check);
    let mut sent = Vec::new();
    let mut wire = ps.get_ref().sent.as_slice();
    while wire.len() >= 4 {
        let len = usize::from(wire[0]) | usize::from(wire[1]) << 8;
        sent.push(wire[4..4 + len].to_vec());
        wire = &wire[4 + len..];
    }
    (outcome, sent)
}

fn login<'a>(reply: &'a [u8], secure: bool, full_auth: bool) -> Sha2Login<'a> {
    Sha2Login { nonce: NONCE, reply, secure, full_auth, key: None }
}

#[test]
fn a_right_scramble_takes_the_fast_path_and_a_wrong_one_is_refused() {
    let right = caching_sha2_scramble(b"secret", NONCE);
    let (r, sent) = run(&login(&right, false, false), &[]);
    assert_eq!(r.unwrap(), Sha2Outcome::Accepted(Role::Replication));
    assert_eq!(sent, [vec![1, 3]]);
    let wrong = caching_sha2_scramble(b"secreT", NONCE);
    let (r, sent) = run(&login(&wrong, false, false), &[]);
    assert_eq!(r.unwrap(), Sha2Outcome::Refused(Refusal::WrongPassword));
    assert!(sent.is_empty());
}

#[test]
fn full_authentication_over_tls_takes_the_password_in_clear() {
    let any = [7u8; 32];
    let (r, sent) = run(&login(&any, true, true), &[b"secret\0".to_vec()]);
    assert_eq!(r.unwrap(), Sha2Outcome::Accepted(Role::Replication));
    assert_eq!(sent, [vec![1, 4]]);
    let (r, _) = run(&login(&any, true, true), &[b"nope\0".to_vec()]);
    assert_eq!(r.unwrap(), Sha2Outcome::Refused(Refusal::WrongPassword));
}

#[test]
fn full_authentication_over_plain_tcp_sends_the_key_and_decrypts_the_password() {
    let key = ServerKeyPair::from_pem(PRIVATE).unwrap();
    let public = ServerPublicKey::from_pem(PUBLIC.as_bytes()).unwrap();
    let encrypted = public.encrypt_password(b"secret", NONCE, [3; 32]).unwrap();
    let any = [7u8; 32];
    let with_key = Sha2Login { key: Some(&key), ..login(&any, false, true) };
    // Asked for the key.
    let (r, sent) = run(&with_key, &[vec![REQUEST_PUBLIC_KEY], encrypted.clone()]);
    assert_eq!(r.unwrap(), Sha2Outcome::Accepted(Role::Replication));
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0], [1, 4]);
    assert_eq!(more_data(&sent[1]).unwrap(), PUBLIC.as_bytes());
    // Pinned by the client: no request.
    let (r, sent) = run(&with_key, &[encrypted]);
    assert_eq!(r.unwrap(), Sha2Outcome::Accepted(Role::Replication));
    assert_eq!(sent, [vec![1, 4]]);
    // The wrong password, encrypted.
    let wrong = public.encrypt_password(b"other", NONCE, [3; 32]).unwrap();
    assert_eq!(run(&with_key, &[wrong]).0.unwrap(), Sha2Outcome::Refused(Refusal::WrongPassword));
}

#[test]
fn a_password_in_clear_without_tls_is_refused() {
    let key = ServerKeyPair::from_pem(PRIVATE).unwrap();
    let any = [7u8; 32];
    let with_key = Sha2Login { key: Some(&key), ..login(&any, false, true) };
    let (r, _) = run(&with_key, &[b"secret\0".to_vec()]);
    assert_eq!(r.unwrap(), Sha2Outcome::Refused(Refusal::ClearWithoutTls));
    let (r, _) = run(&with_key, &[vec![0x55; 256]]);
    assert_eq!(r.unwrap(), Sha2Outcome::Refused(Refusal::Undecryptable));
}

#[test]
fn an_empty_reply_needs_no_full_authentication() {
    let (r, sent) = run(&login(b"", false, true), &[]);
    assert_eq!(r.unwrap(), Sha2Outcome::Refused(Refusal::WrongPassword), "secret is not empty");
    assert!(sent.is_empty());
}
