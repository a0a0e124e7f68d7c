//! The one list of samples: built at read time from [`Counters`], the
//! upstream status, the data directory, the durable end and the registry of
//! downstream connections. The exporter and `SHOW STATUS` both render it.

use std::path::Path;
use std::sync::atomic::Ordering;

use log::warn;

use super::text::{Family, Kind, Sample, Value};
use crate::binlog::BinlogFileName;
use crate::server::registry::{ConnectionView, Registry};
use crate::status::histogram::{Histogram, BUCKETS_US};
use crate::status::{Counters, UpstreamStatus};
use crate::storage::archive::{Archive, ArchiveStats};
use crate::storage::listing::regular_size;
use crate::storage::reader::{file_size, list_files};
use crate::storage::watermark::Watermark;

/// Where the figures come from.
#[derive(Debug)]
pub struct View<'a> {
    /// The counters.
    pub counters: &'a Counters,
    /// Our upstream; `None` when serving a directory without a primary.
    pub upstream: Option<UpstreamStatus>,
    /// The data directory.
    pub dir: &'a Path,
    /// The durable end.
    pub watermark: &'a Watermark,
    /// Downstream connections; `None` when not listening.
    pub registry: Option<&'a Registry>,
    /// Now, in seconds since the epoch.
    pub now_unix: u64,
}

/// Every metric family, in a fixed order.
pub fn collect(v: &View<'_>) -> Vec<Family> {
    let m = v.counters;
    let mut out = Vec::with_capacity(16);
    if let Some(up) = &v.upstream {
        out.extend(upstream(m, up, v.now_unix));
    }
    let files = Files::read(v.dir, v.watermark);
    out.push(gauge(
        "disk_used_bytes",
        "Sum of the sizes of the binlog files in the data directory (local copies only).",
        files.disk_used,
    ));
    out.push(gauge("binlog_files", "Binlog files in the data directory.", files.all.len() as u64));
    if let Some(registry) = v.registry {
        out.extend(downstream(&registry.connections(), &files.durable));
    }
    if let Some(archive) = crate::storage::archive::of(v.dir) {
        out.extend(archive_families(&archive));
    }
    out
}

/// The archive tier's queue and history (`--archive-url`).
fn archive_families(a: &Archive) -> Vec<Family> {
    let s = &a.stats;
    let entries = a.entries();
    vec![
        gauge(
            "archive_queue_files",
            "Closed binlog files not yet verified in the object store.",
            ArchiveStats::get(&s.queue_files),
        ),
        gauge("archive_queue_bytes", "Their bytes.", ArchiveStats::get(&s.queue_bytes)),
        gauge("archived_files", "Binlog files verified in the object store.", entries.len() as u64),
        gauge("archived_bytes", "Their bytes.", entries.iter().map(|e| e.size).sum()),
        counter(
            "archive_uploaded_files_total",
            "Files uploaded and verified since start.",
            ArchiveStats::get(&s.uploaded_files),
        ),
        counter(
            "archive_uploaded_bytes_total",
            "Their bytes.",
            ArchiveStats::get(&s.uploaded_bytes),
        ),
        counter(
            "archive_errors_total",
            "Failed uploads, checks, reads and deletions in the object store since start.",
            ArchiveStats::get(&s.errors),
        ),
        counter(
            "archive_trimmed_files_total",
            "Local copies removed after their archived copy was verified, since start.",
            ArchiveStats::get(&s.trimmed_files),
        ),
        counter(
            "archive_reads_total",
            "Archived files opened for reading from the object store since start.",
            ArchiveStats::get(&s.reads),
        ),
    ]
}

