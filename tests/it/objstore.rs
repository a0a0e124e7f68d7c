//! The archive tier's S3 client (`binlogserver::objstore`) against a real
//! S3 store: a single-node Garage started per test (common/garage.rs).
//! Object round trips, multipart uploads read back through `RangeReader`,
//! the clean-up listing of unfinished uploads, and the errors a caller
//! decides on: missing keys, wrong credentials, a store that is down or
//! hangs.

use std::io::{Read, Seek, SeekFrom};
use std::time::{Duration, Instant};

use binlogserver::objstore::{Credentials, RangeReader, S3Client, S3ErrorKind};

use crate::common::Garage;

const MIB: usize = 1 << 20;
const TIMEOUT: Duration = Duration::from_secs(5);

/// `len` bytes that differ at every offset (an xorshift stream), so a
/// misplaced range or part shows.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn read_range(client: &S3Client, key: &str, start: u64, end: u64) -> Vec<u8> {
    let mut out = Vec::new();
    client.get_range(key, start, end).unwrap().read_to_end(&mut out).unwrap();
    out
}

#[test]
fn put_head_get_range_list_and_delete_round_trip() {
    let garage = Garage::start();
    let client = S3Client::new(garage.config("arch", TIMEOUT)).unwrap();
    let outside = garage.client(TIMEOUT);
    outside.put("elsewhere", b"not under the prefix", &[]).unwrap();

    let body = pattern(100_000, 1);
    client.put("mysql-bin.000001", &body, &[("sha256", "abc"), ("Origin-Size", "100000")]).unwrap();
    client.put("mysql-bin.000002", b"", &[]).unwrap();

    let info = client.head("mysql-bin.000001").unwrap().expect("the object exists");
    assert_eq!(info.size, 100_000);
    assert_eq!(info.etag.len(), 32, "single-PUT etag is a hex MD5: {:?}", info.etag);
    let mut meta = info.meta.clone();
    meta.sort();
    assert_eq!(
        meta,
        vec![("origin-size".to_owned(), "100000".to_owned()), ("sha256".into(), "abc".into())]
    );
    assert_eq!(client.head("mysql-bin.000002").unwrap().unwrap().size, 0);
    assert_eq!(client.head("nope").unwrap(), None);

    assert_eq!(read_range(&client, "mysql-bin.000001", 0, 100_000), body);
    assert_eq!(read_range(&client, "mysql-bin.000001", 4, 1004), &body[4..1004]);
    assert_eq!(read_range(&client, "mysql-bin.000001", 99_999, 100_000), &body[99_999..]);
    assert!(read_range(&client, "mysql-bin.000001", 50, 50).is_empty());

    let listed = client.list().unwrap();
    assert_eq!(
        listed,
        vec![("mysql-bin.000001".to_owned(), 100_000), ("mysql-bin.000002".to_owned(), 0)]
    );
    assert_eq!(outside.list().unwrap().len(), 3, "the prefix is the client's own");
    let cli = garage.cli(&["bucket", "info", garage.bucket()]);
    let said = String::from_utf8_lossy(&cli.stdout);
    assert!(cli.status.success() && said.contains(garage.access_key()), "{said}");

    client.delete("mysql-bin.000001").unwrap();
    client.delete("mysql-bin.000001").unwrap();
    client.delete("never-there").unwrap();
    assert_eq!(client.head("mysql-bin.000001").unwrap(), None);
    assert_eq!(client.list().unwrap(), vec![("mysql-bin.000002".to_owned(), 0)]);
}

#[test]
fn multipart_upload_reads_back_identical_through_range_reader_with_seeks() {
    let garage = Garage::start();
    let client = S3Client::new(garage.config("mp/", TIMEOUT)).unwrap();
    let data = pattern(20 * MIB + 12_345, 2);
    let mut src = &data[..];
    let sent = client.upload("big", &mut src, 5 * MIB, &[("kind", "binlog")]).unwrap();
    assert_eq!(sent, data.len() as u64);
    let info = client.head("big").unwrap().unwrap();
    assert_eq!(info.size, data.len() as u64);
    assert!(info.etag.ends_with("-5"), "multipart etag names 5 parts: {:?}", info.etag);
    assert_eq!(info.meta, vec![("kind".to_owned(), "binlog".to_owned())]);
    assert!(client.list_multipart_uploads().unwrap().is_empty());

    // Chunks of 3 MiB cross the 5 MiB part boundaries.
    let mut reader = RangeReader::new(client.clone(), "big".into(), info.size, 3 * MIB);
    let mut back = Vec::new();
    reader.read_to_end(&mut back).unwrap();
    assert!(back == data, "read back differs from what was uploaded");
    let mut plain =
        RangeReader::new(client.clone(), "big".into(), info.size, 4 * MIB).prefetch(false);
    let mut back = Vec::new();
    plain.read_to_end(&mut back).unwrap();
    assert!(back == data, "read back without read-ahead differs");

    let mut buf = vec![0u8; 100_000];
    let start = 7 * MIB as u64 + 1;
    assert_eq!(reader.seek(SeekFrom::Start(start)).unwrap(), start);
    reader.read_exact(&mut buf).unwrap();
    assert!(buf == data[start as usize..start as usize + buf.len()]);
    reader.seek(SeekFrom::Current(-50_000)).unwrap();
    reader.read_exact(&mut buf[..10]).unwrap();
    let at = start as usize + 50_000;
    assert_eq!(&buf[..10], &data[at..at + 10]);
    reader.seek(SeekFrom::End(-10)).unwrap();
    let mut tail = Vec::new();
    reader.read_to_end(&mut tail).unwrap();
    assert_eq!(tail, &data[data.len() - 10..]);
    reader.seek(SeekFrom::End(5)).unwrap();
    assert_eq!(reader.read(&mut buf).unwrap(), 0, "past the end reads nothing");
    assert!(reader.seek(SeekFrom::Current(-(data.len() as i64) - 100)).is_err());
}

