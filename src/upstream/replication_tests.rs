//! The replication thread without a primary: requests, their checks and
//! answers, what is stored, and the dump's life (its primary's port is
//! closed, so it keeps reconnecting). Following a real primary is tested
//! in tests/it/replication_control.rs.

use std::fs;
use std::path::PathBuf;
use std::time::Instant;

use super::*;
use crate::binlog::BinlogFileName;
use crate::status::control::{ChangeMaster, ReplicationControl};
use crate::storage::budget::ByteBudget;
use crate::storage::recovery::Tail;
use crate::storage::watermark::{DurablePosition, Watermark};
use crate::upstream::plan::Plan;
use crate::upstream::{SemiSyncMode, StartFrom, DEFAULT_CONNECT_RETRY};

struct Fixture {
    dir: PathBuf,
    handle: ControlHandle,
    status: Arc<Mutex<UpstreamStatus>>,
    shutdown: Shutdown,
    waker: ReplicationWaker,
    thread: Option<JoinHandle<Result<(), UpstreamError>>>,
    _writer_rx: crossbeam_channel::Receiver<crate::storage::writer::WriterMsg>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.shutdown.trigger();
        self.waker.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn cfg(port: u16) -> UpstreamConfig {
    UpstreamConfig {
        host: "127.0.0.1".into(),
        port,
        user: "repl".into(),
        password: "pw".into(),
        server_id: 1001,
        semi_sync: SemiSyncMode::Off,
        heartbeat: Duration::from_secs(1),
        start: StartFrom::Oldest,
        connect_timeout: Duration::from_secs(1),
        connect_retry: DEFAULT_CONNECT_RETRY,
        trace_packets: false,
        ssl: crate::net::tls::SslSettings::default(),
        server_public_key: None,
        get_server_public_key: false,
    }
}

fn name(s: &str) -> BinlogFileName {
    BinlogFileName::new(s).unwrap()
}

/// A MariaDB binlog with a GTID_LIST (stored as `mysql-bin.000123`).
const MARIADB: &[u8] =
    include_bytes!("../../tests/fixtures/binlogs/mysql_common/mariadb-bin.000001");

/// A replication thread over a directory holding `mysql-bin.000123` (a
/// MariaDB fixture), stopped or following a closed port.
fn start(label: &str, run: RunState) -> Fixture {
    let (r, dir, writer_rx) = replication(label, run, None);
    let (handle, waker) = (r.handle(), r.waker());
    let (status, shutdown) = (Arc::clone(&r.shared.status), r.shared.shutdown.clone());
    let thread = Some(thread::spawn(move || r.run()));
    Fixture { dir, handle, status, shutdown, waker, thread, _writer_rx: writer_rx }
}

/// The thread's state for [`start`] (not running), with a plan's switch
/// (as from `--start-file`); its directory and the writer's queue.
fn replication(
    label: &str,
    run: RunState,
    switch: Option<&str>,
) -> (Replication, PathBuf, crossbeam_channel::Receiver<crate::storage::writer::WriterMsg>) {
    let dir = std::env::temp_dir().join(format!("bls-repl-{label}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("mysql-bin.000123"), MARIADB).unwrap();
    let len = MARIADB.len() as u64;
    let tail =
        Tail { file: name("mysql-bin.000123"), len, fd: None, rotated_to: None, last_event: None };
    let durable = Watermark::new();
    durable.publish(DurablePosition { file: tail.file.clone(), offset: len });
    let (tx, writer_rx) = crossbeam_channel::bounded(4);
    let writer = ToWriter { tx, budget: ByteBudget::new(1 << 20), durable, dir: dir.clone() };
    let shared = Shared {
        writer,
        shutdown: Shutdown::new(),
        status: Arc::new(Mutex::new(UpstreamStatus::default())),
        counters: Arc::default(),
    };
    let plan = Plan {
        cfg: cfg(closed_port()),
        run,
        heartbeat_period: None,
        connect_retry: None,
        ssl: None,
        public_key_path: None,
        get_public_key: None,
        switch: switch.map(name),
        switch_from_command_line: switch.is_some(),
        stored: false,
        warnings: Vec::new(),
    };
    let r = Replication::new(plan, cfg(0), StreamState::resume(Some(&tail)), shared);
    (r, dir, writer_rx)
}

fn by() -> Requester {
    Requester { user: "admin".into(), host: "127.0.0.1".into(), connection_id: 9 }
}

impl Fixture {
    fn stored(&self) -> StoredUpstream {
        upstream_file::load(&self.dir).unwrap().expect("a stored upstream")
    }

    fn io(&self) -> IoState {
        self.status.lock().unwrap().io
    }

    fn wait_status(&self, what: &str, cond: impl Fn(&UpstreamStatus) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cond(&self.status.lock().unwrap()) {
            assert!(Instant::now() < deadline, "{what}: {:?}", self.status.lock().unwrap());
            thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn stop_and_start_control_the_dump_and_are_stored() {
    let f = start("stop-start", RunState::Running);
    f.wait_status("a failed connect", |s| s.last_io_errno == 2003 && s.io == IoState::Connecting);
    assert!(upstream_file::load(&f.dir).unwrap().is_none(), "nothing stored before a request");
    let change = ChangeMaster { port: Some(3306), ..ChangeMaster::default() };
    assert_eq!(f.handle.change_master(&change, &by()), Err(ControlError::MustStop));
    assert_eq!(f.handle.start_slave(&by()), Ok(true), "already running: warning 1254");
    assert_eq!(f.handle.stop_slave(&by()), Ok(false));
    assert_eq!(f.io(), IoState::No);
    assert_eq!(f.stored().run, RunState::Stopped);
    assert_eq!(f.stored().host, "127.0.0.1", "the command line's upstream is stored");
    assert_eq!(f.handle.stop_slave(&by()), Ok(true), "already stopped: warning 1255");
    assert_eq!(f.handle.start_slave(&by()), Ok(false));
    assert_eq!(f.stored().run, RunState::Running);
    f.wait_status("connecting again", |s| s.io == IoState::Connecting);
    assert_eq!(f.handle.stop_slave(&by()), Ok(false));
}

#[test]
fn change_master_checks_its_options_and_stores_them_mode_0600() {
    let f = start("change", RunState::Stopped);
    let ask = |c: ChangeMaster| f.handle.change_master(&c, &by());
    let wrong = |r: Result<(), ControlError>, needle: &str| match r {
        Err(ControlError::WrongArguments(why)) => assert!(why.contains(needle), "{why}"),
        other => panic!("{needle}: {other:?}"),
    };
    let host = |h: &str| Some(h.to_owned());
    wrong(ask(ChangeMaster { host: host(" "), ..Default::default() }), "MASTER_HOST");
    wrong(ask(ChangeMaster { log_pos: Some(4), ..Default::default() }), "needs MASTER_LOG_FILE");
    let file =
        |f: &str, pos| ChangeMaster { log_file: host(f), log_pos: pos, ..Default::default() };
    wrong(ask(file("mysql-bin.000124", Some(120))), "MASTER_LOG_POS must be 4");
    wrong(ask(file("nonsense", Some(4))), "not a binlog file name");
    wrong(ask(file("mysql-bin.000123", Some(4))), "already holds mysql-bin.000123");
    match ask(file("mysql-bin.000100", None)) {
        Err(ControlError::SwitchRefused(why)) => {
            assert!(why.contains("FLUSH BINARY LOGS"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    let zero = ChangeMaster { heartbeat_period: Some(Duration::ZERO), ..Default::default() };
    wrong(ask(zero), "MASTER_HEARTBEAT_PERIOD");
    assert!(upstream_file::load(&f.dir).unwrap().is_none(), "nothing stored on a refusal");

    let full = ChangeMaster {
        host: host("db2"),
        port: Some(3310),
        user: host("repl2"),
        password: host("secret"),
        log_file: host("mysql-bin.000124"),
        log_pos: Some(4),
        heartbeat_period: Some(Duration::from_millis(250)),
        connect_retry: Some(Duration::from_secs(3)),
        ..ChangeMaster::default()
    };
    ask(full).unwrap();
    let s = f.stored();
    assert_eq!((s.host.as_str(), s.port, s.user.as_str()), ("db2", 3310, "repl2"));
    assert_eq!((s.password.as_str(), s.run), ("secret", RunState::Stopped));
    assert_eq!(s.switch_file, Some(name("mysql-bin.000124")));
    assert_eq!(s.heartbeat_period, Some(Duration::from_millis(250)));
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(upstream_file::path_in(&f.dir)).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    {
        let st = f.status.lock().unwrap();
        assert_eq!((st.host.as_str(), st.port, st.user.as_str()), ("db2", 3310, "repl2"));
        assert_eq!(
            (st.heartbeat_period, st.connect_retry),
            (s.heartbeat_period.unwrap(), Duration::from_secs(3))
        );
    }
    // Only the password: the pending switch stays; a new host forgets it.
    ask(ChangeMaster { password: host("other"), ..Default::default() }).unwrap();
    assert_eq!(f.stored().switch_file, Some(name("mysql-bin.000124")));
    ask(ChangeMaster { host: host("db3"), ..Default::default() }).unwrap();
    assert_eq!(f.stored().switch_file, None);
}

#[test]
fn master_public_key_is_read_at_change_master_stored_restored_and_reset() {
    let (mut r, dir, _writer_rx) = replication("pubkey", RunState::Stopped, None);
    let key_file = dir.join("primary-rsa.pem");
    fs::write(&key_file, include_str!("../../tests/fixtures/rsa/test_key_public.pem")).unwrap();
    let not_a_key = dir.join("not-a-key.pem");
    fs::write(&not_a_key, "-----BEGIN CERTIFICATE-----\nnope\n").unwrap();
    let path = |p: &std::path::Path| Some(p.to_str().unwrap().to_owned());
    let ask = |r: &mut Replication, c: ChangeMaster| r.change_master(&c, &by());
    for (bad, needle) in [(dir.join("missing.pem"), "cannot read"), (not_a_key, "not a PEM RSA")] {
        let c = ChangeMaster { public_key_path: path(&bad), ..Default::default() };
        match ask(&mut r, c) {
            Err(ControlError::WrongArguments(why)) => assert!(
                why.contains("MASTER_PUBLIC_KEY_PATH")
                    && why.contains(bad.to_str().unwrap())
                    && why.contains(needle),
                "{why}"
            ),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    assert!(upstream_file::load(&dir).unwrap().is_none(), "nothing stored on a refusal");

    let set = ChangeMaster {
        public_key_path: path(&key_file),
        get_public_key: Some(true),
        ..Default::default()
    };
    ask(&mut r, set).unwrap();
    assert!(r.settings.cfg.server_public_key.is_some() && r.settings.cfg.get_server_public_key);
    let stored = upstream_file::load(&dir).unwrap().unwrap();
    assert_eq!(stored.public_key_path.as_deref(), Some(key_file.as_path()));
    assert_eq!(stored.get_public_key, Some(true));
    {
        let st = r.shared.status.lock().unwrap();
        assert_eq!(
            (st.public_key_path.as_str(), st.get_public_key),
            (key_file.to_str().unwrap(), true)
        );
    }
    // Restored at start: the plan carries the stored path and flag.
    let follow = cfg(0);
    let plan = crate::upstream::plan::plan(None, &follow, Some(&stored), &[]).unwrap().unwrap();
    assert_eq!(plan.public_key_path.as_deref(), Some(key_file.as_path()));
    assert!(plan.cfg.get_server_public_key);

    // Other options keep the key; an empty path forgets it.
    ask(&mut r, ChangeMaster { password: Some("x".into()), ..Default::default() }).unwrap();
    assert!(r.settings.cfg.server_public_key.is_some());
    ask(&mut r, ChangeMaster { public_key_path: Some(String::new()), ..Default::default() })
        .unwrap();
    assert!(r.settings.cfg.server_public_key.is_none());
    assert_eq!(upstream_file::load(&dir).unwrap().unwrap().public_key_path, Some(PathBuf::new()));
    // RESET SLAVE ALL forgets both: the command line's settings again.
    r.reset_slave(true, &by()).unwrap();
    let stored = upstream_file::load(&dir).unwrap().unwrap();
    assert_eq!((stored.public_key_path, stored.get_public_key), (None, None));
    assert!(!r.settings.cfg.get_server_public_key);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn reset_slave_forgets_the_switch_and_reset_all_the_primary() {
    let f = start("reset", RunState::Stopped);
    let switch = ChangeMaster { log_file: Some("mysql-bin.000130".into()), ..Default::default() };
    f.handle.change_master(&switch, &by()).unwrap();
    // The new primary cannot be reached: following starts, and checks first.
    assert_eq!(f.handle.start_slave(&by()), Ok(false));
    f.wait_status("a failed check", |s| s.last_io_errno == 2003);
    assert_eq!(f.handle.reset_slave(false, &by()), Err(ControlError::MustStop));
    f.handle.stop_slave(&by()).unwrap();
    f.handle.reset_slave(false, &by()).unwrap();
    let s = f.stored();
    assert_eq!((s.switch_file, s.host.as_str()), (None, "127.0.0.1"));
    f.handle.reset_slave(true, &by()).unwrap();
    let s = f.stored();
    assert_eq!((s.run, s.host.as_str(), s.user.as_str()), (RunState::Reset, "", ""));
    assert_eq!(f.handle.start_slave(&by()), Err(ControlError::NotConfigured));
    assert_eq!(f.status.lock().unwrap().host, "");
    let again = ChangeMaster { host: Some("db4".into()), ..Default::default() };
    f.handle.change_master(&again, &by()).unwrap();
    assert_eq!(f.stored().run, RunState::Stopped, "configured again, not following yet");
}

#[test]
fn shutdown_stops_a_dump_that_is_reconnecting() {
    let mut f = start("shutdown", RunState::Running);
    f.wait_status("a failed connect", |s| s.last_io_errno == 2003);
    let began = Instant::now();
    f.shutdown.trigger();
    f.waker.wake();
    let result = f.thread.take().unwrap().join().unwrap();
    assert!(result.is_ok(), "{result:?}");
    assert!(began.elapsed() < Duration::from_secs(2), "took {:?}", began.elapsed());
    assert_eq!(f.io(), IoState::No);
}

#[test]
fn a_begun_switch_is_forgotten_and_stored_only_if_it_came_over_sql() {
    // The durable end is in mysql-bin.000123: a switch to it has begun.
    let (mut r, dir, _rx) =
        replication("begun-switch", RunState::Stopped, Some("mysql-bin.000123"));
    r.forget_begun_switch();
    assert_eq!(r.settings.switch, None);
    assert!(upstream_file::load(&dir).unwrap().is_none(), "the command line stays in charge");

    let change = ChangeMaster { log_file: Some("mysql-bin.000124".into()), ..Default::default() };
    r.change_master(&change, &by()).unwrap();
    r.forget_begun_switch();
    let stored = upstream_file::load(&dir).unwrap().unwrap();
    assert_eq!(stored.switch_file, Some(name("mysql-bin.000124")), "not begun yet");
    r.shared.writer.durable.publish(DurablePosition { file: name("mysql-bin.000124"), offset: 4 });
    r.forget_begun_switch();
    assert_eq!(upstream_file::load(&dir).unwrap().unwrap().switch_file, None);
    fs::remove_dir_all(&dir).unwrap();
}
