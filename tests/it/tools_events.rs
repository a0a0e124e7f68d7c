//! The `events` and `verify` subcommands of the real binary, on the binlog
//! fixtures, on a real MariaDB primary's binlog directory (live and
//! copied), and on corrupted copies: each problem must make the tool exit 1
//! with a line naming the file and the offset.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{MariaDb, PrimaryOpts, TestDir};
use binlogserver::binlog::{scan, walk};

const FIXTURES: &str = "tests/fixtures/binlogs";

/// Runs the binary; (exit code, stdout).
fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_binlogserver"))
        .args(args)
        .output()
        .expect("run binlogserver");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!(
        "$ binlogserver {}\n{stdout}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().expect("exit code"), stdout)
}

fn fixtures() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in fs::read_dir(FIXTURES).unwrap() {
        let dir = dir.unwrap().path();
        if dir.is_dir() {
            for entry in walkdir(&dir) {
                files.push(entry);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 12, "fixtures missing: {files:?}");
    files
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn events_lists_every_event_of_every_fixture() {
    for path in fixtures() {
        let p = path.to_str().unwrap();
        let (code, out) = run(&["events", p]);
        assert_eq!(code, 0, "{p}");
        let bytes = fs::read(&path).unwrap();
        let lines: Vec<&str> = out.lines().filter(|l| !l.starts_with('#')).collect();
        let events: Vec<_> = walk(&bytes).collect();
        assert_eq!(lines.len(), events.len(), "{p}: one line per event");
        for (line, ev) in lines.iter().zip(&events) {
            let name = ev.header.event_type.name().unwrap();
            let f: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(f[0], ev.offset.to_string(), "{line}");
            assert!(f[1].ends_with('Z') && f[1].contains('T'), "{line}");
            assert_eq!(f[2], name, "{line}");
            assert!(
                line.contains(&format!("size={} end={}", ev.header.event_len, ev.end())),
                "{line}"
            );
            assert!(!line.contains("undecoded"), "{p}: {line}");
            if ev.header.event_type.is_rows() {
                assert!(line.contains(" table=") && !line.contains("table=?"), "{p}: {line}");
            }
        }
    }
}

#[test]
fn events_shows_gtids_tables_and_utc_times() {
    let (code, out) = run(&["events", &format!("{FIXTURES}/mysql_common/mariadb-bin.000001")]);
    assert_eq!(code, 0);
    assert!(
        out.contains(
            "       330 2022-04-20T22:18:04Z Gtid               server_id=1 size=42 end=372 \
             gtid=0-1-1"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "Table_map          server_id=1 size=136 end=612 table_id=38 table=toddy_test.outbox"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "Write_rows_v1      server_id=1 size=59 end=671 table_id=38 table=toddy_test.outbox"
        ),
        "{out}"
    );
    assert!(out.contains("checksum=crc32"));
    let (code, out) =
        run(&["events", &format!("{FIXTURES}/apecloud_connector_rust/mysql-bin.000057")]);
    assert_eq!(code, 0);
    assert!(out.contains("gtid=76f3e7be-6720-11ed-9cad-0242ac110002:11"), "{out}");
    assert!(out.contains("previous_gtids=[76f3e7be-6720-11ed-9cad-0242ac110002:1-10]"), "{out}");
    let (code, out) = run(&[
        "events",
        &format!("{FIXTURES}/mysql_common/binlog_transaction_with_GTID_TAG.000001"),
    ]);
    assert_eq!(code, 0);
    assert!(
        out.contains(
            "Gtid_tagged        server_id=1 size=83 end=328 \
             gtid=55778904-0299-11f1-b1b8-4ef0c4956feb:mytag:3"
        ),
        "{out}"
    );
    let (code, out) =
        run(&["events", &format!("{FIXTURES}/shyiko_connector_java/mysql-bin.checksum-none")]);
    assert_eq!(code, 0);
    assert!(out.contains("checksum=none"), "{out}");
}

#[test]
fn events_hexdump_is_hexdump_c() {
    let path = format!("{FIXTURES}/mysql_common/mariadb-bin.000001");
    let (code, out) = run(&["events", "--hexdump", &path]);
    assert_eq!(code, 0);
    let bytes = fs::read(&path).unwrap();
    let hex: Vec<&str> = out
        .lines()
        .filter(|l| l.len() > 10 && l.as_bytes()[8] == b' ' && l.contains('|'))
        .collect();
    let expected_lines: usize = walk(&bytes).map(|e| e.bytes.len().div_ceil(16)).sum();
    assert_eq!(hex.len(), expected_lines);
    // The FD starts at offset 4: header bytes as `hexdump -C` shows them.
    let first = hex[0];
    assert!(first.starts_with("00000004  "), "{first}");
    let want: Vec<String> = bytes[4..20].iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(&first[10..33], want[..8].join(" "));
    assert_eq!(&first[35..58], want[8..].join(" "));
}

#[test]
fn events_stops_at_corruption_and_truncation_with_the_offset() {
    let dir = TestDir::new("tools-events");
    let src = fs::read(format!("{FIXTURES}/mysql_common/mariadb-bin.000001")).unwrap();
    let events: Vec<(u64, u64)> = walk(&src).map(|e| (e.offset, e.end())).collect();
    let (gtid2_off, gtid2_end) = events[8];
    let mut flipped = src.clone();
    flipped[gtid2_end as usize - 1] ^= 0xff; // the CRC of the second GTID event
    let bad = dir.join("flipped.000001");
    fs::write(&bad, &flipped).unwrap();
    let (code, out) = run(&["events", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(
        out.lines().filter(|l| !l.starts_with('#')).count(),
        8,
        "the events before it are listed"
    );
    assert!(out.contains(&format!("stopped at offset {gtid2_off}: corrupt event")), "{out}");
    assert!(out.contains("checksum") || out.contains("CRC") || out.contains("crc"), "{out}");

    let cut = dir.join("cut.000001");
    fs::write(&cut, &src[..src.len() - 10]).unwrap();
    let (code, out) = run(&["events", cut.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        out.contains(&format!("stopped at offset {}: truncated", events.last().unwrap().0)),
        "{out}"
    );

    let (code, _) = run(&["events", dir.join("missing.000001").to_str().unwrap()]);
    assert_eq!(code, 1);
    let (code, _) = run(&["events"]);
    assert_eq!(code, 2);
}

/// A MariaDB primary with a few transactions over three binlog files.
fn primary_with_three_files() -> MariaDb {
    let primary = MariaDb::primary(PrimaryOpts { semi_sync: false, ..PrimaryOpts::default() });
    primary.sql_script(
        "CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB;\n\
         INSERT INTO d.t VALUES (1, 'one'); FLUSH BINARY LOGS;\n\
         INSERT INTO d.t VALUES (2, 'two'); UPDATE d.t SET v = 'uno' WHERE id = 1; \
             FLUSH BINARY LOGS;\n\
         DELETE FROM d.t WHERE id = 2;",
    );
    primary
}

/// Copies the primary's binlog files and index into a new directory.
fn copy_binlogs(primary: &MariaDb, dir: &Path) -> Vec<String> {
    let names: Vec<String> = primary.binlog_files().into_iter().map(|(n, _)| n).collect();
    fs::create_dir_all(dir).unwrap();
    for n in &names {
        fs::copy(primary.binlog_path(n), dir.join(n)).unwrap();
    }
    fs::write(
        dir.join("mysql-bin.index"),
        names.iter().map(|n| format!("./{n}\n")).collect::<String>(),
    )
    .unwrap();
    names
}

#[test]
fn verify_a_real_primary_directory_and_corrupted_copies() {
    let primary = primary_with_three_files();
    // Live: the primary's own datadir, with its open last file.
    let (code, out) = run(&["verify", primary.datadir().to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("summary: 3 files"), "{out}");
    assert!(out.contains("mysql-bin.index  ok  files=3"), "{out}");

    let tmp = TestDir::new("tools-verify");
    let clean = tmp.join("clean");
    let names = copy_binlogs(&primary, &clean);
    assert_eq!(names.len(), 3);
    let (code, out) = run(&["verify", clean.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    for n in &names {
        assert!(out.lines().any(|l| l.starts_with(&format!("{n}  ok  events="))), "{out}");
    }
    assert!(out.contains("gtids=0-1-"), "{out}");
    assert!(out.ends_with("problems\n") && out.contains(", 0 problems"), "{out}");

    // A flipped CRC byte in the middle file.
    let crc = tmp.join("crc");
    copy_binlogs(&primary, &crc);
    let path = crc.join(&names[1]);
    let mut bytes = fs::read(&path).unwrap();
    let victim = walk(&bytes).nth(3).unwrap();
    let (off, end) = (victim.offset, victim.end());
    bytes[end as usize - 2] ^= 0x01;
    fs::write(&path, &bytes).unwrap();
    let (code, out) = run(&["verify", crc.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("problem: {} offset {off}: corrupt event", names[1])), "{out}");

    // A truncated tail of the last file (not growing: a problem).
    let cut = tmp.join("cut");
    copy_binlogs(&primary, &cut);
    let path = cut.join(&names[2]);
    let bytes = fs::read(&path).unwrap();
    let last = walk(&bytes).last().unwrap().offset;
    fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    assert_eq!(scan(&bytes[..bytes.len() - 3]).events_end, last);
    let (code, out) = run(&["verify", cut.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("problem: {} offset {last}: truncated", names[2])), "{out}");

    // An index that misses a file.
    let idx = tmp.join("index");
    copy_binlogs(&primary, &idx);
    fs::write(idx.join("mysql-bin.index"), format!("./{}\n./{}\n", names[0], names[2])).unwrap();
    let (code, out) = run(&["verify", idx.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "problem: mysql-bin.index: does not list {}, which is on disk",
            names[1]
        )),
        "{out}"
    );

    // A missing middle file: the ROTATE and the GTID_LIST no longer chain.
    let gap = tmp.join("gap");
    copy_binlogs(&primary, &gap);
    fs::remove_file(gap.join(&names[1])).unwrap();
    let (code, out) = run(&["verify", gap.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "ends with a ROTATE to {}, but the next file is {}",
            names[1], names[2]
        )),
        "{out}"
    );
    assert!(out.contains("GTID_LIST"), "{out}");
    assert!(out.contains(&format!("lists {}, which is not on disk", names[1])), "{out}");

    let (code, _) = run(&["verify"]);
    assert_eq!(code, 2);
    let (code, _) = run(&["verify", tmp.join("nope").to_str().unwrap()]);
    assert_eq!(code, 2);
}

/// Runs the binary with stdout a pipe whose reading end is already closed
/// (what `| head -1` leaves once it has its line); (exit status, stderr).
fn run_into_closed_pipe(args: &[&str]) -> (std::process::ExitStatus, String) {
    let (reader, writer) = std::io::pipe().expect("make a pipe");
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_binlogserver"))
        .args(args)
        .stdout(writer)
        .output()
        .expect("run binlogserver");
    (out.status, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `binlogserver verify DIR | head -1` panicked on the broken pipe (exit
/// 134, the release profile aborts on panic); `events` already coped.
#[test]
fn verify_and_events_stop_quietly_when_stdout_is_closed() {
    let dir = TestDir::new("tools-closed-stdout");
    let fixture = Path::new(FIXTURES).join("mysql_common/mariadb-bin.000001");
    fs::copy(&fixture, dir.join("mariadb-bin.000001")).unwrap();
    fs::write(dir.join("mariadb-bin.index"), "./mariadb-bin.000001\n").unwrap();
    let (code, out) = run(&["verify", dir.path_str()]);
    assert_eq!(code, 0, "the directory is clean: {out}");

    let (status, stderr) = run_into_closed_pipe(&["verify", dir.path_str()]);
    assert_eq!(
        status.code(),
        Some(1),
        "verify into a closed pipe: {status} (1 expected: it did not finish); stderr:\n{stderr}"
    );
    assert!(stderr.is_empty(), "verify into a closed pipe wrote to stderr:\n{stderr}");

    let path = fixture.to_str().unwrap();
    let (status, stderr) = run_into_closed_pipe(&["events", path, path]);
    assert!(status.code().is_some(), "events into a closed pipe: {status}; stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "events into a closed pipe:\n{stderr}");
}