#[test]
fn small_upload_is_one_put_and_an_exact_part_completes() {
    let garage = Garage::start();
    let client = garage.client(TIMEOUT);
    let small = pattern(1000, 3);
    assert_eq!(client.upload("small", &mut &small[..], 5 * MIB, &[]).unwrap(), 1000);
    let info = client.head("small").unwrap().unwrap();
    assert!(!info.etag.contains('-'), "one PUT, not multipart: {:?}", info.etag);
    let exact = pattern(5 * MIB, 4);
    assert_eq!(client.upload("exact", &mut &exact[..], 5 * MIB, &[]).unwrap(), 5 * MIB as u64);
    assert_eq!(read_range(&client, "exact", 0, 5 * MIB as u64), exact);
    assert!(client.list_multipart_uploads().unwrap().is_empty());
}

/// A source that yields `ok` bytes, then fails.
struct FailingSource {
    ok: usize,
}

impl Read for FailingSource {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.ok == 0 {
            return Err(std::io::Error::other("disk on fire"));
        }
        let n = buf.len().min(self.ok);
        buf[..n].fill(7);
        self.ok -= n;
        Ok(n)
    }
}

#[test]
fn a_failed_upload_aborts_its_multipart_upload() {
    let garage = Garage::start();
    let client = garage.client(TIMEOUT);
    let err = client.upload("broken", &mut FailingSource { ok: 7 * MIB }, 5 * MIB, &[]);
    let err = err.unwrap_err();
    assert_eq!(err.kind(), S3ErrorKind::Local, "{err}");
    assert!(err.to_string().contains("disk on fire"), "{err}");
    assert!(client.list_multipart_uploads().unwrap().is_empty(), "the upload was aborted");
    assert_eq!(client.head("broken").unwrap(), None);
}

#[test]
fn unfinished_multipart_uploads_are_listed_and_abort_removes_them() {
    let garage = Garage::start();
    let client = S3Client::new(garage.config("arch", TIMEOUT)).unwrap();
    let other = S3Client::new(garage.config("other", TIMEOUT)).unwrap();
    let id = client.create_multipart("f1", &[]).unwrap();
    client.upload_part("f1", &id, 1, &pattern(1000, 5)).unwrap();
    let id2 = client.create_multipart("f2", &[]).unwrap();
    let elsewhere = other.create_multipart("f3", &[]).unwrap();

    let mut listed = client.list_multipart_uploads().unwrap();
    listed.sort();
    assert_eq!(listed, vec![("f1".to_owned(), id.clone()), ("f2".to_owned(), id2.clone())]);
    assert_eq!(client.head("f1").unwrap(), None, "an unfinished upload is no object");

    client.abort_multipart("f1", &id).unwrap();
    client.abort_multipart("f2", &id2).unwrap();
    assert!(client.list_multipart_uploads().unwrap().is_empty());
    assert_eq!(other.list_multipart_uploads().unwrap(), vec![("f3".to_owned(), elsewhere)]);
    let err = client.upload_part("f1", &id, 2, b"late").unwrap_err();
    assert_eq!(err.kind(), S3ErrorKind::NotFound, "{err}");
}

#[test]
fn missing_keys_are_not_found_and_never_short_reads() {
    let garage = Garage::start();
    let client = garage.client(TIMEOUT);
    let err = client.get_range("missing", 0, 10).err().expect("a missing key fails");
    assert_eq!(err.kind(), S3ErrorKind::NotFound, "{err}");
    assert_eq!(err.code(), Some("NoSuchKey"), "{err}");
    assert!(err.to_string().contains("s3://binlogs/missing"), "{err}");

    let mut reader = RangeReader::new(client.clone(), "missing".into(), 10, 4);
    let io = reader.read(&mut [0u8; 4]).unwrap_err();
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound, "{io}");

    // A reader told a larger size than the object's fails at the end rather
    // than returning fewer bytes.
    client.put("short", &pattern(1000, 6), &[]).unwrap();
    let mut reader = RangeReader::new(client.clone(), "short".into(), 1500, 700);
    let mut out = Vec::new();
    let err = reader.read_to_end(&mut out).unwrap_err();
    assert!(out.len() < 1500, "read {} bytes of a 1000-byte object", out.len());
    eprintln!("reading past the object's end: {err}");
}

