//! [`Purger`]: carries out purges (`PURGE BINARY LOGS`, `--expire-logs-days`,
//! `--max-total-size`); the `retention` thread that applies the limits is
//! in [`super::retention`].
//!
//! A purge, serialized with every other purge: gather each file's size and
//! close time, then, under the readers' lock ([`Readers::fence`]), see
//! which files connected clients read, select ([`super::selection`]) and
//! raise the fence so that no client starts reading a file being purged;
//! then commit through the [`BinlogIndex`] (crash-safe, see there) and log
//! what went, why, and how many bytes it freed.
//!
//! Files with an archived copy ([`super::archive`]) are purged from the
//! archive too, once the index no longer names them.
//!
//! A storage error during the index rewrite stops every later change of the
//! index (the writer stops at its next rotation); files already fenced off
//! stay hidden from clients until restart, which completes or undoes the
//! purge.

use std::fmt;
use std::io::Read;
use std::sync::{Arc, Mutex, PoisonError};

use log::{debug, info};

use super::index::BinlogIndex;
use super::reader::file_size;
use super::selection::{select, Blocked, Criterion, FileFacts, Selection};
use super::StorageError;
use crate::binlog::{BinlogFileName, EventHeader, BINLOG_MAGIC};

/// The connected clients that read stored files.
pub trait Readers: Send + Sync + fmt::Debug {
    /// Under the readers' lock: `decide` gets the file each reading client
    /// is in and returns the first file that stays; from then on no client
    /// may start reading a file before it.
    fn fence(&self, decide: &mut dyn FnMut(&[BinlogFileName]) -> Option<BinlogFileName>);
}

/// Why a purge runs, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// `--expire-logs-days`.
    Expire,
    /// `--max-total-size`.
    MaxTotalSize,
    /// A `PURGE BINARY LOGS` statement of a client.
    Statement {
        /// Its connection id.
        client: u32,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Expire => write!(f, "expire-logs-days"),
            Reason::MaxTotalSize => write!(f, "max-total-size"),
            Reason::Statement { client } => write!(f, "purge-statement client_id={client}"),
        }
    }
}

/// What a purge did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// The selection: files removed, and why it stopped short, if it did.
    pub selection: Selection,
    /// Bytes freed.
    pub bytes: u64,
}

/// Why a purge failed.
#[derive(Debug)]
pub enum PurgeError {
    /// `PURGE BINARY LOGS TO` a file the index does not list.
    UnknownTarget(BinlogFileName),
    /// A file system failure; purging (and the writer's next rotation) stops until restart.
    Storage(StorageError),
}

impl fmt::Display for PurgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PurgeError::UnknownTarget(file) => write!(f, "{file} is not in the binlog index"),
            PurgeError::Storage(e) => write!(f, "{e}"),
        }
    }
}

impl From<StorageError> for PurgeError {
    fn from(e: StorageError) -> Self {
        PurgeError::Storage(e)
    }
}

/// Carries out purges; one per data directory, shared.
#[derive(Debug)]
pub struct Purger {
    index: BinlogIndex,
    readers: Option<Arc<dyn Readers>>,
    serial: Mutex<()>,
}

impl Purger {
    /// A purger over `index`; `readers` are the downstream clients, if serving.
    pub fn new(index: BinlogIndex, readers: Option<Arc<dyn Readers>>) -> Self {
        Purger { index, readers, serial: Mutex::new(()) }
    }

    /// Purges what `criterion` selects; logs it with `reason`.
    pub fn purge(&self, criterion: &Criterion, reason: Reason) -> Result<Report, PurgeError> {
        let _serial = self.serial.lock().unwrap_or_else(PoisonError::into_inner);
        let facts = self.facts()?;
        let mut outcome = None;
        let mut decide = |reading: &[BinlogFileName]| {
            let result = select(&facts, criterion, reading);
            let keep = result
                .as_ref()
                .ok()
                .filter(|s| !s.purge.is_empty())
                .and_then(|s| facts.get(s.purge.len()))
                .map(|f| f.name.clone());
            outcome = Some(result);
            keep
        };
        match &self.readers {
            Some(readers) => readers.fence(&mut decide),
            None => {
                decide(&[]);
            }
        }
        let selection = match outcome {
            Some(Ok(s)) => s,
            Some(Err(unknown)) => return Err(PurgeError::UnknownTarget(unknown.0)),
            None => Selection::default(),
        };
        match (&selection.blocked, reason) {
            // An operator whose disk fills wants to know who holds the files.
            (Some(blocked @ Blocked::InUse { .. }), Reason::Expire | Reason::MaxTotalSize) => {
                info!("purge stops reason={reason} at={}", describe(blocked));
            }
            (Some(blocked), _) => debug!("purge stops reason={reason} at={}", describe(blocked)),
            (None, _) => {}
        }
        if selection.purge.is_empty() {
            return Ok(Report { selection, bytes: 0 });
        }
        let bytes = facts.iter().take(selection.purge.len()).map(|f| f.size).sum();
        self.index.purge(&selection.purge)?;
        if let Some(archive) = super::archive::of(self.index.dir()) {
            archive.forget(&selection.purge)?;
        }
        let names: Vec<&str> = selection.purge.iter().map(BinlogFileName::as_str).collect();
        info!("purged binlogs reason={reason} files={} bytes_freed={bytes}", names.join(","));
        Ok(Report { selection, bytes })
    }

