//! `binlogserver verify DIR`: check a directory of binlog files, read-only.
//!
//! The index must list exactly the binlog files on disk, in order; each
//! file is checked by [`super::verify_file`]. The data-directory lock is not
//! touched, so a running binlogserver is not disturbed: each file is read up
//! to its length when opened, and a torn event at the end of a last file
//! that is still growing is a note, not a problem.
//!
//! Files whose local copy was removed after archiving (`--archive-url`)
//! are read from the object store, given the same `--archive-*` options
//! (and keys) as the server, and checked like local ones, plus their size
//! and SHA-256 against the archive record; without those options each is a
//! problem (it could not be checked).
//!
//! Output: one line per file (`ok` or `FAIL`), one line per problem naming
//! the file and offset, and a summary. Exit 0 when clean, 1 on any problem,
//! 2 on a usage error. When stdout goes away (`verify DIR | head -1`) the
//! tool stops quietly with 1: it did not finish, so it cannot say clean.

use std::fs;
use std::io::{self, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use getopts::Options;

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::archive_options::archive_config;
use super::parse_args;
use super::verify_file::{check_file, Chain, Place};
use crate::binlog::{BinlogFileName, EventHeader, FormatDescription};
use crate::objstore::S3Client;
use crate::storage::archive::s3::S3Store;
use crate::storage::archive::{record, Archive};
use crate::storage::fs::StdStore;
use crate::storage::listing::{open_regular, OpenError};

const BRIEF: &str = "Usage: binlogserver verify DIR [--archive-url URL ...]\n\n\
    Checks the binlog files in DIR without changing anything (a running\n\
    binlogserver may keep writing): the index lists exactly the files on disk,\n\
    each file has the magic, starts with a FORMAT_DESCRIPTION, has valid CRCs\n\
    and a position chain, and ends with a ROTATE to the next file (or nothing\n\
    when the next file begins after a server start or on another server: a\n\
    crash, a restart or a failover); GTIDs are continuous across files\n\
    (MariaDB GTID_LIST, MySQL PREVIOUS_GTIDS). Archived files are read from\n\
    the object store with the server's --archive-* options and checked too.\n\
    Exit status: 0 clean, 1 problems found, 2 usage error.";

/// Runs the tool; returns the exit status.
pub fn main(args: &[String]) -> u8 {
    let mut opts = Options::new();
    opts.optflag("?", "help", "print this help");
    super::archive_options::options(&mut opts);
    let m = match parse_args(&opts, args, BRIEF) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let [dir] = m.free.as_slice() else {
        eprintln!("binlogserver verify: give exactly one DIR\nTry 'binlogserver verify --help'.");
        return 2;
    };
    let dir = Path::new(dir);
    if !dir.is_dir() {
        eprintln!("binlogserver verify: {} is not a directory", dir.display());
        return 2;
    }
    let archive = match open_archive(&m, dir) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("binlogserver verify: {e}");
            return 2;
        }
    };
    let mut out = Output::new(io::stdout().lock());
    verify_dir(dir, archive.as_ref(), &mut out);
    let s = if out.problems == 1 { "" } else { "s" };
    let summary =
        format!("summary: {} files, {} events, {} problem{s}", out.files, out.events, out.problems);
    out.line(&summary);
    if let Err(e) = out.w.flush() {
        out.write_failed(&e);
    }
    u8::from(out.problems > 0 || out.broken)
}

/// Counts and prints as it goes; stops printing at the first failed write.
#[derive(Debug)]
struct Output<W: Write> {
    w: W,
    /// A write failed: nobody reads what follows.
    broken: bool,
    files: u64,
    events: u64,
    problems: u64,
}

impl<W: Write> Output<W> {
    fn new(w: W) -> Self {
        Output { w, broken: false, files: 0, events: 0, problems: 0 }
    }

    fn line(&mut self, text: &str) {
        if self.broken {
            return;
        }
        if let Err(e) = writeln!(self.w, "{text}") {
            self.write_failed(&e);
        }
    }

