//! Entry points for the fuzz targets in `tests/fuzz` (cargo-fuzz): one
//! function per input the outside world controls, each taking raw bytes.
//!
//! Each function must never panic, hang or allocate beyond the caps the
//! code enforces, whatever the bytes; where a decode has an encode, it
//! asserts the round trip (decode, encode, decode gives the same value).
//! The targets are three-line shims over these functions, so the unit
//! tests can replay a crashing input without libFuzzer. No I/O here: the
//! socket side runs over an in-memory stream.
//!
//! Hidden from the docs: not an API, only a seam for the fuzzer.

use std::io::{self, Cursor, Read, Write};

use crate::binlog::checksum::{verify_event, ChecksumAlg};
use crate::binlog::event_type::EventType;
use crate::binlog::gtid::MysqlGtid;
use crate::binlog::gtid_pos::GtidPos;
use crate::binlog::gtid_set::GtidSet;
use crate::binlog::header::EventHeader;
use crate::binlog::scan;
use crate::net::PacketStream;
use crate::protocol::command::{ComBinlogDump, ComBinlogDumpGtid, ComRegisterSlave, SemiSyncAck};
use crate::protocol::handshake::{AuthSwitchRequest, HandshakeResponse41, HandshakeV10};
use crate::protocol::packet::{encode_packets, PacketAssembler, PacketHeader};
use crate::protocol::Reader;
use crate::server::info::{ServerInfo, SlaveHost};
use crate::server::query::evaluate_at;
use crate::server::session_vars::SessionVars;
use crate::status::{IoState, UpstreamStatus};
use crate::storage::recovery::{walk_in_chunks, EventSample};

/// Payload cap for the packet targets: small, so a length prefix near
/// 16 MiB is refused as the listener refuses it before authentication.
const FUZZ_MAX_PAYLOAD: usize = 1 << 20;

/// Packet framing: the bytes as a client would send them, through
/// [`PacketAssembler`] directly (with the round trip through
/// [`encode_packets`]) and through [`PacketStream`] over an in-memory
/// stream, as the listener reads them.
pub fn packet_assembler(data: &[u8]) {
    let (seq, wire) = match data.split_first() {
        Some((&seq, wire)) => (seq, wire),
        None => return,
    };
    let mut r = Reader::new(wire);
    let mut asm = PacketAssembler::new(seq, FUZZ_MAX_PAYLOAD);
    let mut payload = Vec::new();
    let mut first_seq = seq;
    let mut start = 0;
    while let Ok(header) = PacketHeader::decode(&mut r) {
        if asm.accept(header, payload.len()).is_err() {
            break;
        }
        let Ok(chunk) = r.bytes(header.len as usize, "chunk") else { break };
        payload.extend_from_slice(chunk);
        if header.continues() {
            continue;
        }
        let mut again = Vec::new();
        encode_packets(&payload, &mut first_seq, &mut again);
        assert_eq!(
            Some(again.as_slice()),
            wire.get(start..r.position()),
            "packet framing round trip"
        );
        assert_eq!(first_seq, asm.next_seq());
        payload.clear();
        start = r.position();
    }
    let mut ps = PacketStream::new(MemoryStream::new(wire), FUZZ_MAX_PAYLOAD);
    ps.reset_seq(seq);
    let mut packet = Vec::new();
    while ps.read_packet(&mut packet).is_ok() {
        assert!(packet.len() <= FUZZ_MAX_PAYLOAD);
        ps.expect_seq(seq);
    }
}