    /// Size and close time of every indexed file.
    fn facts(&self) -> Result<Vec<FileFacts>, StorageError> {
        let names = self.index.files();
        let dir = self.index.dir();
        let archived = super::archive::entries_of(dir)?;
        let mut facts = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let closed_at = names.get(i + 1).and_then(|next| {
                first_event_time(&dir.join(next.as_str())).or_else(|| {
                    let e = archived.iter().find(|e| &e.name == next)?;
                    (e.first_event != 0).then_some(e.first_event)
                })
            });
            facts.push(FileFacts { name: name.clone(), size: file_size(dir, name)?, closed_at });
        }
        Ok(facts)
    }
}

/// Words for the operator: where a purge stopped and why.
pub fn describe(blocked: &Blocked) -> String {
    match blocked {
        Blocked::Active(f) => format!("{f} (the active binlog)"),
        Blocked::InUse { file, readers } => format!("{file} (being read by {readers} client(s))"),
    }
}

/// The timestamp of a binlog's first event (its format description, written
/// when the primary opened the file, i.e. closed the one before), if readable and non-zero.
fn first_event_time(path: &std::path::Path) -> Option<u64> {
    let mut head = [0u8; 4 + EventHeader::LEN];
    let mut f = super::listing::open_regular(path).ok()?;
    f.read_exact(&mut head).ok()?;
    if head.get(..4)? != BINLOG_MAGIC {
        return None;
    }
    let header = EventHeader::parse(head.get(4..)?).ok()?;
    (header.timestamp != 0).then_some(u64::from(header.timestamp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binlog::EventType;
    use std::fs;
    use std::path::PathBuf;

    fn name(n: u64) -> BinlogFileName {
        BinlogFileName::new(format!("mysql-bin.{n:06}")).unwrap()
    }

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// Files 1..=n: the magic, a header with timestamp 1000 * i, and i * 100 bytes of padding.
    fn purger(label: &str, n: u64, readers: Option<Arc<dyn Readers>>) -> (Dir, Purger) {
        let d = std::env::temp_dir().join(format!("bls-purge-{label}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        for i in 1..=n {
            let mut bytes = BINLOG_MAGIC.to_vec();
            let ts = u32::try_from(1000 * i).unwrap();
            EventHeader {
                timestamp: ts,
                event_type: EventType::FORMAT_DESCRIPTION,
                server_id: 1,
                event_len: 19,
                log_pos: 23,
                flags: 0,
            }
            .encode(&mut bytes);
            bytes.resize(bytes.len() + usize::try_from(i * 100).unwrap(), 0);
            fs::write(d.join(name(i).as_str()), bytes).unwrap();
        }
        let index = BinlogIndex::new(&d, (1..=n).map(name).collect());
        crate::storage::datadir::write_index(&crate::storage::fs::StdStore, &d, &index.files())
            .unwrap();
        (Dir(d), Purger::new(index, readers))
    }

    #[derive(Debug)]
    struct Reading(Vec<BinlogFileName>, Mutex<Option<BinlogFileName>>);
    impl Readers for Reading {
        fn fence(&self, decide: &mut dyn FnMut(&[BinlogFileName]) -> Option<BinlogFileName>) {
            *self.1.lock().unwrap() = decide(&self.0);
        }
    }

    #[test]
    fn expiry_goes_by_the_next_files_first_event() {
        let (d, p) = purger("expire", 4, None);
        // File 1 closed at 2000, file 2 at 3000: "before 3000" takes file 1 only.
        let r = p.purge(&Criterion::Before(3000), Reason::Expire).unwrap();
        assert_eq!(r.selection.purge, vec![name(1)]);
        assert_eq!(r.bytes, 4 + 19 + 100);
        assert!(!d.0.join("mysql-bin.000001").exists());
        assert_eq!(
            fs::read_to_string(d.0.join("mysql-bin.index")).unwrap(),
            "./mysql-bin.000002\n./mysql-bin.000003\n./mysql-bin.000004\n"
        );
        let r = p.purge(&Criterion::Before(u64::MAX), Reason::Expire).unwrap();
        assert_eq!(r.selection.purge, vec![name(2), name(3)]);
        assert_eq!(r.selection.blocked, None, "the active file has no close time: never wanted");
    }

    #[test]
    fn readers_are_fenced_and_unknown_targets_refused() {
        let readers = Arc::new(Reading(vec![name(3)], Mutex::new(None)));
        let (d, p) = purger("readers", 5, Some(readers.clone()));
        assert!(matches!(
            p.purge(&Criterion::To(name(9)), Reason::Statement { client: 1 }),
            Err(PurgeError::UnknownTarget(_))
        ));
        let r = p.purge(&Criterion::To(name(5)), Reason::Statement { client: 1 }).unwrap();
        assert_eq!(r.selection.purge, vec![name(1), name(2)]);
        assert_eq!(r.selection.blocked, Some(Blocked::InUse { file: name(3), readers: 1 }));
        assert_eq!(
            *readers.1.lock().unwrap(),
            Some(name(3)),
            "the fence is at the first file kept"
        );
        assert!(d.0.join("mysql-bin.000003").exists());
    }

    #[test]
    fn max_total_size_counts_every_file() {
        let (_d, p) = purger("size", 4, None);
        // Sizes 123, 223, 323, 423: a limit of 800 leaves files 3 and 4.
        let r = p.purge(&Criterion::MaxTotalSize(800), Reason::MaxTotalSize).unwrap();
        assert_eq!(r.selection.purge, vec![name(1), name(2)]);
        assert_eq!(r.bytes, 123 + 223);
        assert_eq!(p.index.files(), vec![name(3), name(4)]);
        let policy =
            crate::storage::retention::RetentionPolicy { expire: None, max_total_size: Some(1) };
        policy.apply(&p, 0).unwrap();
        assert_eq!(p.index.files(), vec![name(4)]);
    }
}