    /// A closed pipe is the reader saying it has seen enough; anything
    /// else (a full disk) is worth a line on stderr.
    fn write_failed(&mut self, e: &io::Error) {
        if !self.broken && e.kind() != ErrorKind::BrokenPipe {
            eprintln!("binlogserver verify: cannot write the report: {e}");
        }
        self.broken = true;
    }

    fn problem(&mut self, what: &str, why: &str) {
        self.problems += 1;
        self.line(&format!("  problem: {what}: {why}"));
    }
}

/// The archive the `--archive-*` options name, if given.
fn open_archive(m: &getopts::Matches, dir: &Path) -> Result<Option<Archive>, String> {
    let env = |k: &str| std::env::var(k).ok();
    let Some(cfg) = archive_config(m, &env).map_err(|(flag, why)| format!("{flag}: {why}"))? else {
        return Ok(None);
    };
    let client = S3Client::new(cfg.s3).map_err(|e| e.to_string())?;
    let store = Arc::new(S3Store::new(client));
    Archive::open(dir, Arc::new(StdStore), store).map(Some).map_err(|e| e.to_string())
}

fn verify_dir<W: Write>(dir: &Path, archive: Option<&Archive>, out: &mut Output<W>) {
    let (files, index) = match list(dir) {
        Ok(Found { files, index, refused }) => {
            for (name, why) in refused {
                out.problem(&name, why);
            }
            (files, index)
        }
        Err(why) => return out.problem(&dir.display().to_string(), &why),
    };
    if files.is_empty() {
        return out.problem(&dir.display().to_string(), "no binlog files");
    }
    let mut chain = Chain::default();
    for (i, name) in files.iter().enumerate() {
        if out.broken {
            return;
        }
        let next = files.get(i + 1);
        verify_one(Files { dir, archive }, name, next, &mut chain, out);
    }
    match index {
        Some(index) => check_index(&index, &files, out),
        None => out.problem(dir.display().to_string().as_str(), "no .index file"),
    }
}

/// Where the files are read from: the directory, else the archive.
#[derive(Clone, Copy)]
struct Files<'a> {
    dir: &'a Path,
    archive: Option<&'a Archive>,
}

impl Files<'_> {
    /// The file's bytes (up to its length at open) and whether it grew.
    fn read(&self, name: &BinlogFileName) -> Result<(Vec<u8>, bool), String> {
        let path = self.dir.join(name.as_str());
        match read_at_open(&path) {
            Err(e) if e.kind() == ErrorKind::NotFound => self.read_archived(name),
            other => other.map_err(|e| format!("cannot read: {e}")),
        }
    }

    fn read_archived(&self, name: &BinlogFileName) -> Result<(Vec<u8>, bool), String> {
        let entry = record::archived_files(self.dir)
            .map_err(|e| e.to_string())?
            .into_iter()
            .find(|e| &e.name == name)
            .ok_or("missing")?;
        let Some(archive) = self.archive else {
            return Err("archived only: give the --archive-* options to check it".into());
        };
        let mut buf = Vec::new();
        let mut src = archive.open_file(name).map_err(|e| e.to_string())?;
        src.read_to_end(&mut buf).map_err(|e| format!("cannot read the archived copy: {e}"))?;
        let sha: String = Sha256::digest(&buf).iter().map(|b| format!("{b:02x}")).collect();
        if buf.len() as u64 != entry.size || sha != entry.sha256 {
            return Err(format!(
                "the archived copy has {} bytes, sha256 {sha}; the record says {} bytes, \
                 sha256 {}",
                buf.len(),
                entry.size,
                entry.sha256
            ));
        }
        Ok((buf, false))
    }
}