#[test]
fn wrong_credentials_name_the_endpoint_and_the_store_code() {
    let garage = Garage::start();
    let mut config = garage.config("", TIMEOUT);
    assert_eq!(config.url.bucket, garage.bucket());
    assert_eq!(config.region, garage.region());
    assert_ne!(garage.secret_key(), "0".repeat(64));
    config.credentials =
        Credentials { access_key: garage.access_key().to_owned(), secret_key: "0".repeat(64) };
    let err = S3Client::new(config.clone()).unwrap().list().unwrap_err();
    let text = err.to_string();
    eprintln!("wrong secret: {text}");
    assert!(text.contains(&garage.endpoint()), "{text}");
    assert!(matches!(err.kind(), S3ErrorKind::Http(403)), "{text}");
    assert!(err.code().is_some(), "the store's code is kept: {text}");
    assert!(text.contains(err.code().unwrap()), "{text}");

    config.credentials.access_key = "GK000000000000000000000000".to_owned();
    let err = S3Client::new(config).unwrap().put("k", b"x", &[]).unwrap_err();
    eprintln!("unknown key: {err}");
    assert!(matches!(err.kind(), S3ErrorKind::Http(403)), "{err}");
    assert!(err.to_string().contains(&garage.endpoint()), "{err}");
}

#[test]
fn a_store_that_is_down_or_hangs_fails_within_the_timeout_and_works_after_restart() {
    let mut garage = Garage::start();
    let timeout = Duration::from_secs(2);
    let client = garage.client(timeout);
    client.put("before", b"kept", &[]).unwrap();

    garage.stop();
    let started = Instant::now();
    let err = client.put("during", b"x", &[]).unwrap_err();
    assert_eq!(err.kind(), S3ErrorKind::Transport, "{err}");
    assert!(started.elapsed() < timeout + Duration::from_secs(1), "{:?}", started.elapsed());
    assert!(err.to_string().contains(&garage.endpoint()), "{err}");
    eprintln!("store down: {err}");

    garage.restart();
    assert_eq!(read_range(&client, "before", 0, 4), b"kept");

    // A store that accepts connections but never answers (SIGSTOP).
    garage.signal("STOP");
    let started = Instant::now();
    let err = client.head("before").unwrap_err();
    let took = started.elapsed();
    garage.signal("CONT");
    assert_eq!(err.kind(), S3ErrorKind::Transport, "{err}");
    assert!(took >= timeout && took < timeout * 2, "took {took:?} for a {timeout:?} timeout");
    eprintln!("store hangs: {err}");

    // A body that stops coming mid-transfer fails within the timeout too.
    client.put("big", &pattern(8 * MIB, 7), &[]).unwrap();
    let mut body = client.get_range("big", 0, 8 * MIB as u64).unwrap();
    body.read_exact(&mut [0u8; 1000]).unwrap();
    garage.signal("STOP");
    let started = Instant::now();
    let err = std::io::copy(&mut body, &mut std::io::sink()).unwrap_err();
    let took = started.elapsed();
    garage.signal("CONT");
    assert!(took < timeout * 3, "a stalled body took {took:?} to fail");
    assert!(err.to_string().contains(&garage.endpoint()), "{err}");
    eprintln!("body stalls: {err} after {took:?}");
    client.put("after", b"back", &[]).unwrap();
    assert_eq!(client.list().unwrap().len(), 3);
}

#[test]
fn listings_follow_every_page() {
    let garage = Garage::start();
    let client = S3Client::new(garage.config("many", TIMEOUT)).unwrap();
    // One more than the store's page of 1000, in parallel to save time.
    let count = 1001;
    std::thread::scope(|s| {
        for t in 0..4 {
            let client = client.clone();
            s.spawn(move || {
                for i in (t..count).step_by(4) {
                    client.put(&format!("k{i:05}"), &[], &[]).unwrap();
                    client.create_multipart(&format!("u{i:05}"), &[]).unwrap();
                }
            });
        }
    });
    let listed = client.list().unwrap();
    assert_eq!(listed.len(), count);
    assert_eq!(listed.first().unwrap().0, "k00000");
    assert_eq!(listed.last().unwrap().0, format!("k{:05}", count - 1));
    let uploads = client.list_multipart_uploads().unwrap();
    assert_eq!(uploads.len(), count);
    let mut keys: Vec<&str> = uploads.iter().map(|(k, _)| k.as_str()).collect();
    keys.dedup();
    assert_eq!(keys.len(), count, "no upload listed twice");
}

#[test]
fn the_client_and_reader_move_between_threads() {
    fn send_sync<T: Send + Sync + Clone>() {}
    fn send<T: Send>() {}
    send_sync::<S3Client>();
    send::<RangeReader>();
    send::<binlogserver::objstore::S3Error>();
}
