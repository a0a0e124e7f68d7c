//! Which entries of a data directory are binlogs, and the one way to open
//! one for reading.
//!
//! An entry counts as a binlog only if it is a regular file of the
//! directory (not a symbolic link, a directory, a FIFO, a socket or a
//! device), is named `<basename>.NNNNNN` with the directory's basename, and
//! starts with the binlog magic `\xfebin`. Anything else named like a
//! binlog is *refused*: never listed, served, scanned or purged, whatever
//! it points to. Otherwise a symlink planted in the data directory would be
//! served to any replica account, including a file outside it.
//!
//! * At start ([`strict`], used by recovery) a refused entry stops
//!   binlogserver with an error naming each one: the files are the truth
//!   recovery and serving work from, and skipping one would either leave a
//!   gap in what replicas are sent or collide with the next file the
//!   writer creates. The operator moves the entry away and starts again.
//! * While running ([`lenient`], used to list files for clients, the
//!   exporter and the upstream side) a refused entry is left out and logged:
//!   as a warning the first time it is met, at debug level afterwards
//!   (listings run at every query and scrape); nothing is ignored silently.
//!
//! The directory's basename is that of its binlogs; with binlogs of two
//! basenames, the one an index file (`<basename>.index`) names, and without
//! one the directory is refused as holding the binlogs of two servers.
//!
//! Opening ([`open_regular`]) does what `O_NOFOLLOW` would, with std only:
//! the path's own metadata (`symlink_metadata`) must be a regular file, and
//! the opened handle must be that same file (device and inode), so a swap
//! between the check and the open is caught. Only a regular file swapped
//! for a FIFO in that window could still make the open block.
//!
//! A file holding less than the magic, and only a prefix of it, is a file
//! being created (or one a crash interrupted right after its creation):
//! when it is the newest, [`Listing::creating`] names it; elsewhere it is refused.

use std::collections::BTreeSet;
use std::fmt;
use std::fs::{self, File, FileType};
use std::io::{self, ErrorKind, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use log::{debug, warn};

use super::StorageError;
use crate::binlog::{BinlogFileName, BINLOG_MAGIC};

/// Why an entry named like a binlog is not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Refusal {
    /// A symbolic link.
    Symlink,
    /// A directory, FIFO, socket or device.
    NotAFile,
    /// Replaced by another file between its check and its open.
    Replaced,
    /// A regular file that does not start with `\xfebin`.
    NoMagic,
    /// A binlog of another basename than the directory's.
    OtherBasename,
    /// A regular file that cannot be opened or read (its permissions, say).
    Unreadable,
}

impl Refusal {
    fn describe(self) -> &'static str {
        match self {
            Refusal::Symlink => "is a symbolic link, not a file of the data directory",
            Refusal::NotAFile => "is not a regular file",
            Refusal::Replaced => "was replaced while it was opened",
            Refusal::NoMagic => "does not start with the binlog magic",
            Refusal::OtherBasename => "is a binlog of another basename than the directory's",
            Refusal::Unreadable => "cannot be read",
        }
    }
}

/// An entry named like a binlog that is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Its name in the directory.
    pub name: String,
    /// Why.
    pub why: Refusal,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.why.describe())
    }
}

/// The binlogs of a directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// The binlogs, oldest first.
    pub files: Vec<BinlogFileName>,
    /// The newest file when it holds only part of the magic (being created).
    pub creating: Option<BinlogFileName>,
    /// The entries named like binlogs that are not served.
    pub refused: Vec<Refused>,
}

/// Failure to open a binlog: the file system's, or a refusal.
#[derive(Debug)]
pub enum OpenError {
    /// The file system call failed.
    Io(io::Error),
    /// The entry is not a regular file of the directory.
    Refused(Refusal),
}

impl OpenError {
    /// As a [`StorageError`] about `path`, from operation `op`.
    pub fn into_storage(self, op: &'static str, path: &Path) -> StorageError {
        match self {
            OpenError::Io(e) => StorageError::io(op, path)(e),
            OpenError::Refused(why) => refusal_error(path, why),
        }
    }
}

/// A refusal as the error of an operation on `path`.
pub fn refusal_error(path: &Path, why: Refusal) -> StorageError {
    StorageError::Layout {
        path: path.to_owned(),
        reason: format!("{}; binlogserver reads only regular binlog files", why.describe()),
    }
}

fn kind_refusal(t: FileType) -> Option<Refusal> {
    if t.is_symlink() {
        Some(Refusal::Symlink)
    } else if !t.is_file() {
        Some(Refusal::NotAFile)
    } else {
        None
    }
}