fn verify_one<W: Write>(
    files: Files<'_>,
    name: &BinlogFileName,
    next: Option<&BinlogFileName>,
    chain: &mut Chain,
    out: &mut Output<W>,
) {
    out.files += 1;
    let (buf, growing) = match files.read(name) {
        Ok(r) => r,
        Err(e) => {
            out.line(&format!("{name}  FAIL"));
            return out.problem(name.as_str(), &e);
        }
    };
    let next_after_start = next.is_some_and(|n| begins_after_start(files, n, &buf));
    let check = check_file(&buf, Place { next, next_after_start, growing }, chain);
    out.events += check.events;
    let status = if check.problems.is_empty() { "ok" } else { "FAIL" };
    let mut line = format!("{name}  {status}  events={} size={}", check.events, check.len);
    if let Some((first, last)) = &check.gtids {
        line.push_str(&format!(" gtids={first}..{last}"));
    }
    if let Some(note) = &check.note {
        line.push_str(&format!(" ({note})"));
    }
    out.line(&line);
    for (offset, why) in &check.problems {
        out.problem(&format!("{name} offset {offset}"), why);
    }
}

/// True when the file at `next` was begun by a server start (non-zero
/// `created` in its FORMAT_DESCRIPTION) or by another server than the one
/// that wrote `this` (the server ids of the two FORMAT_DESCRIPTIONs).
fn begins_after_start(files: Files<'_>, next: &BinlogFileName, this: &[u8]) -> bool {
    let mut head = Vec::with_capacity(4 + MAX_FD_LEN);
    let path = files.dir.join(next.as_str());
    let next: Box<dyn Read> = match (open_regular(&path), files.archive) {
        (Ok(f), _) => Box::new(f),
        (Err(_), Some(a)) => match a.open_file(next) {
            Ok(r) => Box::new(r),
            Err(_) => return false,
        },
        (Err(_), None) => return false,
    };
    let read = next.take(4 + MAX_FD_LEN as u64).read_to_end(&mut head);
    if read.is_err() {
        return false;
    }
    let fd_of = |image: &[u8]| {
        let event = image.get(4..)?;
        let header = EventHeader::parse(event).ok()?;
        let fd = FormatDescription::decode_event(event.get(..header.event_len_usize())?).ok()?;
        Some((header.server_id, fd.create_timestamp))
    };
    match (fd_of(this), fd_of(&head)) {
        (Some((ours, _)), Some((theirs, created))) => created != 0 || ours != theirs,
        _ => false,
    }
}

/// A binlog-named symbolic link, as a problem.
const SYMLINK: &str = "a symbolic link, not a binlog file: not read (binlogserver refuses it)";
/// A binlog-named directory, FIFO, socket or device, as a problem.
const NOT_A_FILE: &str = "not a regular file: not read (binlogserver refuses it)";

/// More than any FORMAT_DESCRIPTION event is long.
const MAX_FD_LEN: usize = 1024;

/// The file's bytes up to its length at open, and whether it has grown since.
fn read_at_open(path: &Path) -> std::io::Result<(Vec<u8>, bool)> {
    let file = open_regular(path).map_err(|e| match e {
        OpenError::Io(e) => e,
        OpenError::Refused(_) => io::Error::other("not a regular file"),
    })?;
    let len = file.metadata()?.len();
    let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(len).read_to_end(&mut buf)?;
    let now = fs::metadata(path)?.len();
    Ok((buf, now > len))
}

