//! The login exchange against scripted primaries: the fast path, full
//! authentication over plain TCP with a fetched or a configured RSA key,
//! in clear when the connection is secure, the clear error without any of
//! these, and a switch to caching_sha2_password from another plugin. The
//! RSA test key is described in tests/fixtures/rsa/README.md.

use std::time::Duration;

use super::*;
use crate::net::scripted::Scripted;
use crate::protocol::auth::caching_sha2_scramble;
use crate::protocol::caching_sha2::ServerKeyPair;
use crate::protocol::packet::encode_packets;
use crate::protocol::OkPacket;
use crate::upstream::{SemiSyncMode, StartFrom, DEFAULT_CONNECT_RETRY};

const PRIVATE: &str = include_str!("../../tests/fixtures/rsa/test_key_pkcs8.pem");
const PUBLIC: &str = include_str!("../../tests/fixtures/rsa/test_key_public.pem");
const NONCE: &[u8] = b"ABCDEFGHIJKLMNOPQRST";
const NONCE2: &[u8] = b"abcdefghijklmnopqrst";

fn cfg() -> UpstreamConfig {
    UpstreamConfig {
        host: "db1".into(),
        port: 3306,
        user: "repl".into(),
        password: "secret".into(),
        server_id: 7,
        semi_sync: SemiSyncMode::Off,
        heartbeat: Duration::from_secs(1),
        start: StartFrom::Oldest,
        connect_timeout: Duration::from_secs(1),
        connect_retry: DEFAULT_CONNECT_RETRY,
        trace_packets: false,
        ssl: crate::net::tls::SslSettings::default(),
        server_public_key: None,
        get_server_public_key: false,
    }
}

fn greeting(plugin: &[u8]) -> HandshakeV10 {
    HandshakeV10 {
        server_version: b"8.4.3".to_vec(),
        connection_id: 9,
        scramble: NONCE.to_vec(),
        capabilities: CapabilityFlags::CLIENT_PROTOCOL_41.with(CapabilityFlags::CLIENT_PLUGIN_AUTH),
        character_set: 255,
        status_flags: 2,
        mariadb_capabilities: 0,
        auth_plugin_name: plugin.to_vec(),
    }
}

fn ok() -> Vec<u8> {
    let mut out = Vec::new();
    OkPacket::default().encode(0, &mut out);
    out
}

/// Runs `login` against a primary that sends `replies`, each with its
/// sequence id (the client's packets take the ids between); returns the
/// result and the client's packets after the handshake response.
fn run(
    plugin: &[u8],
    replies: &[(u8, Vec<u8>)],
    cfg: &UpstreamConfig,
    secure: bool,
) -> (Result<(), UpstreamError>, Vec<Vec<u8>>) {
    let g = greeting(plugin);
    let mut wire = Vec::new();
    let mut payload = Vec::new();
    g.encode(&mut payload);
    encode_packets(&payload, &mut 0, &mut wire);
    for (seq, r) in replies {
        encode_packets(r, &mut { *seq }, &mut wire);
    }
    let stream = Scripted::new(wire);
    let mut ps = PacketStream::new(stream, 1 << 20);
    let mut buf = Vec::new();
    ps.read_packet(&mut buf).unwrap();
    let result = login(&mut ps, &mut buf, &g, g.capabilities, cfg, secure);
    (result, frames(&ps.get_ref().sent).into_iter().skip(1).collect())
}

/// The payloads in `wire`, checking that the client's sequence ids are
/// odd (each answers a server packet).
fn frames(mut wire: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while wire.len() >= 4 {
        let len = usize::from(wire[0]) | usize::from(wire[1]) << 8 | usize::from(wire[2]) << 16;
        assert_eq!(wire[3] % 2, 1, "client sequence id {}", wire[3]);
        out.push(wire[4..4 + len].to_vec());
        wire = &wire[4 + len..];
    }
    out
}

fn decrypt(packet: &[u8], nonce: &[u8]) -> Vec<u8> {
    ServerKeyPair::from_pem(PRIVATE).unwrap().decrypt_password(packet, nonce, [5; 32]).unwrap()
}

fn more_data(data: &[u8]) -> Vec<u8> {
    let mut p = vec![0x01];
    p.extend_from_slice(data);
    p
}

