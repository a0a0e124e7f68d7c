//! Only regular binlog files of the data directory are listed, served or
//! purged (issue 11, item 5), against the real binary, `mariadb-binlog
//! --read-from-remote-server` and the `mariadb` client: a symbolic link
//! named like a binlog and pointing outside the directory, and a file
//! without the binlog magic, planted while binlogserver serves, are not
//! listed by SHOW BINARY LOGS, not streamed, and a purge neither follows
//! nor removes them; one that replaced a file the index names makes a
//! purge over it fail with an error naming it. At start, such an entry
//! stops binlogserver with an error naming it, and `verify` reports it.

use crate::common::{
    bls_admin_sql, bls_sql, mariadb_binlog_raw, serve_dir, Binlogserver, TestDir, ADMIN_ARGS,
    REPL_PASSWORD, REPL_USER,
};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A small MariaDB binlog that ends with a transaction (no ROTATE).
const FIXTURE: &str = "tests/fixtures/binlogs/mysql_common/mariadb-bin.000001";

fn fixture() -> Vec<u8> {
    fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE)).expect("read the fixture")
}

fn name(n: u32) -> String {
    format!("mariadb-bin.{n:06}")
}

/// A data directory holding copies of the fixture as files `numbers`, and their index.
fn data_dir(label: &str, numbers: &[u32]) -> TestDir {
    let dir = TestDir::new(label);
    let mut index = String::new();
    for n in numbers {
        fs::write(dir.join(name(*n)), fixture()).unwrap();
        index.push_str(&format!("./{}\n", name(*n)));
    }
    fs::write(dir.join("mariadb-bin.index"), index).unwrap();
    dir
}

/// A valid binlog outside the data directory, that no client may get.
fn outside_binlog(holder: &TestDir) -> PathBuf {
    let path = holder.join("secret-bin.000001");
    fs::write(&path, fixture()).unwrap();
    path
}

/// The file names of SHOW BINARY LOGS.
fn listed(port: u16) -> Vec<String> {
    let out = bls_sql(port, "SHOW BINARY LOGS").expect("SHOW BINARY LOGS");
    out.lines().map(|l| l.split('\t').next().unwrap().to_owned()).collect()
}

/// `mariadb-binlog --raw --to-last-log` from `first` into a fresh
/// directory: the files it wrote, or its stderr when it failed.
fn fetch(port: u16, first: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    let out = TestDir::new("entries-fetch");
    let run = mariadb_binlog_raw(port, out.path(), first, "--to-last-log")
        .output()
        .expect("run mariadb-binlog");
    if !run.status.success() {
        return Err(String::from_utf8_lossy(&run.stderr).into_owned());
    }
    let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| (e.file_name().into_string().unwrap(), fs::read(e.path()).unwrap()))
        .collect();
    files.sort();
    Ok(files)
}

fn assert_link_intact(link: &Path, target: &Path) {
    let meta = fs::symlink_metadata(link).expect("the planted link is still there");
    assert!(meta.file_type().is_symlink(), "{} is still a link", link.display());
    assert_eq!(fs::read(target).unwrap(), fixture(), "the outside file is untouched");
}

