//! `binlogserver verify DIR`: check a directory of binlog files, read-only.
//!
//! The index must list exactly the binlog files on disk, in order; each
//! file is checked by [`super::verify_file`]. The data-directory lock is not
//! touched, so a running binlogserver is not disturbed: each file is read up
//! to its length when opened, and a torn event at the end of a last file
//! that is still growing is a note, not a problem.
//!
//! Output: one line per file (`ok` or `FAIL`), one line per problem naming
//! the file and offset, and a summary. Exit 0 when clean, 1 on any problem,
//! 2 on a usage error. When stdout goes away (`verify DIR | head -1`) the
//! tool stops quietly with 1: it did not finish, so it cannot say clean.

use std::fs::{self, File};
use std::io::{self, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use getopts::Options;

use super::parse_args;
use super::verify_file::{check_file, Chain, Place};
use crate::binlog::BinlogFileName;

const BRIEF: &str = "Usage: binlogserver verify DIR\n\n\
    Checks the binlog files in DIR without changing anything (a running\n\
    binlogserver may keep writing): the index lists exactly the files on disk,\n\
    each file has the magic, starts with a FORMAT_DESCRIPTION, has valid CRCs\n\
    and a position chain, and ends with a ROTATE to the next file; GTIDs are\n\
    continuous across files (MariaDB GTID_LIST, MySQL PREVIOUS_GTIDS).\n\
    Exit status: 0 clean, 1 problems found, 2 usage error.";

/// Runs the tool; returns the exit status.
pub fn main(args: &[String]) -> u8 {
    let mut opts = Options::new();
    opts.optflag("?", "help", "print this help");
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
    let mut out = Output::new(io::stdout().lock());
    verify_dir(dir, &mut out);
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

fn verify_dir<W: Write>(dir: &Path, out: &mut Output<W>) {
    let (files, index) = match list(dir) {
        Ok(found) => found,
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
        verify_one(dir, name, next, &mut chain, out);
    }
    match index {
        Some(index) => check_index(&index, &files, out),
        None => out.problem(dir.display().to_string().as_str(), "no .index file"),
    }
}

fn verify_one<W: Write>(
    dir: &Path,
    name: &BinlogFileName,
    next: Option<&BinlogFileName>,
    chain: &mut Chain,
    out: &mut Output<W>,
) {
    out.files += 1;
    let path = dir.join(name.as_str());
    let (buf, growing) = match read_at_open(&path) {
        Ok(r) => r,
        Err(e) => {
            out.line(&format!("{name}  FAIL"));
            return out.problem(name.as_str(), &format!("cannot read: {e}"));
        }
    };
    let check = check_file(&buf, Place { next, growing }, chain);
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

/// The file's bytes up to its length at open, and whether it has grown since.
fn read_at_open(path: &Path) -> std::io::Result<(Vec<u8>, bool)> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(len).read_to_end(&mut buf)?;
    let now = fs::metadata(path)?.len();
    Ok((buf, now > len))
}

/// The binlog files (oldest first) and the index file of the one binlog
/// basename in `dir`.
fn list(dir: &Path) -> Result<(Vec<BinlogFileName>, Option<PathBuf>), String> {
    let mut files = Vec::new();
    let mut indexes = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot read directory: {e}"))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read directory: {e}"))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(base) = name.strip_suffix(".index") {
            indexes.push(base.to_owned());
        } else if let Ok(f) = BinlogFileName::new(name) {
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                files.push(f);
            }
        }
    }
    let basename = match indexes.as_slice() {
        [one] => one.clone(),
        [] => match files.first() {
            Some(f) => f.basename().to_owned(),
            None => return Ok((files, None)),
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
    files.retain(|f| f.basename() == basename);
    files.sort_by_key(BinlogFileName::sequence);
    let index = (!indexes.is_empty()).then(|| dir.join(format!("{basename}.index")));
    Ok((files, index))
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
