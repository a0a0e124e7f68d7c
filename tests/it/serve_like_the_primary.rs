//! binlogserver and the real primary asked the same thing must answer alike.
//!
//! * MariaDB GTID positioning: a replica in GTID strict mode whose position
//!   is a hole in the binlog is refused (error 1951's text), a non-strict one
//!   starts after the hole, and a position from a server id the binlog never
//!   had is refused as diverged (error 1955's text).
//! * A client below `@mariadb_slave_capability=4` (any MySQL client sets
//!   none) gets MariaDB's events rewritten as MariaDB rewrites them: GTID
//!   events as `BEGIN`, annotate rows, GTID lists and checkpoints as dummy
//!   events of the same size, or left out; the two streams are equal byte
//!   for byte, at every capability level.
//! * The fake ROTATE that opens a dump has a CRC for every
//!   `@master_binlog_checksum` but `NONE`, as the primary's does.

use crate::common::{
    describe_slave_status, mixed_workload, venv_python, wait_until, MariaDb, PrimaryOpts,
    ReplicaOpts, Topology, UseGtid, REPL_PASSWORD, REPL_USER,
};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(60);

/// Points `replica` at `port` from `position` and waits for its IO thread
/// to stop with an error; returns the error text.
fn refused(replica: &MariaDb, port: u16, position: &str) -> String {
    replica.sql("STOP SLAVE");
    replica.sql(&format!("SET GLOBAL gtid_slave_pos='{position}'"));
    replica.change_master("127.0.0.1", port, REPL_USER, REPL_PASSWORD, UseGtid::SlavePos);
    replica.change_master_options("MASTER_CONNECT_RETRY=1");
    replica.start_slave();
    let mut last = String::new();
    wait_until(DEADLINE, "the replica's IO thread to stop with an error", || {
        let st = replica.slave_status();
        last = describe_slave_status(&st);
        st["Slave_IO_Running"] == "No" && !st["Last_IO_Error"].is_empty()
    });
    let error = replica.slave_status()["Last_IO_Error"].clone();
    eprintln!("position {position} on port {port}: {error}");
    assert!(!error.is_empty(), "{last}");
    error
}

#[test]
fn gtid_positions_are_checked_like_the_primary_does() {
    let t = Topology::start(PrimaryOpts::default(), &[]);
    let (primary, bls, port) = (&t.primary, &t.bls, t.port);
    primary.sql_script(
        "CREATE DATABASE holes;\n\
         CREATE TABLE holes.t (id INT PRIMARY KEY) ENGINE=InnoDB;\n\
         INSERT INTO holes.t VALUES (1);\n",
    );
    let before = primary.gtid_seq();
    // Jump the sequence: before+1 .. before+4 never exist.
    primary.sql_script(&format!(
        "SET SESSION gtid_seq_no={};\nINSERT INTO holes.t VALUES (2);\n",
        before + 5
    ));
    assert_eq!(primary.gtid_seq(), before + 5);
    t.wait_caught_up(DEADLINE);
    let hole = format!("0-1-{}", before + 2);

    // Strict mode (the harness's replicas run with --gtid-strict-mode=1).
    let strict = MariaDb::replica(ReplicaOpts::default());
    let from_primary = refused(&strict, primary.port(), &hole);
    let from_bls = refused(&strict, port, &hole);
    for error in [&from_primary, &from_bls] {
        assert!(
            error.contains(&format!(
                "missing the GTID {hole} requested by the slave (even though both a prior and a \
                 subsequent"
            ),),
            "{error}"
        );
    }
    // A server id this binlog never had: diverged, from both.
    let from_primary = refused(&strict, primary.port(), "0-77-3");
    let from_bls = refused(&strict, port, "0-77-3");
    for error in [&from_primary, &from_bls] {
        assert!(error.contains("0-77-3") && error.contains("diverged"), "{error}");
    }

    // Not strict: the replica starts after the hole and gets row 2 only.
    let lax = MariaDb::replica(ReplicaOpts {
        extra_args: vec!["--gtid-strict-mode=0".into()],
        ..ReplicaOpts::default()
    });
    lax.sql_script(
        "SET SESSION sql_log_bin=0;\n\
         CREATE DATABASE holes;\n\
         CREATE TABLE holes.t (id INT PRIMARY KEY) ENGINE=InnoDB;\n",
    );
    lax.sql(&format!("SET GLOBAL gtid_slave_pos='{hole}'"));
    lax.change_master("127.0.0.1", port, REPL_USER, REPL_PASSWORD, UseGtid::SlavePos);
    lax.start_slave();
    let want = format!("0-1-{}", before + 5);
    wait_until(DEADLINE, "the non-strict replica to apply the GTID after the hole", || {
        lax.sql("SELECT @@gtid_slave_pos") == want
    });
    assert_eq!(lax.sql("SELECT GROUP_CONCAT(id ORDER BY id) FROM holes.t"), "2");
    let st = lax.slave_status();
    assert_eq!(st["Slave_IO_Running"], "Yes", "{}", describe_slave_status(&st));
    bls.assert_running();
}