#[test]
fn planted_links_and_files_without_the_magic_are_not_listed_served_or_purged() {
    let dir = data_dir("entries-serve", &[1, 3, 5]);
    let holder = TestDir::new("entries-outside");
    let secret = outside_binlog(&holder);
    let mut args = vec!["--server-id", "7"];
    args.extend(ADMIN_ARGS);
    let (bls, port) = serve_dir(dir.path(), REPL_USER, REPL_PASSWORD, &args);
    assert_eq!(listed(port), [name(1), name(3), name(5)]);

    // Planted while serving: a link to a valid binlog outside, and a file
    // without the magic, both between files that are served.
    symlink(&secret, dir.join(name(2))).unwrap();
    fs::write(dir.join(name(4)), b"not a binlog: a secret of the operator").unwrap();
    assert_eq!(listed(port), [name(1), name(3), name(5)]);
    let got = fetch(port, &name(1)).expect("mariadb-binlog from the first file");
    let expected: Vec<(String, Vec<u8>)> = [1, 3, 5].map(|n| (name(n), fixture())).into();
    assert_eq!(got.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), [1, 3, 5].map(name));
    for ((n, bytes), (_, want)) in got.iter().zip(&expected) {
        // mariadb-binlog clears the in-use flag of the format description.
        let fd_end = 4 + u32::from_le_bytes(want[13..17].try_into().unwrap()) as usize;
        assert!(bytes.len() == want.len() && bytes[fd_end..] == want[fd_end..], "{n} as stored");
    }
    for planted in [2, 4] {
        let err = fetch(port, &name(planted)).expect_err("a planted entry is not served");
        assert!(err.contains("Could not find first log file name"), "{err}");
    }
    let log = bls.log();
    assert!(log.contains("entry=\"mariadb-bin.000002 is a symbolic link"), "{log}");
    assert!(log.contains("entry=\"mariadb-bin.000004 does not start with the binlog magic"));

    // A purge goes past them without following or removing them.
    bls_admin_sql(port, &format!("PURGE BINARY LOGS TO '{}'", name(5))).expect("purge");
    assert!(!dir.join(name(1)).exists() && !dir.join(name(3)).exists());
    assert_link_intact(&dir.join(name(2)), &secret);
    assert!(dir.join(name(4)).exists(), "the file without the magic is not purged");
    assert_eq!(listed(port), [name(5)]);
    bls.assert_running();
}

#[test]
fn a_link_replacing_a_file_the_index_names_is_not_served_nor_purged() {
    let dir = data_dir("entries-indexed", &[1, 2, 3]);
    let holder = TestDir::new("entries-indexed-outside");
    let secret = outside_binlog(&holder);
    let mut args = vec!["--server-id", "7"];
    args.extend(ADMIN_ARGS);
    let (bls, port) = serve_dir(dir.path(), REPL_USER, REPL_PASSWORD, &args);
    // mariadb-bin.000001 (in the index) becomes a link to the outside file.
    let tmp = dir.join("planted.tmp");
    symlink(&secret, &tmp).unwrap();
    fs::rename(&tmp, dir.join(name(1))).unwrap();
    assert_eq!(listed(port), [name(2), name(3)]);
    let err = fetch(port, &name(1)).expect_err("the replaced file is not served");
    assert!(err.contains("Could not find first log file name"), "{err}");
    let err = bls_admin_sql(port, &format!("PURGE BINARY LOGS TO '{}'", name(3)))
        .expect_err("a purge over the link fails");
    assert!(err.contains("1377") && err.contains("mariadb-bin.000001"), "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert_link_intact(&dir.join(name(1)), &secret);
    assert!(dir.join(name(2)).exists(), "nothing was purged");
    bls.assert_running();
}

/// binlogserver serving `dir`, expected to refuse to start.
fn refused_start(dir: &TestDir, needles: &[&str]) {
    let d = dir.path().to_str().unwrap();
    let bls = Binlogserver::start(&[
        "-d",
        d,
        "--listen",
        "127.0.0.1:0",
        "--replica-user",
        REPL_USER,
        "--replica-password",
        REPL_PASSWORD,
    ]);
    bls.assert_failed_exit(Duration::from_secs(30), "a binlog entry is not a regular binlog");
    bls.assert_error_logged(needles);
}

#[test]
fn such_an_entry_at_start_stops_binlogserver_naming_it_and_verify_reports_it() {
    let holder = TestDir::new("entries-start-outside");
    let secret = outside_binlog(&holder);
    // A link the index names.
    let linked = data_dir("entries-start-link", &[1]);
    symlink(&secret, linked.join(name(2))).unwrap();
    fs::write(linked.join("mariadb-bin.index"), format!("./{}\n./{}\n", name(1), name(2))).unwrap();
    refused_start(&linked, &["mariadb-bin.000002 is a symbolic link", "move it away"]);
    // A file without the magic.
    let garbage = data_dir("entries-start-magic", &[1, 2]);
    fs::write(garbage.join(name(1)), b"GIF89a").unwrap();
    refused_start(&garbage, &["mariadb-bin.000001 does not start with the binlog magic"]);
    assert_eq!(fs::read(garbage.join(name(1))).unwrap(), b"GIF89a", "left as it was");

    let out = Command::new(env!("CARGO_BIN_EXE_binlogserver"))
        .args(["verify", linked.path().to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("problem: mariadb-bin.000002: a symbolic link"), "{stdout}");
    assert_eq!(fs::read(&secret).unwrap(), fixture());
}
