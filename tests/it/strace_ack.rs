//! ACK only after fsync, seen from outside: the real binary follows a
//! semi-sync MariaDB primary under load while `strace -f` records its file
//! and socket system calls. In the trace, every semi-sync ACK packet
//! (`0xEF | u64 position | file name`, written on the upstream socket) must
//! start after an `fdatasync`/`fsync` of that binlog file, on the writer
//! thread, that covered the ACKed position: the bytes written to the file's
//! descriptor up to that sync reach the position. The ACK leaves from
//! another thread (`semi-sync-ack`): the writer thread writes to no socket
//! at all, only to files it opened (and to stderr, where it logs).
//!
//! A second run injects EIO into one `fdatasync` (strace `inject=`): no
//! binlog write, sync or ACK may follow it, binlogserver exits with the
//! error, and a restart resumes to files identical to the primary's.
//!
//! Needs `strace` (CI installs it) and ptrace permission; without either
//! the test fails and says so.

use crate::common::{
    assert_same_binlogs, tail, tail_file, tool, upstream_args, wait_acked, wait_caught_up,
    wait_for, wait_semi_sync_client, wait_until, Binlogserver, KillOnDrop, Load, MariaDb,
    PrimaryOpts, TestDir, BINLOGSERVER_ID, FOLLOW_ARGS,
};
use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Commits to see acknowledged under strace.
const COMMITS: u64 = 300;

/// One completed system call of the trace.
#[derive(Debug)]
struct Call {
    tid: u32,
    name: String,
    /// The text between the parentheses (for a resumed call, both halves).
    args: String,
    ret: i64,
    /// Line of the call's start (what happened before it had happened
    /// before the call began).
    start: usize,
    /// Line of its completion.
    end: usize,
}

/// Parses `strace -f -tt` output into completed calls, joining
/// `<unfinished ...>` / `<... NAME resumed>` halves.
fn parse_trace(text: &str) -> Vec<Call> {
    let mut pending: HashMap<u32, (usize, String)> = HashMap::new();
    let mut calls = Vec::new();
    for (i, line) in text.lines().enumerate() {
        // strace pads the pid column: `6923  23:02:23.867145 openat(...`.
        let Some((tid, rest)) = line.trim_start().split_once(' ') else { continue };
        let Some((_time, rest)) = rest.trim_start().split_once(' ') else { continue };
        let Ok(tid) = tid.parse::<u32>() else { continue };
        let (start, body) = if let Some(r) = rest.strip_prefix("<... ") {
            let Some((_, tail)) = r.split_once(" resumed>") else { continue };
            match pending.remove(&tid) {
                Some((start, head)) => (start, format!("{head}{tail}")),
                None => continue,
            }
        } else if let Some(head) = rest.strip_suffix(" <unfinished ...>") {
            pending.insert(tid, (i, head.to_owned()));
            continue;
        } else {
            (i, rest.to_owned())
        };
        let Some((name, after)) = body.split_once('(') else { continue };
        // strace pads short calls: `fsync(6)          = 0`.
        let Some((args, ret)) = after.rsplit_once(" = ") else { continue };
        let Some(args) = args.trim_end().strip_suffix(')') else { continue };
        let ret = ret.split_whitespace().next().and_then(|r| r.parse().ok()).unwrap_or(-1);
        calls.push(Call { tid, name: name.to_owned(), args: args.to_owned(), ret, start, end: i });
    }
    calls.sort_by_key(|c| c.end);
    calls
}

/// Decodes the first `"..."` string of `args` (strace -xx: `\xNN` escapes).
fn first_string(args: &str) -> Option<Vec<u8>> {
    let s = args.split_once('"')?.1;
    let mut out = Vec::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'x' => {
                    let hex: String = chars.by_ref().take(2).collect();
                    out.push(u8::from_str_radix(&hex, 16).ok()?);
                }
                'n' => out.push(b'\n'),
                't' => out.push(b'\t'),
                other => out.push(other as u8),
            },
            c => out.push(c as u8),
        }
    }
    None
}

fn first_int(args: &str) -> Option<i64> {
    args.split(',').next()?.trim().parse().ok()
}

/// A semi-sync ACK packet: 3-byte length, sequence 0, 0xEF, u64 position, file name.
fn ack_packet(buf: &[u8]) -> Option<(String, u64)> {
    let len = u32::from_le_bytes([*buf.first()?, *buf.get(1)?, *buf.get(2)?, 0]) as usize;
    if buf.get(3) != Some(&0) || buf.get(4) != Some(&0xEF) || buf.len() != len + 4 || len < 10 {
        return None;
    }
    let pos = u64::from_le_bytes(buf.get(5..13)?.try_into().ok()?);
    let name = String::from_utf8(buf.get(13..)?.to_vec()).ok()?;
    Some((name, pos))
}

