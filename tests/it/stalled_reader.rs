//! A dump client that stops reading is dropped after `@@net_write_timeout`
//! (MariaDB's rule; 60 s unless the session sets it), not after hours: its
//! thread ends, its connection slot is free again and the file its dump
//! was reading can be purged.
//!
//! The client sets `SET SESSION net_write_timeout = 3` so that the test
//! takes seconds; the default is checked by the unit tests of
//! `SessionVars`. Needs `mariadbd`; without it the test fails and says
//! what to install.

use crate::common::raw_client::{err_code, login_response, RawConn};
use crate::common::{
    big_row, bls_admin_sql, bls_log_excerpt, follow_and_serve, wait_caught_up, wait_until,
    wait_until_ok, MariaDb, PrimaryOpts, TestDir, ADMIN_ARGS, REPL_PASSWORD, REPL_USER,
};
use binlogserver::protocol::command::{encode_query, ComBinlogDump, COM_BINLOG_DUMP};
use std::time::Duration;

/// Far more than the loopback socket buffers of both ends hold.
const ROWS: usize = 6;
const ROW_BYTES: usize = 4 << 20;

/// Logs in as the replication user; panics unless the server says OK.
fn login(port: u16) -> RawConn {
    let mut conn = RawConn::connect(port);
    let greeting = conn.greeting();
    conn.write_packet(1, &login_response(REPL_USER, REPL_PASSWORD, &greeting.scramble));
    let (_, ok) = conn.read_packet().expect("read the login answer");
    assert_eq!(ok.first(), Some(&0x00), "login refused: {ok:02x?}");
    conn
}

#[test]
fn a_dump_client_that_stops_reading_is_dropped_after_net_write_timeout() {
    let primary = MariaDb::primary(PrimaryOpts { semi_sync: false, ..PrimaryOpts::default() });
    for _ in 0..ROWS {
        big_row(&primary, ROW_BYTES);
    }
    primary.sql("FLUSH BINARY LOGS");
    let data = TestDir::new("stalled-reader");
    let args = ["--max-connections", "2", ADMIN_ARGS[0], ADMIN_ARGS[1]];
    let (bls, port) = follow_and_serve(&primary, data.path(), &args);
    wait_caught_up(&primary, data.path(), Duration::from_secs(60));

    let mut stalled = login(port);
    let mut query = Vec::new();
    encode_query(
        "SET SESSION net_write_timeout = 3, @master_binlog_checksum = @@global.binlog_checksum",
        &mut query,
    );
    stalled.write_packet(0, &query);
    let (_, ok) = stalled.read_packet().expect("read the SET answer");
    assert_eq!(ok.first(), Some(&0x00), "SET refused: {ok:02x?}");
    let mut dump = Vec::new();
    ComBinlogDump { position: 4, flags: 0, server_id: 4242, file: b"mysql-bin.000001".to_vec() }
        .encode(&mut dump);
    assert_eq!(dump.first(), Some(&COM_BINLOG_DUMP));
    stalled.write_packet(0, &dump);
    // From here on the client reads nothing.
    let peer = stalled.local_addr();
    wait_until(Duration::from_secs(40), "the stalled dump to be dropped", || {
        bls.assert_running();
        bls.log().lines().any(|l| {
            l.contains("connection ended id=")
                && l.contains(&format!("peer={peer}"))
                && l.contains("timed out")
        })
    });

    // Its purge fence is gone: the file it was reading can be purged.
    let (live, _) = primary.master_status();
    bls_admin_sql(port, &format!("PURGE BINARY LOGS TO '{live}'")).expect("PURGE BINARY LOGS");
    assert!(
        !data.join("mysql-bin.000001").exists(),
        "the file the dropped dump read is still there:\n{}",
        bls_log_excerpt(&bls, 20)
    );
    // Its slot is free: two clients fit under --max-connections 2.
    wait_until_ok(Duration::from_secs(10), "two connection slots", || {
        let (mut a, mut b) = (RawConn::connect(port), RawConn::connect(port));
        let first = [a.read_packet(), b.read_packet()];
        match first.iter().find_map(|p| p.as_ref().ok().and_then(|(_, p)| err_code(p))) {
            Some(code) => Err(format!("a connection was refused with {code}")),
            None => Ok(()),
        }
    });
    drop(stalled);
}