/// The client's login packet, the greeting and the auth switch: decode,
/// and for what decodes, encode and decode again to the same value.
pub fn handshake(data: &[u8]) {
    if let Ok(resp) = HandshakeResponse41::decode(&mut Reader::new(data)) {
        // A flagged field the client left out decodes as None and encodes
        // as an empty one, so compare wire forms: encoding what decodes
        // from an encoding gives the same bytes.
        let mut out = Vec::new();
        resp.encode(&mut out);
        let again = HandshakeResponse41::decode(&mut Reader::new(&out));
        assert!(again.is_ok(), "HandshakeResponse41 does not decode its own encoding: {again:?}");
        if let Ok(again) = again {
            let mut out2 = Vec::new();
            again.encode(&mut out2);
            assert_eq!(out, out2, "HandshakeResponse41 round trip");
            assert_eq!(
                (&again.username, &again.auth_response),
                (&resp.username, &resp.auth_response)
            );
        }
    }
    if let Ok(greeting) = HandshakeV10::decode(&mut Reader::new(data)) {
        let _ = greeting.is_mariadb();
    }
    if let Ok(switch) = AuthSwitchRequest::decode(&mut Reader::new(data)) {
        let _ = switch.scramble();
    }
}

/// Command packets as the session dispatches them (first byte the command).
pub fn commands(data: &[u8]) {
    let Some((&command, body)) = data.split_first() else { return };
    match command {
        0x12 => roundtrip(body, ComBinlogDump::decode, ComBinlogDump::encode, 1),
        0x15 => roundtrip(body, ComRegisterSlave::decode, ComRegisterSlave::encode, 1),
        0x1e => {
            if let Ok(cmd) = ComBinlogDumpGtid::decode(&mut Reader::new(body)) {
                let _ = GtidSet::decode(&cmd.gtid_set);
            }
            roundtrip(body, ComBinlogDumpGtid::decode, ComBinlogDumpGtid::encode, 1);
        }
        0xef => roundtrip(data, SemiSyncAck::decode, SemiSyncAck::encode, 0),
        _ => {
            // GTID positions as clients give them in text.
            let text = String::from_utf8_lossy(body);
            if let Ok(pos) = text.parse::<GtidPos>() {
                assert_eq!(pos.to_string().parse(), Ok(pos), "GtidPos round trip");
            }
            let _ = GtidSet::parse(&text);
            let _ = GtidSet::decode(body);
        }
    }
}

/// Decodes `bytes`; when that works, encodes (dropping the first `skip`
/// bytes of the encoding, the command byte) and checks it decodes equal.
fn roundtrip<T: PartialEq + std::fmt::Debug>(
    bytes: &[u8],
    decode: fn(&mut Reader<'_>) -> Result<T, crate::protocol::DecodeError>,
    encode: fn(&T, &mut Vec<u8>),
    skip: usize,
) {
    let Ok(value) = decode(&mut Reader::new(bytes)) else { return };
    let mut out = Vec::new();
    encode(&value, &mut out);
    let again = decode(&mut Reader::new(out.get(skip..).unwrap_or_default()));
    assert_eq!(again.as_ref(), Ok(&value), "command round trip");
}

/// One `COM_QUERY` statement through the evaluator, against fixed facts.
/// Several statements separated by NUL run in one session, so `SET` then
/// `SELECT` paths are reached.
pub fn query(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut vars = SessionVars::default();
    for sql in text.split('\0') {
        let _ = evaluate_at(sql, &mut vars, &FixedInfo, 1_700_000_000);
    }
}

/// One event: its header (round trip) and its CRC under every algorithm.
pub fn event_header(data: &[u8]) {
    if let Ok(header) = EventHeader::parse(data) {
        let mut out = Vec::new();
        header.encode(&mut out);
        assert_eq!(Some(out.as_slice()), data.get(..EventHeader::LEN), "EventHeader round trip");
        let _ = EventHeader::parse_exact(data, header.event_type);
    }
    for alg in [ChecksumAlg(0), ChecksumAlg(1), ChecksumAlg(0xff)] {
        let _ = verify_event(data, alg);
    }
    if let Ok(g) = MysqlGtid::decode_event(data) {
        let _ = g.is_anonymous();
    }
}

/// A binlog file image through the pure scan (one whole buffer) and through
/// recovery's chunked walk, in chunk sizes and read sizes derived from the
/// input: both feed the same stepper, so they must agree exactly on the
/// events, their ends, the stop, the last transaction end and the FD.
pub fn tail_scan(data: &[u8]) {
    let mut whole = scan::walk(data);
    let events: Vec<scan::ScannedEvent<'_>> = whole.by_ref().collect();
    let report = whole.into_report();
    assert!(report.last_trx_end <= report.events_end);
    assert!(report.events_end <= data.len() as u64);
    assert_eq!(report.events, events.len() as u64);
    let fd = events.first().map(|e| e.bytes.to_vec());
    let last_event = events
        .iter()
        .rev()
        .find(|e| e.at_boundary)
        .and_then(|e| EventSample::of(e.offset, e.bytes));
    let seed = crate::binlog::crc32(data);
    let len = data.len() + 1;
    let chunks = [1 + seed as usize % 32, 1 + (seed >> 5) as usize % len, 8 << 20];
    for (i, chunk) in (0u32..).zip(chunks) {
        let reads = Choppy { data, seed: seed.rotate_left(7 * i) };
        let walked = walk_in_chunks(reads, chunk);
        assert!(walked.is_ok(), "reading from memory cannot fail");
        let Ok(walked) = walked else { return };
        assert_eq!(walked.report, report, "chunked (chunk {chunk}) and whole walks disagree");
        assert_eq!(walked.fd, fd, "chunk {chunk}: FD bytes");
        assert_eq!(walked.last_event, last_event, "chunk {chunk}: last event");
        if walked.rotated_to.is_some() {
            let last = events.last().map(|e| e.header.event_type);
            assert_eq!(last, Some(EventType::ROTATE), "chunk {chunk}: rotated_to");
        }
    }
}

/// Reads from a byte slice in pieces of 1 to 64 bytes chosen by `seed`:
/// short reads, as a file or pipe may give them.
struct Choppy<'a> {
    data: &'a [u8],
    seed: u32,
}

