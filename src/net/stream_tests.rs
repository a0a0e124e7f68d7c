//! TLS over loopback with certificates made by `openssl`: both sides, the
//! switch from packets to TLS, the `--ssl-mode` checks, and the full-duplex
//! split (a blocked reader never holds up a writer).

use super::*;
use crate::net::tls::{client_config, server_config, server_name, Verify};
use crate::net::PacketStream;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

struct Certs {
    dir: PathBuf,
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA, a server certificate for `name` signed by it, and a second CA
/// that signed nothing here.
fn certs(name: &str) -> Certs {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("bls-tls-unit-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    for ca in ["ca", "other-ca"] {
        let (key, pem, subj) = (format!("{ca}.key"), format!("{ca}.pem"), format!("/CN={ca}"));
        let mut args = vec!["req", "-x509", "-days", "2", "-subj", &subj];
        args.extend(ec);
        args.extend(["-keyout", &key, "-out", &pem]);
        openssl(&dir, &args);
    }
    let mut args = vec!["req", "-subj", "/CN=server", "-keyout", "server.key", "-out", "s.csr"];
    args.extend(ec);
    openssl(&dir, &args);
    std::fs::write(dir.join("ext"), format!("subjectAltName={name}\n")).unwrap();
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "s.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "7",
            "-days",
            "2",
            "-extfile",
            "ext",
            "-out",
            "server.pem",
        ],
    );
    Certs { dir }
}

/// A server thread that switches to TLS after one packet (the SSL request),
/// then echoes one packet; returns the client's TLS stream or its error.
fn connect(c: &Certs, verify: Verify, ca: &str, host: &str) -> io::Result<PacketStream<NetStream>> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let sconf = server_config(&c.dir.join("server.pem"), &c.dir.join("server.key"), None).unwrap();
    thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut ps = PacketStream::new(NetStream::plain(tcp), 1 << 20);
        let mut buf = Vec::new();
        ps.read_packet(&mut buf).unwrap();
        assert_eq!(buf, b"ssl request");
        let conn = rustls::ServerConnection::new(sconf).unwrap();
        if ps.switch_stream("tls", |s, early| s.start_tls(conn, early)).is_err() {
            return;
        }
        ps.read_packet(&mut buf).unwrap();
        ps.write_packet(&buf).unwrap();
    });
    let cconf = client_config(verify, Some(&c.dir.join(ca)), None).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut ps = PacketStream::new(NetStream::plain(tcp), 1 << 20);
    ps.write_packet(b"ssl request").unwrap();
    let conn = rustls::ClientConnection::new(cconf, server_name(host).unwrap()).unwrap();
    match ps.switch_stream("tls", |s, _| s.start_tls(conn, &[])) {
        Ok(()) => Ok(ps),
        Err(crate::net::NetError::Io { source, .. }) => Err(source),
        Err(other) => Err(io::Error::other(other.to_string())),
    }
}

#[test]
fn packets_cross_tls_after_the_ssl_request_with_the_sequence_going_on() {
    let c = certs("DNS:localhost,IP:127.0.0.1");
    let mut ps = connect(&c, Verify::Identity, "ca.pem", "127.0.0.1").unwrap();
    assert!(ps.get_ref().is_tls());
    let (version, cipher) = ps.get_ref().tls_info().unwrap();
    assert_eq!(version, "TLSv1.3");
    assert!(cipher.starts_with("TLS_"), "{cipher}");
    let big = vec![0x42; 300_000];
    ps.write_packet(&big).unwrap();
    let mut got = Vec::new();
    ps.read_packet(&mut got).unwrap();
    assert_eq!(got.len(), big.len());
    assert!(got == big);
}

fn handshake_error(r: io::Result<PacketStream<NetStream>>) -> String {
    match r {
        Ok(_) => panic!("the handshake succeeded"),
        Err(e) => e.get_ref().map(ToString::to_string).unwrap_or_else(|| e.to_string()),
    }
}

#[test]
fn verify_identity_refuses_a_certificate_for_another_name_verify_ca_takes_it() {
    let c = certs("DNS:db.example.com");
    let err = handshake_error(connect(&c, Verify::Identity, "ca.pem", "127.0.0.1"));
    assert!(err.contains("not valid for name"), "{err}");
    assert!(connect(&c, Verify::Ca, "ca.pem", "127.0.0.1").is_ok());
}

#[test]
fn a_certificate_from_another_ca_is_refused_as_untrusted_but_taken_unverified() {
    let c = certs("IP:127.0.0.1");
    for v in [Verify::Ca, Verify::Identity] {
        let err = handshake_error(connect(&c, v, "other-ca.pem", "127.0.0.1"));
        assert!(err.contains("UnknownIssuer"), "{v:?}: {err}");
    }
    assert!(connect(&c, Verify::Nothing, "other-ca.pem", "127.0.0.1").is_ok());
}

#[test]
fn a_blocked_reader_never_holds_up_a_writer_on_a_clone() {
    let c = certs("IP:127.0.0.1");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let sconf = server_config(&c.dir.join("server.pem"), &c.dir.join("server.key"), None).unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let conn = rustls::ServerConnection::new(sconf).unwrap();
        let mut s = NetStream::tls(tcp, conn, &[]).unwrap();
        // Receive 100 "ACKs" without sending anything back, then answer once.
        let mut got = vec![0u8; 100 * 8];
        s.read_exact(&mut got).unwrap();
        tx.send(got).unwrap();
        s.write_all(b"event").unwrap();
    });
    let cconf = client_config(Verify::Nothing, None, None).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    let conn = rustls::ClientConnection::new(cconf, server_name("127.0.0.1").unwrap()).unwrap();
    let mut reader = NetStream::tls(tcp, conn, &[]).unwrap();
    let mut writer = reader.try_clone().unwrap();
    let blocked = thread::spawn(move || {
        let mut event = [0u8; 5];
        reader.read_exact(&mut event).unwrap();
        event
    });
    thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    for i in 0..100u64 {
        writer.write_all(&i.to_le_bytes()).unwrap();
    }
    let got = rx.recv_timeout(Duration::from_secs(10)).expect("the ACKs went out");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(got.get(8..16).unwrap(), 1u64.to_le_bytes());
    assert_eq!(&blocked.join().unwrap(), b"event");
}

#[test]
fn a_handshake_trickled_past_its_deadline_is_cut_off() {
    let c = certs("IP:127.0.0.1");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let sconf = server_config(&c.dir.join("server.pem"), &c.dir.join("server.key"), None).unwrap();
    let client = thread::spawn(move || {
        let mut tcp = TcpStream::connect(addr).unwrap();
        // A TLS record header, one byte at a time, never finished.
        for b in [0x16u8, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00] {
            if tcp.write_all(&[b]).is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(300));
        }
    });
    let (tcp, _) = listener.accept().unwrap();
    tcp.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let mut s = NetStream::plain(tcp);
    s.set_handshake_deadline(Some(Instant::now() + Duration::from_secs(1)));
    let started = Instant::now();
    let err = s.start_tls(rustls::ServerConnection::new(sconf).unwrap(), &[]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
    assert!(started.elapsed() < Duration::from_millis(1900), "{:?}", started.elapsed());
    client.join().unwrap();
}
