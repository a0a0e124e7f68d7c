//! The writer against the durability-tracking double: randomized message
//! sequences (opens, rotations, appends, ACK requests, connections and
//! their ACK queues coming and going) from a deterministic PRNG, many
//! seeds, some with a full disk or a failed fsync injected. Each
//! connection's ACKs are released by an ACK sender double that, like the
//! real `semi-sync-ack` thread, sends what [`AckQueue::next`] releases
//! from the published durable end, on its own thread.
//!
//! Checked at every step: no ACK and no published watermark ever exceeds
//! the durable bytes; a reader that follows the watermark the way
//! `BinlogSender` does never reads past them; after a fault nothing more is
//! written or published, nothing past the watermark of the fault is ACKed,
//! and the writer ends with the fault's error; a crash image (only the
//! durable bytes) and the files as the stopped writer left them both
//! recover to at least the last ACKed position; a connection that stays
//! gets the ACK of its newest request.

// Random picks are small numbers.
#![allow(clippy::cast_possible_truncation)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::bounded;

use super::ack_queue::{AckQueue, AckRequest, Close};
use super::budget::ByteBudget;
use super::datadir::DataDir;
use super::fs_double::{Fault, TrackingStore};
use super::reader::{file_size, BinlogReader};
use super::recovery::recover;
use super::watermark::Watermark;
use super::writer::{Writer, WriterMsg};
use super::StorageError;
use crate::binlog::scan::walk;
use crate::binlog::BinlogFileName;

const FIXTURE: &str =
    "tests/fixtures/binlogs/mariadb_operator_poc/domain_id_0/mariadb-repl-bin.000005";
const SEEDS: u64 = 100;

/// splitmix64: small, deterministic, good enough to pick test cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// One event of the fixture: its bytes, where it ends, whether a
/// transaction ends with it.
struct Ev {
    bytes: Vec<u8>,
    end: u64,
    boundary: bool,
}

fn fixture_events() -> Vec<Ev> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    let bytes = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let events: Vec<Ev> = walk(&bytes)
        .map(|e| Ev { bytes: e.bytes.to_vec(), end: e.end(), boundary: e.at_boundary })
        .collect();
    assert!(
        events.len() > 50 && events.iter().filter(|e| e.boundary).count() > 20,
        "fixture has transactions"
    );
    events
}