/// The events a bare COM_BINLOG_DUMP from `file`:4 receives (non-blocking),
/// after only the given SET statements; artificial events and heartbeats
/// left out. Each event is its bytes.
fn raw_dump(port: u16, file: &str, sets: &[&str]) -> Vec<Vec<u8>> {
    raw_dump_all(port, file, sets)
        .into_iter()
        .filter(|e| {
            let flags = u16::from_le_bytes([e[17], e[18]]);
            e[4] != 27 && flags & 0x20 == 0
        })
        .collect()
}

/// Every event [`raw_dump`] receives, artificial ones and heartbeats included.
fn raw_dump_all(port: u16, file: &str, sets: &[&str]) -> Vec<Vec<u8>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/raw_dump.py");
    let mut cmd = Command::new(venv_python());
    cmd.arg(&script).args([
        "--port",
        &port.to_string(),
        "--user",
        REPL_USER,
        "--password",
        REPL_PASSWORD,
        "--file",
        file,
    ]);
    for s in sets {
        cmd.args(["--set", s]);
    }
    let out = cmd.output().expect("run raw_dump.py");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && text.ends_with("eof\n"),
        "raw_dump.py failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .filter(|l| *l != "eof")
        .map(|l| {
            (0..l.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&l[i..i + 2], 16).unwrap())
                .collect::<Vec<u8>>()
        })
        .collect()
}

/// MariaDB reads `@master_binlog_checksum` as "checksums on" for every value
/// but `NONE` (`find_type() - 1` is -1, neither OFF nor UNDEF): the fake
/// ROTATE that opens the dump then ends in a CRC. A client that set `ALL`
/// got it from binlogserver without one.
#[test]
fn the_opening_fake_rotate_has_a_crc_unless_the_client_said_none() {
    let t = Topology::start(PrimaryOpts::default(), &[]);
    let (primary, bls, port) = (&t.primary, &t.bls, t.port);
    mixed_workload(primary, 3);
    t.wait_caught_up(DEADLINE);
    let (file, _) = primary.binlog_files().remove(0);
    let fake_rotate = |port: u16, value: &str| {
        let set = format!("@master_binlog_checksum={value}");
        let events = raw_dump_all(port, &file, &[&set]);
        let first = events.first().unwrap_or_else(|| panic!("{value}: no events")).clone();
        let flags = u16::from_le_bytes([first[17], first[18]]);
        assert!(first[4] == 4 && flags & 0x20 != 0, "{value}: not a fake ROTATE: {first:02x?}");
        first
    };
    for (value, crc) in [
        ("'ALL'", true),
        ("'CRC32'", true),
        ("''", true),
        ("NULL", true),
        ("' NONE'", true),
        ("'NONE'", false),
        ("'none  '", false),
    ] {
        let from_primary = fake_rotate(primary.port(), value);
        let from_bls = fake_rotate(port, value);
        // 19 header bytes, the 8-byte position, the file name, maybe a CRC.
        let bare = 19 + 8 + file.len();
        assert_eq!(
            from_primary.len(),
            if crc { bare + 4 } else { bare },
            "setup: the primary's fake ROTATE for {value}"
        );
        assert!(
            from_primary == from_bls,
            "fake ROTATE for @master_binlog_checksum={value}:
             primary      {from_primary:02x?}
binlogserver {from_bls:02x?}"
        );
    }
    bls.assert_running();
}

#[test]
fn clients_of_every_mariadb_capability_get_what_the_primary_sends() {
    let t = Topology::start(PrimaryOpts::default(), &[]);
    let (primary, bls, port) = (&t.primary, &t.bls, t.port);
    mixed_workload(primary, 20);
    primary.sql("FLUSH BINARY LOGS");
    // A standalone (DDL) GTID and more transactions in the second file.
    primary.sql_script(
        "CREATE DATABASE IF NOT EXISTS compat;\n\
         CREATE TABLE compat.standalone (id INT PRIMARY KEY);\n",
    );
    mixed_workload(primary, 10);
    t.wait_caught_up(DEADLINE);
    let files: Vec<String> = primary.binlog_files().into_iter().map(|(f, _)| f).collect();

    // MySQL clients set no capability (0); MariaDB's levels are 1 to 4.
    for capability in [
        "",
        "@mariadb_slave_capability=1",
        "@mariadb_slave_capability=2",
        "@mariadb_slave_capability=3",
        "@mariadb_slave_capability=4",
    ] {
        for file in &files {
            let mut sets = vec!["@master_binlog_checksum='CRC32'"];
            if !capability.is_empty() {
                sets.push(capability);
            }
            let from_primary = raw_dump(primary.port(), file, &sets);
            let from_bls = raw_dump(port, file, &sets);
            let types: Vec<u8> = from_primary.iter().map(|e| e[4]).collect();
            if capability.is_empty() {
                for t in [160u8, 161, 162, 163] {
                    assert!(
                        !types.contains(&t),
                        "type {t} went to a client without capability: {types:?}"
                    );
                }
            }
            assert_eq!(
                from_primary.len(),
                from_bls.len(),
                "{file} with {capability:?}: event counts differ"
            );
            for (i, (p, b)) in from_primary.iter().zip(&from_bls).enumerate() {
                assert!(
                    p == b,
                    "{file} with {capability:?}: event {i} differs:\nprimary      {p:02x?}\n\
                     binlogserver {b:02x?}"
                );
            }
            eprintln!("{file} with {capability:?}: {} events identical", from_primary.len());
        }
    }
    bls.assert_running();
}
