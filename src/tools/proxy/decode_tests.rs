use super::*;
use crate::binlog::{ChecksumAlg, GtidTriple, MariaGtidList, Rotate};
use crate::protocol::resultset::{encode_result_set, Column, ResultSet};

const C: Direction = Direction::ClientToServer;
const S: Direction = Direction::ServerToClient;

fn greeting() -> Vec<u8> {
    let h = HandshakeV10 {
        server_version: b"5.5.5-10.11.19-MariaDB-log".to_vec(),
        connection_id: 32,
        scramble: b"ABCDEFGHIJKLMNOPQRST".to_vec(),
        capabilities: CapabilityFlags(0xf7fe_fffe).without(CapabilityFlags::CLIENT_COMPRESS),
        character_set: 8,
        status_flags: 2,
        mariadb_capabilities: 0x1d,
        auth_plugin_name: b"mysql_native_password".to_vec(),
    };
    let mut out = Vec::new();
    h.encode(&mut out);
    out
}

fn response(caps: CapabilityFlags) -> Vec<u8> {
    let r = HandshakeResponse41 {
        capabilities: caps,
        max_packet_size: 1 << 24,
        character_set: 33,
        username: b"repl".to_vec(),
        auth_response: b"secret-scramble-reply".to_vec(),
        database: None,
        auth_plugin_name: Some(b"mysql_native_password".to_vec()),
        connect_attrs: Vec::new(),
    };
    let mut out = Vec::new();
    r.encode(&mut out);
    out
}

fn logged_in(deprecate_eof: bool) -> Conversation {
    let mut c = Conversation::new();
    let line = c.describe(S, &greeting());
    assert!(
        line.starts_with("HANDSHAKE server_version=5.5.5-10.11.19-MariaDB-log connection_id=32"),
        "{line}"
    );
    assert!(line.contains("auth_plugin=mysql_native_password scramble_len=20"), "{line}");
    let mut caps = CapabilityFlags::CLIENT_PROTOCOL_41
        .with(CapabilityFlags::CLIENT_PLUGIN_AUTH)
        .with(CapabilityFlags::CLIENT_SECURE_CONNECTION);
    if deprecate_eof {
        caps = caps.with(CapabilityFlags::CLIENT_DEPRECATE_EOF);
    }
    let line = c.describe(C, &response(caps));
    assert!(line.starts_with("HANDSHAKE_RESPONSE user=repl"), "{line}");
    assert!(line.contains("auth_response_len=21") && !line.contains("secret"), "{line}");
    let line = c.describe(S, &[0, 0, 0, 2, 0, 0, 0]);
    assert!(line.starts_with("OK ") && line.ends_with("(authenticated)"), "{line}");
    c
}

#[test]
fn query_and_result_set_with_and_without_eof() {
    for deprecate_eof in [false, true] {
        let mut c = logged_in(deprecate_eof);
        assert_eq!(c.describe(C, b"\x03select a, b from t"), "COM_QUERY \"select a, b from t\"");
        let mut rs = ResultSet::new(vec![Column::text("a"), Column::integer("b")]);
        rs.push_row(vec![Some("x".repeat(100)), None]);
        rs.push_row(vec![Some("it's".into()), Some("7".into())]);
        let lines: Vec<String> =
            encode_result_set(&rs, deprecate_eof, false).iter().map(|p| c.describe(S, p)).collect();
        assert_eq!(lines[0], "RESULT_SET columns=2");
        assert!(lines[1].starts_with("COLUMN 1 name=a"), "{lines:?}");
        assert!(lines[2].starts_with("COLUMN 2 name=b"), "{lines:?}");
        let rows: Vec<&String> = lines.iter().filter(|l| l.starts_with("ROW")).collect();
        assert_eq!(rows.len(), 2, "{lines:?}");
        assert_eq!(*rows[0], format!("ROW ['{}...', NULL]", "x".repeat(MAX_VALUE)));
        assert_eq!(*rows[1], "ROW ['it's', '7']");
        assert_eq!(lines.last().unwrap(), "EOF end of rows");
        assert_eq!(lines.iter().any(|l| l.starts_with("EOF (columns: a, b)")), !deprecate_eof);
        // Back in the command phase: the next OK is a plain OK.
        assert!(c.describe(C, b"\x0e").starts_with("COM_PING"));
        assert!(c.describe(S, &[0, 0, 0, 2, 0, 0, 0]).starts_with("OK affected_rows=0"));
    }
}