fn temp_dir(label: &str) -> PathBuf {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let dir = std::env::temp_dir().join(format!("bls-unit-{label}-{}-{nanos}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn name(n: u64) -> BinlogFileName {
    BinlogFileName::new(format!("mysql-bin.{n:06}")).unwrap()
}

/// What the ACK senders sent, in order, with their connection.
type Sent = Arc<Mutex<Vec<(u64, AckRequest)>>>;
/// Connections whose socket broke.
type Broke = Arc<Mutex<Vec<u64>>>;

/// The ACK sender double of one connection: sends what the queue
/// releases, checking each ACK against the double; now and then its
/// "socket" breaks and it stops, as the real thread does.
fn ack_sender(
    connection: u64,
    queue: AckQueue,
    store: &TrackingStore,
    sent: &Sent,
    broke: &Broke,
    seed: u64,
) -> JoinHandle<()> {
    let (store, sent, broke) = (store.clone(), sent.clone(), broke.clone());
    let mut rng = Rng(seed);
    thread::spawn(move || {
        while let Some(ack) = queue.next() {
            store.check_ack(&ack);
            if rng.chance(2) {
                broke.lock().unwrap().push(connection);
                return;
            }
            sent.lock().unwrap().push((connection, ack));
        }
    })
}

/// The steps of one run, made up front from the seed.
enum Step {
    Msg(WriterMsg),
    /// The dump thread queues an ACK request (before the bytes it covers).
    Ack(AckRequest),
    /// A connection with its ACK queue and sender starts.
    Connect {
        connection: u64,
        seed: u64,
    },
    /// The connection breaks: its queue is discarded.
    Disconnect,
}

/// The steps, the bytes they write (index rewrites included) and the byte
/// counts at which each new file is created.
fn plan(rng: &mut Rng, events: &[Ev]) -> (Vec<Step>, u64, Vec<u64>) {
    let mut steps = Vec::new();
    let mut creates = Vec::new();
    let mut connection = 1;
    let mut bytes_total = 0;
    steps.push(Step::Connect { connection, seed: rng.next() });
    let files = 1 + rng.below(4);
    for f in 1..=files {
        steps.push(Step::Msg(WriterMsg::Open { file: name(f), create: true }));
        creates.push(bytes_total);
        // The magic, then the index: "./mysql-bin.00000N\n" per file.
        bytes_total += 4 + 19 * f;
        // The last file is left at a random event; earlier ones end anywhere too
        // (what matters is what the writer does, not a ROTATE at the end).
        let count = 1 + rng.below(events.len() as u64) as usize;
        let mut i = 0;
        while i < count {
            let n = (1 + rng.below(8) as usize).min(count - i);
            let batch = &events[i..i + n];
            i += n;
            let last = batch.last().unwrap();
            let skip = rng.below(6) as usize;
            let mut bytes = vec![0xEE; skip];
            for e in batch {
                bytes.extend_from_slice(&e.bytes);
            }
            bytes_total += (bytes.len() - skip) as u64;
            if last.boundary && rng.chance(70) {
                let arrived = Instant::now();
                steps.push(Step::Ack(AckRequest { file: name(f), position: last.end, arrived }));
            }
            steps.push(Step::Msg(WriterMsg::Append { bytes, skip, end: last.end }));
            if rng.chance(5) {
                // A reconnect: the old queue goes, the same file is reopened.
                steps.push(Step::Disconnect);
                connection += 1;
                if rng.chance(85) {
                    steps.push(Step::Connect { connection, seed: rng.next() });
                }
                steps.push(Step::Msg(WriterMsg::Open { file: name(f), create: false }));
            }
        }
    }
    (steps, bytes_total, creates)
}

/// Follows the watermark like `BinlogSender`: the live file up to the
/// watermark, a closed file to its end; checks each event against the double.
fn follow(
    dir: &Path,
    watermark: &Watermark,
    store: &TrackingStore,
    stop: &AtomicBool,
) -> Result<u64, String> {
    let mut file = name(1);
    let mut reader: Option<BinlogReader> = None;
    let mut buf = Vec::new();
    let mut events = 0;
    loop {
        let version = watermark.version();
        let Some(wm) = watermark.get() else {
            if stop.load(Ordering::SeqCst) {
                return Ok(events);
            }
            watermark.wait_change(version, Duration::from_millis(20));
            continue;
        };
        let (limit, closed) = if wm.file == file {
            (wm.offset, false)
        } else if file < wm.file {
            (file_size(dir, &file).map_err(|e| e.to_string())?, true)
        } else {
            return Err(format!("watermark {}:{} went back before {file}", wm.file, wm.offset));
        };
        if reader.is_none() {
            reader = Some(BinlogReader::open(dir, &file, 4).map_err(|e| e.to_string())?);
        }
        let r = reader.as_mut().unwrap();
        if r.next_event(limit, &mut buf).map_err(|e| format!("{e:?}"))? {
            events += 1;
            let state = store.file(&dir.join(file.as_str()));
            if r.position() > state.durable || !state.entry_durable {
                return Err(format!(
                    "read {file} up to {} but only {} bytes are durable",
                    r.position(),
                    state.durable
                ));
            }
            continue;
        }
        if closed {
            file = name(file.sequence() + 1);
            reader = None;
            continue;
        }
        if stop.load(Ordering::SeqCst) {
            return Ok(events);
        }
        watermark.wait_change(version, Duration::from_millis(20));
    }
}

struct Outcome {
    result: Result<(), StorageError>,
    /// The ACKs sent, with their connection.
    sent: Vec<(u64, AckRequest)>,
    broke: Vec<u64>,
    store: TrackingStore,
    dir: PathBuf,
    watermark: Watermark,
    /// The newest request of the connection open at the end.
    last_request: Option<(u64, AckRequest)>,
    read_events: u64,
}

/// The connection open now: its id, queue and ACK sender.
type Live = Option<(u64, AckQueue, JoinHandle<()>)>;

/// Ends a connection's ACK sender the way the dump thread does.
fn end_connection(live: &mut Live, how: Close) {
    if let Some((_, queue, sender)) = live.take() {
        queue.close(how);
        sender.join().unwrap();
    }
}

fn run(seed: u64, events: &[Ev], fault_kind: u64) -> Outcome {
    let mut rng = Rng(seed);
    let (steps, bytes_total, creates) = plan(&mut rng, events);
    let fault = match fault_kind {
        // Often right where a file is created (its magic or the index rewrite).
        1 if rng.chance(40) => {
            let at = creates[rng.below(creates.len() as u64) as usize];
            Fault::NoSpaceAfter(at + rng.below(4 + 19 * creates.len() as u64))
        }
        1 => Fault::NoSpaceAfter(rng.below(bytes_total + 200)),
        2 => Fault::SyncFailsAt(1 + rng.below(12) as usize),
        _ => Fault::None,
    };
    let dir = temp_dir(&format!("writer-{seed}"));
    let watermark = Watermark::new();
    let store = TrackingStore::new(&dir, watermark.clone(), fault);
    let datadir = DataDir::open_with(&dir, Arc::new(store.clone())).unwrap();
    let (tx, rx) = bounded(4);
    let budget = ByteBudget::new(1 << 20);
    let index =
        crate::storage::index::BinlogIndex::with_store(datadir.path(), datadir.store(), Vec::new());
    let writer = Writer::new(
        datadir,
        index,
        rx,
        watermark.clone(),
        budget.clone(),
        std::sync::Arc::default(),
    );
    let writer =
        thread::Builder::new().name("binlog-writer".into()).spawn(move || writer.run()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let follower = {
        let (dir, watermark, store, stop) =
            (dir.clone(), watermark.clone(), store.clone(), stop.clone());
        thread::spawn(move || follow(&dir, &watermark, &store, &stop))
    };
    let sent: Sent = Arc::default();
    let broke: Broke = Arc::default();
    let mut last_request = None;
    let mut live: Live = None;
    for step in steps {
        match step {
            Step::Connect { connection, seed } => {
                let queue = AckQueue::new(watermark.clone());
                let sender = ack_sender(connection, queue.clone(), &store, &sent, &broke, seed);
                live = Some((connection, queue, sender));
            }
            Step::Disconnect => {
                end_connection(&mut live, Close::Discard);
                last_request = None;
            }
            Step::Ack(request) => {
                if let Some((connection, queue, _)) = &live {
                    last_request = Some((*connection, request.clone()));
                    queue.push(request);
                }
            }
            Step::Msg(msg) => {
                if tx.send(msg).is_err() {
                    break;
                }
            }
        }
    }
    drop(tx);
    let result = writer.join().unwrap();
    // A clean stop drains the ACKs of what the writer made durable.
    let until = Instant::now() + Duration::from_secs(if result.is_ok() { 10 } else { 0 });
    end_connection(&mut live, Close::Drain { until });
    stop.store(true, Ordering::SeqCst);
    let read_events = follower.join().unwrap().unwrap_or_else(|e| {
        panic!("seed {seed}: reader: {e}; violations: {:?}", store.violations())
    });
    store.check_watermark("the end of the run");
    let sent = sent.lock().unwrap().clone();
    let broke = broke.lock().unwrap().clone();
    Outcome { result, sent, broke, store, dir, watermark, last_request, read_events }
}

/// Copies the durable part of every file whose entry is durable: what a
/// power cut at the end of the run would leave.
fn crash_image(out: &Outcome) -> PathBuf {
    let image = temp_dir("crash-image");
    for (path, f) in out.store.files() {
        if !f.entry_durable {
            continue;
        }
        let bytes = fs::read(&path).unwrap();
        let keep = usize::try_from(f.durable).unwrap();
        fs::write(image.join(path.file_name().unwrap()), &bytes[..keep]).unwrap();
    }
    image
}

/// Recovers `dir` and checks that it ends at or after the last ACK sent.
fn assert_recovers_past_acks(seed: u64, dir: &Path, sent: &[(u64, AckRequest)], what: &str) {
    let recovered = recover(&DataDir::open(dir).unwrap())
        .unwrap_or_else(|e| panic!("seed {seed}: {what}: {e}"));
    let Some(last) = sent.iter().map(|(_, a)| a).max_by_key(|a| (&a.file, a.position)) else {
        return;
    };
    let tail = recovered
        .tail
        .unwrap_or_else(|| panic!("seed {seed}: {what}: no files, but {last:?} was acked"));
    assert!(
        (&tail.file, tail.len) >= (&last.file, last.position),
        "seed {seed}: {what} recovers to {}:{} but {}:{} was acked",
        tail.file,
        tail.len,
        last.file,
        last.position
    );
}

fn check(seed: u64, out: &Outcome) {
    let violations = out.store.violations();
    assert!(violations.is_empty(), "seed {seed}: {}", violations.join("\n"));
    for pair in out.sent.windows(2) {
        let ((ca, a), (cb, b)) = (&pair[0], &pair[1]);
        assert!(
            (&a.file, a.position) < (&b.file, b.position) || ca != cb,
            "seed {seed}: acks of connection {ca} went backwards or repeated: {a:?} then {b:?}"
        );
    }
    if out.store.fired() {
        match &out.result {
            Err(StorageError::Io { source, .. })
                if matches!(source.raw_os_error(), Some(28 | 5)) => {}
            other => {
                panic!("seed {seed}: the writer must stop with the injected error, got {other:?}")
            }
        }
    } else {
        assert!(out.result.is_ok(), "seed {seed}: {:?}", out.result);
        for (path, f) in out.store.files() {
            assert_eq!(
                f.written,
                f.durable,
                "seed {seed}: {} not synced at the end",
                path.display()
            );
        }
        // The newest request of the connection that stayed is answered.
        if let Some((connection, req)) = &out.last_request {
            let answered = out
                .sent
                .iter()
                .any(|(c, a)| c == connection && a.position >= req.position && a.file == req.file);
            let sink_broke = out.broke.contains(connection);
            assert!(
                answered || sink_broke,
                "seed {seed}: {req:?} was never acked; sent {:?}",
                out.sent.last()
            );
        }
        let wm = out.watermark.get().unwrap();
        let len = fs::metadata(out.dir.join(wm.file.as_str())).unwrap().len();
        assert_eq!(wm.offset, len, "seed {seed}: the final watermark is the end of the last file");
    }
    // A file whose creation failed is removed, not left without its magic;
    // so is the temporary index of a failed rewrite.
    for entry in fs::read_dir(&out.dir).unwrap() {
        let entry = entry.unwrap();
        let file_name = entry.file_name().into_string().unwrap();
        assert!(!file_name.ends_with(".tmp"), "seed {seed}: {file_name} left behind");
        if BinlogFileName::new(&file_name).is_ok() {
            let len = entry.metadata().unwrap().len();
            assert!(len >= 4, "seed {seed}: {file_name} left with {len} bytes");
        }
    }
    let image = crash_image(out);
    assert_recovers_past_acks(seed, &image, &out.sent, "the crash image");
    fs::remove_dir_all(image).unwrap();
    assert_recovers_past_acks(seed, &out.dir, &out.sent, "the files the writer left");
}

fn run_seeds(fault_kind: u64) -> (u64, u64, usize) {
    let events = fixture_events();
    let (mut fired, mut read, mut acks) = (0, 0, 0);
    for seed in 0..SEEDS {
        let out = run(seed * 3 + fault_kind + 1000 * fault_kind, &events, fault_kind);
        check(seed, &out);
        fired += u64::from(out.store.fired());
        read += out.read_events;
        acks += out.sent.len();
        fs::remove_dir_all(&out.dir).unwrap();
    }
    (fired, read, acks)
}

#[test]
fn acks_and_watermark_never_pass_the_durable_end() {
    let (fired, read, acks) = run_seeds(0);
    assert_eq!(fired, 0);
    assert!(
        read > SEEDS * 10 && acks > SEEDS as usize,
        "the runs did something: read {read} events, {acks} acks"
    );
}

#[test]
fn a_full_disk_stops_writing_acking_and_publishing() {
    let (fired, _, _) = run_seeds(1);
    assert!(fired > SEEDS * 3 / 4, "the fault fired in {fired} of {SEEDS} runs");
}

#[test]
fn a_failed_fsync_stops_writing_acking_and_publishing() {
    let (fired, _, _) = run_seeds(2);
    assert!(fired > SEEDS / 2, "the fault fired in {fired} of {SEEDS} runs");
}

/// Data that no ACK waits for is published while it streams in, one fsync
/// after it arrives, not only once the stream pauses (the writer once
/// waited for a quiet period first, which a busy primary never gives).
#[test]
fn a_stream_that_never_pauses_is_published_while_it_flows() {
    const APPENDS: u64 = 20_000;
    const LEN: u64 = 100;
    let dir = temp_dir("busy-stream");
    let datadir = DataDir::open(&dir).unwrap();
    let index =
        crate::storage::index::BinlogIndex::with_store(datadir.path(), datadir.store(), Vec::new());
    let watermark = Watermark::new();
    let (tx, rx) = bounded(4);
    let writer = Writer::new(
        datadir,
        index,
        rx,
        watermark.clone(),
        ByteBudget::new(1 << 30),
        Arc::default(),
    );
    let writer = thread::spawn(move || writer.run());
    tx.send(WriterMsg::Open { file: name(1), create: true }).unwrap();
    let first = watermark.version();
    // The writer only checks lengths: any bytes do. The queue stays full.
    for i in 1..=APPENDS {
        tx.send(WriterMsg::Append { bytes: vec![0; LEN as usize], skip: 0, end: 4 + i * LEN })
            .unwrap();
    }
    let during = watermark.version() - first;
    let offset = watermark.get().map_or(0, |w| w.offset);
    drop(tx);
    writer.join().unwrap().unwrap();
    assert!(
        during >= 10 && offset > 4,
        "published {during} times (last at {offset}) while {} bytes streamed in",
        APPENDS * LEN
    );
    fs::remove_dir_all(dir).unwrap();
}