/// A binlog file name (`mysql-bin.000001`) at the end of a path.
fn binlog_name(path: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(path).ok()?;
    let name = s.rsplit('/').next()?;
    let (_, ext) = name.rsplit_once('.')?;
    (ext.len() >= 6 && ext.bytes().all(|b| b.is_ascii_digit())).then(|| name.to_owned())
}

#[derive(Debug, Default)]
struct Report {
    acks: usize,
    syncs: usize,
    writer_tid: Option<u32>,
    /// The threads that sent ACKs (one per semi-sync connection).
    ack_tids: Vec<u32>,
    /// Trace line of a binlog fsync that failed.
    failed_sync: Option<usize>,
}

/// Walks the calls in completion order; checks every ACK against the syncs
/// that completed before it started.
fn check_trace(calls: &[Call]) -> Result<Report, String> {
    let mut report = Report::default();
    // fd -> binlog file, for descriptors opened for writing.
    let mut fds: HashMap<i64, String> = HashMap::new();
    // Every descriptor a traced openat returned (files, not sockets).
    let mut files: HashSet<i64> = HashSet::new();
    let mut written: HashMap<String, u64> = HashMap::new();
    // file -> (line the sync completed, bytes covered), in order.
    let mut syncs: HashMap<String, Vec<(usize, u64)>> = HashMap::new();
    let mut acks = Vec::new();
    for c in calls {
        match c.name.as_str() {
            "openat" if c.ret >= 0 => {
                files.insert(c.ret);
                let path = first_string(&c.args).unwrap_or_default();
                let Some(name) = binlog_name(&path) else { continue };
                if !(c.args.contains("O_WRONLY") || c.args.contains("O_RDWR")) {
                    continue;
                }
                if !c.args.contains("O_CREAT") {
                    return Err(format!(
                        "{name} reopened for writing (line {}); its length is unknown to the trace",
                        c.end + 1
                    ));
                }
                fds.insert(c.ret, name.clone());
                written.insert(name, 0);
            }
            "close" => {
                if let Some(fd) = first_int(&c.args) {
                    fds.remove(&fd);
                    files.remove(&fd);
                }
            }
            "write" | "writev" | "pwrite64" | "sendto" | "sendmsg" => {
                let Some(fd) = first_int(&c.args) else { continue };
                if report.writer_tid == Some(c.tid) && fd > 2 && !files.contains(&fd) {
                    return Err(format!(
                        "the writer thread {} wrote to descriptor {fd}, not a file it opened (a \
                         socket?), at line {}",
                        c.tid,
                        c.end + 1
                    ));
                }
                if let Some(name) = fds.get(&fd) {
                    if let Some(line) = report.failed_sync {
                        return Err(format!(
                            "{name} written at line {} after the failed fsync at line {line}",
                            c.end + 1
                        ));
                    }
                    if c.ret > 0 {
                        *written.entry(name.clone()).or_default() += c.ret as u64;
                        if *report.writer_tid.get_or_insert(c.tid) != c.tid {
                            return Err(format!(
                                "{name} written by two threads (line {})",
                                c.end + 1
                            ));
                        }
                    }
                } else if let Some(ack) = first_string(&c.args).as_deref().and_then(ack_packet) {
                    acks.push((c.start, c.tid, ack));
                }
            }
            "fdatasync" | "fsync" => {
                let Some(name) = first_int(&c.args).and_then(|fd| fds.get(&fd)) else { continue };
                if let Some(line) = report.failed_sync {
                    return Err(format!(
                        "{name} fsync'd at line {} after the failed fsync at line {line}",
                        c.end + 1
                    ));
                }
                if c.ret != 0 {
                    report.failed_sync = Some(c.end + 1);
                    continue;
                }
                if report.writer_tid.is_some_and(|w| w != c.tid) {
                    return Err(format!("{name} fsync'd by thread {} (line {})", c.tid, c.end + 1));
                }
                report.syncs += 1;
                syncs.entry(name.clone()).or_default().push((c.end, written[name]));
            }
            _ => {}
        }
    }
    for (start, tid, (file, pos)) in &acks {
        if let Some(line) = report.failed_sync.filter(|line| start + 1 > *line) {
            return Err(format!(
                "ACK {file}:{pos} at line {} after the failed fsync at line {line}",
                start + 1
            ));
        }
        let covered = syncs
            .get(file)
            .into_iter()
            .flatten()
            .filter(|(end, _)| end < start)
            .map(|(_, bytes)| *bytes)
            .max();
        match covered {
            Some(bytes) if bytes >= *pos => {}
            other => {
                return Err(format!(
                    "ACK {file}:{pos} written by thread {tid} at line {} but the syncs of {file} \
                     completed before it cover {other:?} bytes",
                    start + 1
                ))
            }
        }
        if report.writer_tid == Some(*tid) {
            return Err(format!(
                "ACK {file}:{pos} sent by the writer thread {tid} (line {}): the writer must not \
                 touch a socket",
                start + 1
            ));
        }
        if !report.ack_tids.contains(tid) {
            report.ack_tids.push(*tid);
        }
    }
    report.acks = acks.len();
    Ok(report)
}

