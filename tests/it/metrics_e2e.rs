//! End-to-end tests of `--metrics` and `SHOW STATUS`: binlogserver follows
//! a real semi-sync MariaDB 10.11 primary and serves a `mariadb-binlog
//! --stop-never` client; the figures scraped over HTTP (with a raw
//! `TcpStream`, no HTTP library) must reflect what happened, and `SHOW
//! STATUS` on the SQL port must report the same figures. The exporter must
//! answer garbage with an error and keep serving.
//!
//! If `mariadbd` is missing the tests fail and say what to install. Set
//! `BLS_KEEP_TEST_DIRS=1` to keep the directories.

use crate::common::{
    bls_log_excerpt, bls_sql, local_binlog_files, mariadb_binlog_raw, mixed_workload, wait_for,
    wait_until_ok, Binlogserver, KillOnDrop, PrimaryOpts, TestDir, Topology, REPL_USER,
};
use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Stdio;
use std::time::Duration;

/// Upper bound for binlogserver or a client to catch up after writes stop.
const CATCH_UP: Duration = Duration::from_secs(30);

/// The exporter's address, from binlogserver's start-up log line
/// (`--metrics 127.0.0.1:0` lets the kernel pick a free port).
pub(crate) fn metrics_addr(bls: &Binlogserver) -> SocketAddr {
    wait_for(Duration::from_secs(20), "the 'serving metrics addr=' log line", || {
        bls.assert_running();
        let log = bls.log();
        let line = log.lines().find(|l| l.contains("serving metrics addr="))?;
        let addr = line.split("addr=").nth(1)?.split_whitespace().next()?;
        Some(addr.parse().expect("a socket address in the log line"))
    })
}

/// Sends `request` raw and returns the whole answer (the exporter closes).
fn http(addr: SocketAddr, request: &[u8]) -> String {
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect to the exporter");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    if !request.is_empty() {
        s.write_all(request).expect("send the request");
    }
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).expect("read the answer to its end");
    String::from_utf8(answer).expect("a UTF-8 answer")
}

/// The status line of an answer, e.g. `HTTP/1.1 404 Not Found`.
fn status_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or_default()
}

/// `GET /metrics`, checked: 200, the Prometheus content type, a body whose
/// length matches Content-Length. Returns the body.
pub(crate) fn scrape(addr: SocketAddr) -> String {
    let answer = http(addr, b"GET /metrics HTTP/1.1\r\nHost: test\r\nAccept: */*\r\n\r\n");
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP head and body");
    assert_eq!(status_line(head), "HTTP/1.1 200 OK", "{head}");
    assert!(head.contains("Content-Type: text/plain; version=0.0.4"), "{head}");
    assert!(head.contains(&format!("Content-Length: {}\r\n", body.len())), "{head}");
    body.to_owned()
}

/// Sample lines of a Prometheus text body: `name{labels}` → value, after
/// checking that every family has HELP and TYPE lines before its samples.
fn samples(body: &str) -> BTreeMap<String, f64> {
    let mut typed = Vec::new();
    let mut out = BTreeMap::new();
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(name.starts_with("binlogserver_"), "{line}");
            if kind == "counter" {
                assert!(name.ends_with("_total"), "counters end in _total: {line}");
            }
            typed.push(name.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (key, value) =
            line.rsplit_once(' ').unwrap_or_else(|| panic!("a sample line: {line:?}"));
        let family = key.split('{').next().unwrap();
        assert!(
            typed.iter().any(|t| family == t
                || family
                    .strip_prefix(t.as_str())
                    .is_some_and(|s| ["_bucket", "_sum", "_count"].contains(&s))),
            "sample {line:?} without a TYPE line before it"
        );
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("a number in {line:?}"));
        assert!(out.insert(key.to_owned(), value).is_none(), "duplicate sample {key}");
    }
    out
}

fn get(samples: &BTreeMap<String, f64>, key: &str) -> Result<f64, String> {
    samples.get(key).copied().ok_or_else(|| format!("no sample {key}"))
}