/// Opens `path` for reading if it is a regular file, not through a
/// symbolic link (see the module doc).
pub fn open_regular(path: &Path) -> Result<File, OpenError> {
    let before = fs::symlink_metadata(path).map_err(OpenError::Io)?;
    if let Some(why) = kind_refusal(before.file_type()) {
        return Err(OpenError::Refused(why));
    }
    let f = File::open(path).map_err(OpenError::Io)?;
    let opened = f.metadata().map_err(OpenError::Io)?;
    if !opened.is_file() || opened.dev() != before.dev() || opened.ino() != before.ino() {
        return Err(OpenError::Refused(Refusal::Replaced));
    }
    Ok(f)
}

/// The size of `path` if it is a regular file (a symbolic link is not followed).
pub fn regular_size(path: &Path) -> Result<u64, StorageError> {
    let meta = fs::symlink_metadata(path).map_err(StorageError::io("stat", path))?;
    match kind_refusal(meta.file_type()) {
        Some(why) => Err(refusal_error(path, why)),
        None => Ok(meta.len()),
    }
}

/// How a file begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Head {
    /// With the magic.
    Magic,
    /// With fewer bytes than the magic, all of them the magic's.
    Partial,
    /// Otherwise.
    Other,
}

fn head_of(f: &mut File) -> io::Result<Head> {
    let mut head = Vec::with_capacity(BINLOG_MAGIC.len());
    f.take(BINLOG_MAGIC.len() as u64).read_to_end(&mut head)?;
    Ok(if head == BINLOG_MAGIC {
        Head::Magic
    } else if BINLOG_MAGIC.starts_with(&head) {
        Head::Partial
    } else {
        Head::Other
    })
}

/// Opens `path` as a binlog: a regular file starting with the magic.
pub fn open_binlog(path: &Path) -> Result<File, StorageError> {
    let mut f = open_regular(path).map_err(|e| e.into_storage("open", path))?;
    match head_of(&mut f).map_err(StorageError::io("read", path))? {
        Head::Magic => Ok(f),
        Head::Partial | Head::Other => Err(refusal_error(path, Refusal::NoMagic)),
    }
}

/// One entry named like a binlog, checked.
enum Entry {
    Binlog(BinlogFileName, Head),
    Refused(Refused),
    /// Gone between the listing and the check (a purge).
    Gone,
}

fn check(dir: &Path, name: BinlogFileName) -> Entry {
    let path = dir.join(name.as_str());
    let refused = |why| Entry::Refused(Refused { name: name.as_str().to_owned(), why });
    let mut f = match open_regular(&path) {
        Ok(f) => f,
        Err(OpenError::Io(e)) if e.kind() == ErrorKind::NotFound => return Entry::Gone,
        // One unreadable entry does not hide the others.
        Err(OpenError::Io(_)) => return refused(Refusal::Unreadable),
        Err(OpenError::Refused(why)) => return refused(why),
    };
    match head_of(&mut f) {
        Err(_) => refused(Refusal::Unreadable),
        Ok(Head::Other) => refused(Refusal::NoMagic),
        Ok(head) => Entry::Binlog(name, head),
    }
}

/// Lists and checks the entries of `dir` named like binlogs.
pub fn scan(dir: &Path) -> Result<Listing, StorageError> {
    let mut found = Vec::new();
    let mut refused = Vec::new();
    let mut indexes = Vec::new();
    for entry in fs::read_dir(dir).map_err(StorageError::io("read directory", dir))? {
        let entry = entry.map_err(StorageError::io("read directory", dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(base) = name.strip_suffix(".index") {
            indexes.push(base.to_owned());
        }
        let Ok(file) = BinlogFileName::new(name) else { continue };
        match check(dir, file) {
            Entry::Binlog(f, head) => found.push((f, head)),
            Entry::Refused(r) => refused.push(r),
            Entry::Gone => {}
        }
    }
    let Some(basename) = basename(dir, &found, &indexes)? else {
        return Ok(Listing { refused, ..Listing::default() });
    };
    let (ours, others): (Vec<_>, Vec<_>) =
        found.into_iter().partition(|(f, _)| f.basename() == basename);
    for (f, _) in others {
        refused.push(Refused { name: f.as_str().to_owned(), why: Refusal::OtherBasename });
    }
    Ok(split_creating(ours, refused))
}

/// The directory's basename: that of its binlogs; of two, the one an index names.
fn basename(
    dir: &Path,
    found: &[(BinlogFileName, Head)],
    indexes: &[String],
) -> Result<Option<String>, StorageError> {
    let mut names: Vec<&str> = found.iter().map(|(f, _)| f.basename()).collect();
    names.sort_unstable();
    names.dedup();
    match names.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some((*one).to_owned())),
        many => {
            let indexed: Vec<&&str> =
                many.iter().filter(|b| indexes.iter().any(|i| i == **b)).collect();
            match indexed.as_slice() {
                [one] => Ok(Some((**one).to_owned())),
                _ => Err(StorageError::Layout {
                    path: dir.to_owned(),
                    reason: format!(
                        "holds binlogs of two servers ({}); one data directory per primary",
                        many.join(" and ")
                    ),
                }),
            }
        }
    }
}