impl Read for Choppy<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.seed = self.seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let n = buf.len().min(1 + (self.seed >> 16) as usize % 64);
        self.data.read(buf.get_mut(..n).unwrap_or_default())
    }
}

/// Reads from a byte slice, swallows writes: a client that sends `input`
/// and then closes.
#[derive(Debug)]
struct MemoryStream<'a> {
    input: Cursor<&'a [u8]>,
}

impl<'a> MemoryStream<'a> {
    fn new(input: &'a [u8]) -> Self {
        MemoryStream { input: Cursor::new(input) }
    }
}

impl Read for MemoryStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for MemoryStream<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Fixed server facts for the query target.
#[derive(Debug)]
struct FixedInfo;

impl ServerInfo for FixedInfo {
    fn is_mariadb(&self) -> bool {
        true
    }
    fn server_id(&self) -> u32 {
        1
    }
    fn server_uuid(&self) -> String {
        "3e11fa47-71ca-11e1-9e33-c80aa9429562".into()
    }
    fn version(&self) -> String {
        "10.11.19-MariaDB-log".into()
    }
    fn binlog_checksum(&self) -> &'static str {
        "CRC32"
    }
    fn binlog_files(&self) -> Vec<(String, u64)> {
        vec![("mysql-bin.000001".into(), 1234), ("mysql-bin.000002".into(), 5678)]
    }
    fn master_status(&self) -> Option<(String, u64)> {
        Some(("mysql-bin.000002".into(), 5678))
    }
    fn gtid_binlog_pos(&self) -> String {
        "0-1-55".into()
    }
    fn gtid_executed(&self) -> String {
        "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5".into()
    }
    fn binlog_gtid_pos(&self, _file: &str, pos: u64) -> Option<String> {
        (pos == 4).then(String::new)
    }
    fn gtid_domain_id(&self) -> u32 {
        0
    }
    fn semi_sync_master_enabled(&self) -> bool {
        true
    }
    fn slave_hosts(&self) -> Vec<SlaveHost> {
        vec![SlaveHost {
            server_id: 2,
            host: "r1".into(),
            port: 3306,
            master_id: 1,
            uuid: String::new(),
        }]
    }
    fn upstream_status(&self) -> Option<UpstreamStatus> {
        Some(UpstreamStatus {
            host: "db1".into(),
            port: 3306,
            io: IoState::Yes,
            ..UpstreamStatus::default()
        })
    }
    fn connection_id(&self) -> u32 {
        7
    }
    fn kill(&self, id: u32) -> bool {
        id == 7
    }
}