#[test]
fn replication_commands_events_semi_sync_and_acks() {
    let mut c = logged_in(true);
    let mut reg = Vec::new();
    ComRegisterSlave {
        server_id: 7,
        host: b"h".to_vec(),
        password: b"pw".to_vec(),
        port: 3307,
        ..Default::default()
    }
    .encode(&mut reg);
    let line = c.describe(C, &reg);
    assert_eq!(
        line,
        "COM_REGISTER_SLAVE server_id=7 host=h user= password_len=2 port=3307 master_id=0"
    );
    let mut dump = Vec::new();
    ComBinlogDump { position: 4, flags: 2, server_id: 7, file: b"mysql-bin.000001".to_vec() }
        .encode(&mut dump);
    assert_eq!(
        c.describe(C, &dump),
        "COM_BINLOG_DUMP file=mysql-bin.000001 pos=4 flags=0x0002 server_id=7"
    );

    let rotate = Rotate { position: 4, next_file: b"mysql-bin.000001".to_vec() }.encode_event(
        0,
        1,
        0,
        0x20,
        ChecksumAlg::OFF,
    );
    let mut p = vec![0, SEMI_SYNC_MAGIC, 0];
    p.extend_from_slice(&rotate);
    let line = c.describe(S, &p);
    assert!(line.starts_with("EVENT semi_sync need_ack=0 1970-01-01T00:00:00Z Rotate"), "{line}");
    assert!(line.contains("next=mysql-bin.000001 pos=4"), "{line}");
    // Without the semi-sync header.
    let mut p = vec![0];
    p.extend_from_slice(&rotate);
    assert!(c.describe(S, &p).starts_with("EVENT 1970-01-01T00:00:00Z Rotate"));
    // Need-ack on a GTID_LIST (decoded without an FD as a bare event line).
    let list = MariaGtidList {
        gtids: vec![GtidTriple { domain_id: 0, server_id: 1, seq_no: 9 }],
        flags: 0,
    };
    let mut p = vec![0, SEMI_SYNC_MAGIC, 1];
    p.extend_from_slice(&list.encode_event(0, 1, 300, 0, ChecksumAlg::OFF));
    let line = c.describe(S, &p);
    assert!(
        line.starts_with("EVENT semi_sync need_ack=1 ")
            && line.contains("Gtid_list")
            && line.contains("end=300"),
        "{line}"
    );

    let mut ack = Vec::new();
    SemiSyncAck { position: 300, file: b"mysql-bin.000001".to_vec() }.encode(&mut ack);
    assert_eq!(c.describe(C, &ack), "SEMI_SYNC_ACK file=mysql-bin.000001 pos=300");
    assert!(c.describe(S, b"\xff\x24\x04#HY000boom").starts_with("ERR error 1060"));
}

#[test]
fn ssl_request_makes_the_rest_opaque_and_garbage_is_described() {
    let mut c = Conversation::new();
    c.describe(S, &greeting());
    let mut ssl = response(CapabilityFlags::CLIENT_PROTOCOL_41.with(CapabilityFlags::CLIENT_SSL));
    ssl.truncate(32);
    assert!(c.describe(C, &ssl).starts_with("SSL_REQUEST"));
    assert!(c.is_opaque());
    assert_eq!(c.describe(S, b"\x16\x03\x01"), "(not decoded)");

    let mut c = Conversation::new();
    let line = c.describe(S, b"\x09garbage");
    assert!(line.starts_with("undecoded ("), "{line}");
}

#[test]
fn mysql_gtid_dump_shows_the_gtid_set() {
    let mut c = logged_in(true);
    let set = GtidSet::parse("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5").unwrap();
    let mut data = Vec::new();
    set.encode(&mut data);
    let mut dump = Vec::new();
    ComBinlogDumpGtid { flags: 4, server_id: 9, file: Vec::new(), position: 4, gtid_set: data }
        .encode(&mut dump);
    assert_eq!(
        c.describe(C, &dump),
        "COM_BINLOG_DUMP_GTID file= pos=4 flags=0x0004 server_id=9 \
         gtid_set=[3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5]"
    );
    // The stream ends with an EOF in non-blocking mode; then commands again.
    assert_eq!(c.describe(S, &[0xfe, 0, 0, 2, 0]), "EOF end of binlog stream");
    assert!(c.describe(C, b"\x03select 1").starts_with("COM_QUERY"));
}

#[test]
fn passwords_in_statements_are_not_shown() {
    let mut c = logged_in(true);
    let line = c.describe(C, b"\x03CREATE USER u IDENTIFIED BY 's3cr\\'et'");
    assert_eq!(line, "COM_QUERY \"CREATE USER u IDENTIFIED BY '<8 bytes>'\"");
    let line = c.describe(C, b"\x03CHANGE MASTER TO master_host='h', master_password=\"pw\"");
    assert_eq!(
        line,
        "COM_QUERY \"CHANGE MASTER TO master_host='<1 bytes>', master_password='<2 bytes>'\""
    );
    assert_eq!(c.describe(C, b"\x03SELECT 'x'"), "COM_QUERY \"SELECT 'x'\"");
}
