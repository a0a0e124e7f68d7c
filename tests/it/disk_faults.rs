//! Disk faults on the real binary: a data directory on a small tmpfs that
//! fills up under a semi-sync primary, and data directories that cannot be
//! used at all (missing, a file, a read-only mount).
//!
//! The tests mount tmpfs file systems and so must run as root (CI does);
//! otherwise they fail and say so. Root bypasses `chmod 000`, so the
//! unwritable case is a read-only mount instead.

use crate::common::{
    assert_index_matches, assert_same_binlogs, big_row, local_binlog_files, running_as_root, tail,
    wait_caught_up, wait_semi_sync_client, wait_until, Binlogserver, MariaDb, PrimaryOpts, TestDir,
    FOLLOW_ARGS,
};
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The tmpfs that fills up: a few binlog files' worth.
const SMALL: &str = "size=6m";
/// After "adding a disk".
const LARGE: &str = "size=256m";
/// The primary rotates at this size, so the disk also fills while files are created.
const MAX_BINLOG_SIZE: &str = "--max-binlog-size=1048576";
/// Each transaction: one row of about this many bytes.
const ROW: usize = 200 << 10;
/// How long binlogserver may take to stop after its disk filled.
const STOP: Duration = Duration::from_secs(30);
const CATCH_UP: Duration = Duration::from_secs(60);

#[track_caller]
fn require_root() {
    assert!(
        running_as_root(),
        "disk_faults mounts tmpfs file systems and must run as root (CI does); \
         run `cargo test --test disk_faults` as root"
    );
}

/// A tmpfs mounted on a fresh directory; unmounted on drop.
struct Tmpfs {
    dir: TestDir,
}

