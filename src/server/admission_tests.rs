//! Tests of [`Admission`]: the handshake caps, the growing delay and the
//! summary lines, with the clock passed in.

use super::*;

fn ip(last: u8) -> IpAddr {
    IpAddr::from([10, 0, 0, last])
}

fn limits(max_handshakes: usize, per_peer: usize) -> LoginLimits {
    LoginLimits { max_handshakes, per_peer, max_delay: Duration::from_secs(5) }
}

#[test]
fn handshakes_are_capped_in_total_and_per_peer_and_freed_on_drop() {
    let a = Admission::new(limits(3, 2));
    let now = Instant::now();
    let t1 = a.admit(ip(1), now).unwrap();
    let _t2 = a.admit(ip(1), now).unwrap();
    assert_eq!(a.admit(ip(1), now).unwrap_err(), Refusal::PeerBusy(2));
    let _t3 = a.admit(ip(2), now).unwrap();
    assert_eq!(a.admit(ip(3), now).unwrap_err(), Refusal::Busy(3));
    assert_eq!(a.handshakes(), 3);
    drop(t1);
    assert_eq!(a.handshakes(), 2);
    let _t4 = a.admit(ip(1), now).expect("a freed slot is free for the same peer");
}

#[test]
fn the_delay_grows_by_a_second_per_failure_after_three_and_resets_on_success() {
    let a = Admission::new(limits(10, 10));
    let now = Instant::now();
    let delays: Vec<u64> = (0..9)
        .map(|_| {
            let d = a.delay(ip(1)).as_secs();
            a.failed(ip(1), "u", now);
            d
        })
        .collect();
    assert_eq!(delays, [0, 0, 0, 1, 2, 3, 4, 5, 5], "capped at max_delay");
    assert_eq!(a.delay(ip(2)), Duration::ZERO, "per peer");
    a.succeeded(ip(1));
    assert_eq!(a.delay(ip(1)), Duration::ZERO);
    let off = Admission::new(LoginLimits { max_delay: Duration::ZERO, ..limits(10, 10) });
    (0..10).for_each(|_| off.failed(ip(1), "u", now));
    assert_eq!(off.delay(ip(1)), Duration::ZERO, "--max-login-delay 0 turns it off");
}

#[test]
fn a_peer_that_keeps_failing_gets_one_summary_per_interval() {
    let a = Admission::new(limits(10, 1));
    let t0 = Instant::now();
    a.failed(ip(1), "root", t0);
    let _held = a.admit(ip(1), t0).unwrap();
    for user in ["root", "admin", "root"] {
        a.failed(ip(1), user, t0 + Duration::from_secs(1));
    }
    assert!(a.admit(ip(1), t0).is_err());
    assert_eq!(a.flush(t0 + Duration::from_secs(59), false), []);
    let due = t0 + LOG_INTERVAL;
    let summary = Summary {
        ip: ip(1),
        failed: 4,
        refused: 1,
        users: vec!["admin".to_owned(), "root".to_owned()],
    };
    assert_eq!(a.flush(due, false), std::slice::from_ref(&summary));
    assert_eq!(
        summary.to_string(),
        "failed logins peer=10.0.0.1 count=4 users=admin,root refused_connections=1 interval=60s"
    );
    // Going on: the next interval is summed up too, even a single failure.
    a.failed(ip(1), "x", due + Duration::from_secs(5));
    let next = a.flush(due + LOG_INTERVAL, false);
    assert_eq!(next.iter().map(|s| s.failed).collect::<Vec<_>>(), [1]);
    // A quiet interval closes the window without a line.
    assert_eq!(a.flush(due + 2 * LOG_INTERVAL, false), []);
}

#[test]
fn a_single_failure_is_logged_at_once_and_never_summed_up() {
    let a = Admission::new(limits(10, 10));
    let t0 = Instant::now();
    a.failed(ip(1), "u", t0);
    assert_eq!(a.flush(t0 + LOG_INTERVAL, false), []);
    assert_eq!(a.flush(t0, true), [], "nor at shutdown");
    a.failed(ip(2), "u", t0);
    a.failed(ip(2), "v", t0);
    assert_eq!(a.flush(t0, true).len(), 1, "at shutdown, what is pending");
}

#[test]
fn the_peer_map_stays_bounded() {
    let a = Admission::new(limits(10, 10));
    let now = Instant::now();
    for i in 0..(u32::try_from(MAX_PEERS).unwrap() + 10) {
        a.failed(IpAddr::from(std::net::Ipv4Addr::from_bits(i)), "u", now);
    }
    assert!(a.lock().peers.len() <= MAX_PEERS, "{}", a.lock().peers.len());
}

#[test]
fn limits_parse_with_defaults_that_leave_room_for_logged_in_sessions() {
    let parse = LoginLimits::parse;
    assert_eq!(parse(None, None, 200), Ok(LoginLimits::default()));
    let small = parse(None, None, 20).unwrap();
    assert_eq!((small.max_handshakes, small.per_peer), (15, 10), "three quarters of 20");
    assert_eq!(parse(None, None, 2).unwrap().max_handshakes, 2);
    assert_eq!(parse(None, None, 1).unwrap().max_handshakes, 1);
    let given = parse(Some("100:3"), Some("0"), 200).unwrap();
    assert_eq!((given.max_handshakes, given.per_peer, given.max_delay), (100, 3, Duration::ZERO));
    assert_eq!(parse(Some("30"), None, 200).unwrap().per_peer, 10);
    assert_eq!(parse(Some("4"), None, 200).unwrap().per_peer, 4);
    for bad in ["0", "5:6", "5:0", "x", "5:", "-1"] {
        assert_eq!(parse(Some(bad), None, 200).unwrap_err().0, "--max-handshakes", "{bad}");
    }
    for bad in ["-1", "3601", "1.5", ""] {
        assert_eq!(parse(None, Some(bad), 200).unwrap_err().0, "--max-login-delay", "{bad}");
    }
}