/// Sorts the binlogs; a partial head is [`Listing::creating`] if newest, refused otherwise.
fn split_creating(mut ours: Vec<(BinlogFileName, Head)>, mut refused: Vec<Refused>) -> Listing {
    ours.sort_by_key(|(f, _)| f.sequence());
    let newest_partial = matches!(ours.last(), Some((_, Head::Partial)));
    let creating = if newest_partial { ours.pop().map(|(f, _)| f) } else { None };
    let mut files = Vec::with_capacity(ours.len());
    for (f, head) in ours {
        match head {
            Head::Magic => files.push(f),
            _ => refused.push(Refused { name: f.as_str().to_owned(), why: Refusal::NoMagic }),
        }
    }
    refused.sort_by(|a, b| a.name.cmp(&b.name));
    Listing { files, creating, refused }
}

/// The binlogs of `dir` at start, the file being created last: a refused
/// entry is an error naming every one (see the module doc).
pub fn strict(dir: &Path) -> Result<Vec<BinlogFileName>, StorageError> {
    let listing = scan(dir)?;
    if !listing.refused.is_empty() {
        let what: Vec<String> = listing.refused.iter().map(ToString::to_string).collect();
        return Err(StorageError::Layout {
            path: dir.to_owned(),
            reason: format!(
                "{}; binlogserver serves only regular binlog files of its data directory: \
                 move {} away and start again",
                what.join(", "),
                if what.len() == 1 { "it" } else { "them" }
            ),
        });
    }
    let mut files = with_archived(dir, listing.files)?;
    files.extend(listing.creating);
    Ok(files)
}

/// `local` and the archived files whose local copy is gone
/// ([`super::archive`]), oldest first.
fn with_archived(
    dir: &Path,
    mut local: Vec<BinlogFileName>,
) -> Result<Vec<BinlogFileName>, StorageError> {
    let archived = super::archive::entries_of(dir)?;
    let have: BTreeSet<&BinlogFileName> = local.iter().collect();
    let gone: Vec<BinlogFileName> =
        archived.into_iter().map(|e| e.name).filter(|n| !have.contains(n)).collect();
    if !gone.is_empty() {
        local.extend(gone);
        local.sort();
    }
    Ok(local)
}

/// Refusals already logged as warnings (listings run at every query and
/// scrape: one warning per entry and reason is enough).
static WARNED: Mutex<BTreeSet<(PathBuf, String, Refusal)>> = Mutex::new(BTreeSet::new());
/// Most refusals remembered; past them, refusals are logged at debug level.
const WARNED_MAX: usize = 1024;

/// True the first time `r` is met in `dir`.
fn first_time(dir: &Path, r: &Refused) -> bool {
    let mut warned = WARNED.lock().unwrap_or_else(PoisonError::into_inner);
    warned.len() < WARNED_MAX && warned.insert((dir.to_owned(), r.name.clone(), r.why))
}