#[test]
fn trace_parser_joins_unfinished_calls_and_decodes_ack_packets() {
    let trace = "\
100 10:00:00.000001 openat(AT_FDCWD, \"\\x2f\\x64\\x2f\
    \\x6d\\x79\\x73\\x71\\x6c\\x2d\\x62\\x69\\x6e\\x2e\\x30\\x30\\x30\\x30\\x30\\x31\", \
    O_WRONLY|O_CREAT|O_EXCL|O_APPEND|O_CLOEXEC, 0666) = 9
100  10:00:00.000002 write(9, \"\\xfe\\x62\\x69\\x6e\", 4) = 4
100 10:00:00.000003 fdatasync(9 <unfinished ...>
200 10:00:00.000004 write(7, \"\\x00\", 1) = 1
100 10:00:00.000005 <... fdatasync resumed>) = 0
300 10:00:00.000006 write(5, \"\\x19\\x00\\x00\\x00\\xef\\x04\\x00\\x00\\x00\\x00\\x00\\x00\\x00\
    \\x6d\\x79\\x73\\x71\\x6c\\x2d\\x62\\x69\\x6e\\x2e\\x30\\x30\\x30\\x30\\x30\\x31\", 29) = 29
";
    let calls = parse_trace(trace);
    assert_eq!(calls.len(), 5);
    let report = check_trace(&calls).unwrap();
    assert_eq!((report.acks, report.syncs, report.writer_tid), (1, 1, Some(100)));
    assert_eq!(report.ack_tids, [300]);
    // The same ACK before the sync completes is caught.
    let lines: Vec<&str> = trace.lines().collect();
    let reordered = [lines[0], lines[1], lines[2], lines[5], lines[3], lines[4]].join("\n");
    let err = check_trace(&parse_trace(&reordered)).unwrap_err();
    assert!(err.contains("ACK mysql-bin.000001:4"), "{err}");
    // The ACK sent by the writer thread itself is caught.
    let by_writer = trace.replace("300 10:00:00.000006", "100 10:00:00.000006");
    let err = check_trace(&parse_trace(&by_writer)).unwrap_err();
    assert!(err.contains("writer thread 100 wrote to descriptor 5"), "{err}");
}

/// binlogserver following `primary` into `data` under `strace -f`, with
/// `extra` strace options (fault injection); its trace and log in `out`.
struct Traced {
    child: KillOnDrop,
    trace: PathBuf,
    log: PathBuf,
}

impl Traced {
    fn start(primary: &MariaDb, data: &TestDir, out: &TestDir, extra: &[&str]) -> Traced {
        let strace = tool("strace");
        let probe = Command::new(&strace)
            .args(["-f", "-o", "/dev/null", "true"])
            .output()
            .expect("run strace");
        assert!(
            probe.status.success(),
            "strace cannot trace here (ptrace not permitted?): {}",
            String::from_utf8_lossy(&probe.stderr)
        );
        let (trace, log) = (out.join("trace"), out.join("binlogserver.log"));
        // binlogserver logs to the stderr it inherits from strace.
        let log_file = fs::File::create(&log).expect("create the log");
        let log_err = log_file.try_clone().expect("clone the log handle");
        let child = Command::new(&strace)
            .args(["-f", "-tt", "-xx", "-s", "256"])
            .args(["-e", "trace=write,writev,pwrite64,fdatasync,fsync,sendto,sendmsg,openat,close"])
            .args(extra)
            .arg("-o")
            .arg(&trace)
            .arg(env!("CARGO_BIN_EXE_binlogserver"))
            .args(upstream_args(primary.port(), data.path(), BINLOGSERVER_ID))
            .args(["--semi-sync", "on", "--heartbeat", "1", "--listen", "off"])
            .env("RUST_LOG", "binlogserver=info")
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .spawn()
            .expect("spawn strace");
        let mut traced = Traced { child: KillOnDrop(child), trace, log };
        wait_until(
            Duration::from_secs(30),
            "binlogserver under strace to register for semi-sync",
            || {
                if let Ok(Some(status)) = traced.child.0.try_wait() {
                    panic!(
                        "strace/binlogserver exited with {status}:\n{}",
                        tail_file(&traced.log, 30)
                    );
                }
                primary.status_u64("Rpl_semi_sync_master_clients") == 1
            },
        );
        traced
    }

    /// The parsed trace, checked; panics with the reason.
    fn check(&self, out: &TestDir) -> (Vec<Call>, Report) {
        let text = fs::read_to_string(&self.trace).expect("read the trace");
        let calls = parse_trace(&text);
        match check_trace(&calls) {
            Ok(report) => (calls, report),
            Err(e) => panic!(
                "{e} (set BLS_KEEP_TEST_DIRS=1 to keep the trace in {})",
                out.path().display()
            ),
        }
    }
}

#[test]
fn every_ack_follows_the_fsync_that_covers_it_on_the_real_binary() {
    let primary = MariaDb::primary(PrimaryOpts::default());
    let (data, out) = (TestDir::new("strace-data"), TestDir::new("strace-out"));
    let mut traced = Traced::start(&primary, &data, &out, &[]);
    let yes_before = primary.status_u64("Rpl_semi_sync_master_yes_tx");
    let load = Load::start(&primary, 4);
    wait_acked(&load, COMMITS);
    let committed = load.stop();
    let yes = primary.status_u64("Rpl_semi_sync_master_yes_tx") - yes_before;
    assert_eq!(primary.status_var("Rpl_semi_sync_master_status"), "ON", "semi-sync stayed on");
    // Stop binlogserver: SIGKILL the traced process (the trace's first pid),
    // then strace exits with it.
    let text = fs::read_to_string(&traced.trace).expect("read the trace");
    let pid = text.split_whitespace().next().expect("a trace line").to_owned();
    let _ = Command::new("kill").args(["-9", &pid]).status();
    let _ = traced.child.0.wait();
    let (calls, report) = traced.check(&out);
    eprintln!(
        "{committed} commits, {yes} acknowledged by the primary; trace: {} calls, {} binlog syncs, \
         {} ACK packets, writer thread {:?}, ACK threads {:?}",
        calls.len(),
        report.syncs,
        report.acks,
        report.writer_tid,
        report.ack_tids
    );
    assert!(yes >= COMMITS, "the primary counted {yes} semi-sync acknowledged commits");
    assert!(report.acks > 0 && report.syncs > 0, "the trace holds ACKs and syncs: {report:?}");
    assert_eq!(report.failed_sync, None);
}

#[test]
fn a_failed_fdatasync_stops_writing_and_acking_and_a_restart_resumes() {
    let primary =
        MariaDb::primary(PrimaryOpts { semi_sync_timeout_ms: 500, ..PrimaryOpts::default() });
    let (data, out) = (TestDir::new("strace-eio-data"), TestDir::new("strace-eio-out"));
    // The 40th fdatasync fails with EIO (what a dying disk reports).
    let mut traced =
        Traced::start(&primary, &data, &out, &["-e", "inject=fdatasync:error=EIO:when=40"]);
    let load = Load::start(&primary, 2);
    let status = wait_for(
        Duration::from_secs(60),
        "binlogserver to stop after the failed fdatasync",
        || {
            load.acked();
            traced.child.0.try_wait().expect("try_wait on strace")
        },
    );
    let committed = load.stop();
    assert!(
        !status.success(),
        "binlogserver must exit non-zero after a failed fsync, got {status}"
    );
    let log = fs::read_to_string(&traced.log).unwrap_or_default();
    assert!(
        log.lines().any(|l| l.contains(" ERROR ")
            && l.contains("fsync")
            && l.contains(data.path_str())
            && l.contains("Input/output error")),
        "no ERROR line names the fsync, the file and EIO:\n{}",
        tail(&log, 20)
    );
    let (_, report) = traced.check(&out);
    let failed = report.failed_sync.expect("the trace holds the failed fdatasync");
    eprintln!(
        "{committed} commits; fdatasync failed at trace line {failed} after {} good syncs and {} \
         ACKs",
        report.syncs, report.acks
    );
    assert!(report.acks > 0, "ACKs before the failure: {report:?}");

    // A restart repairs the tail and catches up to identical files.
    let bls = Binlogserver::follow(&primary, data.path(), &FOLLOW_ARGS);
    wait_semi_sync_client(&primary, &bls);
    primary.sql("CREATE DATABASE after_eio");
    wait_caught_up(&primary, data.path(), Duration::from_secs(60));
    assert_same_binlogs(&primary, data.path());
}
