//! The start decision, case by case: command line or stored upstream,
//! `--start-file`/`--start-gtid` on empty and non-empty directories.

use super::*;
use crate::upstream::SemiSyncMode;

fn name(s: &str) -> BinlogFileName {
    BinlogFileName::new(s).unwrap()
}

fn files(names: &[&str]) -> Vec<BinlogFileName> {
    names.iter().map(|n| name(n)).collect()
}

fn cli(host: &str, start: StartFrom) -> UpstreamConfig {
    UpstreamConfig {
        host: host.into(),
        port: 3306,
        user: "repl".into(),
        password: "pw".into(),
        server_id: 1001,
        semi_sync: SemiSyncMode::Auto,
        heartbeat: Duration::from_secs(1),
        start,
        connect_timeout: Duration::from_secs(10),
        connect_retry: DEFAULT_CONNECT_RETRY,
        trace_packets: false,
        ssl: crate::net::tls::SslSettings::default(),
        server_public_key: None,
        get_server_public_key: false,
    }
}

fn stored(host: &str, run: RunState) -> StoredUpstream {
    StoredUpstream {
        run,
        host: host.into(),
        port: 3310,
        user: "repl2".into(),
        password: "pw2".into(),
        heartbeat_period: Some(Duration::from_millis(500)),
        connect_retry: None,
        switch_file: None,
        ssl: None,
        public_key_path: None,
        get_public_key: None,
    }
}

#[test]
fn without_any_upstream_it_serves_and_a_start_point_is_refused() {
    let follow = cli("", StartFrom::Oldest);
    assert!(plan(None, &follow, None, &[]).unwrap().is_none());
    let follow = cli("", StartFrom::Gtid("0-1-5".into()));
    let err = plan(None, &follow, None, &[]).unwrap_err();
    assert_eq!(err.flag, "--start-gtid");
    assert!(err.reason.contains("give -h"), "{}", err.reason);
}

#[test]
fn the_stored_upstream_wins_over_the_command_line_with_a_warning_naming_both() {
    let c = cli("db1", StartFrom::Oldest);
    let s = stored("db2", RunState::Running);
    let p = plan(Some(&c), &c, Some(&s), &files(&["mysql-bin.000001"])).unwrap().unwrap();
    assert_eq!((p.cfg.host.as_str(), p.cfg.port, p.cfg.user.as_str()), ("db2", 3310, "repl2"));
    assert_eq!(p.cfg.password, "pw2");
    assert_eq!(p.cfg.heartbeat, Duration::from_millis(500));
    assert_eq!(p.cfg.server_id, 1001, "the command line's own settings stay");
    assert!(p.stored && p.run == RunState::Running);
    let [w] = p.warnings.as_slice() else { panic!("{:?}", p.warnings) };
    assert!(w.contains("repl2@db2:3310") && w.contains("repl@db1:3306"), "{w}");
    // Without -h at all the stored upstream is followed, silently.
    let follow = cli("", StartFrom::Oldest);
    let p = plan(None, &follow, Some(&s), &[]).unwrap().unwrap();
    assert_eq!(p.cfg.host, "db2");
    assert!(p.warnings.is_empty());
}

#[test]
fn a_stored_stop_or_reset_lasts() {
    let c = cli("db1", StartFrom::Oldest);
    let p = plan(Some(&c), &c, Some(&stored("db1", RunState::Stopped)), &[]).unwrap().unwrap();
    assert_eq!(p.run, RunState::Stopped);
    let reset = StoredUpstream { host: String::new(), ..stored("", RunState::Reset) };
    let p = plan(Some(&c), &c, Some(&reset), &[]).unwrap().unwrap();
    assert_eq!(p.run, RunState::Reset);
    assert!(p.warnings[0].contains("RESET SLAVE ALL"), "{:?}", p.warnings);
}

#[test]
fn start_gtid_on_a_directory_with_binlogs_is_refused() {
    let c = cli("db1", StartFrom::Gtid("0-1-5".into()));
    let err = plan(Some(&c), &c, None, &files(&["mysql-bin.000001"])).unwrap_err();
    assert_eq!(err.flag, "--start-gtid");
    assert!(err.reason.contains("holds binlogs up to mysql-bin.000001"), "{}", err.reason);
    let p = plan(Some(&c), &c, None, &[]).unwrap().unwrap();
    assert_eq!(p.cfg.start, StartFrom::Gtid("0-1-5".into()), "an empty directory starts there");
}

