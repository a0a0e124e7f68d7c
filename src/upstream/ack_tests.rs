//! The `semi-sync-ack` sender with the real writer: a primary that stops
//! reading ACKs (a write that blocks) holds up no fsync and no durable
//! end; once it reads again, the ACK of the newest durable request goes
//! out, framed with sequence id 0.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::bounded;

use super::AckSender;
use crate::binlog::scan::walk;
use crate::binlog::BinlogFileName;
use crate::net::{NetError, PacketStream, PacketWriter};
use crate::protocol::command::SemiSyncAck;
use crate::protocol::Reader;
use crate::status::Counters;
use crate::storage::ack_queue::{AckQueue, AckRequest, Close};
use crate::storage::budget::ByteBudget;
use crate::storage::datadir::DataDir;
use crate::storage::index::BinlogIndex;
use crate::storage::watermark::{DurablePosition, Watermark};
use crate::storage::writer::{Writer, WriterMsg};

const FIXTURE: &str =
    "tests/fixtures/binlogs/mariadb_operator_poc/domain_id_0/mariadb-repl-bin.000005";

/// A socket whose peer reads only when the test lets it: every `write`
/// announces itself on `entered`, then blocks until `open` gives a token
/// (or is dropped, after which writes go through).
struct Gate {
    entered: mpsc::Sender<()>,
    open: mpsc::Receiver<()>,
    written: Arc<Mutex<Vec<u8>>>,
}

impl Write for Gate {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _ = self.entered.send(());
        let _ = self.open.recv();
        self.written.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn temp_dir(label: &str) -> PathBuf {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let dir = std::env::temp_dir().join(format!("bls-unit-{label}-{}-{nanos}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// The ACKs in `wire`, decoded.
fn acks_in(wire: Vec<u8>) -> Vec<(u64, Vec<u8>)> {
    struct Input(io::Cursor<Vec<u8>>);
    impl io::Read for Input {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.0.read(buf)
        }
    }
    impl Write for Input {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut ps = PacketStream::new(Input(io::Cursor::new(wire)), 1 << 20);
    let mut acks = Vec::new();
    let mut payload = Vec::new();
    loop {
        ps.expect_seq(0);
        match ps.read_packet(&mut payload) {
            Ok(()) => {}
            Err(NetError::Closed) => return acks,
            Err(e) => panic!("{e:?}"),
        }
        let ack = SemiSyncAck::decode(&mut Reader::new(&payload)).unwrap();
        acks.push((ack.position, ack.file));
    }
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

/// A writer over a fresh data directory: its sender, thread and watermark.
fn start_writer(
    dir: &Path,
) -> (crossbeam_channel::Sender<WriterMsg>, thread::JoinHandle<()>, Watermark) {
    let datadir = DataDir::open(dir).unwrap();
    let index = BinlogIndex::with_store(datadir.path(), datadir.store(), Vec::new());
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
    let handle = thread::spawn(move || writer.run().unwrap());
    (tx, handle, watermark)
}

#[test]
fn a_primary_that_stops_reading_acks_holds_up_no_fsync_and_no_durable_end() {
    let bytes = fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE)).unwrap();
    let dir = temp_dir("wedged-ack");
    let (tx, writer, watermark) = start_writer(&dir);
    let (entered_tx, entered) = mpsc::channel();
    let (open, open_rx) = mpsc::channel();
    let written = Arc::default();
    let gate = Gate { entered: entered_tx, open: open_rx, written: Arc::clone(&written) };
    let queue = AckQueue::new(watermark.clone());
    let counters = Arc::new(Counters::default());
    let sender = AckSender::new(queue.clone(), PacketWriter::new(gate, false), counters.clone());
    let sender = thread::spawn(move || sender.run());

    // The dump thread's part, on a thread of its own so that a stall in
    // it fails the wait below instead of hanging the test.
    let file = BinlogFileName::new("mysql-bin.000001").unwrap();
    let dump = {
        let (queue, file) = (queue.clone(), file.clone());
        thread::spawn(move || {
            tx.send(WriterMsg::Open { file: file.clone(), create: true }).unwrap();
            let (mut end, mut newest) = (4, 0);
            for event in walk(&bytes) {
                end = event.end();
                if event.at_boundary {
                    newest = end;
                    let arrived = Instant::now();
                    queue.push(AckRequest { file: file.clone(), position: end, arrived });
                }
                tx.send(WriterMsg::Append { bytes: event.bytes.to_vec(), skip: 0, end }).unwrap();
            }
            (end, newest)
        })
    };
    // The dump thread hands over every event, and every event becomes
    // durable, while the ACK sender is stuck in its first write (the
    // "primary" reads nothing).
    wait_until("the dump thread to hand over every event", || dump.is_finished());
    let (end, newest) = dump.join().unwrap();
    assert!(newest > 0 && end > 10_000, "the fixture has transactions");
    wait_until("the durable end of all events", || {
        watermark.get() == Some(DurablePosition { file: file.clone(), offset: end })
    });
    assert!(
        entered.recv_timeout(Duration::from_secs(10)).is_ok(),
        "the ACK sender is blocked writing its first ACK"
    );
    assert_eq!(counters.acks_sent.load(Ordering::Relaxed), 0, "no ACK got through yet");
    writer.join().unwrap();

    // The primary reads again: the ACK of the newest request follows.
    drop(open);
    queue.close(Close::Drain { until: Instant::now() + Duration::from_secs(10) });
    sender.join().unwrap().unwrap();
    let acks = acks_in(written.lock().unwrap().clone());
    assert!(!acks.is_empty() && acks.len() <= 2, "the blocked ACK, then the newest: {acks:?}");
    assert_eq!(acks.last(), Some(&(newest, b"mysql-bin.000001".to_vec())));
    assert_eq!(counters.acks_sent.load(Ordering::Relaxed), acks.len() as u64);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_failed_ack_write_ends_the_sender_with_the_error() {
    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let watermark = Watermark::new();
    let file = BinlogFileName::new("mysql-bin.000001").unwrap();
    watermark.publish(DurablePosition { file: file.clone(), offset: 100 });
    let queue = AckQueue::new(watermark);
    queue.push(AckRequest { file, position: 100, arrived: Instant::now() });
    let sender = AckSender::new(queue, PacketWriter::new(Broken, false), Arc::default());
    let err = sender.run().unwrap_err();
    assert!(matches!(err, NetError::Io { op: "write semi-sync ack", .. }), "{err:?}");
}
