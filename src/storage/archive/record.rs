//! The archive record: `binlogserver.archive` in the data directory, the
//! binlog files whose copy in the object store was verified (uploaded, its
//! size checked, read back and its SHA-256 compared with the local file's).
//!
//! Only a file named here may lose its local copy ([`super::trim`]), and a
//! file named here that is not on local disk is still one of the directory's
//! binlogs: listings ([`crate::storage::listing`]), the index and readers
//! take it from here. The file is small text, rewritten like the index
//! (temp file, fsync, rename, directory fsync), so a crash leaves the old or
//! the new record, never a mix:
//!
//! ```text
//! # binlogserver archive: binlog files verified in the object store
//! store=s3://backups/db1/
//! mysql-bin.000001 size=1073742101 sha256=9f86d0...0a08 first_event=1764892800
//! ```
//!
//! A purged file's entry becomes a `delete mysql-bin.000001` line, durably,
//! before its object is deleted; the line goes once the deletion succeeded
//! (the uploader retries it), so a crash or a store that is away never
//! leaves an object nobody knows of.
//!
//! `store` names where the objects are, so that a changed `--archive-url`
//! is refused at start instead of reading files from the wrong place.
//! `first_event` is the timestamp of the file's first event (0 if unknown):
//! purging by age needs it after the local copy is gone.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::binlog::BinlogFileName;
use crate::storage::datadir::replace_file;
use crate::storage::fs::BinlogStore;
use crate::storage::StorageError;

/// The record's name in the data directory.
pub const ARCHIVE_RECORD: &str = "binlogserver.archive";

const HEADER: &str = "# binlogserver archive: binlog files verified in the object store\n";

/// One verified file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The binlog file (the object's key under the prefix).
    pub name: BinlogFileName,
    /// Its size in bytes.
    pub size: u64,
    /// SHA-256 of its bytes, lowercase hex.
    pub sha256: String,
    /// Timestamp of its first event; 0 when unknown.
    pub first_event: u64,
}

/// The record's contents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// The store the entries are in (`s3://BUCKET/PREFIX`).
    pub store: String,
    /// Verified files, oldest first.
    pub entries: Vec<Entry>,
    /// Purged files whose objects are still to be deleted.
    pub deleting: Vec<BinlogFileName>,
}

impl Record {
    /// The entry of `name`, if archived.
    pub fn get(&self, name: &BinlogFileName) -> Option<&Entry> {
        self.entries.iter().find(|e| &e.name == name)
    }

    /// Adds (or replaces) `entry`, keeping file order.
    pub fn insert(&mut self, entry: Entry) {
        self.entries.retain(|e| e.name != entry.name);
        let at = self.entries.partition_point(|e| e.name < entry.name);
        self.entries.insert(at, entry);
    }

    /// Moves the entries of `purged` to the deletions; returns them.
    pub fn purge(&mut self, purged: &[BinlogFileName]) -> Vec<Entry> {
        let (gone, kept) = self.entries.drain(..).partition(|e| purged.contains(&e.name));
        self.entries = kept;
        let gone: Vec<Entry> = gone;
        self.deleting.extend(gone.iter().map(|e| e.name.clone()));
        gone
    }

    /// The file's text.
    pub fn encode(&self) -> String {
        let mut out = String::from(HEADER);
        out.push_str(&format!("store={}\n", self.store));
        for e in &self.entries {
            out.push_str(&format!(
                "{} size={} sha256={} first_event={}\n",
                e.name, e.size, e.sha256, e.first_event
            ));
        }
        for name in &self.deleting {
            out.push_str(&format!("delete {name}\n"));
        }
        out
    }

    /// Reads the record's text; the error names the line and what is wrong.
    pub fn decode(text: &str) -> Result<Record, String> {
        let mut record = Record::default();
        let mut store = None;
        for (n, line) in text.lines().enumerate() {
            let at = |why: String| format!("line {}: {why}", n + 1);
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(s) = line.strip_prefix("store=") {
                store = Some(s.to_owned());
                continue;
            }
            if let Some(name) = line.strip_prefix("delete ") {
                let name = BinlogFileName::new(name.trim())
                    .map_err(|_| at(format!("{name:?} is not a binlog name")))?;
                record.deleting.push(name);
                continue;
            }
            let entry = decode_entry(line).map_err(at)?;
            if record.entries.last().is_some_and(|last| last.name >= entry.name) {
                return Err(at(format!("{} is out of order", entry.name)));
            }
            record.entries.push(entry);
        }
        record.store = store.ok_or("no store= line")?;
        Ok(record)
    }
}

