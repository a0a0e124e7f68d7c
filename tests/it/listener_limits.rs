//! The listener's limits against hostile clients (issue 11, item 5), each
//! against the real binary and asserting that the harm a probe found is
//! gone: clients stalled mid-command cannot pin memory and are dropped
//! after `net_read_timeout`; commands replicas never send stay small; a
//! flood of sockets that never log in leaves a real MariaDB replica room
//! to connect and replicate; a wrong-password loop is slowed and logged as
//! summary lines.

use crate::common::raw_client::{
    assert_still_serves, err_code, fixture_dir, login_response, proc_status, serve_fixture,
    RawConn, RAW_PASSWORD, RAW_USER,
};
use crate::common::{
    assert_same_tables, mixed_workload, wait_replica_caught_up, wait_until_ok, PrimaryOpts,
    ReplicaOpts, Topology, UseGtid, REPL_PASSWORD, REPL_USER,
};
use binlogserver::protocol::handshake::HandshakeV10;
use binlogserver::protocol::Reader;
use std::io::{self, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// The budget of half-received commands (`COMMAND_MEMORY` in
/// src/server/admission.rs), in kB.
const BUDGET_KB: u64 = 64 << 10;

/// A client logged in as [`RAW_USER`].
fn logged_in(port: u16) -> RawConn {
    let mut c = RawConn::connect(port);
    let g = c.greeting();
    c.write_packet(1, &login_response(RAW_USER, RAW_PASSWORD, &g.scramble));
    assert_eq!(c.read_packet().unwrap().1.first(), Some(&0x00), "login OK");
    c
}

/// Reads until the server closes the connection; returns when, and the
/// ERR code it sent first, if any.
fn closed_at(conn: &mut RawConn, within: Duration) -> (Instant, Option<u16>) {
    let got = conn.until_closed(within);
    (Instant::now(), got.first().and_then(|p| err_code(p)))
}

#[test]
fn clients_stalled_mid_command_hold_bounded_memory_and_are_dropped_after_net_read_timeout() {
    const CLIENTS: usize = 100;
    let dir = fixture_dir();
    let (bls, port) = serve_fixture(&dir, &[]);
    let pid = bls.pid();
    let rss_before = proc_status(pid, "VmRSS");

    // Small stalled commands, which take nothing from the budget: one
    // silent after 10 bytes, one trickling a byte every 4 s (each read
    // returns well within any per-read timeout), one with its own
    // SET net_read_timeout = 3.
    let mut silent = logged_in(port);
    let mut trickler = logged_in(port);
    let mut quick = logged_in(port);
    quick.write_packet(0, b"\x03SET SESSION net_read_timeout = 3");
    assert_eq!(quick.read_packet().unwrap().1.first(), Some(&0x00));
    let mut conns: Vec<RawConn> = (0..CLIENTS).map(|_| logged_in(port)).collect();

    let started = Instant::now();
    for c in [&mut silent, &mut quick] {
        c.stream.write_all(&[0xe8, 0x03, 0, 0, 0x03, b'S', b'E', b'L', b'E', b'C']).unwrap();
    }
    let mut w = trickler.stream.try_clone().unwrap();
    let trickle = thread::spawn(move || {
        // The abuse itself: one byte every 4 s until the server hangs up.
        let wire = [[0xe8, 0x03, 0, 0, 0x03].as_slice(), &[b' '; 1000]].concat();
        wire.iter().all(|b| {
            thread::sleep(Duration::from_secs(4));
            w.write_all(&[*b]).is_ok()
        })
    });
    // The probe: each of 100 clients sends all but the last byte of a
    // 16 MiB command (16 MiB - 2 announced, the largest single chunk).
    let body = Arc::new(vec![b'x'; (16 << 20) - 4]);
    let writers: Vec<_> = conns
        .iter()
        .map(|c| {
            let (mut s, body) = (c.stream.try_clone().unwrap(), Arc::clone(&body));
            thread::spawn(move || -> io::Result<()> {
                s.write_all(&[0xfe, 0xff, 0xff, 0, 0x03])?;
                s.write_all(&body)
            })
        })
        .collect();
    let mut peak = 0;
    while !writers.iter().all(|w| w.is_finished()) {
        peak = peak.max(proc_status(pid, "VmRSS"));
        thread::sleep(Duration::from_millis(50));
    }
    let sent = writers.into_iter().filter_map(|w| w.join().ok()).filter(Result::is_ok).count();
    peak = peak.max(proc_status(pid, "VmRSS"));
    let hwm = proc_status(pid, "VmHWM");
    eprintln!(
        "VmRSS kB: before {rss_before}, peak sampled {peak}, VmHWM {hwm}; {sent} of {CLIENTS} \
         clients sent all but the last byte"
    );
    // What may be held: the budget twice over (a growing buffer is copied
    // into one twice its size, and the allocator keeps some of what the
    // refused sessions freed), and per connection its 256 KiB read buffer,
    // the free first 64 KiB of its payload and its thread's stack: 1 MiB
    // each is generous. Without the budget the 100 clients pinned 1.6 GB.
    let bound = 2 * BUDGET_KB + (CLIENTS as u64 + 3) * 1024;
    assert!(
        hwm < rss_before + bound,
        "VmHWM {hwm} kB with {CLIENTS} clients stalled mid-16MiB-command: more than {bound} kB \
         over the {rss_before} kB before"
    );

    let (at, code) = closed_at(&mut quick, Duration::from_secs(60));
    assert!(at - started < Duration::from_secs(10), "SET net_read_timeout = 3: {:?}", at - started);
    assert_eq!(code, None, "a read timeout closes without an ERR");
    // Those refused for the budget got ERR 1041 (or a reset while still
    // sending); the others are dropped after net_read_timeout (30 s).
    let mut codes = Vec::new();
    for c in &mut conns {
        let (at, code) = closed_at(c, Duration::from_secs(60));
        assert!(at < started + Duration::from_secs(50), "closed {:?} after", at - started);
        codes.extend(code);
    }
    assert!(codes.iter().all(|&c| c == 1041), "{codes:?}");
    assert!(sent < CLIENTS, "the budget refused none of the {CLIENTS}");

    for (name, c) in [("silent", &mut silent), ("trickling", &mut trickler)] {
        let (at, _) = closed_at(c, Duration::from_secs(60));
        let took = at - started;
        assert!(
            took >= Duration::from_secs(29) && took < Duration::from_secs(45),
            "the {name} client was dropped after {took:?}, not net_read_timeout (30 s)"
        );
    }
    assert!(!trickle.join().unwrap(), "the trickled command was read whole");
    let log = bls.log();
    assert!(log.contains("read packet payload: timed out"), "{log}");
    drop(conns);
    assert_still_serves(&bls, port, &dir);
}

#[test]
fn commands_replicas_never_send_are_capped_small() {
    let dir = fixture_dir();
    let (bls, port) = serve_fixture(&dir, &[]);
    // A 100 KiB COM_PING: over its 64 KiB cap, ERR 1153 and closed.
    let mut ping = logged_in(port);
    let mut cmd = vec![0x0e];
    cmd.resize(100 << 10, 0);
    ping.write_packet(0, &cmd);
    let (_, code) = closed_at(&mut ping, Duration::from_secs(20));
    assert_eq!(code, Some(1153));
    // A 1 MiB query is one replicas could send: answered.
    let mut query = logged_in(port);
    let sql = format!("SELECT 1 /* {} */", "x".repeat(1 << 20));
    query.write_packet(0, &[b"\x03".as_slice(), sql.as_bytes()].concat());
    let (_, first) = query.read_packet().unwrap();
    assert_eq!(
        first,
        [1],
        "a result set of one column, not {:02x?}",
        &first[..first.len().min(64)]
    );
    assert_still_serves(&bls, port, &dir);
}

/// Holds 500 sockets from 127.0.0.2 on `port` that never log in, opening a
/// new one whenever the server closes one, for `secs` seconds; prints how
/// many it opened and how many were greeted.
const FLOOD: &str = r#"
import selectors, socket, sys, time
port, secs = int(sys.argv[1]), float(sys.argv[2])
sel = selectors.DefaultSelector()
opened = greeted = 0
def open_one():
    global opened
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    s.setblocking(False)
    s.connect_ex(("127.0.0.1", port))
    sel.register(s, selectors.EVENT_READ, [False])
    opened += 1
for _ in range(500):
    open_one()
print("flooding", flush=True)
end = time.time() + secs
while time.time() < end:
    closed = 0
    for key, _ in sel.select(0.2):
        try:
            data = key.fileobj.recv(65536)
        except OSError:
            data = b""
        if data and not key.data[0] and data[4:5] == b"\x0a":
            key.data[0] = True
            greeted += 1
        if not data:
            sel.unregister(key.fileobj)
            key.fileobj.close()
            closed += 1
    for _ in range(closed):
        open_one()
print(f"opened={opened} greeted={greeted}", flush=True)
"#;

#[test]
fn a_flood_of_sockets_that_never_log_in_leaves_room_for_a_real_replica() {
    let t = Topology::start(PrimaryOpts::default(), &[]);
    let mut flood = Command::new("python3")
        .args(["-c", FLOOD, &t.port.to_string(), "40"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 for the flood (apt-get install python3)");
    wait_until_ok(Duration::from_secs(20), "the flood to hit the handshake caps", || {
        let log = t.bls.log();
        let hit = log.contains("refusing connection peer=127.0.0.2");
        hit.then_some(()).ok_or_else(|| "no refusal yet".to_owned())
    });
    let started = Instant::now();
    // Clients from 127.0.0.1 get in at the first try while 127.0.0.2 keeps
    // 500 sockets (reopened as the server closes them) at the server; it
    // took every --max-connections slot, and they got ERR 1040.
    let refused = (0..20)
        .filter(|_| {
            thread::sleep(Duration::from_millis(100));
            !logs_in(t.port)
        })
        .count();
    assert_eq!(refused, 0, "logins refused during the flood");
    let replica = t.replica(ReplicaOpts::default(), UseGtid::SlavePos);
    mixed_workload(&t.primary, 5);
    wait_replica_caught_up(&t.primary, &replica, Duration::from_secs(30));
    assert!(assert_same_tables(&t.primary, &replica) > 0);
    assert!(
        flood.try_wait().unwrap().is_none() && started.elapsed() < Duration::from_secs(35),
        "the replica caught up only after the flood had ended"
    );
    let out = flood.wait_with_output().unwrap();
    let summary = String::from_utf8_lossy(&out.stdout);
    eprintln!("flood: {summary}");
    let log = t.bls.log();
    let refusals = log.lines().filter(|l| l.contains("refusing connection peer=127.0.0.2"));
    assert_eq!(refusals.count(), 1, "one line, then summaries:\n{log}");
}

/// Logs in to a topology's binlogserver as the replication account; true
/// when the server greets and accepts it.
fn logs_in(port: u16) -> bool {
    let mut c = RawConn::connect(port);
    let Ok((0, p)) = c.read_packet() else { return false };
    let Ok(g) = HandshakeV10::decode(&mut Reader::new(&p)) else { return false };
    c.write_packet(1, &login_response(REPL_USER, REPL_PASSWORD, &g.scramble));
    c.read_packet().is_ok_and(|(_, p)| p.first() == Some(&0))
}

/// Logs in with a wrong password; true when refused with ERR 1045.
fn wrong_login(port: u16) -> bool {
    let mut c = RawConn::connect(port);
    let g = c.greeting();
    c.write_packet(1, &login_response(RAW_USER, "wrong-password", &g.scramble));
    c.read_packet().is_ok_and(|(_, p)| err_code(&p) == Some(1045))
}

#[test]
fn wrong_passwords_from_one_peer_are_slowed_and_summed_up_in_the_log() {
    const THREADS: usize = 4;
    const ATTACK: Duration = Duration::from_secs(20);
    let dir = fixture_dir();
    let (bls, port) = serve_fixture(&dir, &[]);
    let started = Instant::now();
    let attackers: Vec<_> = (0..THREADS)
        .map(|_| {
            thread::spawn(move || {
                let mut when = Vec::new();
                while started.elapsed() < ATTACK {
                    assert!(wrong_login(port), "a wrong password refused with ERR 1045");
                    when.push(started.elapsed());
                }
                when
            })
        })
        .collect();
    let when: Vec<Duration> = attackers.into_iter().flat_map(|a| a.join().unwrap()).collect();
    let late = when.iter().filter(|&&t| t >= ATTACK / 2).count();
    eprintln!("{} wrong passwords in {ATTACK:?}, {late} in the second half", when.len());
    // Each login of the peer waits 1 s more per failure after 3, up to
    // 10 s: the 4 threads get one attempt per 10 s each in the end (it was
    // 1,050 a second).
    assert!(late <= 3 * THREADS, "{late} attempts in the last {:?}", ATTACK / 2);

    // The right password still gets in (after the delay), and forgives.
    let begin = Instant::now();
    drop(logged_in(port));
    assert!(begin.elapsed() < Duration::from_secs(12), "took {:?}", begin.elapsed());
    let begin = Instant::now();
    assert!(wrong_login(port));
    assert!(begin.elapsed() < Duration::from_secs(1), "not delayed after a success");

    // One line at the first failure, then a summary line per interval.
    let summary = wait_until_summary(&bls, Duration::from_secs(90));
    let log = bls.log();
    let logged: Vec<&str> =
        log.lines().filter(|l| !l.contains(" DEBUG ") && !l.contains(" TRACE ")).collect();
    let denied = logged.iter().filter(|l| l.to_lowercase().contains("access denied")).count();
    assert_eq!(denied, 1, "one line at the first failure, not one per attempt:\n{log}");
    let count = format!("count={} users={RAW_USER} ", when.len() + 1);
    assert!(summary.contains(&count), "{summary:?}, {count:?}");
    assert!(summary.contains("interval=60s"), "{summary}");
    assert_still_serves(&bls, port, &dir);
}

fn wait_until_summary(bls: &crate::common::Binlogserver, within: Duration) -> String {
    let mut line = String::new();
    wait_until_ok(within, "a summary line of the failed logins", || {
        let log = bls.log();
        let found = log.lines().find(|l| l.contains("failed logins peer=127.0.0.1 count="));
        line = found.ok_or("none yet")?.to_owned();
        Ok(())
    });
    line
}