impl Tmpfs {
    fn mount(label: &str, options: &str) -> Tmpfs {
        require_root();
        let dir = TestDir::new(label);
        mount(&["-t", "tmpfs", "-o", options, "tmpfs", dir.path_str()]);
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Bytes still available (`statfs`).
    fn free_bytes(&self) -> u64 {
        let out = Command::new("stat")
            .args(["-f", "-c", "%a %S", self.dir.path_str()])
            .output()
            .expect("run stat -f");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut nums =
            text.split_whitespace().map(|n| n.parse::<u64>().expect("stat -f prints numbers"));
        match (nums.next(), nums.next()) {
            (Some(blocks), Some(size)) => blocks * size,
            _ => panic!("stat -f {}: {text}", self.dir.path_str()),
        }
    }

    fn remount(&self, options: &str) {
        mount(&["-o", &format!("remount,{options}"), self.dir.path_str()]);
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: a process that still has a file open there must not make the
        // test hang; the directory is removed by TestDir afterwards.
        let _ = Command::new("umount").args(["-l", self.dir.path_str()]).status();
    }
}

#[track_caller]
fn mount(args: &[&str]) {
    let out = Command::new("mount").args(args).output().expect("run mount");
    assert!(
        out.status.success(),
        "mount {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every local binlog is a prefix of the primary's file of the same name
/// (the live file may differ in the in-use flag at offset 21), and the
/// index names exactly the local files.
fn assert_prefixes_of_primary(primary: &MariaDb, dir: &Path) {
    let files = local_binlog_files(dir);
    assert!(!files.is_empty(), "no binlog files in {}", dir.display());
    for name in &files {
        let ours = fs::read(dir.join(name)).expect("read a local binlog");
        let theirs = fs::read(primary.binlog_path(name)).expect("read the primary's binlog");
        assert!(
            ours.len() <= theirs.len(),
            "{name}: {} local bytes, the primary has {}",
            ours.len(),
            theirs.len()
        );
        let diff = ours
            .iter()
            .zip(&theirs)
            .enumerate()
            .find(|&(i, (a, b))| a != b && !(i == 21 && (a ^ b) == 1));
        assert!(diff.is_none(), "{name}: differs from the primary's at {:?}", diff);
    }
    let index = fs::read_to_string(dir.join("mysql-bin.index")).expect("read the index");
    let listed: Vec<&str> = index.lines().map(|l| l.trim_start_matches("./")).collect();
    for name in &listed {
        assert!(
            files.iter().any(|f| f == name),
            "the index names {name}, which is not on disk; index:\n{index}"
        );
    }
}

#[test]
fn a_full_disk_stops_writing_and_acking_and_a_restart_resumes_to_identical_files() {
    require_root();
    let disk = Tmpfs::mount("full-disk", SMALL);
    let primary = MariaDb::primary(PrimaryOpts {
        semi_sync_timeout_ms: 500,
        extra_args: vec![MAX_BINLOG_SIZE.to_owned()],
        ..PrimaryOpts::default()
    });
    let bls = Binlogserver::follow(&primary, disk.path(), &FOLLOW_ARGS);
    wait_semi_sync_client(&primary, &bls);

    // Commit until the disk is full: 6 MiB cannot hold 60 rows of 200 KiB.
    // Then commit no more: binlogserver must notice its failed writer on its
    // own (only heartbeats arrive from here on) rather than keep the primary
    // waiting for ACKs that never come.
    let mut rows = 0;
    let mut commits = 0;
    while bls.is_running() && rows < 60 && disk.free_bytes() >= 4096 {
        commits += big_row(&primary, ROW);
        rows += 1;
    }
    assert!(disk.free_bytes() < 4096, "{rows} rows did not fill the disk");
    let status = bls.wait_exit(STOP);
    assert!(!status.success(), "binlogserver must exit non-zero on a full disk, got {status}");
    let log = bls.log();
    let error = log
        .lines()
        .find(|l| l.contains(" ERROR "))
        .unwrap_or_else(|| panic!("no ERROR line in the log:\n{}", tail(&log, 30)));
    assert!(
        error.contains("No space left on device")
            && error.contains(&disk.path().display().to_string()),
        "the error must name the file and ENOSPC: {error}"
    );
    eprintln!("binlogserver stopped after {rows} rows ({commits} commits): {error}");

    // Nothing more is acknowledged: the primary commits without us.
    let yes = primary.status_u64("Rpl_semi_sync_master_yes_tx");
    let no = primary.status_u64("Rpl_semi_sync_master_no_tx");
    assert!(yes > 0, "some transactions were acknowledged before the disk filled");
    assert!(no > 0, "the transaction that filled the disk was not acknowledged");
    commits += big_row(&primary, ROW);
    assert_eq!(
        primary.status_u64("Rpl_semi_sync_master_yes_tx"),
        yes,
        "acknowledged after the stop"
    );
    wait_until(STOP, "the primary to drop its semi-sync client", || {
        primary.status_u64("Rpl_semi_sync_master_clients") == 0
    });

    // What is on the full disk is the primary's bytes, possibly with a torn tail.
    assert_prefixes_of_primary(&primary, disk.path());

    // Space returns; the restart repairs the tail and catches up.
    disk.remount(LARGE);
    let bls = Binlogserver::follow(&primary, disk.path(), &FOLLOW_ARGS);
    wait_semi_sync_client(&primary, &bls);
    commits += big_row(&primary, ROW);
    wait_caught_up(&primary, disk.path(), CATCH_UP);
    assert!(bls.is_running());
    assert_same_binlogs(&primary, disk.path());
    assert_index_matches(&primary, disk.path());
    assert!(
        primary.status_u64("Rpl_semi_sync_master_yes_tx") > yes,
        "acknowledging again after the restart ({commits} commits in all)"
    );
    wait_until(Duration::from_secs(5), "the primary to see semi-sync on", || {
        primary.status_var("Rpl_semi_sync_master_status") == "ON"
    });
}

/// Starts binlogserver on `dir` and expects it to fail at once with an
/// ERROR line holding every one of `needles`.
fn assert_refuses(dir: &Path, needles: &[&str]) {
    let dir_arg = dir.to_str().expect("UTF-8 path");
    // Nothing listens on port 1: the data directory is checked first.
    let bls = Binlogserver::start(&[
        "-h",
        "127.0.0.1",
        "-P",
        "1",
        "-u",
        "repl",
        "-p",
        "x",
        "-d",
        dir_arg,
        "--listen",
        "off",
    ]);
    let status = bls.wait_exit(STOP);
    assert!(!status.success(), "binlogserver must fail on {dir_arg}, got {status}");
    let log = bls.log();
    assert!(
        log.lines().any(|l| l.contains(" ERROR ")
            && l.contains(dir_arg)
            && needles.iter().all(|n| l.contains(n))),
        "no ERROR line names {dir_arg} and {needles:?}:\n{}",
        tail(&log, 20)
    );
    assert!(!log.contains("requesting binlog dump"), "it went on to connect:\n{}", tail(&log, 20));
}

#[test]
fn an_unusable_data_directory_is_a_clear_error_at_start() {
    require_root();
    let base = TestDir::new("bad-datadir");
    assert_refuses(&base.join("missing"), &["does not exist", "No such file or directory"]);
    let file = base.join("a-file");
    fs::write(&file, b"not a directory").expect("write a file");
    assert_refuses(&file, &["not a directory"]);
    let ro = Tmpfs::mount("ro-datadir", "ro,size=1m");
    assert_refuses(ro.path(), &["not writable", "Read-only file system"]);
}