#[test]
fn fast_path_is_followed_by_the_ok() {
    let (r, sent) = run(b"caching_sha2_password", &[(2, vec![1, 3]), (3, ok())], &cfg(), false);
    r.unwrap();
    assert!(sent.is_empty(), "nothing but the handshake response: {sent:02x?}");
}

#[test]
fn full_authentication_over_plain_tcp_fetches_the_key_and_sends_it_encrypted() {
    let c = UpstreamConfig { get_server_public_key: true, ..cfg() };
    let replies = [(2, vec![1, 4]), (4, more_data(PUBLIC.as_bytes())), (6, ok())];
    let (r, sent) = run(b"caching_sha2_password", &replies, &c, false);
    r.unwrap();
    assert_eq!(sent.len(), 2, "{sent:02x?}");
    assert_eq!(sent[0], [REQUEST_PUBLIC_KEY]);
    assert_eq!(sent[1].len(), 256);
    assert_eq!(decrypt(&sent[1], NONCE), b"secret");
}

#[test]
fn a_configured_key_is_used_without_asking() {
    let key = ServerPublicKey::from_pem(PUBLIC.as_bytes()).unwrap();
    let c = UpstreamConfig { server_public_key: Some(key), get_server_public_key: true, ..cfg() };
    let (r, sent) = run(b"caching_sha2_password", &[(2, vec![1, 4]), (4, ok())], &c, false);
    r.unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(decrypt(&sent[0], NONCE), b"secret");
}

#[test]
fn a_secure_connection_carries_the_password_in_clear() {
    let (r, sent) = run(b"caching_sha2_password", &[(2, vec![1, 4]), (4, ok())], &cfg(), true);
    r.unwrap();
    assert_eq!(sent, [b"secret\0".to_vec()]);
}

#[test]
fn without_tls_or_a_key_the_error_names_the_primary_and_the_ways_out() {
    let (r, sent) = run(b"caching_sha2_password", &[(2, vec![1, 4]), (4, ok())], &cfg(), false);
    let text = r.unwrap_err().to_string();
    for want in ["db1:3306", "full authentication", "TLS", "--get-server-public-key"] {
        assert!(text.contains(want), "{want}: {text}");
    }
    assert!(sent.is_empty(), "the password never goes out in clear: {sent:02x?}");
}

#[test]
fn a_switch_to_caching_sha2_uses_the_new_nonce_through_full_authentication() {
    let mut switch = b"\xfecaching_sha2_password\0".to_vec();
    switch.extend_from_slice(NONCE2);
    switch.push(0);
    let c = UpstreamConfig { get_server_public_key: true, ..cfg() };
    let replies = [(2, switch), (4, vec![1, 4]), (6, more_data(PUBLIC.as_bytes())), (8, ok())];
    let (r, sent) = run(b"mysql_native_password", &replies, &c, false);
    r.unwrap();
    assert_eq!(sent.len(), 3, "{sent:02x?}");
    assert_eq!(sent[0], caching_sha2_scramble(b"secret", NONCE2));
    assert_eq!(sent[1], [REQUEST_PUBLIC_KEY]);
    assert_eq!(decrypt(&sent[2], NONCE2), b"secret");
}

#[test]
fn refusals_and_broken_replies_are_typed_errors() {
    let mut denied = Vec::new();
    ErrPacket::new(1045, b"28000", "Access denied").encode(&mut denied);
    let (r, _) =
        run(b"caching_sha2_password", &[(2, vec![1, 4]), (4, denied.clone())], &cfg(), true);
    assert!(matches!(r, Err(UpstreamError::AuthRejected(_))), "{r:?}");
    let c = UpstreamConfig { get_server_public_key: true, ..cfg() };
    let (r, _) = run(b"caching_sha2_password", &[(2, vec![1, 4]), (4, denied)], &c, false);
    assert!(matches!(r, Err(UpstreamError::AuthRejected(_))), "{r:?}");
    let (r, _) =
        run(b"caching_sha2_password", &[(2, vec![1, 4]), (4, more_data(b"junk"))], &c, false);
    assert!(r.unwrap_err().to_string().contains("not a PEM RSA public key"));
    let (r, _) = run(b"caching_sha2_password", &[(2, vec![1, 9])], &cfg(), false);
    assert!(matches!(r, Err(UpstreamError::Decode(_))), "{r:?}");
}