#[cfg(test)]
mod tests {
    //! The shims on real bytes and every truncation of them: their own
    //! assertions must hold where libFuzzer starts, and CI runs these
    //! without cargo-fuzz.
    use super::*;
    use crate::protocol::CapabilityFlags;

    const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/binlogs/mysql_common/mariadb-bin.000001"
    );

    #[test]
    fn tail_scan_and_event_header_hold_on_every_prefix_of_a_real_binlog() {
        let image = std::fs::read(FIXTURE).unwrap();
        for end in 0..=image.len() {
            tail_scan(&image[..end]);
        }
        let mut events = 0;
        for event in scan::walk(&image) {
            event_header(event.bytes);
            events += 1;
        }
        assert!(events > 5, "{events} events in the fixture");
    }

    #[test]
    fn tail_scan_survives_a_header_claiming_1_gib() {
        let mut image = b"\xfebin".to_vec();
        let h = EventHeader {
            timestamp: 0,
            event_type: crate::binlog::event_type::EventType::QUERY,
            server_id: 1,
            event_len: 1 << 30,
            log_pos: 0,
            flags: 0,
        };
        h.encode(&mut image);
        tail_scan(&image);
    }

    #[test]
    fn handshake_and_packets_hold_on_every_prefix_of_a_login() {
        let resp = HandshakeResponse41 {
            capabilities: CapabilityFlags::CLIENT_PROTOCOL_41
                .with(CapabilityFlags::CLIENT_PLUGIN_AUTH)
                .with(CapabilityFlags::CLIENT_CONNECT_ATTRS)
                .with(CapabilityFlags::CLIENT_CONNECT_WITH_DB)
                .with(CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA),
            max_packet_size: 1 << 24,
            character_set: 45,
            username: b"repl".to_vec(),
            auth_response: vec![7; 20],
            database: Some(b"db".to_vec()),
            auth_plugin_name: Some(b"mysql_native_password".to_vec()),
            connect_attrs: vec![(b"_os".to_vec(), b"Linux".to_vec())],
        };
        let mut payload = Vec::new();
        resp.encode(&mut payload);
        let mut wire = vec![1];
        encode_packets(&payload, &mut 1, &mut wire);
        encode_packets(b"\x03SELECT 1", &mut 2, &mut wire);
        for end in 0..=payload.len() {
            handshake(&payload[..end]);
        }
        for end in 0..=wire.len() {
            packet_assembler(&wire[..end]);
        }
    }

    #[test]
    fn commands_and_queries_round_trip_as_replicas_send_them() {
        let mut dump = Vec::new();
        ComBinlogDump { position: 4, flags: 2, server_id: 7, file: b"mysql-bin.000001".to_vec() }
            .encode(&mut dump);
        let mut register = Vec::new();
        let slave = ComRegisterSlave {
            server_id: 7,
            host: b"h".to_vec(),
            user: vec![],
            password: vec![],
            port: 3306,
            rank: 0,
            master_id: 0,
        };
        slave.encode(&mut register);
        let mut ack = Vec::new();
        SemiSyncAck { position: 1234, file: b"mysql-bin.000001".to_vec() }.encode(&mut ack);
        for cmd in [dump, register, ack, b"\x000-1-5,1-2-7".to_vec()] {
            for end in 0..=cmd.len() {
                commands(&cmd[..end]);
            }
        }
        query(
            b"SET @a='x'\0SELECT @a, @@version, UNIX_TIMESTAMP()\0SHOW BINARY LOGS\0\
              KILL 7\0SELECT BINLOG_GTID_POS('', 4)",
        );
    }
}