fn decode_entry(line: &str) -> Result<Entry, String> {
    let mut words = line.split_ascii_whitespace();
    let name = words.next().unwrap_or_default();
    let name = BinlogFileName::new(name).map_err(|_| format!("{name:?} is not a binlog name"))?;
    let (mut size, mut sha256, mut first_event) = (None, None, 0);
    for word in words {
        let (key, value) =
            word.split_once('=').ok_or_else(|| format!("{word:?}: not key=value"))?;
        let bad = || format!("{key}: invalid value {value:?}");
        match key {
            "size" => size = Some(value.parse::<u64>().map_err(|_| bad())?),
            "sha256" if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) => {
                sha256 = Some(value.to_ascii_lowercase());
            }
            "sha256" => return Err(bad()),
            "first_event" => first_event = value.parse::<u64>().map_err(|_| bad())?,
            _ => return Err(format!("unknown key {key:?}")),
        }
    }
    Ok(Entry {
        name,
        size: size.ok_or("no size=")?,
        sha256: sha256.ok_or("no sha256=")?,
        first_event,
    })
}

/// The record's path in `dir`.
pub fn path_in(dir: &Path) -> PathBuf {
    dir.join(ARCHIVE_RECORD)
}

/// Reads the record of `dir`; `None` when there is none.
///
/// # Errors
/// [`StorageError::Layout`] naming the file and line for a record that
/// cannot be read as one; [`StorageError::Io`] when it cannot be read.
pub fn load(dir: &Path) -> Result<Option<Record>, StorageError> {
    let path = path_in(dir);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::io("read", &path)(e)),
    };
    Record::decode(&text).map(Some).map_err(|reason| StorageError::Layout { path, reason })
}

/// The archived files of `dir` (none without a record).
pub fn archived_files(dir: &Path) -> Result<Vec<Entry>, StorageError> {
    Ok(load(dir)?.map(|r| r.entries).unwrap_or_default())
}

/// At start, for a purge a crash interrupted ([`crate::storage::index`]):
/// moves the entries of files the purge removed to the deletions.
pub fn purged(
    store: &dyn BinlogStore,
    dir: &Path,
    files: &[BinlogFileName],
) -> Result<(), StorageError> {
    let Some(mut record) = load(dir)? else { return Ok(()) };
    if record.purge(files).is_empty() {
        return Ok(());
    }
    save(store, dir, &record)
}

/// Replaces the record of `dir` with `record`, atomically and durably.
pub fn save(store: &dyn BinlogStore, dir: &Path, record: &Record) -> Result<(), StorageError> {
    replace_file(store, dir, ARCHIVE_RECORD, &record.encode())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u32, size: u64) -> Entry {
        Entry {
            name: BinlogFileName::new(format!("mysql-bin.{n:06}")).unwrap(),
            size,
            sha256: "ab".repeat(32),
            first_event: 1_700_000_000 + u64::from(n),
        }
    }

    #[test]
    fn round_trip_in_file_order() {
        let mut r = Record { store: "s3://b/p/".into(), ..Record::default() };
        r.insert(entry(3, 30));
        r.insert(entry(1, 10));
        r.insert(entry(3, 31));
        r.insert(entry(4, 40));
        assert_eq!(r.entries.iter().map(|e| e.size).collect::<Vec<_>>(), vec![10, 31, 40]);
        let text = r.encode();
        assert!(text.contains("mysql-bin.000001 size=10 sha256="), "{text}");
        assert_eq!(Record::decode(&text).unwrap(), r);
        let gone = r.purge(&[entry(1, 0).name, entry(3, 0).name]);
        assert_eq!(gone.len(), 2);
        assert_eq!(r.entries, vec![entry(4, 40)]);
        let text = r.encode();
        assert!(text.contains("delete mysql-bin.000001\ndelete mysql-bin.000003\n"), "{text}");
        assert_eq!(Record::decode(&text).unwrap(), r);
    }

    #[test]
    fn bad_records_name_the_line() {
        let ok = "store=s3://b/\nmysql-bin.000001 size=1 sha256=".to_owned() + &"a".repeat(64);
        assert!(Record::decode(&ok).is_ok());
        for (text, want) in [
            ("mysql-bin.000001 size=1", "no sha256"),
            ("store=x\nmysql-bin.000001 size=x", "line 2: size: invalid value"),
            ("store=x\nnot-a-binlog size=1", "not a binlog name"),
            ("store=x\nmysql-bin.000001 sha256=abc size=1", "sha256: invalid value"),
            ("store=x\nmysql-bin.000001 size=1 color=red", "unknown key"),
        ] {
            let err = Record::decode(text).unwrap_err();
            assert!(err.contains(want), "{text:?}: {err}");
        }
        let no_store = format!("mysql-bin.000001 size=1 sha256={}", "a".repeat(64));
        assert!(Record::decode(&no_store).unwrap_err().contains("no store"));
        let twice = format!("store=x\n{}{}", entry(2, 1).line(), entry(1, 1).line());
        assert!(Record::decode(&twice).unwrap_err().contains("out of order"));
    }

    impl Entry {
        fn line(&self) -> String {
            format!("{} size={} sha256={}\n", self.name, self.size, self.sha256)
        }
    }
}