fn upstream(m: &Counters, up: &UpstreamStatus, now_unix: u64) -> Vec<Family> {
    let mut out = vec![
        gauge(
            "upstream_connected",
            "1 while the binlog dump connection to the primary is up, else 0.",
            u64::from(up.connected()),
        ),
        gauge(
            "upstream_semi_sync",
            "1 when the current (or last) dump connection acknowledges semi-sync, else 0.",
            u64::from(up.semi_sync),
        ),
        counter(
            "upstream_received_bytes_total",
            "Event bytes received from the primary, heartbeats and artificial events included.",
            m.bytes_received.load(Ordering::Relaxed),
        ),
        counter(
            "upstream_received_events_total",
            "Events received from the primary, heartbeats and artificial events included.",
            m.events_received.load(Ordering::Relaxed),
        ),
    ];
    if up.connected() {
        if let Some(behind) = up.behind_bytes {
            out.push(gauge(
                "upstream_behind_bytes",
                "Bytes between the last event received and the end of the primary's binlogs as \
                 listed when the connection started (0 once caught up). Absent while disconnected.",
                behind,
            ));
        }
        out.push(gauge(
            "upstream_behind_seconds",
            "While catching up: now minus the timestamp of the last event received (like \
             Seconds_Behind_Master); 0 once caught up with the primary's end. \
             Absent while disconnected.",
            m.seconds_behind(now_unix),
        ));
    }
    out.push(counter(
        "semi_sync_acks_sent_total",
        "Semi-sync ACKs written to the primary, each after the fdatasync covering it.",
        m.acks_sent.load(Ordering::Relaxed),
    ));
    out.push(histogram(
        "fsync_duration_seconds",
        "Duration of each fdatasync of the binlog file being written.",
        &m.fsync,
    ));
    out.push(histogram(
        "semi_sync_ack_duration_seconds",
        "From the arrival of an event the primary flagged for ACK to the ACK written on the socket \
         (batching, write, fdatasync, send).",
        &m.ack_latency,
    ));
    out
}

/// The binlog files: all of them with their sizes on disk, and the durable
/// ones with their durable lengths.
struct Files {
    all: Vec<(BinlogFileName, u64)>,
    durable: Vec<(BinlogFileName, u64)>,
    disk_used: u64,
}

impl Files {
    fn read(dir: &Path, watermark: &Watermark) -> Files {
        let names = list_files(dir).unwrap_or_else(|e| {
            warn!("metrics: cannot list binlogs: {e}");
            Vec::new()
        });
        // A file purged between the listing and the stat is simply gone.
        let all: Vec<(BinlogFileName, u64)> =
            names.into_iter().filter_map(|f| file_size(dir, &f).ok().map(|n| (f, n))).collect();
        let local = |f: &BinlogFileName| regular_size(&dir.join(f.as_str())).is_ok();
        let disk_used = all.iter().filter(|(f, _)| local(f)).map(|(_, n)| n).sum();
        let durable = match watermark.get() {
            None => Vec::new(),
            Some(wm) => all
                .iter()
                .filter(|(f, _)| *f <= wm.file)
                .map(|(f, n)| if *f == wm.file { (f.clone(), wm.offset) } else { (f.clone(), *n) })
                .collect(),
        };
        Files { all, durable, disk_used }
    }
}

/// Bytes from `file:pos` to the durable end, `None` if `file` is not a durable file.
pub fn lag_bytes(durable: &[(BinlogFileName, u64)], file: &str, pos: u64) -> Option<u64> {
    let idx = durable.iter().position(|(f, _)| f.as_str() == file)?;
    let here = durable.get(idx).map_or(0, |(_, len)| len.saturating_sub(pos));
    Some(here + durable.iter().skip(idx + 1).map(|(_, len)| len).sum::<u64>())
}

fn downstream(conns: &[ConnectionView], durable: &[(BinlogFileName, u64)]) -> Vec<Family> {
    let dumps: Vec<&ConnectionView> = conns.iter().filter(|c| c.dump_server_id.is_some()).collect();
    let mut position = Vec::new();
    let mut lag = Vec::new();
    for c in &dumps {
        let labels = vec![
            ("id", c.id.to_string()),
            ("server_id", c.dump_server_id.unwrap_or_default().to_string()),
            ("user", c.user.clone()),
            ("host", c.peer.ip().to_string()),
        ];
        let Some((file, pos)) = &c.position else { continue };
        if let Some(bytes) = lag_bytes(durable, file, *pos) {
            lag.push(Sample { suffix: "", labels: labels.clone(), value: Value::Int(bytes) });
        }
        let mut labels = labels;
        labels.push(("file", file.clone()));
        position.push(Sample { suffix: "", labels, value: Value::Int(*pos) });
    }
    vec![
        gauge(
            "downstream_dump_clients",
            "Connected downstream clients running a binlog dump.",
            dumps.len() as u64,
        ),
        Family {
            name: "downstream_position_bytes",
            help: "Per dump client: offset in the file (label file) it was last sent up to; \
                   reported at the end of each file and whenever the client \
                   reaches the durable end.",
            kind: Kind::Gauge,
            samples: position,
        },
        Family {
            name: "downstream_lag_bytes",
            help: "Per dump client: bytes between its last reported position and the durable end, \
                   summed over files.",
            kind: Kind::Gauge,
            samples: lag,
        },
    ]
}

