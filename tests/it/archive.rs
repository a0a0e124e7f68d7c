//! The archive tier against a real S3 server (a single-node Garage started
//! by the test, [`Garage`]) and real MariaDB primaries, replicas and
//! `mariadb-binlog`: closed files are uploaded, verified, recorded and
//! trimmed locally; every reader still gets every file, byte for byte; a
//! store that goes away delays nothing and loses nothing; purges remove
//! archived objects too.

use std::fs;
use std::path::Path;
use std::time::Duration;

use crate::common::{
    assert_same_tables, big_row, bls_admin_sql, bls_sql, compare_server_file, local_binlog_files,
    mariadb_binlog_raw, wait_replica_caught_up, wait_until, Garage, Load, MariaDb, PrimaryOpts,
    Relay, RelayDir, ReplicaOpts, TestDir, Topology, UseGtid, ADMIN_ARGS,
};

/// The arguments that point binlogserver at `garage` under `prefix`, with
/// the keys in a credentials file in `keys`.
fn archive_args(garage: &Garage, prefix: &str, keys: &TestDir) -> Vec<String> {
    let file = keys.join("credentials");
    fs::write(
        &file,
        format!(
            "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            garage.access_key(),
            garage.secret_key()
        ),
    )
    .unwrap();
    [
        "--archive-url",
        &format!("s3://{}/{prefix}", garage.bucket()),
        "--archive-endpoint",
        &garage.endpoint(),
        "--archive-region",
        garage.region(),
        "--archive-credentials-file",
        file.to_str().unwrap(),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// The files `binlogserver.archive` records as verified.
fn recorded(data: &Path) -> Vec<String> {
    let text = fs::read_to_string(data.join("binlogserver.archive")).unwrap_or_default();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("store=") && !l.starts_with("delete "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// The objects under `prefix` and their bytes.
fn objects(garage: &Garage, prefix: &str) -> Vec<(String, u64)> {
    let client =
        binlogserver::objstore::S3Client::new(garage.config(prefix, Duration::from_secs(10)))
            .unwrap();
    let mut list = client.list().unwrap();
    list.sort();
    list
}

/// The whole object `key` under `prefix`.
fn object(garage: &Garage, prefix: &str, key: &str, size: u64) -> Vec<u8> {
    use std::io::Read;
    let client =
        binlogserver::objstore::S3Client::new(garage.config(prefix, Duration::from_secs(10)))
            .unwrap();
    let mut out = Vec::new();
    client.get_range(key, 0, size).unwrap().read_to_end(&mut out).unwrap();
    out
}

/// Rotates the primary `n` times with some transactions in each file.
fn write_files(primary: &MariaDb, n: usize) {
    primary.sql(
        "CREATE DATABASE IF NOT EXISTS arch; \
         CREATE TABLE IF NOT EXISTS arch.t (id INT AUTO_INCREMENT PRIMARY KEY, v TEXT)",
    );
    for _ in 0..n {
        let inserts = "INSERT INTO arch.t (v) VALUES (REPEAT('x', 2000));\n".repeat(50);
        primary.sql_script(&inserts);
        primary.sql("FLUSH BINARY LOGS");
    }
}

/// binlogserver's live file (always local) ends where the primary's does.
fn wait_stored(t: &Topology) {
    wait_until(Duration::from_secs(30), "binlogserver stored the primary's tail", || {
        let (file, pos) = t.primary.master_status();
        fs::metadata(t.data.join(&file)).is_ok_and(|m| m.len() == pos)
    });
}

/// Every closed file of the primary is recorded and, past keep-local,
/// gone from local disk.
fn wait_archived_and_trimmed(t: &Topology, what: &str) {
    let primary_files: Vec<String> = t.primary.binlog_files().into_iter().map(|f| f.0).collect();
    let closed = &primary_files[..primary_files.len() - 1];
    wait_until(Duration::from_secs(60), what, || {
        let rec = recorded(t.data.path());
        closed.iter().all(|f| rec.contains(f)) && local_binlog_files(t.data.path()).len() <= 2
    });
}

#[test]
fn closed_files_are_archived_trimmed_and_read_back_by_replicas_and_mariadb_binlog() {
    let garage = Garage::start();
    let keys = TestDir::new("archive-keys");
    let mut extra = archive_args(&garage, "db1", &keys);
    extra.extend(["--archive-keep-local", "1"].map(str::to_owned));
    extra.extend(ADMIN_ARGS.map(str::to_owned));
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let t =
        Topology::start(PrimaryOpts::default(), &extra).with_ack_timeout(Duration::from_secs(30));
    let load = Load::start(&t.primary, 2);
    write_files(&t.primary, 4);
    let acked = load.stop();
    assert!(acked > 0);
    wait_stored(&t);
    wait_archived_and_trimmed(&t, "closed files archived and trimmed");

    // The objects are the primary's closed files, byte for byte.
    let files = t.primary.binlog_files();
    let (closed, live) = files.split_at(files.len() - 1);
    let objs = objects(&garage, "db1");
    for (name, size) in closed {
        assert!(objs.contains(&(name.clone(), *size)), "{name} ({size} bytes) in {objs:?}");
        let theirs = fs::read(t.primary.binlog_path(name)).unwrap();
        assert!(object(&garage, "db1", name, *size) == theirs, "object {name} differs");
        assert!(!t.data.join(name).exists(), "{name} still local with keep-local 1");
    }
    assert!(t.data.join(&live[0].0).exists(), "the live file stays local");

    // SHOW BINARY LOGS still lists every file, archived or local.
    let shown = bls_sql(t.port, "SHOW BINARY LOGS").unwrap();
    for (name, size) in &files[..files.len() - 1] {
        assert!(shown.contains(&format!("{name}\t{size}")), "{name} {size} in:\n{shown}");
    }
    let status = bls_sql(t.port, "SHOW GLOBAL STATUS LIKE 'Binlogserver_archive%'").unwrap();
    assert!(status.contains("Binlogserver_archive_queue_files\t0"), "{status}");

    // mariadb-binlog --raw from the first, archived, file: byte-identical.
    let out = TestDir::new("archive-raw");
    let first = &files[0].0;
    let raw = mariadb_binlog_raw(t.port, out.path(), first, "--to-last-log").output().unwrap();
    assert!(raw.status.success(), "{}", String::from_utf8_lossy(&raw.stderr));
    for (name, _) in closed {
        compare_server_file(&t.primary, name, out.path(), false).unwrap();
    }

    // A fresh replica from the first file through to the live tail.
    let replica = t.replica(ReplicaOpts::default(), UseGtid::No);
    t.primary.sql("CREATE DATABASE tail_check; CREATE TABLE tail_check.t (i INT PRIMARY KEY)");
    t.primary.sql("INSERT INTO tail_check.t VALUES (1), (2), (3)");
    wait_replica_caught_up(&t.primary, &replica, Duration::from_secs(60));
    assert!(assert_same_tables(&t.primary, &replica) > 0);
    let log = t.bls.log();
    assert!(log.contains("archived binlog file="), "{log}");
    assert!(log.contains("removed local copy of archived binlog"), "{log}");

    // verify reads archived files from the store with the same options.
    let verify = |args: &[String]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_binlogserver"))
            .arg("verify")
            .arg(t.data.path())
            .args(args)
            .output()
            .unwrap()
    };
    let out = verify(&archive_args(&garage, "db1", &keys));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    for (name, _) in closed {
        assert!(text.contains(&format!("{name}  ok")), "{name} in:\n{text}");
    }
    let out = verify(&[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("archived only: give the --archive-* options"), "{text}");

    // An archived object that went missing is an error, never served.
    let lost = &files[1].0;
    garage.client(Duration::from_secs(10)).delete(&format!("db1/{lost}")).unwrap();
    let out = TestDir::new("archive-raw-lost");
    let raw = mariadb_binlog_raw(t.port, out.path(), lost, "--to-last-log").output().unwrap();
    let stderr = String::from_utf8_lossy(&raw.stderr);
    assert!(!raw.status.success(), "read a lost object: {stderr}");
    assert!(stderr.contains(&format!("cannot read archived binlog {lost}")), "{stderr}");
    assert!(t.bls.log().contains(&format!("cannot read archived binlog file={lost}")));
    let status = bls_sql(t.port, "SHOW GLOBAL STATUS LIKE 'Binlogserver_archive_errors_total'");
    assert_ne!(status.unwrap(), "Binlogserver_archive_errors_total\t0");
}

#[test]
fn a_store_that_goes_away_under_load_delays_no_ack_and_loses_nothing() {
    let mut garage = Garage::start();
    let keys = TestDir::new("archive-keys");
    let mut extra = archive_args(&garage, "away", &keys);
    extra.extend(["--archive-keep-local", "1", "--metrics", "127.0.0.1:0"].map(str::to_owned));
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let t =
        Topology::start(PrimaryOpts::default(), &extra).with_ack_timeout(Duration::from_secs(30));
    write_files(&t.primary, 1);
    wait_archived_and_trimmed(&t, "the first file archived");

    garage.stop();
    let no_tx = t.primary.status_u64("Rpl_semi_sync_master_no_tx");
    let load = Load::start(&t.primary, 2);
    write_files(&t.primary, 3);
    let acked = load.stop();
    // Every commit was acknowledged by binlogserver, none timed out.
    assert!(acked > 0);
    assert_eq!(t.primary.status_u64("Rpl_semi_sync_master_no_tx"), no_tx, "a commit waited");
    assert_eq!(t.primary.status_var("Rpl_semi_sync_master_status"), "ON");
    wait_stored(&t);
    // Nothing unverified left local disk; the queue shows the backlog.
    let files = t.primary.binlog_files();
    let rec = recorded(t.data.path());
    for (name, _) in &files {
        assert!(
            rec.contains(name) || t.data.join(name).exists(),
            "{name} neither local nor archived"
        );
    }
    let status = || bls_sql(t.port, "SHOW GLOBAL STATUS LIKE 'Binlogserver_archive_%'").unwrap();
    wait_until(Duration::from_secs(10), "the queue shows the backlog", || {
        status().contains("Binlogserver_archive_queue_files\t3")
    });
    assert!(t.bls.log().contains("cannot archive binlog, retrying"), "{}", t.bls.log());

    garage.restart();
    wait_archived_and_trimmed(&t, "uploads caught up after the store came back");
    // The gauge follows at the archive thread's next pass.
    wait_until(Duration::from_secs(10), "the queue shown empty", || {
        status().contains("Binlogserver_archive_queue_files\t0")
    });
    let objs = objects(&garage, "away");
    for (name, size) in &files[..files.len() - 1] {
        assert!(objs.contains(&(name.clone(), *size)), "{name} in {objs:?}");
    }
    assert!(t.bls.log().contains("archive works again"), "{}", t.bls.log());
}

#[test]
fn purges_remove_archived_objects_by_age_and_by_statement() {
    let garage = Garage::start();
    let keys = TestDir::new("archive-keys");
    let mut extra = archive_args(&garage, "purge", &keys);
    extra.extend(["--archive-keep-local", "1"].map(str::to_owned));
    extra.extend(ADMIN_ARGS.map(str::to_owned));
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let t = Topology::start(PrimaryOpts::default(), &extra);
    write_files(&t.primary, 3);
    wait_stored(&t);
    wait_archived_and_trimmed(&t, "closed files archived");
    let files: Vec<String> = t.primary.binlog_files().into_iter().map(|f| f.0).collect();
    assert_eq!(objects(&garage, "purge").len(), files.len() - 1);

    // By statement: the first archived-only file goes from the archive too.
    bls_admin_sql(t.port, &format!("PURGE BINARY LOGS TO '{}'", files[1])).unwrap();
    let names = |objs: Vec<(String, u64)>| objs.into_iter().map(|o| o.0).collect::<Vec<_>>();
    assert!(!names(objects(&garage, "purge")).contains(&files[0]));
    assert!(!recorded(t.data.path()).contains(&files[0]));
    let shown = bls_sql(t.port, "SHOW BINARY LOGS").unwrap();
    assert!(!shown.contains(&files[0]) && shown.contains(&files[1]), "{shown}");

    // By age: every file closed before now, archived ones included.
    std::thread::sleep(Duration::from_secs(2));
    t.primary.sql("FLUSH BINARY LOGS");
    wait_stored(&t);
    bls_admin_sql(t.port, "PURGE BINARY LOGS BEFORE NOW()").unwrap();
    let left = names(objects(&garage, "purge"));
    for f in &files {
        assert!(!left.contains(f), "{f} still archived: {left:?}");
    }
    assert!(t.bls.log().contains("deleted archived binlog file="), "{}", t.bls.log());
}

#[test]
fn kill9_during_a_multipart_upload_aborts_it_at_restart_and_uploads_again() {
    let garage = Garage::start();
    let port: u16 = garage.endpoint().rsplit(':').next().unwrap().parse().unwrap();
    // binlogserver reaches the store through a relay the test can freeze.
    let relay = Relay::start(port);
    let keys = TestDir::new("archive-keys");
    let mut extra = archive_args(&garage, "kill", &keys);
    let endpoint = extra.iter().position(|a| a == "--archive-endpoint").unwrap() + 1;
    extra[endpoint] = format!("http://127.0.0.1:{}", relay.port());
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let t = Topology::start(PrimaryOpts::default(), &extra);
    // A 40 MiB file: three 16 MiB parts.
    big_row(&t.primary, 40 << 20);
    t.primary.sql("FLUSH BINARY LOGS");
    let big = t.primary.binlog_files()[0].clone();
    assert!(big.1 > 32 << 20, "{big:?}");
    wait_until(Duration::from_secs(60), "the first part sent", || {
        relay.forwarded(RelayDir::ToServer) > 20 << 20
    });
    relay.stall();
    t.bls.kill9();
    let client = garage.client(Duration::from_secs(10));
    let incomplete = client.list_multipart_uploads().unwrap();
    assert!(incomplete.iter().any(|(k, _)| k.ends_with(&big.0)), "{incomplete:?}");
    assert!(recorded(t.data.path()).is_empty());
    relay.release();

    let bls = t.follow_again();
    wait_until(Duration::from_secs(60), "the file archived after the restart", || {
        recorded(t.data.path()).contains(&big.0)
    });
    assert!(bls.log().contains("aborted incomplete uploads count=1"), "{}", bls.log());
    assert_eq!(client.list_multipart_uploads().unwrap(), Vec::new());
    let theirs = fs::read(t.primary.binlog_path(&big.0)).unwrap();
    assert!(object(&garage, "kill", &big.0, big.1) == theirs, "the archived copy differs");
    assert!(t.data.join(&big.0).exists(), "no --archive-keep-local: every file stays local");
}