/// The binlogs of `dir` while running, oldest first, without a file being
/// created; each refused entry is logged as a warning and left out.
pub fn lenient(dir: &Path) -> Result<Vec<BinlogFileName>, StorageError> {
    let listing = scan(dir)?;
    for r in &listing.refused {
        if first_time(dir, r) {
            warn!("not serving an entry of the data directory dir={} entry=\"{r}\"", dir.display());
        } else {
            debug!(
                "not serving an entry of the data directory dir={} entry=\"{r}\"",
                dir.display()
            );
        }
    }
    with_archived(dir, listing.files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;
    use std::path::PathBuf;

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// A directory holding binlogs `mysql-bin.000001..=n` (just the magic).
    fn dir_with(label: &str, n: u64) -> Dir {
        let d = std::env::temp_dir().join(format!("bls-listing-{label}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        for i in 1..=n {
            fs::write(d.join(format!("mysql-bin.{i:06}")), BINLOG_MAGIC).unwrap();
        }
        Dir(d)
    }

    fn names(files: &[BinlogFileName]) -> Vec<&str> {
        files.iter().map(BinlogFileName::as_str).collect()
    }

    fn refusals(l: &Listing) -> Vec<(&str, Refusal)> {
        l.refused.iter().map(|r| (r.name.as_str(), r.why)).collect()
    }

    #[test]
    fn only_regular_files_with_the_magic_of_the_basename_are_binlogs() {
        let d = dir_with("kinds", 2);
        let outside = dir_with("kinds-outside", 1);
        symlink(outside.0.join("mysql-bin.000001"), d.0.join("mysql-bin.000003")).unwrap();
        fs::write(d.0.join("mysql-bin.000004"), b"not a binlog").unwrap();
        fs::create_dir(d.0.join("mysql-bin.000005")).unwrap();
        fs::write(d.0.join("mysql-bin.index"), "./mysql-bin.000001\n").unwrap();
        fs::write(d.0.join("other-bin.000001"), BINLOG_MAGIC).unwrap();
        fs::write(d.0.join("notes.txt"), b"x").unwrap();
        let l = scan(&d.0).unwrap();
        assert_eq!(names(&l.files), ["mysql-bin.000001", "mysql-bin.000002"]);
        assert_eq!(l.creating, None);
        assert_eq!(
            refusals(&l),
            [
                ("mysql-bin.000003", Refusal::Symlink),
                ("mysql-bin.000004", Refusal::NoMagic),
                ("mysql-bin.000005", Refusal::NotAFile),
                ("other-bin.000001", Refusal::OtherBasename),
            ]
        );
        assert_eq!(names(&lenient(&d.0).unwrap()), ["mysql-bin.000001", "mysql-bin.000002"]);
        let err = strict(&d.0).unwrap_err().to_string();
        assert!(
            err.contains("mysql-bin.000003 is a symbolic link")
                && err.contains("mysql-bin.000004 does not start with the binlog magic")
                && err.contains("move them away"),
            "{err}"
        );
    }

    #[test]
    fn two_basenames_without_an_index_naming_one_are_refused() {
        let d = dir_with("two", 1);
        fs::write(d.0.join("other-bin.000001"), BINLOG_MAGIC).unwrap();
        let err = scan(&d.0).unwrap_err().to_string();
        assert!(err.contains("holds binlogs of two servers"), "{err}");
    }

    #[test]
    fn the_newest_file_holding_part_of_the_magic_is_being_created() {
        let d = dir_with("creating", 2);
        fs::write(d.0.join("mysql-bin.000003"), &BINLOG_MAGIC[..2]).unwrap();
        let l = scan(&d.0).unwrap();
        assert_eq!(names(&l.files), ["mysql-bin.000001", "mysql-bin.000002"]);
        assert_eq!(l.creating.as_ref().map(BinlogFileName::as_str), Some("mysql-bin.000003"));
        assert!(l.refused.is_empty());
        assert_eq!(strict(&d.0).unwrap().len(), 3);
        assert_eq!(lenient(&d.0).unwrap().len(), 2);
        // Not the newest: refused.
        fs::write(d.0.join("mysql-bin.000004"), BINLOG_MAGIC).unwrap();
        assert_eq!(refusals(&scan(&d.0).unwrap()), [("mysql-bin.000003", Refusal::NoMagic)]);
    }

    #[test]
    fn opening_refuses_a_symlink_and_a_file_without_the_magic() {
        let d = dir_with("open", 1);
        let target = d.0.join("mysql-bin.000001");
        symlink(&target, d.0.join("mysql-bin.000002")).unwrap();
        fs::write(d.0.join("mysql-bin.000003"), b"secret").unwrap();
        assert!(open_binlog(&target).is_ok());
        let err = open_binlog(&d.0.join("mysql-bin.000002")).unwrap_err().to_string();
        assert!(err.contains("is a symbolic link"), "{err}");
        let err = open_binlog(&d.0.join("mysql-bin.000003")).unwrap_err().to_string();
        assert!(err.contains("does not start with the binlog magic"), "{err}");
        assert!(regular_size(&d.0.join("mysql-bin.000002")).is_err());
        assert_eq!(regular_size(&target).unwrap(), 4);
    }
}