/// The one sample of `family` whose key contains all of `parts`.
fn find(
    samples: &BTreeMap<String, f64>,
    family: &str,
    parts: &[&str],
) -> Result<(String, f64), String> {
    let hits: Vec<_> = samples
        .iter()
        .filter(|(k, _)| {
            k.starts_with(&format!("{family}{{")) && parts.iter().all(|p| k.contains(p))
        })
        .collect();
    match hits.as_slice() {
        [(k, v)] => Ok(((*k).clone(), **v)),
        _ => Err(format!("{} samples of {family} with {parts:?}", hits.len())),
    }
}

/// Sum of the sizes of the binlog files in `dir`.
fn binlog_bytes(dir: &std::path::Path) -> u64 {
    local_binlog_files(dir).iter().map(|n| fs::metadata(dir.join(n)).unwrap().len()).sum()
}

#[test]
fn metrics_follow_replication_and_match_show_status() {
    let t = Topology::start(PrimaryOpts::default(), &["--metrics", "127.0.0.1:0"]);
    let (primary, bls, port, data) = (&t.primary, &t.bls, t.port, &t.data);
    let addr = metrics_addr(bls);
    mixed_workload(primary, 30);
    primary.sql("FLUSH BINARY LOGS");
    mixed_workload(primary, 10);
    t.wait_caught_up(CATCH_UP);
    assert!(
        primary.status_u64("Rpl_semi_sync_master_yes_tx") > 0,
        "the primary saw no semi-sync commit"
    );

    let copy = TestDir::new("follow-copy");
    let log = fs::File::create(copy.join("mariadb-binlog.log")).unwrap();
    let first = primary.binlog_files()[0].0.clone();
    let child = mariadb_binlog_raw(port, copy.path(), &first, "--stop-never")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("spawn mariadb-binlog");
    let mut client = KillOnDrop(child);

    let (live, live_pos) = primary.master_status();
    wait_until_ok(CATCH_UP, "the metrics to show the replicated workload", || {
        bls.assert_running();
        if let Some(status) = client.0.try_wait().unwrap() {
            panic!(
                "mariadb-binlog --stop-never exited with {status}; binlogserver log:\n{}",
                bls_log_excerpt(bls, 40)
            );
        }
        let s = samples(&scrape(addr));
        let expect = |key: &str, want: f64| -> Result<(), String> {
            let got = get(&s, key)?;
            if got == want {
                Ok(())
            } else {
                Err(format!("{key} = {got}, expected {want}"))
            }
        };
        expect("binlogserver_upstream_connected", 1.0)?;
        expect("binlogserver_upstream_semi_sync", 1.0)?;
        expect("binlogserver_upstream_behind_bytes", 0.0)?;
        expect("binlogserver_upstream_behind_seconds", 0.0)?;
        let acks = get(&s, "binlogserver_semi_sync_acks_sent_total")?;
        if acks < 1.0 {
            return Err(format!("acks sent {acks}"));
        }
        // Every ACK sent is measured exactly once.
        expect("binlogserver_semi_sync_ack_duration_seconds_count", acks)?;
        expect("binlogserver_semi_sync_ack_duration_seconds_bucket{le=\"+Inf\"}", acks)?;
        let fsyncs = get(&s, "binlogserver_fsync_duration_seconds_count")?;
        if fsyncs < 1.0 || get(&s, "binlogserver_fsync_duration_seconds_sum")? <= 0.0 {
            return Err(format!("fsync histogram: count {fsyncs}"));
        }
        expect("binlogserver_fsync_duration_seconds_bucket{le=\"+Inf\"}", fsyncs)?;
        // Every stored event was received (plus artificial events and heartbeats).
        let files = local_binlog_files(data.path());
        let stored = binlog_bytes(data.path()) - 4 * files.len() as u64;
        if get(&s, "binlogserver_upstream_received_bytes_total")? < stored as f64 {
            return Err(format!("received bytes below the {stored} event bytes stored"));
        }
        if get(&s, "binlogserver_upstream_received_events_total")? < 1.0 {
            return Err("no events received".into());
        }
        expect("binlogserver_disk_used_bytes", binlog_bytes(data.path()) as f64)?;
        expect("binlogserver_binlog_files", files.len() as f64)?;
        expect("binlogserver_downstream_dump_clients", 1.0)?;
        let who = [format!("user=\"{REPL_USER}\""), "host=\"127.0.0.1\"".to_owned()];
        let who: Vec<&str> = who.iter().map(String::as_str).collect();
        let (_, lag) = find(&s, "binlogserver_downstream_lag_bytes", &who)?;
        if lag != 0.0 {
            return Err(format!("downstream lag {lag}"));
        }
        let file = format!("file=\"{live}\"");
        let mut at = who.clone();
        at.push(&file);
        let (_, offset) = find(&s, "binlogserver_downstream_position_bytes", &at)?;
        if offset != live_pos as f64 {
            return Err(format!("downstream position {offset}, primary at {live_pos}"));
        }
        Ok(())
    });

    // SHOW STATUS reports the same figures: each row lies between two scrapes
    // around it (counters only grow; heartbeats keep arriving).
    let before = samples(&scrape(addr));
    let rows =
        bls_sql(port, "SHOW GLOBAL STATUS LIKE 'Binlogserver\\_%'").expect("SHOW GLOBAL STATUS");
    let after = samples(&scrape(addr));
    let mut status = BTreeMap::new();
    for row in rows.lines() {
        let (name, value) =
            row.split_once('\t').unwrap_or_else(|| panic!("a name/value row: {row:?}"));
        let key =
            name.strip_prefix("Binlogserver_").unwrap_or_else(|| panic!("unexpected row {name}"));
        status.insert(
            format!("binlogserver_{key}"),
            value.parse::<f64>().unwrap_or_else(|_| panic!("{row}")),
        );
    }
    assert_eq!(
        status.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "SHOW STATUS rows and scraped samples differ"
    );
    for (key, value) in &status {
        let (lo, hi) = (before[key], after[key]);
        assert!(lo <= *value && *value <= hi, "{key}: SHOW STATUS {value}, scrapes {lo} .. {hi}");
    }
    let one = bls_sql(port, "SHOW STATUS LIKE 'Binlogserver_upstream_connected'").unwrap();
    assert_eq!(one, "Binlogserver_upstream_connected\t1");
    drop(client);
}

