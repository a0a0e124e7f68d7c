//! Tests of `PacketStream`: framing over partial reads, sequence checks,
//! and the hex dump.
#![allow(clippy::cast_possible_truncation)]

use super::*;
use crate::protocol::packet::encode_packets;
use std::io::Cursor;

/// An in-memory duplex: reads from `input`, collects writes.
struct Duplex {
    input: Cursor<Vec<u8>>,
    output: Vec<u8>,
}

impl Read for Duplex {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Trickle a few bytes at a time to exercise partial reads.
        let n = buf.len().min(5);
        self.input.read(&mut buf[..n])
    }
}

impl Write for Duplex {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn reads_packets_across_partial_reads_and_continuations() {
    let big: Vec<u8> = (0..(crate::protocol::packet::MAX_CHUNK + 3)).map(|i| i as u8).collect();
    let mut wire = Vec::new();
    let mut seq = 1;
    encode_packets(b"hello", &mut seq, &mut wire);
    encode_packets(&big, &mut seq, &mut wire);
    let mut ps =
        PacketStream::new(Duplex { input: Cursor::new(wire), output: Vec::new() }, 1 << 30);
    ps.expect_seq(1);
    let mut p = Vec::new();
    ps.read_packet(&mut p).unwrap();
    assert_eq!(p, b"hello");
    ps.read_packet(&mut p).unwrap();
    assert_eq!(p, big);
    assert!(matches!(ps.read_packet(&mut p), Err(NetError::Closed)));
}

#[test]
fn rejects_out_of_order_sequence() {
    let mut wire = Vec::new();
    let mut seq = 5;
    encode_packets(b"x", &mut seq, &mut wire);
    let mut ps = PacketStream::new(Duplex { input: Cursor::new(wire), output: Vec::new() }, 100);
    let mut p = Vec::new();
    assert!(matches!(ps.read_packet(&mut p), Err(NetError::Decode(_))));
}

#[test]
fn a_length_prefix_alone_does_not_commit_its_size() {
    // 16 MiB - 1 announced, 10 bytes sent, then the client closes.
    let mut wire = vec![0xff, 0xff, 0xfe, 0];
    wire.extend_from_slice(&[7; 10]);
    let mut ps =
        PacketStream::new(Duplex { input: Cursor::new(wire), output: Vec::new() }, 16 << 20);
    let mut p = Vec::new();
    assert!(matches!(ps.read_packet(&mut p), Err(NetError::Closed)));
    assert!(p.capacity() <= 2 * FIRST_GROWTH, "buffer grew to {} bytes", p.capacity());
}

#[test]
fn refuses_a_length_prefix_over_the_reduced_cap() {
    let wire = vec![0xff, 0xff, 0xfe, 0];
    let mut ps =
        PacketStream::new(Duplex { input: Cursor::new(wire), output: Vec::new() }, 16 << 20);
    ps.set_max_payload(64 << 10);
    let mut p = Vec::new();
    assert!(matches!(ps.read_packet(&mut p), Err(NetError::Decode(DecodeError::TooLarge { .. }))));
}

#[test]
fn a_passed_read_deadline_times_out_even_with_bytes_waiting() {
    let mut wire = Vec::new();
    encode_packets(b"hello", &mut 0, &mut wire);
    let mut ps = PacketStream::new(Duplex { input: Cursor::new(wire), output: Vec::new() }, 100);
    ps.set_read_deadline(Some(Instant::now()));
    let mut p = Vec::new();
    let err = ps.read_packet(&mut p).unwrap_err();
    assert!(err.is_timeout(), "{err}");
    ps.set_read_deadline(None);
    ps.read_packet(&mut p).unwrap();
    assert_eq!(p, b"hello");
}

#[test]
fn a_query_naming_a_password_is_recognised_for_the_trace() {
    assert!(super::names_a_password(b"\x03CHANGE MASTER TO MASTER_PASSWORD='x'"));
    assert!(super::names_a_password(b"\x03change replication source to source_password='x'"));
    assert!(!super::names_a_password(b"\x03SELECT 1"));
    assert!(!super::names_a_password(b"\x01PASSWORD"), "only a COM_QUERY holds statement text");
    assert!(!super::names_a_password(b""));
}

fn duplex(wire: Vec<u8>) -> Duplex {
    Duplex { input: Cursor::new(wire), output: Vec::new() }
}

#[test]
fn large_payloads_take_from_the_budget_and_give_it_back_at_the_next_read() {
    let budget = MemoryBudget::new(400 << 10);
    let mut wire = Vec::new();
    let mut seq = 0;
    encode_packets(&[1; 400 << 10], &mut seq, &mut wire);
    encode_packets(b"small", &mut seq, &mut wire);
    let mut ps = PacketStream::new(duplex(wire), 16 << 20);
    ps.set_budget(Some(Arc::clone(&budget)));
    let mut p = Vec::new();
    ps.read_packet(&mut p).unwrap();
    assert_eq!(p.len(), 400 << 10);
    // The first 64 KiB are free; the rest is taken as it arrives.
    assert_eq!(budget.in_use(), (400 - 64) << 10);
    ps.read_packet(&mut p).unwrap();
    assert_eq!((p.as_slice(), budget.in_use()), (&b"small"[..], 0));
}

#[test]
fn a_payload_that_cannot_get_budget_fails_and_holds_nothing() {
    let budget = MemoryBudget::new(100 << 10);
    let mut wire = Vec::new();
    encode_packets(&[1; 400 << 10], &mut 0, &mut wire);
    let mut ps = PacketStream::new(duplex(wire), 16 << 20);
    ps.set_budget(Some(Arc::clone(&budget)));
    let mut p = Vec::new();
    let err = ps.read_packet(&mut p).unwrap_err();
    assert!(err.is_out_of_budget(), "{err:?}");
    drop(ps);
    assert_eq!(budget.in_use(), 0);
}

#[test]
fn peek_shows_buffered_bytes_without_consuming_them() {
    let mut wire = Vec::new();
    encode_packets(b"\x0ehello", &mut 0, &mut wire);
    let mut ps = PacketStream::new(duplex(wire), 100);
    assert_eq!(ps.peek(5).unwrap(), [6, 0, 0, 0, 0x0e]);
    let mut p = Vec::new();
    ps.read_packet(&mut p).unwrap();
    assert_eq!(p, b"\x0ehello");
    assert!(matches!(ps.peek(1), Err(NetError::Closed)));
}