/// What [`list`] found.
struct Found {
    /// The binlog files of the one basename, oldest first.
    files: Vec<BinlogFileName>,
    /// Its index file.
    index: Option<PathBuf>,
    /// Entries named like binlogs that are not regular files, and what they are.
    refused: Vec<(String, &'static str)>,
}

/// The binlog files (oldest first) and the index file of the one binlog
/// basename in `dir`; entries named like binlogs that are not regular files
/// (binlogserver refuses to start with them) are reported, not read.
fn list(dir: &Path) -> Result<Found, String> {
    let mut files = Vec::new();
    let mut refused = Vec::new();
    let mut indexes = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot read directory: {e}"))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read directory: {e}"))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(base) = name.strip_suffix(".index") {
            indexes.push(base.to_owned());
        } else if let Ok(f) = BinlogFileName::new(name) {
            match entry.file_type() {
                Ok(t) if t.is_file() => files.push(f),
                Ok(t) if t.is_symlink() => refused.push((f.to_string(), SYMLINK)),
                _ => refused.push((f.to_string(), NOT_A_FILE)),
            }
        }
    }
    let basename = match indexes.as_slice() {
        [one] => one.clone(),
        [] => match files.first() {
            Some(f) => f.basename().to_owned(),
            None => return Ok(Found { files, index: None, refused }),
        },
        many => {
            return Err(format!(
                "several index files ({}); one binlog set per directory",
                many.join(".index, ")
            ))
        }
    };
    if let Some(other) = files.iter().find(|f| f.basename() != basename) {
        if indexes.is_empty() {
            return Err(format!(
                "binlogs of two basenames ({basename} and {}) and no index",
                other.basename()
            ));
        }
    }
    // Files whose local copy went after archiving.
    let archived = record::archived_files(dir).map_err(|e| e.to_string())?;
    let gone: Vec<BinlogFileName> =
        archived.into_iter().map(|e| e.name).filter(|n| !files.contains(n)).collect();
    files.extend(gone);
    files.retain(|f| f.basename() == basename);
    files.sort_by_key(BinlogFileName::sequence);
    let index = (!indexes.is_empty()).then(|| dir.join(format!("{basename}.index")));
    Ok(Found { files, index, refused })
}

/// The index lists exactly `files`, in order.
fn check_index<W: Write>(index: &Path, files: &[BinlogFileName], out: &mut Output<W>) {
    let what = index.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let text = match fs::read_to_string(index) {
        Ok(t) => t,
        Err(e) => return out.problem(&what, &format!("cannot read: {e}")),
    };
    let listed: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.rsplit('/').next().unwrap_or(l))
        .collect();
    let mut problems = Vec::new();
    for f in files {
        if !listed.contains(&f.as_str()) {
            problems.push(format!("does not list {f}, which is on disk"));
        }
    }
    for l in &listed {
        if !files.iter().any(|f| f.as_str() == *l) {
            problems.push(format!("lists {l}, which is not on disk"));
        }
    }
    let on_disk: Vec<&str> = files.iter().map(BinlogFileName::as_str).collect();
    if problems.is_empty() && listed != on_disk {
        problems.push(format!("lists the files in another order: {}", listed.join(" ")));
    }
    let status = if problems.is_empty() { "ok" } else { "FAIL" };
    out.line(&format!("{what}  {status}  files={}", listed.len()));
    for p in problems {
        out.problem(&what, &p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binlog::checksum::compute_event_crc;

    const MARIADB: &[u8] =
        include_bytes!("../../tests/fixtures/binlogs/mysql_common/mariadb-bin.000001");

    /// The fixture's magic and FD with `created` and the header's server id set.
    fn fd_file(created: u32, server_id: u32) -> Vec<u8> {
        let len = EventHeader::parse(&MARIADB[4..]).unwrap().event_len_usize();
        let mut file = MARIADB[..4 + len].to_vec();
        file[4 + 5..4 + 9].copy_from_slice(&server_id.to_le_bytes());
        file[4 + 19 + 52..4 + 19 + 56].copy_from_slice(&created.to_le_bytes());
        let crc = compute_event_crc(&file[4..]).unwrap();
        let end = file.len();
        file[end - 4..].copy_from_slice(&crc.to_le_bytes());
        file
    }

    #[test]
    fn a_next_file_begun_by_a_start_or_another_server_is_told_apart() {
        let dir = std::env::temp_dir().join(format!("bls-verify-start-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let name = BinlogFileName::new("mariadb-bin.000002").unwrap();
        let next = dir.join(name.as_str());
        let files = Files { dir: &dir, archive: None };
        let this = fd_file(0, 1);
        for (created, server_id, expected) in
            [(0, 1, false), (1_700_000_000, 1, true), (0, 2, true)]
        {
            fs::write(&next, fd_file(created, server_id)).unwrap();
            assert_eq!(
                begins_after_start(files, &name, &this),
                expected,
                "created={created} server_id={server_id}"
            );
        }
        fs::write(&next, b"\xfebin").unwrap();
        assert!(
            !begins_after_start(files, &name, &this),
            "no FD: not known to begin after a start"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