fn gauge(name: &'static str, help: &'static str, v: u64) -> Family {
    Family { name, help, kind: Kind::Gauge, samples: vec![Sample::plain(Value::Int(v))] }
}

fn counter(name: &'static str, help: &'static str, v: u64) -> Family {
    Family { name, help, kind: Kind::Counter, samples: vec![Sample::plain(Value::Int(v))] }
}

fn histogram(name: &'static str, help: &'static str, h: &Histogram) -> Family {
    let snap = h.snapshot();
    let bounds = BUCKETS_US
        .iter()
        .map(|us| (*us as f64 / 1e6).to_string())
        .chain(std::iter::once("+Inf".to_owned()));
    let mut samples: Vec<Sample> = bounds
        .zip(&snap.cumulative)
        .map(|(le, n)| Sample {
            suffix: "_bucket",
            labels: vec![("le", le)],
            value: Value::Int(*n),
        })
        .collect();
    samples.push(Sample {
        suffix: "_sum",
        labels: Vec::new(),
        value: Value::Float(snap.sum_ns as f64 / 1e9),
    });
    samples.push(Sample { suffix: "_count", labels: Vec::new(), value: Value::Int(snap.count) });
    Family { name, help, kind: Kind::Histogram, samples }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::text::prometheus;
    use std::time::Duration;

    fn name(s: &str) -> BinlogFileName {
        BinlogFileName::new(s).unwrap()
    }

    #[test]
    fn lag_sums_the_rest_of_the_file_and_every_later_file() {
        let durable =
            vec![(name("b.000001"), 1000), (name("b.000002"), 500), (name("b.000003"), 200)];
        assert_eq!(lag_bytes(&durable, "b.000003", 200), Some(0));
        assert_eq!(lag_bytes(&durable, "b.000002", 100), Some(400 + 200));
        assert_eq!(lag_bytes(&durable, "b.000001", 4), Some(996 + 500 + 200));
        assert_eq!(lag_bytes(&durable, "b.000009", 4), None);
    }

    #[test]
    fn histogram_family_renders_cumulative_buckets_sum_and_count() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(40));
        h.observe(Duration::from_millis(2));
        let text = prometheus(&[histogram("fsync_duration_seconds", "fsync", &h)]);
        assert!(
            text.contains("binlogserver_fsync_duration_seconds_bucket{le=\"0.00005\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("binlogserver_fsync_duration_seconds_bucket{le=\"0.001\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("binlogserver_fsync_duration_seconds_bucket{le=\"0.0025\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("binlogserver_fsync_duration_seconds_bucket{le=\"1\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("binlogserver_fsync_duration_seconds_bucket{le=\"+Inf\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("binlogserver_fsync_duration_seconds_sum 0.00204\n"), "{text}");
        assert!(text.contains("binlogserver_fsync_duration_seconds_count 2\n"), "{text}");
    }

    #[test]
    fn upstream_figures_are_absent_without_a_primary_and_behind_only_while_connected() {
        let dir = std::path::PathBuf::from("/nonexistent/binlogserver-metrics-test");
        let m = Counters::default();
        let wm = Watermark::new();
        let mut view = View {
            counters: &m,
            upstream: None,
            dir: &dir,
            watermark: &wm,
            registry: None,
            now_unix: 0,
        };
        let names = |v: &View<'_>| collect(v).iter().map(|f| f.name).collect::<Vec<_>>();
        assert!(!names(&view).contains(&"upstream_connected"));
        view.upstream = Some(UpstreamStatus { behind_bytes: Some(7), ..Default::default() });
        assert!(names(&view).contains(&"upstream_connected"));
        assert!(!names(&view).contains(&"upstream_behind_bytes"));
        view.upstream = Some(UpstreamStatus {
            io: crate::status::IoState::Yes,
            behind_bytes: Some(7),
            ..Default::default()
        });
        assert!(names(&view).contains(&"upstream_behind_bytes"));
        assert!(names(&view).contains(&"upstream_behind_seconds"));
    }
}