#[test]
fn start_file_above_our_last_is_a_checked_switch_and_a_stored_one_is_passed_over() {
    let stored_files = files(&["mysql-bin.000122", "mysql-bin.000123"]);
    let c = cli("db2", StartFrom::File(name("mysql-bin.000124")));
    let p = plan(Some(&c), &c, None, &stored_files).unwrap().unwrap();
    assert_eq!(p.switch, Some(name("mysql-bin.000124")));
    assert!(p.switch_from_command_line);
    assert_eq!(p.cfg.start, StartFrom::Oldest);

    let c = cli("db2", StartFrom::File(name("mysql-bin.000122")));
    let p = plan(Some(&c), &c, None, &stored_files).unwrap().unwrap();
    assert_eq!(p.switch, None);
    assert!(p.warnings[0].contains("already stored here"), "{:?}", p.warnings);

    for (file, needle) in
        [("mysql-bin.000100", "FLUSH BINARY LOGS"), ("db2-bin.000124", "another basename")]
    {
        let c = cli("db2", StartFrom::File(name(file)));
        let err = plan(Some(&c), &c, None, &stored_files).unwrap_err();
        assert_eq!(err.flag, "--start-file");
        assert!(err.reason.contains(needle), "{file}: {}", err.reason);
    }
    let c = cli("db2", StartFrom::File(name("mysql-bin.000124")));
    let s = stored("db2", RunState::Stopped);
    let err = plan(Some(&c), &c, Some(&s), &stored_files).unwrap_err();
    assert!(err.reason.contains("is stopped"), "{}", err.reason);
}

#[test]
fn a_stored_switch_is_pending_until_its_file_is_here_and_starts_an_empty_directory() {
    let c = cli("db1", StartFrom::Oldest);
    let s = StoredUpstream {
        switch_file: Some(name("mysql-bin.000124")),
        ..stored("db2", RunState::Running)
    };
    let p = plan(Some(&c), &c, Some(&s), &files(&["mysql-bin.000123"])).unwrap().unwrap();
    assert_eq!(p.switch, Some(name("mysql-bin.000124")));
    assert!(!p.switch_from_command_line);
    let here = files(&["mysql-bin.000123", "mysql-bin.000124"]);
    let p = plan(Some(&c), &c, Some(&s), &here).unwrap().unwrap();
    assert_eq!(p.switch, None, "begun: resume in it");
    let p = plan(Some(&c), &c, Some(&s), &[]).unwrap().unwrap();
    assert_eq!((p.switch, p.cfg.start), (None, StartFrom::File(name("mysql-bin.000124"))));
}

#[test]
fn stored_public_key_settings_stand_in_for_the_command_lines() {
    const PUBLIC: &str = include_str!("../../tests/fixtures/rsa/test_key_public.pem");
    let key = crate::protocol::caching_sha2::ServerPublicKey::from_pem(PUBLIC.as_bytes()).unwrap();
    let c = UpstreamConfig {
        server_public_key: Some(key),
        get_server_public_key: true,
        ..cli("db2", StartFrom::Oldest)
    };
    // Not set over SQL: the command line's key and flag.
    let p = plan(Some(&c), &c, Some(&stored("db2", RunState::Running)), &[]).unwrap().unwrap();
    assert!(p.cfg.server_public_key.is_some() && p.cfg.get_server_public_key);
    assert_eq!((p.public_key_path, p.get_public_key), (None, None));
    // Set: the stored path is the caller's to read, the flag applies.
    let s = StoredUpstream {
        public_key_path: Some("/etc/primary-rsa.pem".into()),
        get_public_key: Some(false),
        ..stored("db2", RunState::Running)
    };
    let p = plan(Some(&c), &c, Some(&s), &[]).unwrap().unwrap();
    assert!(p.cfg.server_public_key.is_none() && !p.cfg.get_server_public_key);
    assert_eq!(p.public_key_path, Some("/etc/primary-rsa.pem".into()));
    assert_eq!(p.get_public_key, Some(false));
}