#[test]
fn exporter_answers_garbage_with_errors_and_keeps_serving() {
    let opts = PrimaryOpts { semi_sync: false, ..PrimaryOpts::default() };
    let t = Topology::start(opts, &["--metrics", "127.0.0.1:0"]);
    let (bls, addr) = (&t.bls, metrics_addr(&t.bls));
    let cases: [(&[u8], &str); 8] = [
        (b"GET / HTTP/1.1\r\n\r\n", "404"),
        (b"GET /metricsx HTTP/1.1\r\n\r\n", "404"),
        (b"POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", "405"),
        (b"DELETE /metrics HTTP/1.0\r\n\r\n", "405"),
        (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03garbage\r\n\r\n", "400"),
        (b"GET /metrics\r\n\r\n", "400"),
        (b"\r\n\r\n", "400"),
        // A request line that never ends: larger than the exporter reads.
        (&[b'A'; 10 << 10], "431"),
    ];
    for (request, code) in cases {
        let answer = http(addr, request);
        let line = status_line(&answer);
        assert!(
            line.starts_with(&format!("HTTP/1.1 {code} ")),
            "{:?} got {line:?}",
            String::from_utf8_lossy(&request[..request.len().min(40)])
        );
        assert!(
            samples(&scrape(addr)).contains_key("binlogserver_upstream_connected"),
            "still serving"
        );
    }
    assert!(http(addr, b"DELETE /metrics HTTP/1.0\r\n\r\n").contains("\r\nAllow: GET\r\n"));
    // A client that connects and sends nothing is answered after the read timeout;
    // one that hangs up at once costs nothing.
    assert!(status_line(&http(addr, b"")).starts_with("HTTP/1.1 400 "));
    drop(TcpStream::connect(addr).unwrap());
    let s = samples(&scrape(addr));
    assert_eq!(s["binlogserver_downstream_dump_clients"], 0.0);
    // The primary has semi-sync disabled: it flags no event, nothing is acknowledged.
    assert_eq!(s["binlogserver_semi_sync_acks_sent_total"], 0.0);
    assert_eq!(s["binlogserver_semi_sync_ack_duration_seconds_count"], 0.0);
    bls.assert_running();
}
